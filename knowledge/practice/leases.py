"""Who holds a long piece of work (an import job, a remittance being posted), and whether they still live.

A lease is the text ``host:pid`` of the process doing the work plus a heartbeat time it refreshes. Work
whose holder died (killed, crashed, the machine restarted) may be taken over; work whose holder lives is
left alone. On the holder's own host the process table answers at once, so an import killed with
``kill -9`` can be resumed the moment it is gone; a holder on another host is judged by its heartbeat.
"""

from __future__ import annotations

import datetime as dt
import os
import socket

#: A holder on another host that has not refreshed its heartbeat for this long is taken to be gone.
STALE_AFTER = dt.timedelta(minutes=2)


def current_owner() -> str:
    """This process, as a lease holder."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}"


def holder_alive(owner: str | None, heartbeat: dt.datetime | None, *, now: dt.datetime | None = None) -> bool:
    """Whether the process named by `owner` may still be doing the work (False: it may be taken over)."""
    if not owner:
        return False
    host, _, pid_text = owner.rpartition(":")
    if host == socket.gethostname()[:60] and pid_text.isdigit():
        pid = int(pid_text)
        if pid == os.getpid():
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # a process of another user has the pid: it lives, though not ours
            return True
        return True
    if heartbeat is None:
        return False
    now = now or dt.datetime.now(dt.UTC)
    if heartbeat.tzinfo is None:  # SQLite returns naive datetimes for timezone-aware columns
        heartbeat = heartbeat.replace(tzinfo=dt.UTC)
    return now - heartbeat < STALE_AFTER

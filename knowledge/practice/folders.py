"""Each practice's folders on disk: HOME/practices/<practice id>/inbox (files from the clearinghouse) and
HOME/practices/<practice id>/outbox (files for it).

A folder is bound to the requester's practice where a tool uses it, like every query: one practice never
reads, imports or writes another practice's files.
"""

from __future__ import annotations

from pathlib import Path


class PracticeFolder:
    """One kind of folder (``name``: "inbox", "outbox") of every practice under ``home``."""

    def __init__(self, home: Path, name: str) -> None:
        self.home = Path(home)
        self.name = name

    def for_practice(self, practice_id: int) -> Path:
        """The practice's folder, created on first use."""
        if isinstance(practice_id, bool) or not isinstance(practice_id, int) or practice_id < 1:
            raise ValueError(f"not a practice id: {practice_id!r}")
        path = self.home / "practices" / str(practice_id) / self.name
        path.mkdir(parents=True, exist_ok=True)
        return path


def practice_folder(folder: Path | PracticeFolder, practice_id: int) -> Path:
    """The practice's folder; a plain path is a folder already bound to one practice (as tests bind it)."""
    return folder.for_practice(practice_id) if isinstance(folder, PracticeFolder) else Path(folder)

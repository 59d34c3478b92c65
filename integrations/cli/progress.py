"""Progress bars on stderr for long work (parsing code sets, embedding, indexing, imports).

The data layer reports progress in one shape, ``progress(what, done, total)`` (`knowledge/progress.py`);
`ProgressDisplay` is such a callable and draws one bar per step.
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


class ProgressDisplay:
    """One rich progress display on stderr (stdout stays one document for `--json`). Silent when disabled
    (for `--json`) or when stderr is not a terminal. ``transient`` bars vanish when the work ends."""

    def __init__(self, *, enabled: bool = True, transient: bool = False) -> None:
        console = Console(stderr=True)
        self.enabled = enabled and console.is_terminal
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=transient,
            disable=not self.enabled,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> ProgressDisplay:
        self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._progress.stop()

    def __call__(self, what: str, done: int, total: int) -> None:
        """Report ``done`` of ``total`` units of the step ``what`` (total 0: not known yet)."""
        if what not in self._tasks:
            self._tasks[what] = self._progress.add_task(what, total=total or None)
        self._progress.update(self._tasks[what], completed=done, total=total or None)

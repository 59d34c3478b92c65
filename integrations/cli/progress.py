"""Progress bars on stderr for long work (parsing code sets, embedding, indexing, imports)."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


class ProgressDisplay:
    """One rich progress display; hands out callbacks in the shapes the data layer reports progress in.
    Disabled (silent) for `--json` output or when stderr is not a terminal."""

    def __init__(self, *, enabled: bool = True) -> None:
        console = Console(stderr=True)
        self.enabled = enabled and console.is_terminal
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
            disable=not self.enabled,
        )
        self._tasks: dict[str, TaskID] = {}
        self._current: TaskID | None = None

    def __enter__(self) -> ProgressDisplay:
        self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._progress.stop()

    def step(self, label: str, done: int, total: int) -> None:
        """For `(label, done, total)` reporters (code sets)."""
        if label not in self._tasks:
            self._tasks[label] = self._progress.add_task(label, total=total or None)
        self._progress.update(self._tasks[label], completed=done, total=total or None)

    def ingest(self, *, total: int | None = None, advance: int = 0, description: str | None = None) -> None:
        """For `(total=, advance=, description=)` reporters (knowledge ingest, X12 import)."""
        if self._current is None or (description and description not in self._tasks):
            self._current = self._progress.add_task(description or "Working", total=total)
            if description:
                self._tasks[description] = self._current
        if total is not None:
            self._progress.update(self._current, total=total)
        if advance:
            self._progress.advance(self._current, advance)
        if description:
            self._progress.update(self._current, description=description)

"""What the offline commands tell the user while they work: notes and rich progress bars, on
standard error so that standard output stays clean for results."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["Feedback"]


class Feedback:
    """Notes and progress bars on stderr; ``quiet`` silences both (errors still surface)."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.console = Console(stderr=True, highlight=False, soft_wrap=True)

    def note(self, message: str) -> None:
        """One line of information (printed verbatim, no markup)."""
        if not self.quiet:
            self.console.print(message, markup=False)

    def _progress(self, *counter: TextColumn | MofNCompleteColumn | TaskProgressColumn
                  ) -> Progress:
        return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                        *counter, TimeElapsedColumn(), console=self.console,
                        disable=self.quiet)

    @contextmanager
    def count(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        """A bar over ``total`` items; the context yields ``advance(n)``."""
        with self._progress(MofNCompleteColumn()) as progress:
            task = progress.add_task(description, total=total)
            yield lambda n: progress.advance(task, n)

    @contextmanager
    def stages(self, description: str) -> Iterator[Callable[[str, float], None]]:
        """A bar driven by ``(stage, fraction done)`` calls, e.g. ``fit(progress=...)``."""
        with self._progress(TaskProgressColumn()) as progress:
            task = progress.add_task(description, total=1.0)

            def update(stage: str, fraction: float) -> None:
                progress.update(task, completed=fraction, description=f"{description}: {stage}")

            yield update

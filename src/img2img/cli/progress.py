"""Rich progress bars fed by the ``progress=`` callback of ``index``, ``add``, ``sync`` and ``locate``."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from img2img.models import IndexProgress

__all__ = ["ClaimsProgressBar", "IndexProgressBar"]


class IndexProgressBar:
    """A context manager whose instances are ``ProgressCallback`` s.

    The bar's total is the number of images discovered so far (it grows while
    a source still yields); an image is done once stored, skipped, refused or
    failed. The counts of each show beside the bar. Nothing is drawn when
    ``enabled`` is false.

        with IndexProgressBar(console, "Indexing") as bar:
            client.add(paths, progress=bar)
    """

    #: The counts beside the bar, in rich markup naming the task's fields.
    COUNTS: ClassVar[str] = (
        "[green]{task.fields[stored]} indexed[/] · "
        "{task.fields[skipped]} skipped · [red]{task.fields[failed]} failed[/]"
    )

    def __init__(self, console: Console, description: str, *, enabled: bool = True) -> None:
        self._console = console
        self._description = description
        self._enabled = enabled
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> IndexProgressBar:
        if self._enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(self.COUNTS),
                TimeElapsedColumn(),
                console=self._console,
            )
            self._progress.start()
            self._task = self._progress.add_task(
                self._description, total=None, stored=0, skipped=0, failed=0, refused=0
            )
        return self

    def __call__(self, progress: IndexProgress) -> None:
        if self._progress is None or self._task is None:
            return
        self._progress.update(
            self._task,
            total=progress.discovered or None,
            completed=progress.stored + progress.skipped + progress.refused + progress.failed,
            stored=progress.stored,
            skipped=progress.skipped,
            failed=progress.failed,
            refused=progress.refused,
        )

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class ClaimsProgressBar(IndexProgressBar):
    """The bar ``locate`` shows while the claimed images download and are checked:
    copies found, other pictures, and claims that could not be had."""

    COUNTS: ClassVar[str] = (
        "[green]{task.fields[stored]} copies[/] · "
        "{task.fields[refused]} other pictures · [red]{task.fields[failed]} failed[/]"
    )

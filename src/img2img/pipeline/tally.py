"""The counts of one run: what the progress callback is told and the report says."""

from __future__ import annotations

import time

from img2img.models import Failure, IndexProgress, IndexReport, ProgressCallback, Stage
from img2img.pipeline.failures import reason

__all__ = ["Tally"]


class Tally:
    """The counts and failures of one ``run_index`` call, kept on the calling thread."""

    def __init__(self, keyphrase: str | None, progress: ProgressCallback | None = None) -> None:
        self.keyphrase = keyphrase
        self.started = time.perf_counter()
        self.discovered = 0
        self.fetched = 0
        self.embedded = 0
        self.reused = 0
        self.indexed = 0
        self.skipped = 0
        self.refused = 0
        self.failures: list[Failure] = []
        self._progress = progress
        self._last_progress = IndexProgress()

    def notify(self, *, done: bool = False) -> None:
        """Tell the progress callback, if any, the counts, when they changed."""
        if self._progress is None:
            return
        now = IndexProgress(
            discovered=self.discovered,
            fetched=self.fetched,
            embedded=self.embedded,
            stored=self.indexed,
            skipped=self.skipped,
            failed=len(self.failures),
            reused=self.reused,
            refused=self.refused,
            done=done,
        )
        if now != self._last_progress:
            self._last_progress = now
            self._progress(now)

    def fail(self, url: str, stage: Stage, error: BaseException) -> None:
        self.failures.append(Failure(url=url, stage=stage, reason=reason(error)))

    def report(self) -> IndexReport:
        return IndexReport(
            discovered=self.discovered,
            indexed=self.indexed,
            skipped=self.skipped,
            failures=tuple(self.failures),
            elapsed_seconds=time.perf_counter() - self.started,
            keyphrase=self.keyphrase,
            reused=self.reused,
            refused=self.refused,
        )

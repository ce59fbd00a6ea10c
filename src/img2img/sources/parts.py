"""Sources that read several parts (channels, subreddits, campaigns): one bad part
is skipped and reported, not the end of the run."""

from __future__ import annotations

import logging

from img2img.errors import ServiceError
from img2img.models import PartFailure

__all__ = ["PartFailure", "PartLog"]

log = logging.getLogger(__name__)


class PartLog:
    """Collects the failures of one ``discover`` call and decides what they end.

    A part that cannot be read is skipped while others can be; if none could
    be read, the first part's error is raised, since then nothing was found
    and the caller should hear why.
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self.failures: list[PartFailure] = []
        self._errors: list[ServiceError] = []
        self.read = 0

    def skip(self, part: str, error: ServiceError) -> None:
        log.warning("%s: skipped %s: %s", self.service, part, error)
        self.failures.append(PartFailure(part, str(error), error.status_code))
        self._errors.append(error)

    def finish(self) -> None:
        """Raise the first error if parts failed and none was read."""
        if self.read == 0 and self._errors:
            first = self._errors[0]
            if len(self._errors) > 1:
                others = "; ".join(f.part for f in self.failures[1:])
                first.args = (f"{first} (and could not read {others} either)",)
            raise first

"""Sources that read several parts (channels, subreddits, campaigns): one bad part
is skipped and reported, not the end of the run."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from img2img.errors import ServiceError

__all__ = ["PartFailure", "PartLog"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PartFailure:
    """One part of a source that could not be read, and why.

    ``part`` names it (``"channel 1234"``, ``"r/pics"``); ``status_code`` is
    the service's HTTP status (403 forbidden, 404 deleted), when there was one.
    """

    part: str
    reason: str
    status_code: int | None = None


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

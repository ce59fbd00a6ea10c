"""Claims judged as they are downloaded: the indexing pipeline's gate for ``locate``.

A :class:`ClaimChecker` holds the query's :class:`~img2img.postings.judge.Judge`
(the one same-picture service, with the query's features computed once) and is
the indexing pipeline's :class:`~img2img.pipeline.Gate`: it sees every
downloaded claim on the threads decoding images, before the model does, so a
picture that is not a copy is never embedded or stored, and nothing is
downloaded twice. It remembers each judgement by record id for the report.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from img2img.models import ImageCandidate
from img2img.postings.judge import Judge, Judgement, Picture
from img2img.postings.regions import split_regions

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["ClaimChecker"]


class ClaimChecker:
    """Judges downloaded claims with ``judge`` and remembers what it decided; thread-safe.

    Verifying multiplies small matrices; callers run it with
    :func:`~img2img.postings.judge.one_blas_thread` around the whole run.
    """

    def __init__(self, judge: Judge) -> None:
        self.judge = judge
        self._lock = threading.Lock()
        self._judgements: dict[str, Judgement] = {}

    def admit(self, id: str, candidate: ImageCandidate, image: Image.Image, sha256: str) -> bool:
        """The pipeline's gate: judge a downloaded claim, remember the judgement, let copies on."""
        # Split as it will be when stored, so the query found inside it is ``part`` of it
        # here as in ``find_postings`` later (a few milliseconds an image).
        regions = tuple(split_regions(image))
        judgement = self.judge.judge(Picture(image, sha256, regions=regions))
        with self._lock:
            self._judgements[id] = judgement
        return judgement.same

    def judgement(self, id: str) -> Judgement | None:
        """What :meth:`admit` decided for record ``id``, if it saw it."""
        with self._lock:
            return self._judgements.get(id)

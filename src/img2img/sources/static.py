"""StaticSource: a fixed list of candidates, whatever the keyphrase. For tests and replays."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from img2img.models import ImageCandidate

__all__ = ["StaticSource"]


class StaticSource:
    """An ``ImageSource`` that yields the same candidates for every keyphrase.

    Records each call in ``calls`` as ``(keyphrase, limit)``.
    """

    def __init__(self, candidates: Iterable[ImageCandidate]) -> None:
        self.candidates = list(candidates)
        self.calls: list[tuple[str, int]] = []

    def discover(self, keyphrase: str, *, limit: int = 100) -> Iterator[ImageCandidate]:
        self.calls.append((keyphrase, limit))
        seen: set[str] = set()
        for candidate in self.candidates:
            if len(seen) >= limit:
                return
            if candidate.image_url not in seen:
                seen.add(candidate.image_url)
                yield candidate

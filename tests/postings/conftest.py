"""Real photos posted on loopback "sites": the ground the postings tests stand on."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pytest
from PIL import Image

from img2img import LOOPBACK_NETWORKS, HttpFetcher, ImageCandidate
from img2img.testing.edits import jpeg_bytes
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply


@pytest.fixture(scope="session")
def motorcycle_views() -> tuple[Image.Image, Image.Image]:
    """Two photos of one motorcycle from viewpoints a few centimetres apart (a stereo pair)."""
    import skimage.data

    left, right, _ = skimage.data.stereo_motorcycle()
    return Image.fromarray(np.asarray(left)), Image.fromarray(np.asarray(right))


@pytest.fixture(scope="session")
def sign_before_wall(photos: dict[str, Image.Image]) -> tuple[Image.Image, Image.Image]:
    """A wall (a photo) with a sign standing before it, shot from two places: the sign
    moves 30 px against the wall between the two JPEG shots; the wall alone agrees."""
    from img2img.testing.edits import jpeg

    wall = photos["coffee"].resize((640, 480))
    sign = photos["chelsea"].resize((150, 120))
    shots = []
    for left in (240, 270):
        shot = wall.copy()
        shot.paste(sign, (left, 300))
        shots.append(jpeg(shot))
    return shots[0], shots[1]


@dataclass
class Sites:
    """A loopback server holding images at paths; ``gone`` paths answer 404."""

    server: LoopbackServer
    files: dict[str, bytes] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)

    def url(self, path: str) -> str:
        return self.server.url + path

    def downloads(self) -> int:
        return sum(1 for r in self.server.requests if r.method == "GET")


@pytest.fixture
def sites() -> Iterator[Sites]:
    holder: list[Sites] = []

    def handler(request: RecordedRequest) -> Reply:
        state = holder[0]
        if request.path in state.gone or request.path not in state.files:
            return Reply(status=404, body=b"not found")
        return Reply(body=state.files[request.path], headers={"Content-Type": "image/jpeg"})

    with LoopbackServer(handler) as server:
        holder.append(Sites(server))
        yield holder[0]


@pytest.fixture
def fetcher() -> Iterator[HttpFetcher]:
    with HttpFetcher(allowed_networks=LOOPBACK_NETWORKS) as fetcher:
        yield fetcher


def posted(sites: Sites, path: str, image: Image.Image, *, page: str, title: str) -> ImageCandidate:
    """Put ``image`` on the loopback site at ``path`` and describe it as a source would."""
    sites.files[path] = jpeg_bytes(image)
    domain = page.split("/")[2]
    return ImageCandidate(image_url=sites.url(path), page_url=page, title=title, domain=domain)

"""The query photo's reposts on loopback "sites", and Google Lens entries that claim them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from img2img.testing.edits import apply_edit, jpeg_bytes
from img2img.testing.http import LoopbackServer, Reply

#: The five reposts of the query photo: re-encoded or resized three times, cropped, captioned.
COPIES = {
    "/news/bike.jpg": ("https://news.example/2024/04/bike-show", "jpeg70"),
    "/blog/bike-small.jpg": ("https://www.reddit.com/r/motorcycles/comments/b1/", "resize"),
    "/cdn/bike-q30.jpg": ("https://pinterest.com/pin/555/", "jpeg30"),
    "/forum/crop.jpg": ("https://forum.example/t/1234", "crop70"),
    "/memes/bike.jpg": ("https://memes.example/p/5", "text"),
}
#: Three pages showing the other view of the stereo pair: the same motorcycle, another photo.
OTHERS = {
    "/shop/side.jpg": ("https://shop.example/item/42", "jpeg70"),
    "/shop/side-crop.jpg": ("https://x.com/seller/status/7", "crop90"),
    "/classified/side.jpg": ("https://classified.example/ad/9", "resize"),
}


@dataclass
class Web:
    """A loopback server playing every site: ``files`` by path, ``replies`` for odd answers."""

    server: LoopbackServer
    files: dict[str, bytes] = field(default_factory=dict)
    replies: dict[str, Reply] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.server.url + path

    def downloads(self) -> int:
        return sum(1 for r in self.server.requests if r.method == "GET")


def lens_entry(position: int, page: str, image_url: str, **more: Any) -> dict[str, Any]:
    """One entry of ``exact_matches`` / ``visual_matches``, in SerpAPI's shape."""
    return {
        "position": position,
        "title": f"claim {position}",
        "link": page,
        "source": page.split("/")[2],
        "thumbnail": image_url + "?thumb",
        "image": image_url,
        **more,
    }


def post(
    web: Web, pages: dict[str, tuple[str, str]], photo: Image.Image, start: int = 1
) -> list[dict[str, Any]]:
    """Put ``photo``, edited as ``pages`` says, on the web; the Lens entries claiming them."""
    entries = []
    for position, (path, (page, edit)) in enumerate(pages.items(), start=start):
        web.files[path] = jpeg_bytes(apply_edit(photo, edit))
        entries.append(lens_entry(position, page, web.url(path), date="Mar 5, 2024"))
    return entries

"""What the watch tests share besides fixtures: the web of reposts on loopback."""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

from img2img.testing.edits import apply_edit, jpeg_bytes
from img2img.testing.http import LoopbackServer

__all__ = ["Web"]


@dataclass
class Web:
    """Every site on one loopback server: ``files`` by path; a path removed answers 404."""

    server: LoopbackServer
    files: dict[str, bytes] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.server.url + path

    def post(self, path: str, photo: Image.Image, edit: str = "jpeg70") -> str:
        self.files[path] = jpeg_bytes(apply_edit(photo, edit))
        return self.url(path)

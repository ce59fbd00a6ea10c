"""The hostile corpus: good images in awkward formats and bad inputs of every kind, served
from loopback.

The image server listens on 127.0.0.2 and is reached by the names ``images.test``
and ``bücher.test`` through a table resolver; the fetcher may reach 127.0.0.2 and
nothing else. An "internal service" listens on 127.0.0.1, so a redirect there is
a real server-side request forgery the guard must stop, and the test can check
that nobody connected to it.
"""

from __future__ import annotations

import base64
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from img2img.testing.http import RecordedRequest, Reply
from img2img.testing.photos import sample_photos
from stand_ins import TableResolver, encode, png_chunk, png_declaring

SERVER_HOST = "127.0.0.2"
ALLOWED = [f"{SERVER_HOST}/32"]
MAX_BYTES = 2_000_000
DEADLINE = 2.0


@dataclass(frozen=True)
class Item:
    """One input: ``url`` is what ``add()`` and ``search()`` get. ``stage`` is where it must
    fail (``None``: it must be indexed), ``reason`` a pattern the failure's reason matches."""

    name: str
    url: str
    stage: str | None = None
    reason: str = ""


@dataclass
class Corpus:
    items: list[Item] = field(default_factory=list)
    routes: dict[str, Reply] = field(default_factory=dict)
    #: Paths whose reply changes after the first request (a 429 that then recovers).
    once: dict[str, Reply] = field(default_factory=dict)

    def good(self) -> list[Item]:
        return [i for i in self.items if i.stage is None]

    def bad(self) -> list[Item]:
        return [i for i in self.items if i.stage is not None]

    def handle(self, request: RecordedRequest) -> Reply:
        path = request.path
        if path in self.once:
            return self.once.pop(path)
        reply = self.routes.get(path)
        if reply is None:
            return Reply(status=404, body=b"not found", headers={"Content-Type": "text/plain"})
        if reply.chunks is not None and not isinstance(reply.chunks, list):
            # The trickle is a generator: a fresh one for every request.
            return Reply(
                status=reply.status,
                headers=dict(reply.headers),
                chunks=_trickle(),
                chunk_delay=reply.chunk_delay,
            )
        return reply


def resolver() -> TableResolver:
    return TableResolver(
        {
            "images.test": [SERVER_HOST],
            "xn--bcher-kva.test": [SERVER_HOST],  # bücher.test
            SERVER_HOST: [SERVER_HOST],
            "internal.test": ["127.0.0.1"],  # a name pointing inside: DNS-based forgery
        }
    )


# -- bytes ------------------------------------------------------------------------------


def gif_declaring(width: int, height: int) -> bytes:
    """A GIF whose logical screen is ``width`` x ``height``: a bomb by its header."""
    return (
        b"GIF89a"
        + struct.pack("<HH", width, height)
        + b"\x00\x00\x00"
        + b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    )


def gzip_bomb(payload_bytes: int) -> bytes:
    """gzip of a PNG signature followed by ``payload_bytes`` zeros, a few hundred KB."""
    squeezer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    parts = [squeezer.compress(b"\x89PNG\r\n\x1a\n" + b"\x00" * 56)]
    block = b"\x00" * (1 << 20)
    for _ in range(payload_bytes >> 20):
        parts.append(squeezer.compress(block))
    parts.append(squeezer.flush())
    return b"".join(parts)


def _trickle() -> Iterator[bytes]:
    """A PNG that never ends: its header, then a byte every chunk delay, for ever."""
    yield png_declaring(64, 64)[:33]
    while True:
        yield b"x"


def exif_rotated_jpeg(photo: Image.Image) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    return encode(photo, "JPEG", exif=exif.tobytes())


def animated_gif(photo: Image.Image) -> bytes:
    frames = [photo.resize((64, 48)), photo.resize((64, 48)).rotate(90)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], loop=0)


def palette_png_with_transparency(photo: Image.Image) -> bytes:
    palette = photo.resize((64, 64)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.info["transparency"] = 0
    return encode(palette, "PNG", transparency=0)


def sixteen_bit_png() -> bytes:
    ramp = np.tile(np.linspace(0, 65535, 128, dtype=np.uint16), (32, 1))
    return encode(Image.fromarray(ramp), "PNG")


def image_reply(body: bytes, content_type: str = "image/png") -> Reply:
    return Reply(body=body, headers={"Content-Type": content_type})


# -- the corpus -------------------------------------------------------------------------


def build(base: str, idn_base: str, internal_url: str, folder: Path) -> Corpus:
    """The corpus for a server at ``base`` (``http://images.test:PORT``) and its IDN twin.

    ``folder`` receives the local files: a good PNG and a FIFO.
    """
    photos = sample_photos(("astronaut", "coffee", "camera"))
    astronaut, coffee, camera = photos["astronaut"], photos["coffee"], photos["camera"]
    corpus = Corpus()
    jpeg = encode(astronaut, "JPEG", quality=85)
    png = encode(coffee.resize((160, 120)), "PNG")

    def serve(name: str, reply: Reply, stage: str | None = None, reason: str = "") -> None:
        path = f"/{'good' if stage is None else 'bad'}/{name}"
        corpus.routes[path] = reply
        corpus.items.append(Item(name, base + path, stage, reason))

    def given(name: str, url: str, stage: str, reason: str) -> None:
        corpus.items.append(Item(name, url, stage, reason))

    # Good images, in every awkward form the web uses.
    serve("photo.jpg", image_reply(jpeg, "image/jpeg"))
    serve("photo.png", image_reply(png))
    serve("cmyk.jpg", image_reply(encode(astronaut.convert("CMYK"), "JPEG"), "image/jpeg"))
    serve("16-bit.png", image_reply(sixteen_bit_png()))
    serve("palette-transparent.png", image_reply(palette_png_with_transparency(coffee)))
    serve("animated.gif", image_reply(animated_gif(astronaut), "image/gif"))
    serve("exif-rotated.jpg", image_reply(exif_rotated_jpeg(coffee), "image/jpeg"))
    serve("photo.webp", image_reply(encode(coffee, "WEBP"), "image/webp"))
    serve("photo.avif", image_reply(encode(coffee.resize((96, 72)), "AVIF"), "image/avif"))
    serve("greyscale.jpg", image_reply(encode(camera, "JPEG"), "image/jpeg"))
    serve("1x1.png", image_reply(encode(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG")))
    serve("10000x1.png", image_reply(encode(Image.new("L", (10000, 1), 128), "PNG")))
    serve("octet-stream.jpg", image_reply(jpeg, "application/octet-stream"))
    corpus.routes["/good/moved.jpg"] = Reply(status=301, headers={"Location": "/good/photo.jpg"})
    corpus.items.append(Item("redirect to an image", base + "/good/moved.jpg"))
    corpus.once["/good/throttled-once.png"] = Reply(
        status=429, headers={"Retry-After": "1", "Content-Type": "text/plain"}
    )
    serve("throttled-once.png", image_reply(png))
    corpus.routes["/good/idn.png"] = image_reply(png)
    corpus.items.append(Item("IDN host", idn_base + "/good/idn.png"))
    local = folder / "local photo.png"
    local.write_bytes(png)
    corpus.items.append(Item("local file", str(local)))

    # Bad bytes.
    serve("truncated.jpg", image_reply(jpeg[: len(jpeg) // 2], "image/jpeg"), "decode", "")
    serve(
        "corrupt.jpg",
        image_reply(jpeg[:200] + os.urandom(4000), "image/jpeg"),
        "decode",
        "corrupt|cannot|broken|truncated",
    )
    serve("truncated.png", image_reply(png[: len(png) // 3]), "decode", "")
    serve(
        "corrupt.png",
        image_reply(png[:33] + png_chunk(b"IDAT", os.urandom(500)) + png_chunk(b"IEND", b"")),
        "decode",
        "",
    )
    serve("empty.png", image_reply(b""), "fetch", "empty body")
    serve(
        "page.jpg",
        image_reply(b"<!doctype html><html><body>" + b"x" * 5000, "image/jpeg"),
        "fetch",
        "not a known image format",
    )
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>'
    serve("drawing.svg", image_reply(svg, "image/svg+xml"), "fetch", "svg")
    serve("svg-as-png.png", image_reply(svg), "fetch", "not a known image format")
    serve("bomb.png", image_reply(png_declaring(100_000, 100_000)), "decode", "pixels")
    serve("bomb.gif", image_reply(gif_declaring(65_535, 65_535), "image/gif"), "decode", "pixels")
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (MAX_BYTES + 500_000)
    serve(
        "oversize-streamed.png",
        Reply(
            headers={"Content-Type": "image/png"},
            chunks=[big[i : i + 65536] for i in range(0, len(big), 65536)],
        ),
        "fetch",
        "more than",
    )
    serve("oversize-declared.png", image_reply(big), "fetch", "declares")
    serve(
        "gzip-bomb.png",
        Reply(
            body=gzip_bomb(128 << 20),
            headers={"Content-Type": "image/png", "Content-Encoding": "gzip"},
        ),
        "fetch",
        "more than",
    )
    serve(
        "trickle.png",
        Reply(headers={"Content-Type": "image/png"}, chunks=_trickle(), chunk_delay=0.05),
        "fetch",
        "deadline",
    )

    # Bad answers and redirects.
    corpus.routes["/bad/loop-a"] = Reply(status=302, headers={"Location": "/bad/loop-b"})
    corpus.routes["/bad/loop-b"] = Reply(status=302, headers={"Location": "/bad/loop-a"})
    given("redirect loop", base + "/bad/loop-a", "fetch", "redirects")
    for name, target, reason in [
        ("to-loopback", internal_url + "/secret", "loopback"),
        (
            "to-loopback-name",
            "http://internal.test:" + internal_url.rsplit(":", 1)[1] + "/",
            "loopback",
        ),
        ("to-metadata", "http://169.254.169.254/latest/meta-data/", "metadata"),
        ("to-private", "http://10.0.0.1/admin", "private"),
        ("to-file", "file:///etc/passwd", "only http and https"),
    ]:
        corpus.routes[f"/bad/{name}"] = Reply(status=302, headers={"Location": target})
        given(f"redirect {name}", f"{base}/bad/{name}", "fetch", reason)
    serve("missing.png", Reply(status=404, body=b"no"), "fetch", "HTTP 404")
    serve("error.png", Reply(status=500, body=b"oops"), "fetch", "HTTP 500")
    serve(
        "throttled.png",
        Reply(status=429, headers={"Retry-After": "1", "Content-Type": "text/plain"}),
        "fetch",
        "HTTP 429",
    )

    # Bad URLs and paths.
    fifo = folder / "pipe.png"
    os.mkfifo(fifo)
    tiny_png = base64.b64encode(encode(Image.new("RGB", (1, 1)), "PNG")).decode()
    for name, url, reason in [
        ("loopback directly", internal_url + "/secret", "loopback"),
        ("metadata directly", "http://169.254.169.254/latest/meta-data/", "metadata"),
        ("file URL of a device", "file:///dev/zero", "character device"),
        ("path of a FIFO", str(fifo), "FIFO"),
        ("ftp URL", "ftp://images.test/photo.png", "unsupported URL scheme 'ftp'"),
        ("data URL", f"data:image/png;base64,{tiny_png}", "unsupported URL scheme 'data'"),
        ("file URL of another host", "file://images.test/etc/passwd", "this machine only"),
        ("broken IPv6 literal", "http://[::1/photo.png", "invalid URL"),
        ("IPv6 literal out of range", "http://[12345::1]/photo.png", "invalid URL"),
        ("port out of range", base.rsplit(":", 1)[0] + ":99999/photo.png", "port"),
        ("port not a number", "http://images.test:8o/photo.png", "invalid URL"),
        ("space in the host", "http://images .test/photo.png", "not a valid host name"),
        ("control character", base + "/photo\x00.png", "invalid URL"),
        ("header injection", base + "/photo.png\r\nX-Injected: 1", "invalid URL"),
        ("invalid punycode host", "http://xn--a.test/photo.png", "internationalised"),
        ("invalid IDN host", "http://ex\u200d.test/photo.png", "invalid URL"),
        ("no host", "http:///photo.png", "no host"),
        ("credentials in the URL", "http://user:pass@images.test/photo.png", "credentials"),
    ]:
        given(name, url, "fetch", reason)
    return corpus

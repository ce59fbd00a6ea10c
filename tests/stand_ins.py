"""Stand-ins for the world outside, shared by several test folders.

An internal service that only counts who connects, a resolver answering from
a table, and image files built byte by byte (encodings of PIL images, PNGs
whose header declares any size).
"""

from __future__ import annotations

import io
import socket
import struct
import zlib

from PIL import Image


class Listener:
    """A bare TCP listener standing for an internal service: it only counts who connects."""

    def __init__(self, host: str) -> None:
        self.sock = socket.create_server((host, 0))
        self.sock.setblocking(False)
        self.url = f"http://{host}:{self.sock.getsockname()[1]}"

    def was_contacted(self) -> bool:
        try:
            connection, _ = self.sock.accept()
        except BlockingIOError:
            return False
        connection.close()
        return True

    def close(self) -> None:
        self.sock.close()


class TableResolver:
    """Answers from a table, as a DNS server would; any other name fails as the system's
    resolver fails it, so a lookup that should not happen shows. ``asked`` lists the
    names looked up."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError(f"test resolver does not know {host}")
        return self.table[host]


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    """``image`` saved in format ``fmt`` (``"PNG"``, ``"JPEG"`` …) with Pillow's ``params``."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data and CRC."""
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_declaring(width: int, height: int, *, colour_type: int = 0) -> bytes:
    """A valid PNG header declaring ``width`` x ``height`` pixels (colour type 0 grey,
    2 RGB), with a tiny IDAT that never fills them."""
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )

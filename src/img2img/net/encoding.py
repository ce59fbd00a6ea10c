"""Bounded decoding of ``Content-Encoding``: a gzip bomb costs no more than the size limit.

The fetcher asks for ``identity``, but a server may compress anyway. httpx
inflates each piece it receives in one call, so 64 KB of a gzip bomb can
become 64 MB before the caller sees a byte. :class:`BodyDecoder` hands out at
most :data:`STEP` bytes at a time instead, so the fetcher, which counts what
it is given, stops at its limit however well the body compresses.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from img2img.errors import UnexpectedContentError

__all__ = ["STEP", "BodyDecoder"]

#: The most bytes one decoding step produces.
STEP = 64 * 1024

_GZIP_WBITS = zlib.MAX_WBITS | 16
_ZLIB_WBITS = zlib.MAX_WBITS
_DECODERS = {"gzip": _GZIP_WBITS, "x-gzip": _GZIP_WBITS, "deflate": _ZLIB_WBITS}


class BodyDecoder:
    """Turns received bytes into the body, under the response's ``Content-Encoding``.

    Supports no encoding, ``identity``, ``gzip`` and ``deflate`` (zlib); any
    other, or a stack of several, raises :class:`UnexpectedContentError` at
    construction, before the body is read.
    """

    def __init__(self, content_encoding: str) -> None:
        codings = [
            c.strip().lower()
            for c in content_encoding.split(",")
            if c.strip().lower() != "identity"
        ]
        codings = [c for c in codings if c]
        if len(codings) > 1:
            raise UnexpectedContentError(
                f"the server stacked several content codings ({content_encoding}); "
                "images are not compressed twice"
            )
        self._inflater: zlib._Decompress | None = None
        if codings:
            wbits = _DECODERS.get(codings[0])
            if wbits is None:
                raise UnexpectedContentError(
                    f"the server sent a {codings[0]!r}-encoded body, which is not decoded"
                )
            self._inflater = zlib.decompressobj(wbits)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The body bytes ``data`` carries, in pieces of at most :data:`STEP` bytes."""
        if self._inflater is None:
            yield data
            return
        pending = data
        while pending and not self._inflater.eof:
            try:
                piece = self._inflater.decompress(pending, STEP)
            except zlib.error as exc:
                raise UnexpectedContentError(f"the compressed body is corrupt: {exc}") from exc
            pending = self._inflater.unconsumed_tail
            if piece:
                yield piece

    def finish(self) -> bytes:
        """What remains once every received byte was fed; checks the stream ended."""
        if self._inflater is None:
            return b""
        if not self._inflater.eof:
            raise UnexpectedContentError("the compressed body ends early")
        return self._inflater.flush()

"""Bodies a server compresses although ``identity`` was asked: decoded a step at a time,
counted after decoding, and refused when the coding is unknown or broken."""

from __future__ import annotations

import gzip
import zlib

import pytest
from fetch_helpers import PNG

from img2img.errors import ResponseTooLargeError, UnexpectedContentError
from img2img.net.encoding import STEP, BodyDecoder
from img2img.net.fetch import HttpFetcher
from img2img.testing.http import LoopbackServer, Reply


def encoded(body: bytes, coding: str) -> Reply:
    return Reply(body=body, headers={"Content-Type": "image/png", "Content-Encoding": coding})


@pytest.mark.parametrize(
    ("coding", "body"),
    [
        ("gzip", gzip.compress(PNG)),
        ("x-gzip", gzip.compress(PNG)),
        ("deflate", zlib.compress(PNG)),
        ("identity", PNG),
        ("gzip, identity", gzip.compress(PNG)),
    ],
)
def test_compressed_images_are_decoded(fetcher: HttpFetcher, coding: str, body: bytes) -> None:
    with LoopbackServer(lambda request: encoded(body, coding)) as server:
        assert fetcher.fetch(server.url + "/a.png") == PNG


@pytest.mark.parametrize(
    ("coding", "body", "words"),
    [
        ("br", b"\x0b\x02\x80hello\x03", "'br'-encoded"),
        ("gzip, gzip", gzip.compress(gzip.compress(PNG)), "several content codings"),
        ("gzip", b"\x1f\x8b\x08\x00garbage" * 20, "corrupt"),
        ("gzip", gzip.compress(PNG)[:-30], "ends early"),
    ],
    ids=["brotli", "stacked", "corrupt", "truncated"],
)
def test_unknown_or_broken_codings_are_refused(
    fetcher: HttpFetcher, coding: str, body: bytes, words: str
) -> None:
    with (
        LoopbackServer(lambda request: encoded(body, coding)) as server,
        pytest.raises(UnexpectedContentError, match=words) as caught,
    ):
        fetcher.fetch(server.url + "/a.png")
    assert caught.value.url == server.url + "/a.png"


def test_a_gzip_bomb_stops_at_the_size_limit_after_decoding(fetcher: HttpFetcher) -> None:
    bomb = gzip.compress(PNG[:16] + b"\x00" * (50 << 20), compresslevel=6)
    assert len(bomb) < 100_000
    limited = HttpFetcher(
        allowed_networks=["127.0.0.1/32"], max_bytes=1_000_000, resolver=lambda h, p: [h]
    )
    with (
        limited,
        LoopbackServer(lambda request: encoded(bomb, "gzip")) as server,
        pytest.raises(ResponseTooLargeError, match="more than 1,000,000 bytes"),
    ):
        limited.fetch(server.url + "/bomb.png")


def test_the_decoder_never_hands_out_more_than_a_step() -> None:
    decoder = BodyDecoder("gzip")
    pieces = list(decoder.feed(gzip.compress(b"\x00" * (STEP * 40))))
    assert max(len(p) for p in pieces) <= STEP
    assert sum(len(p) for p in pieces) + len(decoder.finish()) == STEP * 40

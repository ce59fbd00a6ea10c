"""The query read once, the same way for find_postings and locate."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from PIL import Image

from img2img import HttpFetcher
from img2img.postings.query import load_query
from img2img.provenance import image_id
from img2img.testing.edits import jpeg_bytes

from .conftest import Sites


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_bytes_are_their_own_digest_and_are_uploaded_as_they_are(
    photos: dict[str, Image.Image], fetcher: HttpFetcher
) -> None:
    data = jpeg_bytes(photos["coffee"])
    query = load_query(data, fetcher)
    assert (query.sha256, query.id, query.url, query.data) == (digest(data), None, None, data)
    shown = query.shown()
    assert (shown.remote, shown.sha256) == (data, digest(data))


def test_a_file_has_the_id_it_would_be_indexed_under(
    photos: dict[str, Image.Image], fetcher: HttpFetcher, tmp_path: Path
) -> None:
    path = tmp_path / "coffee.jpg"
    path.write_bytes(jpeg_bytes(photos["coffee"]))
    query = load_query(path, fetcher)
    assert query.url is not None
    assert query.id == image_id(query.url)
    assert query.sha256 == digest(path.read_bytes())
    # A service cannot read the user's disk: it is shown the file's bytes.
    assert query.shown().remote == path.read_bytes()


def test_a_web_address_is_shown_as_it_is(
    photos: dict[str, Image.Image], fetcher: HttpFetcher, sites: Sites
) -> None:
    sites.files["/coffee.jpg"] = data = jpeg_bytes(photos["coffee"])
    query = load_query(sites.url("/coffee.jpg"), fetcher)
    assert query.sha256 == digest(data)
    assert query.id == image_id(sites.url("/coffee.jpg"))
    shown = query.shown()
    assert (shown.remote, shown.sha256) == (sites.url("/coffee.jpg"), digest(data))


def test_pixels_have_no_digest_but_their_upload_does(
    photos: dict[str, Image.Image], fetcher: HttpFetcher
) -> None:
    query = load_query(photos["coffee"], fetcher)
    assert (query.sha256, query.id, query.data) == (None, None, None)
    shown = query.shown()
    assert isinstance(shown.remote, bytes)
    assert shown.sha256 == digest(shown.remote)
    with Image.open(io.BytesIO(shown.remote)) as upload:
        assert upload.format == "JPEG"
        assert upload.size == query.image.size

"""Stable ids and provenance metadata."""

from __future__ import annotations

import pytest
from PIL import Image

from img2img import ImageCandidate
from img2img.hashes import difference_hash, hamming_distance
from img2img.images import decode_image
from img2img.provenance import build_metadata, domain_of, image_id, normalise_url
from img2img.testing.photos import edited_copy


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Example.COM/a.jpg", "https://example.com/a.jpg"),
        ("https://example.com:443/a.jpg#frag", "https://example.com/a.jpg"),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com:8080/a.jpg?w=10&h=5", "http://example.com:8080/a.jpg?w=10&h=5"),
        ("  https://example.com/A.JPG  ", "https://example.com/A.JPG"),
    ],
)
def test_normalise_url(url: str, expected: str) -> None:
    assert normalise_url(url) == expected


def test_ids_are_stable_and_ignore_cosmetic_url_differences() -> None:
    a = image_id("https://Example.com:443/img/1.jpg#top")
    assert a == image_id("https://example.com/img/1.jpg")
    assert len(a) == 32
    assert int(a, 16) >= 0
    assert a != image_id("https://example.com/img/1.jpg?size=large")
    assert a != image_id("https://example.com/img/2.jpg")


def test_domain_of() -> None:
    assert domain_of("https://www.Pinterest.com/pin/1") == "pinterest.com"
    assert domain_of(None) is None
    assert domain_of("not a url") is None


def test_perceptual_hash_survives_edits_and_separates_photos(
    photos: dict[str, Image.Image],
) -> None:
    hashes = {name: difference_hash(photo) for name, photo in photos.items()}
    for name, photo in photos.items():
        assert (
            hamming_distance(hashes[name], difference_hash(edited_copy(photo, crop=0.02))) <= 12
        ), name
    distinct = [hamming_distance(hashes[a], hashes[b]) for a in hashes for b in hashes if a < b]
    assert min(distinct) > 12


def test_metadata_has_provenance_and_no_nulls(photos: dict[str, Image.Image]) -> None:
    import io

    buffer = io.BytesIO()
    photos["coffee"].save(buffer, format="PNG")
    content = buffer.getvalue()
    candidate = ImageCandidate(image_url="https://www.cafe.example/c.png", extra={"rank": 2})
    metadata = build_metadata(
        candidate,
        keyphrase="coffee",
        content=content,
        image=decode_image(content, working_size=128),
        indexed_at=1_700_000_000.7,
    )
    assert metadata["domain"] == "cafe.example"
    assert metadata["indexed_at"] == 1_700_000_000
    assert (metadata["width"], metadata["height"]) == (
        600,
        400,
    )  # the original, not the working copy
    assert metadata["rank"] == 2
    assert "page_url" not in metadata
    assert "title" not in metadata
    assert None not in metadata.values()

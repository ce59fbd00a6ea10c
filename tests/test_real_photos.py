"""The acceptance test of the offline path: real photos, real weights, edited copies."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from img2img import EfficientNetEmbedder, ImageSearchClient, InMemoryStore
from img2img.testing.photos import edited_copy


@pytest.fixture(scope="module")
def indexed(efficientnet: EfficientNetEmbedder, photo_folder: Path) -> ImageSearchClient:
    client = ImageSearchClient(embedder=efficientnet, store=InMemoryStore())
    report = client.add([photo_folder])
    assert report.failed == 0
    return client


@pytest.mark.parametrize(
    "edit",
    [
        {"scale": 0.6, "crop": 0.08, "quality": 70},
        {"scale": 0.35, "crop": 0.12, "quality": 40},
    ],
    ids=["resized-cropped-jpeg", "small-tight-crop-low-quality"],
)
def test_edited_copy_of_every_photo_finds_its_original_first(
    indexed: ImageSearchClient, photos: dict[str, Image.Image], edit: dict[str, float]
) -> None:
    for name, photo in photos.items():
        matches = indexed.search(edited_copy(photo, **edit), k=3)  # type: ignore[arg-type]
        assert matches[0].title == f"{name}.png", (
            name,
            [(m.title, round(m.score, 3)) for m in matches],
        )
        assert matches[0].score > matches[1].score


def test_scores_separate_copies_from_other_photos(
    indexed: ImageSearchClient, photos: dict[str, Image.Image]
) -> None:
    copies, others = [], []
    for name, photo in photos.items():
        for match in indexed.search(edited_copy(photo), k=len(photos)):
            (copies if match.title == f"{name}.png" else others).append(match.score)
    assert min(copies) > max(others)

"""Search quality on real photos: the original ranks first for mildly edited copies."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from img2img import EfficientNetEmbedder, ImageSearchClient, InMemoryStore
from img2img.testing.edits import MILD_EDITS, apply_edit


@pytest.fixture(scope="module")
def indexed(efficientnet: EfficientNetEmbedder, photo_folder: Path) -> ImageSearchClient:
    client = ImageSearchClient(embedder=efficientnet, store=InMemoryStore(), cache_pictures=False)
    assert client.add([photo_folder]).failed == 0
    return client


def test_recall_at_1_on_mild_edits_is_at_least_95_percent(
    indexed: ImageSearchClient, photos: dict[str, Image.Image]
) -> None:
    hits, misses = 0, []
    for seed, (name, photo) in enumerate(sorted(photos.items())):
        for edit in MILD_EDITS:
            best = indexed.search(apply_edit(photo, edit, seed=seed), k=1)[0]
            if best.title == f"{name}.png":
                hits += 1
            else:
                misses.append((name, edit, best.title))
    assert hits / (len(photos) * len(MILD_EDITS)) >= 0.95, misses

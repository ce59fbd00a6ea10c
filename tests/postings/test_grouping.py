"""Whole-store duplicates on real photos."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from img2img import EfficientNetEmbedder, ImageSearchClient, InMemoryStore
from img2img.testing.edits import apply_edit


def test_duplicates_groups_every_posting_of_a_picture_largest_first(
    efficientnet: EfficientNetEmbedder, photos: dict[str, Image.Image], tmp_path: Path
) -> None:
    folder = tmp_path / "posts"
    folder.mkdir()
    photos["coffee"].save(folder / "coffee.png")
    apply_edit(photos["coffee"], "crop70", seed=4).save(folder / "coffee-crop.jpg")
    smaller = photos["coffee"].resize((480, 320))
    apply_edit(smaller, "mirror").save(folder / "coffee-mirror.jpg")
    buffer = io.BytesIO()
    photos["rocket"].save(buffer, format="PNG")
    (folder / "rocket.png").write_bytes(buffer.getvalue())
    (folder / "rocket-again.png").write_bytes(buffer.getvalue())
    for name in ("astronaut", "chelsea", "camera", "coins"):
        photos[name].save(folder / f"{name}.png")
    client = ImageSearchClient(embedder=efficientnet, store=InMemoryStore())
    client.add([folder])

    groups = sorted(client.duplicates(batch_size=3), key=lambda g: g.picture.title or "")

    assert [{p.title for p in g.postings} for g in groups] == [
        {"coffee.png", "coffee-crop.jpg", "coffee-mirror.jpg"},
        {"rocket-again.png", "rocket.png"},
    ]
    coffee, rocket = groups
    assert coffee.picture.title == "coffee.png"  # the largest stands for the picture
    assert coffee.picture.relation == "exact"
    assert coffee.picture.evidence is None
    assert {p.relation for p in coffee.postings[1:]} == {"copy"}
    mirror = next(p for p in coffee.postings if p.title == "coffee-mirror.jpg")
    assert mirror.evidence is not None
    assert mirror.evidence.mirrored
    assert [p.relation for p in rocket.postings] == ["exact", "exact"]

    only_rockets = list(
        client.duplicates(filter={"title": {"$in": ["rocket.png", "rocket-again.png"]}})
    )
    assert len(only_rockets) == 1
    assert len(only_rockets[0]) == 2

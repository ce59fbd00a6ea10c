"""Union-find, and whole-store duplicates on real photos."""

from __future__ import annotations

import io
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from img2img import EfficientNetEmbedder, ImageSearchClient, InMemoryStore
from img2img.postings.grouping import UnionFind
from img2img.testing.edits import apply_edit


def test_union_find_joins_transitively() -> None:
    links = UnionFind()
    links.union("c", "b")
    links.union("b", "a")
    links.union("x", "y")
    assert links.same("a", "c")
    assert not links.same("a", "x")
    assert links.find("lonely") == "lonely"
    assert sorted(links.groups()) == [["a", "b", "c"], ["x", "y"]]


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), max_size=60))
def test_union_find_agrees_with_connected_components(pairs: list[tuple[int, int]]) -> None:
    links = UnionFind()
    for a, b in pairs:
        links.union(str(a), str(b))
    # The naive answer: merge sets until nothing changes.
    sets: list[set[str]] = []
    for a, b in pairs:
        touching = [s for s in sets if str(a) in s or str(b) in s]
        merged = {str(a), str(b)}.union(*touching)
        sets = [s for s in sets if s not in touching] + [merged]
    expected = sorted(sorted(s) for s in sets if len(s) > 1)
    assert sorted(links.groups()) == expected


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

"""Composites both ways: a collage query finds the pictures it ``contains``, a picture
finds the stored collage it is ``part`` of, and regions never show as results."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from img2img import EfficientNetEmbedder, ImageSearchClient, InMemoryStore
from img2img.cli.postings_tables import posting_json, postings_table
from img2img.models import Evidence, Posting
from img2img.postings.regions import query_regions, split_regions
from img2img.postings.shortlist import DEFAULT_PLAN, shortlist
from img2img.testing.edits import apply_edit
from img2img.testing.reposts import apply_repost

STORED = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry")
#: The stored collage: astronaut among three photos that are stored nowhere else.
COLLAGE_OF = ("camera", "coins", "clock")


def collage(photos: dict[str, Image.Image], first: str, others: tuple[str, ...]) -> Image.Image:
    return apply_repost(photos[first], "collage2x2", others=[photos[o] for o in others], seed=1)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, photos: dict[str, Image.Image]) -> Path:
    folder = tmp_path_factory.mktemp("composites")
    for name in STORED:
        photos[name].save(folder / f"{name}.jpg", quality=92)
    collage(photos, "astronaut", COLLAGE_OF).save(folder / "collage.jpg", quality=92)
    apply_edit(photos["coffee"], "crop70", seed=4).save(folder / "coffee-crop.jpg", quality=92)
    return folder


@pytest.fixture(scope="module")
def client(folder: Path, efficientnet: EfficientNetEmbedder) -> Iterator[ImageSearchClient]:
    with ImageSearchClient(embedder=efficientnet, store=InMemoryStore()) as client:
        report = client.add([folder])
        assert report.indexed == len(STORED) + 2
        yield client


def named(posting: Posting) -> str:
    return Path(posting.image_url or "").stem


def test_a_collage_is_split_into_its_cells_and_a_photo_is_not(
    photos: dict[str, Image.Image],
) -> None:
    grid = collage(photos, "chelsea", ("brick", "moon", "retina"))
    cells = split_regions(grid)
    assert len(cells) == 4
    width, height = grid.size
    for left, top, right, bottom in cells:
        assert 0.4 * width < right - left < 0.5 * width
        assert 0.4 * height < bottom - top < 0.5 * height
    assert split_regions(photos["chelsea"]) == []
    # A query that is not split is searched by overlapping tiles at two scales.
    assert len(query_regions(photos["chelsea"])) == 13


def test_a_collage_query_finds_its_tiles_original_as_contains_with_the_region(
    client: ImageSearchClient, photos: dict[str, Image.Image]
) -> None:
    query = collage(photos, "chelsea", ("brick", "moon", "retina"))
    found = {named(p): p for p in client.find_postings(query)}
    posting = found["chelsea"]
    assert posting.relation == "contains"
    assert posting.region is not None
    left, top, right, bottom = posting.region
    cell = next(c for c in split_regions(query) if c[0] <= (left + right) / 2 <= c[2])
    # The box is the tile in the query's pixels: chelsea was cut to fit a square cell.
    assert abs(right - left - (cell[2] - cell[0])) < 0.05 * query.width
    assert abs(bottom - top - (cell[3] - cell[1])) < 0.05 * query.height
    # The stored collage shows none of the query's pictures.
    assert "collage" not in found


def test_a_stored_collage_is_found_for_a_tile_as_part_with_the_region(
    client: ImageSearchClient, photos: dict[str, Image.Image]
) -> None:
    found = {named(p): p for p in client.find_postings(photos["camera"])}
    posting = found["collage"]
    assert posting.relation == "part"
    assert posting.region is not None
    left, top, right, bottom = posting.region
    assert posting.width is not None
    assert posting.height is not None
    area = (right - left) * (bottom - top) / (posting.width * posting.height)
    assert 0.2 < area < 0.3  # one tile of four, in the collage's pixels


def test_regions_are_never_results_of_their_own(
    client: ImageSearchClient, photos: dict[str, Image.Image]
) -> None:
    # Four regions of the collage are stored beside the eight pictures ...
    assert client.store.count() == len(STORED) + 2 + 4
    assert client.stats().count == len(STORED) + 2
    # ... and a search that hits them answers with the collage, once.
    matches = client.search(photos["camera"], k=8)
    assert [m.id for m in matches].count(matches[0].id) == 1
    assert Path(matches[0].image_url or "").stem == "collage"
    assert all("#" not in m.id for m in matches)
    assert len(matches) == len({m.id for m in matches}) == len(STORED) + 2
    for posting in client.find_postings(photos["camera"]):
        assert "#" not in posting.id


def test_duplicates_pair_copies_only_never_a_composite_or_its_regions(
    client: ImageSearchClient,
) -> None:
    groups = [sorted(Path(p.image_url or "").stem for p in g.postings) for g in client.duplicates()]
    assert groups == [["coffee", "coffee-crop"]]


def test_a_regions_free_client_stores_one_vector_per_image(
    folder: Path, efficientnet: EfficientNetEmbedder, photos: dict[str, Image.Image]
) -> None:
    with ImageSearchClient(
        embedder=efficientnet, store=InMemoryStore(), index_regions=False
    ) as plain:
        plain.add([folder])
        assert plain.store.count() == len(STORED) + 2
        found = {named(p): p.relation for p in plain.find_postings(photos["camera"])}
        assert found.get("collage") != "part"


def test_the_command_shows_the_relation_and_the_region() -> None:
    evidence = Evidence(inliers=80, coverage=0.6, residual=0.3, region=(10, 20, 300, 310))
    posting = Posting(
        "id1", "contains", 0.4, image_url="https://a.example/x.jpg", evidence=evidence
    )
    data = posting_json(posting)
    assert data["relation"] == "contains"
    assert data["region"] == [10, 20, 300, 310]
    assert list(data["evidence"]["region"]) == [10, 20, 300, 310]
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(postings_table([posting]))
    text = console.export_text()
    assert "contains" in text
    assert "in the query at (10,20)-(300,310)" in text


def test_a_picture_inside_many_stored_collages_is_still_shortlisted_itself(
    tmp_path: Path, efficientnet: EfficientNetEmbedder, photos: dict[str, Image.Image]
) -> None:
    # A tile of the query is nearer the cells of stored collages holding the same
    # picture (cut and scaled alike) than the picture itself: eight such collages come
    # before the original among the tile's nearest, so a region's five nearest hid it.
    pool = ("brick", "camera", "chelsea", "clock", "coins", "colorwheel", "moon", "retina")
    for seed in range(8):
        others = tuple(pool[(seed + step) % len(pool)] for step in (1, 3, 5))
        apply_repost(
            photos["rocket"], "collage2x2", others=[photos[o] for o in others], seed=seed
        ).save(tmp_path / f"collage{seed}.jpg", quality=92)
    photos["rocket"].save(tmp_path / "rocket.jpg", quality=92)
    # Collages of other photos: nearer the whole query (a collage) than the rocket is.
    for seed in range(40):
        others = [photos[pool[(seed + step) % len(pool)]] for step in (0, 2, 4, 6)]
        apply_repost(others[0], "collage2x2", others=others[1:], seed=100 + seed).save(
            tmp_path / f"other{seed}.jpg", quality=92
        )
    query = apply_repost(
        photos["rocket"],
        "collage2x2",
        others=[photos[o] for o in ("astronaut", "coffee", "hubble_deep_field")],
        seed=99,
    )
    with ImageSearchClient(embedder=efficientnet, store=InMemoryStore()) as client:
        assert client.add([tmp_path]).indexed == 49

        def shortlisted(region_k: int) -> set[str]:
            # k=12 among 49 and no margin: the whole query's own nearest are collages,
            # and the rocket can come only through a region's nearest.
            plan = replace(DEFAULT_PLAN, region_k=region_k, margin=None)
            whole = {Path(m.image_url or "").stem for m in client.search(query, k=12)}
            assert "rocket" not in whole
            found = shortlist(query, efficientnet, client.store, k=12, plan=plan)
            return {Path(m.image_url or "").stem for m in found.matches}

        assert "rocket" not in shortlisted(5)
        assert "rocket" in shortlisted(DEFAULT_PLAN.region_k)

"""What keeps regions cheap: each region of the query described once, whatever the threads
asking, and only region hits nearer to the region than to the whole query shortlisted and tried."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from img2img import EfficientNetEmbedder, InMemoryStore
from img2img.models import VectorRecord
from img2img.postings.features import extract_features
from img2img.postings.judge import Judge, Picture
from img2img.postings.regions import crop_regions, query_regions
from img2img.postings.shortlist import DEFAULT_PLAN, MARGIN, shortlist
from img2img.testing.reposts import apply_repost

STORED = ("astronaut", "chelsea", "coffee", "rocket", "camera", "coins", "clock", "moon")


@pytest.fixture(scope="module")
def inset(photos: dict[str, Image.Image]) -> Image.Image:
    """The astronaut over 15 % of a bigger photo of a cat (960 x 720)."""
    return apply_repost(photos["astronaut"], "inset15", others=[photos["chelsea"]], seed=1)


def test_a_judge_asked_by_many_threads_verifies_a_region_as_one_thread_does(
    inset: Image.Image, photos: dict[str, Image.Image]
) -> None:
    candidate = Picture(extract_features(photos["astronaut"]))
    other = Picture(extract_features(photos["rocket"]))
    boxes = tuple(query_regions(inset))
    alone = Judge(Picture(inset)).judge(candidate, regions=boxes)
    judge = Judge(Picture(inset))
    with ThreadPoolExecutor(4) as pool:
        asked = [candidate, other] * 4
        judged = list(pool.map(lambda c: judge.judge(c, regions=boxes), asked))
    assert alone.relation == "contains"
    for picture, judgement in zip(asked, judged, strict=True):
        assert judgement.relation == (alone.relation if picture is candidate else None)
    assert all(j.evidence == judged[0].evidence for j in judged[::2])


@pytest.fixture(scope="module")
def store(efficientnet: EfficientNetEmbedder, photos: dict[str, Image.Image]) -> InMemoryStore:
    store = InMemoryStore()
    vectors = efficientnet.embed_images([photos[name] for name in STORED])
    store.upsert(
        [
            VectorRecord(id=name, vector=vector, metadata={"image_url": f"file:///{name}.jpg"})
            for name, vector in zip(STORED, vectors, strict=True)
        ]
    )
    return store


def test_each_picture_of_a_collage_is_shortlisted_by_its_cell_beyond_the_whole_querys_k(
    efficientnet: EfficientNetEmbedder, store: InMemoryStore, photos: dict[str, Image.Image]
) -> None:
    shown = ("chelsea", "camera", "coins", "clock")
    collage = apply_repost(
        photos[shown[0]], "collage2x2", others=[photos[n] for n in shown[1:]], seed=2
    )
    listed = shortlist(collage, efficientnet, store, k=1)
    whole = shortlist(collage, efficientnet, store, k=1, regions=False)
    assert len(whole.matches) == 1
    assert {m.id for m in listed.matches} == set(shown)
    for name in shown:  # each cell is far nearer its picture than the collage is
        assert listed.regions[name]


def test_a_region_hit_no_nearer_the_region_than_the_whole_query_is_left_out(
    efficientnet: EfficientNetEmbedder, store: InMemoryStore, photos: dict[str, Image.Image]
) -> None:
    query = photos["coffee"]
    every = shortlist(query, efficientnet, store, k=2, plan=replace(DEFAULT_PLAN, margin=None))
    kept = shortlist(query, efficientnet, store, k=2)
    assert kept.matches[:2] == every.matches[:2]  # the whole query's own k are kept
    assert {m.id for m in kept.matches} <= {m.id for m in every.matches}
    # What is left beyond the k is nearer to one of the query's regions by the margin.
    boxes = query_regions(query)
    rows = np.asarray(efficientnet.embed_images([query, *crop_regions(query, boxes)]))
    stored = {r.id: r.vector for r in store.fetch(list(STORED)).values()}
    floor = kept.matches[1].score
    for match in kept.matches[2:]:
        best = max(float(row @ stored[match.id]) for row in rows[1:])
        assert best >= floor + MARGIN - 1e-4
    for match in every.matches[2:]:
        if match.id not in {m.id for m in kept.matches}:
            best = max(float(row @ stored[match.id]) for row in rows[1:])
            assert best < floor + MARGIN + 1e-4
    # Tried regions are kept only for hits that count.
    assert set(kept.regions) <= set(every.regions)

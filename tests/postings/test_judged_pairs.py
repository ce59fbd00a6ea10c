"""A whole-store pass judges a mutual neighbour pair once, and looser fits search no longer than needed."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from img2img import EfficientNetEmbedder, ImageSearchClient, InMemoryStore
from img2img.models import Match
from img2img.postings.cache import PictureCache
from img2img.postings.duplicates import find_duplicates
from img2img.postings.features import LocalFeatures
from img2img.postings.fits import (
    LEAST_SHARE,
    RANSAC_MAX_ITERS,
    Pairs,
    fit_model,
    ransac_iterations,
)
from img2img.postings.judged_pairs import JudgedPairs
from img2img.postings.pictures import CandidatePictures
from img2img.testing.edits import apply_edit


def _m(id: str, score: float) -> Match:
    return Match(id=id, score=score)


def test_a_mutual_pair_is_judged_from_the_first_side_only() -> None:
    judged = JudgedPairs(k=2)
    assert [m.id for m in judged.fresh("a", [_m("b", 0.9), _m("c", 0.8)])] == ["b", "c"]
    # b's list holds a (0.9, above a's cutoff 0.8: a judged it) and d (not yet seen).
    assert [m.id for m in judged.fresh("b", [_m("a", 0.9), _m("d", 0.7)])] == ["d"]
    # c scored 0.8 with a, at a's cutoff: judged again rather than risk missing it.
    assert [m.id for m in judged.fresh("c", [_m("a", 0.8), _m("e", 0.85)])] == ["a", "e"]


def test_a_list_shorter_than_k_held_every_close_record() -> None:
    judged = JudgedPairs(k=10)
    judged.fresh("a", [_m("b", 0.4)])  # all there was above the pass's least score
    assert judged.fresh("b", [_m("a", 0.4), _m("c", 0.35)]) == [_m("c", 0.35)]


def test_a_record_the_index_did_not_reach_judges_every_pair_from_its_side() -> None:
    judged = JudgedPairs(k=2)
    # a's list lacks u (0.95, above a's cutoff 0.8): the index never reached u.
    judged.fresh("a", [_m("b", 0.9), _m("c", 0.8)])
    assert judged.fresh("u", [_m("a", 0.95)]) == []  # taken as judged from a's side
    judged = JudgedPairs(k=2)
    judged.fresh("a", [_m("b", 0.9), _m("c", 0.8)])
    assert judged.fresh("u", [_m("a", 0.95)], unreached=True) == [_m("a", 0.95)]


def test_only_the_latest_cutoffs_are_kept() -> None:
    judged = JudgedPairs(k=1, remembered=2)
    for record in ("a", "b", "c"):
        judged.fresh(record, [_m("x", 0.5)])
    assert len(judged) == 2
    # a was forgotten: its pair with z is judged again, b's is not.
    assert judged.fresh("z", [_m("a", 0.9), _m("b", 0.9)]) == [_m("a", 0.9)]


def test_ransac_searches_only_as_long_as_a_passing_fit_needs() -> None:
    assert ransac_iterations("perspective", 500) == RANSAC_MAX_ITERS  # nothing asked: as before
    few = ransac_iterations("perspective", 24, least_inliers=20)
    assert 1 <= few <= 20  # most of the pairs must agree: a few draws find them
    assert ransac_iterations("affine", 400, least_inliers=20) == RANSAC_MAX_ITERS
    assert ransac_iterations("affine", 40, 20) < ransac_iterations("perspective", 40, 20)
    assert ransac_iterations("perspective", 20, least_inliers=20) == 1


def test_a_bounded_perspective_search_asks_for_a_share_of_the_pairs() -> None:
    share = LEAST_SHARE["perspective"]
    # Among many pairs a homography a handful agree with is no warped copy: a few
    # hundred draws, not RANSAC's cap, whatever few inliers the caller would take.
    assert ransac_iterations("perspective", 100, least_inliers=8) <= 250
    assert ransac_iterations("perspective", 100, least_inliers=8) == ransac_iterations(
        "perspective", 100, least_inliers=math.ceil(share * 100)
    )
    assert ransac_iterations("perspective", 30, least_inliers=25) < 30  # more asked: as before


def test_a_bounded_perspective_search_still_finds_a_warped_copy() -> None:
    rng = np.random.default_rng(3)
    warp = np.array([[0.9, 0.05, 12.0], [-0.03, 1.1, 7.0], [2e-4, -1e-4, 1.0]])
    candidate = rng.uniform(0, 500, (120, 2)).astype(np.float32)
    placed = np.hstack([candidate, np.ones((120, 1), np.float32)]) @ warp.T
    query = (placed[:, :2] / placed[:, 2:]).astype(np.float32)
    query[60:] = rng.uniform(0, 500, (60, 2))  # half the pairs are chance matches
    frame = LocalFeatures(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.uint8), (512, 512))
    fit = fit_model("perspective", Pairs(query, candidate), frame, frame, False, least_inliers=8)
    assert fit.evidence.inliers >= 58
    assert fit.matrix is not None
    assert np.allclose(fit.matrix / fit.matrix[2, 2], warp, atol=1e-3)


class CountingPictures(CandidatePictures):
    """The store's pictures, counting how often each record's features are asked for."""

    def __init__(self, cache: PictureCache) -> None:
        super().__init__(cache, lambda url: Path(url.removeprefix("file://")).read_bytes())
        self.asked: Counter[str] = Counter()

    def features(self, id: str, image_url: str | None) -> LocalFeatures:
        self.asked[id] += 1
        return super().features(id, image_url)


def test_duplicates_judge_each_close_pair_once_on_any_number_of_threads(
    efficientnet: EfficientNetEmbedder, photos: dict[str, Image.Image], tmp_path: Path
) -> None:
    folder = tmp_path / "posts"
    folder.mkdir()
    photos["coffee"].save(folder / "coffee.png")
    apply_edit(photos["coffee"], "crop70", seed=4).save(folder / "coffee-crop.jpg")
    for name in ("astronaut", "chelsea"):  # quarters of one photo look alike, share no pixel
        width, height = photos[name].size
        for i, (x, y) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1))):
            box = (x * width // 2, y * height // 2, (x + 1) * width // 2, (y + 1) * height // 2)
            photos[name].crop(box).save(folder / f"{name}-{i}.png")
    store = InMemoryStore()
    ImageSearchClient(embedder=efficientnet, store=store).add([folder])
    close = {
        frozenset((record.id, match.id))
        for page in store.scan()
        for record in page
        for match in store.query(record.vector, k=10)
        if match.id != record.id and match.score >= 0.3
    }
    assert len(close) >= 8  # alike pictures: many pairs pass the grouping gate

    outcomes = []
    for workers in (1, 2):
        pictures = CountingPictures(PictureCache(":memory:"))
        groups = list(find_duplicates(store, pictures, k=10, workers=workers))
        outcomes.append(sorted(sorted(p.title or "" for p in g.postings) for g in groups))
        judges = len(pictures.asked)  # each record's own features, once
        grouping = sum(len(g) for g in groups)  # the groups' members, compared with the first
        # Every other look-up is one pair judged: each close pair from one side.
        assert sum(pictures.asked.values()) - judges - grouping <= len(close)
    assert outcomes[0] == outcomes[1] == [["coffee-crop.jpg", "coffee.png"]]


class CountingCache(PictureCache):
    """A picture cache counting the features it is given to keep (one per computation)."""

    def __init__(self) -> None:
        super().__init__(":memory:")
        self.kept = 0

    def put_features(self, id: str, features: LocalFeatures, thumbnail: bytes | None) -> None:
        self.kept += 1
        super().put_features(id, features, thumbnail)


def test_threads_asking_for_one_record_compute_its_features_once(
    photos: dict[str, Image.Image],
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    cache = CountingCache()
    cache.put_image("coffee", photos["coffee"])
    pictures = CandidatePictures(cache, lambda url: b"")
    with ThreadPoolExecutor(6) as pool:
        found = list(pool.map(lambda _: pictures.features("coffee", None), range(6)))
    assert cache.kept == 1
    assert all(len(f) == len(found[0]) > 100 for f in found)

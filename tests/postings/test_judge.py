"""The one same-picture service on real photos: exact, copy, or not the same."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from img2img import FetchError, InvalidImageError, Match
from img2img.hashes import difference_hash
from img2img.postings.cache import PictureCache, encode_thumbnail
from img2img.postings.features import LocalFeatures, extract_features
from img2img.postings.judge import Judge, Judgement, Picture, hash_distance, one_blas_thread
from img2img.postings.pictures import CandidatePictures
from img2img.testing.edits import apply_edit, jpeg_bytes

#: Edits a copy on the web goes through; the judge must call each a copy.
EDITS = ("resize", "jpeg30", "crop70", "rotate+10", "colour", "grey", "mirror", "text", "border")
#: Other photos, none of them the query.
OTHERS = ("astronaut", "coffee", "rocket", "camera", "coins", "stereo_motorcycle")


class Counted:
    """Pixels had on demand, counting how often they were asked for."""

    def __init__(self, image: Image.Image) -> None:
        self.image = image
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> LocalFeatures:
        with self._lock:
            self.calls += 1
        return extract_features(self.image)


def gone() -> LocalFeatures:
    raise FetchError("404 Not Found", url="http://127.0.0.1:9/gone.jpg")


@pytest.fixture(scope="module")
def chelsea(photos: dict[str, Image.Image]) -> Image.Image:
    return photos["chelsea"]


@pytest.fixture(scope="module")
def chelsea_judge(chelsea: Image.Image) -> Judge:
    return Judge(Picture(chelsea, hashlib.sha256(jpeg_bytes(chelsea)).hexdigest()))


def test_one_query_prepared_once_is_judged_against_many_candidates(
    photos: dict[str, Image.Image], chelsea: Image.Image
) -> None:
    query = Counted(chelsea)
    judge = Judge(Picture(query, "query-digest", difference_hash(chelsea)))
    candidates = {f"copy:{edit}": apply_edit(chelsea, edit, seed=3) for edit in EDITS}
    candidates |= {f"other:{name}": photos[name] for name in OTHERS}

    # The caller owns the pool; the judge is shared by its threads.
    with one_blas_thread(), ThreadPoolExecutor(4) as pool:
        judged = pool.map(lambda c: judge.judge(Picture(c)), candidates.values())
        judgements = dict(zip(candidates, judged, strict=True))

    assert query.calls == 1
    for name, judgement in judgements.items():
        if name.startswith("copy:"):
            assert judgement.relation == "copy", (name, judgement.reason)
            assert judgement.same
            assert judgement.reason == ""
        else:
            assert judgement.relation is None, (name, judgement.evidence)
            assert not judgement.same
            assert judgement.reason
        # Pixels were compared for every one of them: the fit's figures are there.
        assert judgement.evidence is not None
        assert judgement.features is not None
        assert judgement.evidence.hash_distance is not None
    assert judgements["copy:mirror"].evidence is not None
    assert judgements["copy:mirror"].evidence.mirrored


def test_equal_bytes_are_exact_without_looking_at_pixels(chelsea: Image.Image) -> None:
    query, candidate = Counted(chelsea), Counted(chelsea)
    judge = Judge(Picture(query, "same-digest"))
    judgement = judge.judge(Picture(candidate, "same-digest"))
    assert judgement.relation == "exact"
    assert judgement.evidence is None
    assert query.calls == candidate.calls == 0
    # A candidate whose download would fail is never downloaded when its bytes match.
    assert judge.judge(Picture(gone, "same-digest")).relation == "exact"


def test_a_query_without_a_digest_never_matches_by_bytes(chelsea: Image.Image) -> None:
    # A query given as pixels has no bytes: two missing digests are not equal bytes.
    judge = Judge(Picture(chelsea))
    judgement = judge.judge(Picture(chelsea))
    assert judgement.relation == "copy"


def test_bytes_only_when_the_candidates_pixels_are_not_given(chelsea_judge: Judge) -> None:
    judgement = chelsea_judge.judge(Picture(None, "another-digest"))
    assert judgement.relation is None
    assert judgement.evidence is None
    assert "not compared" in judgement.reason


def test_a_candidate_that_cannot_be_had_is_the_callers_to_report(chelsea_judge: Judge) -> None:
    with pytest.raises(FetchError, match="404"):
        chelsea_judge.judge(Picture(gone, "another-digest"))


def test_a_query_whose_pixels_cannot_be_had_is_judged_by_bytes(chelsea: Image.Image) -> None:
    judge = Judge(Picture(gone, "query-digest"))
    assert judge.judge(Picture(chelsea, "query-digest")).relation == "exact"
    judgement = judge.judge(Picture(chelsea, "other-digest"))
    assert judgement.relation is None
    assert "query's pixels cannot be had" in judgement.reason
    assert "404" in judgement.reason


def test_a_decoded_query_that_cannot_be_described_is_an_error(chelsea: Image.Image) -> None:
    # Only pixels had on demand may be missing; an empty picture in hand is a bad input.
    judge = Judge(Picture(Image.new("RGB", (0, 0)), "query-digest"))
    assert judge.judge(Picture(chelsea, "query-digest")).relation == "exact"
    with pytest.raises(InvalidImageError):
        judge.judge(Picture(chelsea, "other-digest"))


def test_features_computed_before_are_judged_like_pixels(
    photos: dict[str, Image.Image], chelsea: Image.Image, chelsea_judge: Judge
) -> None:
    copy = apply_edit(chelsea, "crop50", seed=1)
    from_pixels = chelsea_judge.judge(Picture(copy))
    from_features = chelsea_judge.judge(Picture(extract_features(copy)))
    assert from_pixels.relation == from_features.relation == "copy"
    assert from_pixels.evidence is not None
    assert from_features.evidence is not None
    assert from_pixels.evidence.inliers == from_features.evidence.inliers
    # Features carry no perceptual hash: the distance is left out unless it is given.
    assert from_features.evidence.hash_distance is None
    given = chelsea_judge.judge(Picture(extract_features(copy), dhash=difference_hash(copy)))
    assert given.evidence is not None
    assert given.evidence.hash_distance == from_pixels.evidence.hash_distance
    assert not chelsea_judge.judge(Picture(extract_features(photos["coffee"]))).same


def test_a_judgement_makes_the_posting(chelsea_judge: Judge, chelsea: Image.Image) -> None:
    match = Match.from_metadata("rec-1", 0.83, {"image_url": "http://127.0.0.1/a.jpg"})
    judgement = chelsea_judge.judge(Picture(apply_edit(chelsea, "resize", seed=1)))
    posting = judgement.posting(match)
    assert (posting.id, posting.relation, posting.score) == ("rec-1", "copy", 0.83)
    assert posting.evidence is judgement.evidence
    assert posting.image_url == "http://127.0.0.1/a.jpg"
    refused = Judgement(None, reason="another picture")
    with pytest.raises(ValueError, match="another picture"):
        refused.posting(match)


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[PictureCache]:
    with PictureCache(tmp_path / "pictures.sqlite3") as cache:
        yield cache


def test_a_stored_record_is_judged_from_the_picture_cache(
    cache: PictureCache, chelsea: Image.Image, chelsea_judge: Judge
) -> None:
    copy = apply_edit(chelsea, "text", seed=2)
    cache.put_features("rec-copy", extract_features(copy), encode_thumbnail(copy))
    reads: list[str] = []

    def read(url: str) -> bytes:
        reads.append(url)
        raise FetchError("offline", url=url)

    pictures = CandidatePictures(cache, read)
    metadata = {"image_url": "http://127.0.0.1/copy.jpg", "dhash": difference_hash(copy)}
    judgement = chelsea_judge.judge(Picture.stored("rec-copy", metadata, pictures))
    assert judgement.relation == "copy"
    assert judgement.evidence is not None
    assert judgement.evidence.hash_distance == hash_distance(
        difference_hash(chelsea), difference_hash(copy)
    )
    assert reads == []
    # Not in the cache: downloaded from the URL given, else the stored one.
    with pytest.raises(FetchError):
        chelsea_judge.judge(Picture.stored("rec-new", metadata, pictures))
    with pytest.raises(FetchError):
        chelsea_judge.judge(Picture.stored("rec-new", metadata, pictures, "http://127.0.0.1/b"))
    assert reads == ["http://127.0.0.1/copy.jpg", "http://127.0.0.1/b"]


def test_a_stored_records_digest_makes_it_exact(cache: PictureCache, chelsea: Image.Image) -> None:
    digest = hashlib.sha256(jpeg_bytes(chelsea)).hexdigest()
    pictures = CandidatePictures(cache, lambda url: b"")
    match = Match.from_metadata("rec-2", 0.99, {"sha256": digest, "image_url": "http://x/y"})
    judge = Judge(Picture(chelsea, digest))
    judgement = judge.judge(Picture.of_match(match, pictures))
    assert judgement.relation == "exact"
    assert judgement.posting(match).relation == "exact"


def test_hash_distance_of_missing_or_unreadable_hashes_is_none() -> None:
    assert hash_distance("00000000000000ff", "0000000000000000") == 8
    assert hash_distance(None, "0000000000000000") is None
    assert hash_distance("not hex", "0000000000000000") is None


def test_find_postings_and_grouping_decide_as_the_judge_does(
    photos: dict[str, Image.Image], chelsea: Image.Image, cache: PictureCache
) -> None:
    from img2img.postings.finder import find_postings
    from img2img.postings.grouping import group_matches

    digest = hashlib.sha256(jpeg_bytes(chelsea)).hexdigest()
    stored = {
        "same-bytes": (chelsea, {"sha256": digest}),
        "copy": (apply_edit(chelsea, "crop70", seed=4), {}),
        "other": (photos["coffee"], {}),
    }
    shortlist = []
    for id, (image, metadata) in stored.items():
        cache.put_features(id, extract_features(image), None)
        metadata |= {"image_url": f"http://127.0.0.1/{id}.jpg", "dhash": difference_hash(image)}
        shortlist.append(Match.from_metadata(id, 0.9, metadata))
    pictures = CandidatePictures(cache, lambda url: b"")

    judge = Judge(Picture(chelsea, digest))
    expected = {m.id: judge.judge(Picture.of_match(m, pictures)).relation for m in shortlist}
    assert expected == {"same-bytes": "exact", "copy": "copy", "other": None}

    found = find_postings(chelsea, shortlist, pictures, sha256=digest)
    assert {p.id: p.relation for p in found} == {"same-bytes": "exact", "copy": "copy"}
    copy = next(p for p in found if p.id == "copy")
    assert copy.evidence is not None
    assert copy.evidence.hash_distance == hash_distance(
        difference_hash(chelsea), difference_hash(stored["copy"][0])
    )

    # Grouped search: the stored original leads; its copy joins it, the other photo stands alone.
    vectors = {m.id: np.ones(4, np.float32) / 2 for m in shortlist}
    groups = group_matches(shortlist, vectors, pictures, k=5)
    assert [[(p.id, p.relation) for p in g.postings] for g in groups] == [
        [("same-bytes", "exact"), ("copy", "copy")],
        [("other", "exact")],
    ]

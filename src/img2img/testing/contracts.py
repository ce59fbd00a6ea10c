"""Contract suites: the behaviour every adapter of a protocol must have.

Subclass a suite in your test module and provide one fixture::

    from img2img.testing.contracts import VectorStoreContract

    class TestMyStore(VectorStoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            s = MyStore(tmp_path / "x")
            yield s
            s.close()

- ``VectorStoreContract`` needs ``store``: a fresh, empty store accepting
  vectors of ``VectorStoreContract.dimension``.
- ``EmbedderContract`` needs ``embedder``.
- ``ImageSourceContract`` needs ``source``: one that yields at least
  ``minimum_results`` candidates for ``keyphrase``; set ``local_files = True``
  for a source of files on this machine (its URLs may be ``file:``).
- ``ReverseImageSourceContract`` needs ``reverse_source``: one that claims at
  least ``minimum_results`` pages of each kind for ``query_url``, and can upload.

Every img2img adapter runs these same tests; yours can too. pytest must be
installed to import this module.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from img2img.errors import (
    ConfigurationError,
    EmbeddingSpaceMismatchError,
    InvalidFilterError,
    InvalidMetadataError,
    InvalidVectorError,
)
from img2img.models import EmbeddingSpace, ImageCandidate, Match, UploadedImage, VectorRecord
from img2img.protocols import Embedder, ImageSource, ReverseImageSource, VectorStore

__all__ = [
    "EmbedderContract",
    "ImageSourceContract",
    "ReverseImageSourceContract",
    "VectorStoreContract",
    "sample_images",
]


def _unit(seed: int, dimension: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    vector = np.random.default_rng(seed).standard_normal(dimension).astype(np.float32)
    return vector / np.linalg.norm(vector)


def sample_images() -> list[Any]:
    """Three small RGB images that differ in colour and structure."""
    from PIL import Image, ImageDraw

    images = []
    for i, (background, ink) in enumerate(
        [("white", "black"), ("navy", "yellow"), ("darkgreen", "pink")]
    ):
        image = Image.new("RGB", (96, 64), background)
        draw = ImageDraw.Draw(image)
        draw.ellipse((10 + 20 * i, 8, 50 + 20 * i, 56), fill=ink)
        draw.rectangle((0, 0, 12 * (i + 1), 12), fill=ink)
        images.append(image)
    return images


class VectorStoreContract:
    """The ``VectorStore`` behaviour every store shares. Provide a ``store`` fixture."""

    dimension = 8

    def record(self, record_id: str, seed: int, **metadata: Any) -> VectorRecord:
        return VectorRecord(record_id, _unit(seed, self.dimension), metadata)

    def fill(self, store: VectorStore) -> list[VectorRecord]:
        records = [
            self.record("a", 1, domain="a.com", year=2020, tags=["red", "blue"], public=True),
            self.record("b", 2, domain="b.com", year=2021, tags=["green"], public=False),
            self.record("c", 3, domain="a.com", year=2022, public=True),
            self.record("d", 4, domain="c.com", year=2019, tags=["blue"]),
        ]
        store.upsert(records)
        return records

    # -- writing and reading -------------------------------------------------

    def test_empty_store(self, store: VectorStore) -> None:
        assert store.count() == 0
        assert store.fetch(["nope"]) == {}
        assert store.query(_unit(0, self.dimension), k=3) == []
        assert store.embedding_space() is None

    def test_upsert_then_fetch_round_trips(self, store: VectorStore) -> None:
        records = self.fill(store)
        assert store.count() == 4
        fetched = store.fetch(["a", "c", "missing"])
        assert set(fetched) == {"a", "c"}
        np.testing.assert_allclose(fetched["a"].vector, records[0].vector, rtol=1e-6, atol=1e-6)
        assert fetched["a"].metadata["domain"] == "a.com"
        assert fetched["a"].metadata["tags"] == ["red", "blue"]
        assert fetched["a"].metadata["public"] is True
        assert fetched["a"].metadata["year"] == 2020

    def test_upsert_is_idempotent_and_replaces(self, store: VectorStore) -> None:
        self.fill(store)
        store.upsert([self.record("a", 9, domain="new.com")])
        assert store.count() == 4
        replaced = store.fetch(["a"])["a"]
        np.testing.assert_allclose(replaced.vector, _unit(9, self.dimension), rtol=1e-6, atol=1e-6)
        assert replaced.metadata["domain"] == "new.com"
        assert "year" not in replaced.metadata

    def test_upsert_empty_batch_is_a_no_op(self, store: VectorStore) -> None:
        store.upsert([])
        assert store.count() == 0

    def test_scan_yields_every_record_once_in_bounded_lists(self, store: VectorStore) -> None:
        assert list(store.scan()) == []
        many = [self.record(f"r{i:03}", i, n=i) for i in range(23)]
        store.upsert(many)
        store.delete(["r005"])
        pages = list(store.scan(batch_size=4))
        assert all(1 <= len(page) <= 4 for page in pages)
        seen = [record.id for page in pages for record in page]
        assert sorted(seen) == sorted(r.id for r in many if r.id != "r005")
        by_id = {record.id: record for page in pages for record in page}
        assert by_id["r007"].metadata["n"] == 7
        np.testing.assert_allclose(by_id["r007"].vector, many[7].vector, rtol=1e-6, atol=1e-6)

    @pytest.mark.parametrize("bad", [0, -1, 2.5, True])
    def test_scan_refuses_a_batch_size_that_is_not_positive(
        self, store: VectorStore, bad: Any
    ) -> None:
        with pytest.raises(ConfigurationError):
            store.scan(batch_size=bad)

    # -- querying ------------------------------------------------------------

    def test_query_ranks_by_cosine(self, store: VectorStore) -> None:
        records = self.fill(store)
        matches = store.query(records[1].vector, k=4)
        assert next(m.id for m in matches) == "b"
        assert matches[0].score == pytest.approx(1.0, abs=1e-4)
        scores = [m.score for m in matches]
        assert scores == sorted(scores, reverse=True)
        expected = {r.id: float(r.vector @ records[1].vector) for r in records}
        for match in matches:
            assert match.score == pytest.approx(expected[match.id], abs=1e-4)

    def test_query_returns_at_most_k(self, store: VectorStore) -> None:
        self.fill(store)
        assert len(store.query(_unit(7, self.dimension), k=2)) == 2
        assert len(store.query(_unit(7, self.dimension), k=10)) == 4

    def test_query_returns_matches_with_metadata(self, store: VectorStore) -> None:
        store.upsert([self.record("x", 5, image_url="https://i.example/x.jpg", domain="example")])
        (match,) = store.query(_unit(5, self.dimension), k=1)
        assert isinstance(match, Match)
        assert match.id == "x"
        assert match.image_url == "https://i.example/x.jpg"
        assert match.metadata["domain"] == "example"

    def test_query_filter_equality_and_in(self, store: VectorStore) -> None:
        self.fill(store)
        probe = _unit(0, self.dimension)
        assert {m.id for m in store.query(probe, k=10, filter={"domain": "a.com"})} == {"a", "c"}
        assert {
            m.id for m in store.query(probe, k=10, filter={"domain": {"$in": ["b.com", "c.com"]}})
        } == {"b", "d"}

    def test_query_filter_ranges_lists_and_logic(self, store: VectorStore) -> None:
        self.fill(store)
        probe = _unit(0, self.dimension)

        def ids(flt: dict[str, Any]) -> set[str]:
            return {m.id for m in store.query(probe, k=10, filter=flt)}

        assert ids({"year": {"$gte": 2021}}) == {"b", "c"}
        assert ids({"tags": "blue"}) == {"a", "d"}
        assert ids({"tags": {"$exists": False}}) == {"c"}
        assert ids({"$or": [{"domain": "b.com"}, {"year": {"$lt": 2020}}]}) == {"b", "d"}
        assert ids({"domain": "a.com", "year": {"$gt": 2020}}) == {"c"}
        assert ids({"public": True}) == {"a", "c"}

    def test_query_filter_keeps_k_best_of_the_matching(self, store: VectorStore) -> None:
        records = [self.record(f"r{i}", i, even=(i % 2 == 0)) for i in range(20)]
        store.upsert(records)
        probe = records[3].vector
        matches = store.query(probe, k=3, filter={"even": True})
        expected = sorted(
            (r for r in records if r.metadata["even"]), key=lambda r: -float(r.vector @ probe)
        )[:3]
        assert [m.id for m in matches] == [r.id for r in expected]

    def test_malformed_filter_is_refused(self, store: VectorStore) -> None:
        self.fill(store)
        with pytest.raises(InvalidFilterError):
            store.query(_unit(0, self.dimension), k=1, filter={"year": {"$between": [1, 2]}})

    # -- deleting ------------------------------------------------------------

    def test_delete_by_ids(self, store: VectorStore) -> None:
        self.fill(store)
        store.delete(["a", "missing"])
        assert store.count() == 3
        assert store.fetch(["a"]) == {}
        assert "a" not in {m.id for m in store.query(_unit(1, self.dimension), k=10)}

    def test_delete_by_filter(self, store: VectorStore) -> None:
        self.fill(store)
        store.delete(filter={"domain": "a.com"})
        assert store.count() == 2
        assert set(store.fetch(["a", "b", "c", "d"])) == {"b", "d"}

    # -- refusals ------------------------------------------------------------

    def test_wrong_dimension_is_refused_and_writes_nothing(self, store: VectorStore) -> None:
        self.fill(store)
        bad = VectorRecord("z", np.ones(self.dimension + 1, dtype=np.float32))
        with pytest.raises(InvalidVectorError):
            store.upsert([self.record("y", 11), bad])
        assert store.count() == 4
        assert store.fetch(["y", "z"]) == {}

    @pytest.mark.parametrize("poison", [math.nan, math.inf])
    def test_non_finite_vectors_are_refused(self, store: VectorStore, poison: float) -> None:
        vector = _unit(1, self.dimension)
        vector[0] = poison
        with pytest.raises(InvalidVectorError):
            store.upsert([VectorRecord("n", vector)])
        assert store.count() == 0

    def test_wrong_query_dimension_is_refused(self, store: VectorStore) -> None:
        self.fill(store)
        with pytest.raises(InvalidVectorError):
            store.query(np.ones(self.dimension + 3, dtype=np.float32), k=1)

    @pytest.mark.parametrize(
        "metadata",
        [{"nested": {"a": 1}}, {"mixed": ["a", 1]}, {"$eq": "x"}, {"none": None}],
        ids=["nested", "mixed-list", "dollar-key", "null"],
    )
    def test_unstorable_metadata_is_refused(
        self, store: VectorStore, metadata: dict[str, Any]
    ) -> None:
        with pytest.raises(InvalidMetadataError):
            store.upsert([VectorRecord("m", _unit(1, self.dimension), metadata)])
        assert store.count() == 0

    @pytest.mark.parametrize("shape", [(), (0,), (2, 4)], ids=["scalar", "empty", "matrix"])
    def test_vectors_that_are_not_1d_are_refused(
        self, store: VectorStore, shape: tuple[int, ...]
    ) -> None:
        with pytest.raises(InvalidVectorError):
            store.upsert([VectorRecord("v", np.ones(shape, dtype=np.float32))])
        assert store.count() == 0

    # -- embedding space -----------------------------------------------------

    def test_embedding_space_is_remembered_and_guarded(self, store: VectorStore) -> None:
        space = EmbeddingSpace("model-a", self.dimension)
        store.set_embedding_space(space)
        assert store.embedding_space() == space
        store.upsert([VectorRecord("a", _unit(1, self.dimension))])
        store.set_embedding_space(space)  # the same space again is fine
        with pytest.raises(EmbeddingSpaceMismatchError, match="model-a"):
            store.set_embedding_space(EmbeddingSpace("model-b", self.dimension))
        assert store.embedding_space() == space

    def test_an_empty_store_takes_any_embedding_space(self, store: VectorStore) -> None:
        # A run that wrote nothing must not bind the store to its embedder.
        store.set_embedding_space(EmbeddingSpace("model-a", self.dimension))
        store.set_embedding_space(EmbeddingSpace("model-b", self.dimension))
        assert store.embedding_space() == EmbeddingSpace("model-b", self.dimension)
        store.upsert([VectorRecord("a", _unit(1, self.dimension))])
        store.delete(["a"])
        store.set_embedding_space(EmbeddingSpace("model-c", self.dimension))
        assert store.embedding_space() == EmbeddingSpace("model-c", self.dimension)


class EmbedderContract:
    """The ``Embedder`` behaviour every embedder shares. Provide an ``embedder`` fixture."""

    def test_describes_its_space(self, embedder: Embedder) -> None:
        assert isinstance(embedder.model_id, str)
        assert embedder.model_id
        assert isinstance(embedder.dimension, int)
        assert embedder.dimension > 0

    def test_batch_shape_dtype_and_unit_rows(self, embedder: Embedder) -> None:
        vectors = embedder.embed_images(sample_images())
        assert vectors.shape == (3, embedder.dimension)
        assert vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-4)

    def test_empty_batch(self, embedder: Embedder) -> None:
        vectors = embedder.embed_images([])
        assert vectors.shape == (0, embedder.dimension)
        assert vectors.dtype == np.float32

    def test_deterministic_and_batch_independent(self, embedder: Embedder) -> None:
        images = sample_images()
        together = embedder.embed_images(images)
        alone = np.concatenate([embedder.embed_images([image]) for image in images])
        np.testing.assert_allclose(together, alone, atol=1e-4)

    def test_different_images_get_different_vectors(self, embedder: Embedder) -> None:
        vectors = embedder.embed_images(sample_images())
        similarity = vectors @ vectors.T
        off_diagonal = similarity[~np.eye(3, dtype=bool)]
        assert np.all(off_diagonal < 0.9999)

    def test_accepts_non_rgb_modes(self, embedder: Embedder) -> None:
        image = sample_images()[0]
        gray = image.convert("L")
        rgba = image.convert("RGBA")
        vectors = embedder.embed_images([gray, rgba])
        assert vectors.shape == (2, embedder.dimension)
        assert np.all(np.isfinite(vectors))


class ImageSourceContract:
    """The ``ImageSource`` behaviour every source shares. Provide a ``source`` fixture."""

    keyphrase = "eiffel tower"
    minimum_results = 3
    #: ``True`` for a source of files on this machine: its image URLs may be ``file:``.
    local_files = False

    def test_is_an_image_source(self, source: ImageSource) -> None:
        assert isinstance(source, ImageSource)

    def test_yields_lazily(self, source: ImageSource) -> None:
        # An iterator, not a list: a caller that stops early stops the searching too.
        found = source.discover(self.keyphrase, limit=1000)
        assert iter(found) is found, "discover must return an iterator (yield), not a list"
        assert not isinstance(found, (list, tuple))
        assert isinstance(next(found), ImageCandidate)
        close = getattr(found, "close", None)
        if close is not None:
            close()

    def test_yields_candidates_with_fetchable_urls(self, source: ImageSource) -> None:
        schemes = ("http", "https", "file") if self.local_files else ("http", "https")
        candidates = list(source.discover(self.keyphrase, limit=self.minimum_results))
        assert len(candidates) == self.minimum_results
        for candidate in candidates:
            assert isinstance(candidate, ImageCandidate)
            assert candidate.image_url.split(":", 1)[0] in schemes, candidate.image_url

    def test_respects_limit(self, source: ImageSource) -> None:
        assert len(list(source.discover(self.keyphrase, limit=1))) == 1

    def test_image_urls_are_unique(self, source: ImageSource) -> None:
        urls = [c.image_url for c in source.discover(self.keyphrase, limit=1000)]
        assert len(urls) == len(set(urls))
        assert len(urls) >= self.minimum_results

    def test_metadata_values_are_storable(self, source: ImageSource) -> None:
        for candidate in source.discover(self.keyphrase, limit=self.minimum_results):
            for key, value in candidate.extra.items():
                assert isinstance(key, str)
                assert isinstance(value, (str, int, float, bool)) or (
                    isinstance(value, list) and all(isinstance(v, str) for v in value)
                )


def _kinds(source: ReverseImageSource) -> tuple[str, ...]:
    """The kinds of search a reverse source offers: its ``kinds``, else both."""
    return tuple(getattr(source, "kinds", ("exact", "similar")))


def _storable(candidate: ImageCandidate) -> bool:
    return all(
        isinstance(key, str)
        and (
            isinstance(value, (str, int, float, bool))
            or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        )
        for key, value in candidate.extra.items()
    )


class ReverseImageSourceContract:
    """The ``ReverseImageSource`` behaviour every reverse source shares.

    Provide a ``reverse_source`` fixture.
    """

    query_url = "https://photos.example.org/eiffel.jpg"
    minimum_results = 2

    def test_is_a_reverse_image_source(self, reverse_source: ReverseImageSource) -> None:
        assert isinstance(reverse_source, ReverseImageSource)

    @pytest.mark.parametrize("kind", ["exact", "similar"])
    def test_claims_pages_with_http_urls(
        self, reverse_source: ReverseImageSource, kind: Any
    ) -> None:
        if kind not in _kinds(reverse_source):
            # An engine that cannot search this kind says so at once, before any search.
            with pytest.raises(ConfigurationError):
                reverse_source.lookup(self.query_url, kind=kind)
            return
        claims = list(reverse_source.lookup(self.query_url, kind=kind))
        assert len(claims) >= self.minimum_results
        for claim in claims:
            assert isinstance(claim, ImageCandidate)
            assert claim.image_url.split(":", 1)[0] in ("http", "https")
            assert claim.page_url is None or claim.page_url.split(":", 1)[0] in ("http", "https")
            assert _storable(claim)
        urls = [claim.image_url for claim in claims]
        assert len(urls) == len(set(urls))

    def test_respects_limit(self, reverse_source: ReverseImageSource) -> None:
        assert len(list(reverse_source.lookup(self.query_url, limit=1))) == 1

    def test_looks_up_lazily(self, reverse_source: ReverseImageSource) -> None:
        found = reverse_source.lookup(self.query_url)
        assert iter(found) is found, "lookup must return an iterator (yield), not a list"
        assert isinstance(next(found), ImageCandidate)

    def test_an_unknown_kind_is_refused(self, reverse_source: ReverseImageSource) -> None:
        with pytest.raises(ConfigurationError):
            list(reverse_source.lookup(self.query_url, kind="nearly"))  # type: ignore[arg-type]

    def test_an_upload_can_be_looked_up(self, reverse_source: ReverseImageSource) -> None:
        import io

        buffer = io.BytesIO()
        sample_images()[0].save(buffer, format="PNG")
        uploaded = reverse_source.upload(buffer.getvalue())
        assert isinstance(uploaded, UploadedImage)
        assert (uploaded.url is None) != (uploaded.upload_id is None)
        claims = list(reverse_source.lookup(uploaded, kind="exact"))
        assert all(isinstance(claim, ImageCandidate) for claim in claims)

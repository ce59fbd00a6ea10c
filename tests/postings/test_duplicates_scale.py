"""Whole-store duplicates over 100,000 records: exactly the planted groups, in bounded memory."""

from __future__ import annotations

import hashlib
import math
import tracemalloc
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from img2img.errors import FetchError, StoreError
from img2img.filters import compile_filter
from img2img.models import EmbeddingSpace, Filter, Match, Metadata, Vector, VectorRecord
from img2img.postings.cache import PictureCache
from img2img.postings.duplicates import find_duplicates
from img2img.postings.pictures import CandidatePictures
from img2img.stores.paging import check_batch_size
from img2img.testing.edits import apply_edit, jpeg_bytes
from img2img.testing.photos import edited_copy

SIZE = 100_000
DIM = 512
BATCH = 1_000
#: 200 circles of 500 records in dimensions 0-399; planted vectors use 400 and up.
PER_CIRCLE = 500
#: Each query returns K + 1 matches, which this store makes one by one: 4 is
#: fewer than the default 10 (so the test stays fast) and reaches every
#: planted neighbour (at most four records share a neighbourhood).
K = 4


@dataclass(frozen=True)
class Planted:
    """A record with a real picture: ``vector`` lies off the background's plane."""

    name: str
    image: Image.Image
    vector: Vector
    sha256: str


class CircleStore:
    """A read-only ``VectorStore`` of ``size`` records made on demand and never held.

    Why not a real store: duplicates asks one query per record, and an exact
    query over a ``LocalStore`` of 100,000 512-d vectors takes about 6 ms, so
    the pass over a real store of this size takes about 11 minutes
    (``benchmarks/duplicates_scale.py`` measures it). This store gives the same
    answers in microseconds because its vectors are laid out so the nearest
    ones can be worked out:

    - a slot not planted, ``s``, lies on circle ``c = s // PER_CIRCLE`` (in dimensions ``2c``
      and ``2c + 1``), at angle ``2 pi (s % PER_CIRCLE) / PER_CIRCLE``: its
      nearest neighbours are the slots beside it on its circle, at a cosine
      above 0.99, so every record goes through the verifier's path (its
      picture is looked up in the cache and is not there: no link);
    - ``planted`` records, at the given slots, have vectors in the dimensions
      above the circles' and a real picture in the cache.

    Scores are float64 dot products of the float32 vectors it hands out.
    ``query`` is exact (``test_circle_store_answers_like_a_brute_force_search``
    checks it); writes raise :class:`StoreError`.
    """

    def __init__(self, size: int, planted: dict[int, Planted]) -> None:
        self.size = size
        self.planted = planted
        # Each planted vector's non-zero parts, and a score of 0 for each (the
        # usual case: a query that shares no dimension with any of them).
        self._planted_parts = {
            slot: [(d, float(p.vector[d])) for d in np.flatnonzero(p.vector).tolist()]
            for slot, p in planted.items()
        }
        self._planted_dims = {d for parts in self._planted_parts.values() for d, _ in parts}
        self._planted_slots = np.asarray(sorted(planted), dtype=np.int64)
        self._planted_zero = [(-0.0, slot) for slot in sorted(planted)]
        self._planted_on = Counter(s // PER_CIRCLE for s in planted)
        self._zeros_on: dict[tuple[int, int], list[tuple[float, int]]] = {}
        _, cos, sin = self._on_circle(np.arange(PER_CIRCLE, dtype=np.int64))
        self._cos, self._sin = cos.astype(np.float64).tolist(), sin.astype(np.float64).tolist()

    @staticmethod
    def id_of(slot: int) -> str:
        return f"r{slot:06d}"

    def _slot(self, id: str) -> int | None:
        if len(id) == 7 and id[0] == "r" and id[1:].isdigit() and int(id[1:]) < self.size:
            return int(id[1:])
        return None

    def metadata(self, slot: int) -> Metadata:
        if (planted := self.planted.get(slot)) is not None:
            width, height = planted.image.size
            return {
                "image_url": f"https://photos.example/{planted.name}.jpg",
                "title": planted.name,
                "width": width,
                "height": height,
                "sha256": planted.sha256,
            }
        return {"title": f"background {slot}"}

    @staticmethod
    def _on_circle(slots: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], ...]:
        """Each slot's circle, and its (cos, sin) there rounded to float32 as stored."""
        circle, position = np.divmod(slots, PER_CIRCLE)
        angle = 2 * np.pi * position / PER_CIRCLE
        return circle, np.cos(angle).astype(np.float32), np.sin(angle).astype(np.float32)

    def vectors(self, slots: Sequence[int]) -> npt.NDArray[np.float32]:
        """``(len(slots), DIM)`` float32 unit vectors of the given slots."""
        slots_array = np.asarray(slots, dtype=np.int64)
        out = np.zeros((len(slots_array), DIM), dtype=np.float32)
        circle, cos, sin = self._on_circle(slots_array)
        rows = np.arange(len(slots_array))
        out[rows, 2 * circle], out[rows, 2 * circle + 1] = cos, sin
        for row in np.flatnonzero(np.isin(slots_array, self._planted_slots)).tolist():
            out[row] = self.planted[int(slots_array[row])].vector
        return out

    def _records(self, slots: Sequence[int]) -> list[VectorRecord]:
        vectors = self.vectors(slots)
        return [
            VectorRecord(self.id_of(s), vectors[row], self.metadata(s))
            for row, s in enumerate(slots)
        ]

    def _background_near(self, query: dict[int, float], k: int) -> list[tuple[float, int]]:
        """``(-score, slot)`` of slots not planted among which their ``k`` best surely are.

        ``query`` holds the query's non-zero parts by dimension. On a circle it
        has a part in, scores fall with the distance round it from the query's
        angle: the ``reach`` slots either side of that angle. On the others
        every score is 0 and ties go by slot: the first ``reach`` slots of the
        first such circle. ``reach`` counts the planted slots of that circle,
        which are skipped. Scores are what ``vectors(slots) @ query`` gives in
        float64: a circle's vector has two parts, products of float32 values
        are exact, so the sum is rounded once either way.
        """
        circles = self.size // PER_CIRCLE
        touched = sorted({d // 2 for d in query if d < 2 * circles})
        near: list[tuple[float, int]] = []
        if len(touched) < circles:
            untouched = next(c for c in range(circles) if c not in touched)
            near += self._zeros(untouched, k + self._planted_on[untouched])
        for circle in touched:
            reach = k + self._planted_on[circle] + 1
            x, y = query.get(2 * circle, 0.0), query.get(2 * circle + 1, 0.0)
            centre = round(math.atan2(y, x) / (2 * math.pi) * PER_CIRCLE)
            for step in range(-reach, reach + 1):
                position = (centre + step) % PER_CIRCLE
                if (slot := circle * PER_CIRCLE + position) not in self.planted:
                    near.append((-(self._cos[position] * x + self._sin[position] * y), slot))
        return near

    def _zeros(self, circle: int, reach: int) -> list[tuple[float, int]]:
        """``(-0.0, slot)`` for the first ``reach`` slots of ``circle`` not planted;
        kept, as few circles are ever the first untouched one."""
        if (circle, reach) not in self._zeros_on:
            first = range(circle * PER_CIRCLE, circle * PER_CIRCLE + reach)
            self._zeros_on[circle, reach] = [(-0.0, s) for s in first if s not in self.planted]
        return self._zeros_on[circle, reach]

    def _planted_scores(self, query: dict[int, float]) -> list[tuple[float, int]]:
        if not self._planted_dims & query.keys():
            return self._planted_zero
        return [
            (-sum(value * query.get(d, 0.0) for d, value in parts), slot)
            for slot, parts in self._planted_parts.items()
        ]

    def _ranked(self, scored: list[tuple[float, int]], k: int) -> list[Match]:
        """The ``k`` best of ``scored`` (``(-score, slot)``, each slot once)."""
        return [
            Match.from_metadata(self.id_of(slot), -score, self.metadata(slot))
            for score, slot in sorted(scored)[:k]
        ]

    def query(self, vector: Vector, *, k: int = 5, filter: Filter | None = None) -> list[Match]:
        compiled = compile_filter(filter)
        if k <= 0:
            return []
        nonzero = np.flatnonzero(vector)
        parts = dict(zip(nonzero.tolist(), vector[nonzero].tolist(), strict=True))
        if not compiled.matches_everything:  # exact and slow: not used at scale
            background = [s for s in range(self.size) if s not in self.planted]
            scores = self.vectors(background).astype(np.float64) @ vector.astype(np.float64)
            scored = list(zip((-scores).tolist(), background, strict=True))
            matches = self._ranked(scored + self._planted_scores(parts), self.size)
            return [m for m in matches if compiled(m.metadata)][:k]
        return self._ranked(self._background_near(parts, k) + self._planted_scores(parts), k)

    def fetch(self, ids: Sequence[str]) -> dict[str, VectorRecord]:
        slots = [s for i in ids if (s := self._slot(i)) is not None]
        return {r.id: r for r in self._records(slots)}

    def scan(self, *, batch_size: int = 1000) -> Iterator[list[VectorRecord]]:
        check_batch_size(batch_size)
        for start in range(0, self.size, batch_size):
            yield self._records(range(start, min(start + batch_size, self.size)))

    def upsert(self, records: Sequence[VectorRecord]) -> None:
        raise StoreError("CircleStore is read-only")

    def delete(self, ids: Sequence[str] = (), *, filter: Filter | None = None) -> None:
        raise StoreError("CircleStore is read-only")

    def count(self) -> int:
        return self.size

    def embedding_space(self) -> EmbeddingSpace | None:
        return EmbeddingSpace("circle", DIM)

    def set_embedding_space(self, space: EmbeddingSpace) -> None:
        raise StoreError("CircleStore is read-only")


def _near(base: int, offset: int) -> Vector:
    """A unit vector close to axis ``base`` (cosine 0.99 with its siblings)."""
    vector = np.zeros(DIM, dtype=np.float32)
    vector[base], vector[base + 1 + offset] = 1.0, 0.1
    return vector / np.linalg.norm(vector)


def _planted(photos: dict[str, Image.Image]) -> tuple[list[Planted], list[set[str]]]:
    """The planted records, and which of them are one picture."""
    coffee, rocket, astronaut = photos["coffee"], photos["rocket"], photos["astronaut"]
    rocket_bytes = hashlib.sha256(jpeg_bytes(rocket)).hexdigest()
    pictures = [
        # One picture, three postings: the original, a re-posted copy, a crop.
        ("coffee", coffee, 2, 0),
        ("coffee-copy", edited_copy(coffee), 2, 1),
        ("coffee-crop", apply_edit(coffee, "crop70", seed=4), 2, 2),
        # Another photo close enough in embedding to be compared, and refused.
        ("coins", photos["coins"], 2, 3),
        # The same bytes twice: equal digests, no pixels compared.
        ("rocket", rocket, 12, 0),
        ("rocket-again", rocket, 12, 1),
        ("astronaut", astronaut, 22, 0),
        ("astronaut-mirror", apply_edit(astronaut, "mirror"), 22, 1),
        ("astronaut-small", edited_copy(astronaut, scale=0.5, quality=50), 22, 2),
        # Two different photos with close embeddings: not one picture.
        ("chelsea", photos["chelsea"], 32, 0),
        ("camera", photos["camera"], 32, 1),
    ]
    planted = [
        Planted(
            name,
            image,
            _near(400 + base, offset),
            rocket_bytes
            if name.startswith("rocket")
            else hashlib.sha256(name.encode()).hexdigest(),
        )
        for name, image, base, offset in pictures
    ]
    groups = [
        {"coffee", "coffee-copy", "coffee-crop"},
        {"rocket", "rocket-again"},
        {"astronaut", "astronaut-mirror", "astronaut-small"},
    ]
    return planted, groups


def _circle_store(photos: dict[str, Image.Image], size: int) -> tuple[CircleStore, list[set[str]]]:
    planted, groups = _planted(photos)
    # Spread over the store, so a group's members are read in different batches.
    slots = np.random.default_rng(7).choice(size, len(planted), replace=False).tolist()
    return CircleStore(size, dict(zip(slots, planted, strict=True))), groups


def _offline(url: str) -> bytes:
    raise FetchError(f"no network in this test: {url}")


def test_circle_store_answers_like_a_brute_force_search(photos: dict[str, Image.Image]) -> None:
    store, _ = _circle_store(photos, SIZE)
    rng = np.random.default_rng(3)
    queries = [store.vectors([int(s)])[0] for s in rng.choice(SIZE, 20)]
    queries += [p.vector for p in store.planted.values()]
    queries += [v / np.linalg.norm(v) for v in rng.normal(size=(5, DIM)).astype(np.float32)]
    every = np.arange(SIZE)
    wide = np.stack(queries).astype(np.float64).T
    scores = np.concatenate(
        [
            store.vectors(chunk.tolist()).astype(np.float64) @ wide
            for chunk in np.array_split(every, 100)
        ]
    )
    for column, query in enumerate(queries):
        best = np.lexsort((every, -scores[:, column]))[:11]
        found = store.query(query, k=11)
        assert [m.id for m in found] == [store.id_of(int(s)) for s in best]
        assert [m.score for m in found] == scores[best, column].tolist()


def _cached(store: CircleStore, cache: PictureCache) -> None:
    for slot, planted in store.planted.items():
        cache.put_image(store.id_of(slot), planted.image)


def test_duplicates_of_100k_records_are_the_planted_groups_in_bounded_memory(
    photos: dict[str, Image.Image], tmp_path: Path
) -> None:
    store, expected = _circle_store(photos, SIZE)
    warm_up, _ = _circle_store(photos, 2 * PER_CIRCLE)
    downloads: list[str] = []

    def read(url: str) -> bytes:
        downloads.append(url)
        return _offline(url)

    with PictureCache(tmp_path / "pictures.sqlite3") as cache:
        _cached(store, cache)
        _cached(warm_up, cache)
        pictures = CandidatePictures(cache, read)
        # A small pass first imports what verification needs, so the peak below is
        # the pass's own memory, not the modules'.
        assert len(list(find_duplicates(warm_up, pictures, k=K))) == len(expected)

        tracemalloc.start()
        try:
            groups = list(find_duplicates(store, pictures, k=K, batch_size=BATCH))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    titles = [[p.title for p in g.postings] for g in groups]
    # Sorted lists, not sets: a posting listed twice in a group would show.
    assert sorted(sorted(t) for t in titles) == sorted(sorted(g) for g in expected)
    by_name = {p.name: p.image.size for p in store.planted.values()}
    for group in groups:
        sizes = [by_name[p.title or ""] for p in group.postings]
        assert sizes[0][0] * sizes[0][1] == max(w * h for w, h in sizes)
    coffee = next(g for g in groups if g.picture.title == "coffee")
    assert [p.relation for p in coffee.postings] == ["exact", "copy", "copy"]
    rocket = next(g for g in groups if "rocket" in (g.picture.title or ""))
    assert [p.relation for p in rocket.postings] == ["exact", "exact"]
    assert downloads == []  # every planted picture came from the cache

    # Holding the records would take their vectors alone: SIZE x DIM float32 =
    # 204.8 MB. The pass holds one batch (BATCH x DIM float32 = 2 MB, with its
    # metadata) and, on each verifying thread (two), one picture's features and
    # matches at a time (the ratio test's 800 x 800 float32 products: 2.6 MB each).
    holding = SIZE * DIM * 4
    assert peak < holding / 20, f"peak {peak / 1e6:.1f} MB, holding {holding / 1e6:.1f} MB"

"""Fitting writes into Pinecone's limits: the metadata rule and request batching."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from img2img.errors import InvalidMetadataError
from img2img.stores.pinecone.fit import (
    METADATA_BUDGET,
    PROTECTED,
    TITLE_LIMIT,
    TRIMMED_KEY,
    batches,
    encoded_size,
    fit_metadata,
    restore_numbers,
)

PROVENANCE = {
    "image_url": "https://img.example/a.jpg",
    "page_url": "https://example.com/post",
    "domain": "example.com",
    "sha256": "ab" * 32,
    "dhash": "0f" * 8,
    "keyphrase": "eiffel tower",
    "indexed_at": 1_700_000_000,
}


def test_metadata_that_fits_is_unchanged() -> None:
    metadata = {**PROVENANCE, "title": "A title", "width": 640}
    assert fit_metadata("r", metadata) == metadata


def test_long_title_is_cut_first_and_noted() -> None:
    metadata = {**PROVENANCE, "title": "é" * 30_000, "note": "short"}  # 60 KB of UTF-8
    fitted = fit_metadata("r", metadata)
    assert fitted["title"] == "é" * (TITLE_LIMIT - 1) + "…"
    assert fitted["note"] == "short"
    assert fitted[TRIMMED_KEY] == ["title"]
    assert encoded_size(fitted) <= METADATA_BUDGET
    assert {k: fitted[k] for k in PROTECTED} == PROVENANCE


def test_other_fields_are_dropped_largest_first_then_the_title() -> None:
    metadata = {
        **PROVENANCE,
        "title": "t" * 900,
        "big": "b" * 20_000,
        "bigger": ["c" * 1_000] * 35,
        "small": "s" * 10,
    }
    fitted = fit_metadata("r", metadata)
    assert "bigger" not in fitted  # the largest went first, and that was enough
    assert fitted["big"] == metadata["big"]
    assert fitted["title"] == metadata["title"]
    assert fitted[TRIMMED_KEY] == ["bigger"]

    crowded = {**PROVENANCE, "page_url": "p" * 39_000, "title": "t" * 900, "x": "x" * 900}
    fitted = fit_metadata("r", crowded)
    assert "x" not in fitted
    assert "title" not in fitted
    assert fitted[TRIMMED_KEY] == ["title", "x"]
    assert fitted["page_url"] == crowded["page_url"]
    assert encoded_size(fitted) <= METADATA_BUDGET


def test_oversized_provenance_is_refused() -> None:
    metadata = {**PROVENANCE, "page_url": "p" * 45_000, "title": "t"}
    with pytest.raises(InvalidMetadataError, match="page_url"):
        fit_metadata("r", metadata)


def test_trimming_can_be_turned_off() -> None:
    with pytest.raises(InvalidMetadataError, match="r1"):
        fit_metadata("r1", {"title": "t" * 41_000}, trim=False)


def test_restore_numbers_gives_back_whole_numbers_as_ints() -> None:
    restored = restore_numbers({"year": 2020.0, "ratio": 0.5, "ok": True, "tags": ["a"]})
    assert restored == {"year": 2020, "ratio": 0.5, "ok": True, "tags": ["a"]}
    assert type(restored["year"]) is int
    assert type(restore_numbers({"huge": 2.0**60})["huge"]) is float
    assert restore_numbers(None) == {}


@given(
    sizes=st.lists(st.integers(min_value=1, max_value=400), max_size=60),
    max_count=st.integers(min_value=1, max_value=10),
    max_bytes=st.integers(min_value=50, max_value=1_500),
    overhead=st.integers(min_value=0, max_value=40),
)
def test_batches_cover_everything_in_order_within_limits(
    sizes: list[int], max_count: int, max_bytes: int, overhead: int
) -> None:
    runs = list(batches(sizes, max_count=max_count, max_bytes=max_bytes, overhead=overhead))
    assert [i for run in runs for i in run] == list(range(len(sizes)))

    def cost(run: range) -> int:
        return overhead + sum(sizes[i] for i in run) + len(run) - 1

    for position, run in enumerate(runs):
        assert 1 <= len(run) <= max_count
        assert len(run) == 1 or cost(run) <= max_bytes
        if position + 1 < len(runs):  # greedy: the next item did not fit
            grown = range(run.start, run.stop + 1)
            assert len(grown) > max_count or cost(grown) > max_bytes

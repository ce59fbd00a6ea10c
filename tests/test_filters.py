"""The filter language, case by case (docs/filters.md), through both evaluation paths."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from img2img.errors import InvalidFilterError
from img2img.filters import compile_filter, matches
from img2img.models import Metadata
from img2img.stores.columns import MetadataColumns

FILM = {"genre": "comedy", "year": 2020, "rating": 7.5, "tags": ["red", "blue"], "public": True}

# (filter, metadata, expected): one line per rule in docs/filters.md.
CASES: list[tuple[Any, dict[str, Any], bool]] = [
    # everything
    (None, FILM, True),
    ({}, {}, True),
    # implicit $eq
    ({"genre": "comedy"}, FILM, True),
    ({"genre": "drama"}, FILM, False),
    ({"genre": "comedy"}, {}, False),
    ({"genre": "Comedy"}, FILM, False),
    # numbers compare as floats, whatever their Python type
    ({"year": 2020}, {"year": 2020.0}, True),
    ({"rating": 7.5}, FILM, True),
    ({"year": {"$eq": 2020.0}}, FILM, True),
    # booleans are not numbers, strings are not numbers
    ({"public": True}, FILM, True),
    ({"public": 1}, FILM, False),
    ({"n": True}, {"n": 1}, False),
    ({"n": 0}, {"n": False}, False),
    ({"n": False}, {"n": False}, True),
    ({"year": "2020"}, FILM, False),
    ({"genre": 1}, {"genre": "1"}, False),
    # lists of strings: $eq/$in match when any element matches
    ({"tags": "red"}, FILM, True),
    ({"tags": {"$eq": "blue"}}, FILM, True),
    ({"tags": "green"}, FILM, False),
    ({"tags": {"$in": ["green", "blue"]}}, FILM, True),
    ({"tags": {"$in": ["green", "pink"]}}, FILM, False),
    ({"tags": "red"}, {"tags": []}, False),
    # ... and $ne/$nin only when no element does
    ({"tags": {"$ne": "red"}}, FILM, False),
    ({"tags": {"$ne": "green"}}, FILM, True),
    ({"tags": {"$nin": ["green", "red"]}}, FILM, False),
    ({"tags": {"$nin": ["green"]}}, FILM, True),
    ({"tags": {"$ne": "red"}}, {"tags": []}, True),
    # $ne and $nin match a missing field; nothing else does
    ({"genre": {"$ne": "drama"}}, FILM, True),
    ({"genre": {"$ne": "comedy"}}, FILM, False),
    ({"genre": {"$ne": "comedy"}}, {}, True),
    ({"genre": {"$nin": ["comedy"]}}, {}, True),
    ({"genre": {"$in": ["comedy"]}}, {}, False),
    ({"year": {"$ne": 2020}}, {"year": "2020"}, True),
    # $in / $nin over several types at once, and empty lists
    ({"genre": {"$in": ["drama", "comedy"]}}, FILM, True),
    ({"genre": {"$nin": ["drama", "comedy"]}}, FILM, False),
    ({"year": {"$in": [2019, 2020]}}, FILM, True),
    ({"x": {"$in": ["1", 1, True]}}, {"x": 1.0}, True),
    ({"x": {"$in": ["1", 1, True]}}, {"x": "1"}, True),
    ({"x": {"$in": ["1", 1, True]}}, {"x": True}, True),
    ({"x": {"$in": ["1", 1, True]}}, {"x": False}, False),
    ({"genre": {"$in": []}}, FILM, False),
    ({"genre": {"$nin": []}}, FILM, True),
    ({"genre": {"$nin": []}}, {}, True),
    # ranges: numbers only
    ({"year": {"$gt": 2019}}, FILM, True),
    ({"year": {"$gt": 2020}}, FILM, False),
    ({"year": {"$gte": 2020}}, FILM, True),
    ({"year": {"$lt": 2020}}, FILM, False),
    ({"year": {"$lte": 2020}}, FILM, True),
    ({"rating": {"$gt": 7}}, FILM, True),
    ({"rating": {"$lt": 7.5}}, FILM, False),
    ({"year": {"$gt": -1e300}}, FILM, True),
    ({"genre": {"$gt": 0}}, FILM, False),
    ({"genre": {"$lt": 0}}, {"genre": "0"}, False),
    ({"public": {"$gte": 0}}, FILM, False),
    ({"tags": {"$gte": 0}}, FILM, False),
    ({"missing": {"$lt": 1e300}}, FILM, False),
    # several operators on one field: all must hold
    ({"year": {"$gt": 2000, "$lt": 2021}}, FILM, True),
    ({"year": {"$gt": 2020, "$lt": 2030}}, FILM, False),
    ({"year": {"$gte": 2020, "$ne": 2020}}, FILM, False),
    # $exists
    ({"genre": {"$exists": True}}, FILM, True),
    ({"genre": {"$exists": False}}, FILM, False),
    ({"genre": {"$exists": True}}, {}, False),
    ({"genre": {"$exists": False}}, {}, True),
    ({"tags": {"$exists": True}}, {"tags": []}, True),
    ({"public": {"$exists": True}}, {"public": False}, True),
    # several fields: all must hold
    ({"genre": "comedy", "year": 2020}, FILM, True),
    ({"genre": "comedy", "year": 2021}, FILM, False),
    # $and / $or, nested, and beside fields
    ({"$and": [{"genre": "comedy"}, {"year": 2020}]}, FILM, True),
    ({"$and": [{"genre": "comedy"}, {"year": 2021}]}, FILM, False),
    ({"$or": [{"genre": "drama"}, {"year": 2020}]}, FILM, True),
    ({"$or": [{"genre": "drama"}, {"year": 2021}]}, FILM, False),
    (
        {"$or": [{"$and": [{"tags": "red"}, {"public": False}]}, {"rating": {"$gte": 7}}]},
        FILM,
        True,
    ),
    ({"genre": "comedy", "$or": [{"year": 1999}, {"public": True}]}, FILM, True),
    ({"genre": "drama", "$or": [{"year": 2020}]}, FILM, False),
    ({"$and": [{}]}, FILM, True),
]


def table(rows: list[Metadata]) -> MetadataColumns:
    """The columnar view stores filter through, over ``rows``."""

    def load(field: str) -> tuple[list[int], list[Any]]:
        present = [i for i, md in enumerate(rows) if field in md]
        return present, [rows[i][field] for i in present]

    return MetadataColumns(load, len(rows))


@pytest.mark.parametrize(("flt", "metadata", "expected"), CASES)
def test_case_by_case(flt: Any, metadata: dict[str, Any], expected: bool) -> None:
    compiled = compile_filter(flt)
    assert compiled(metadata) is expected
    assert matches(flt, metadata) is expected
    # The same row among others that differ in every field, through the columnar path.
    decoys: list[Metadata] = [{}, {"genre": 3, "tags": ["zzz"]}, {"year": "x", "public": 0.0}]
    rows = [*decoys, metadata, *decoys]
    mask = compiled.mask(table(rows))
    assert mask.dtype == np.bool_
    assert mask.tolist() == [compiled(md) for md in rows]
    assert bool(mask[len(decoys)]) is expected


MALFORMED: list[tuple[Any, str]] = [
    (["genre", "comedy"], "mapping"),
    ("genre", "mapping"),
    ({"genre": {"$regex": "com.*"}}, r"unknown operator '\$regex'"),
    ({"$not": {"genre": "comedy"}}, r"top-level operator '\$not'"),
    ({"$gt": 3}, "top-level"),
    ({"genre": {}}, "empty condition"),
    ({"genre": ["comedy", "drama"]}, "condition"),
    ({"genre": None}, "condition"),
    ({"genre": {"$eq": None}}, r"\$eq takes"),
    ({"genre": {"$eq": ["comedy"]}}, r"\$eq takes"),
    ({"genre": {"$in": "comedy"}}, r"\$in takes a list"),
    ({"genre": {"$nin": [["comedy"]]}}, r"\$nin takes"),
    ({"genre": {"$in": [None]}}, r"\$in takes"),
    ({"year": {"$gt": "2020"}}, r"\$gt takes a finite number"),
    ({"year": {"$lte": True}}, r"\$lte takes"),
    ({"year": {"$gt": math.nan}}, "finite"),
    ({"year": {"$lt": math.inf}}, "finite"),
    ({"year": math.nan}, "finite"),
    ({"year": {"$in": [1, math.inf]}}, "finite"),
    ({"genre": {"$exists": 1}}, r"\$exists takes true or false"),
    ({"$and": []}, "non-empty list"),
    ({"$or": {"genre": "comedy"}}, "non-empty list"),
    ({"$or": "genre"}, "non-empty list"),
    ({"$and": [1]}, "mapping"),
    ({"": 1}, "non-empty strings"),
    ({1: "a"}, "non-empty strings"),
    ({"$or": [{"genre": {"$bad": 1}}]}, r"genre: unknown operator"),
]


@pytest.mark.parametrize(("flt", "message"), MALFORMED)
def test_malformed_filters_are_refused_clearly(flt: Any, message: str) -> None:
    with pytest.raises(InvalidFilterError, match=message):
        compile_filter(flt)


def test_mask_of_an_empty_table() -> None:
    assert compile_filter({"genre": "comedy"}).mask(table([])).shape == (0,)
    assert compile_filter(None).matches_everything
    assert compile_filter({}).matches_everything
    assert not compile_filter({"a": 1}).matches_everything


def test_columns_follow_updates_and_clears() -> None:
    rows: list[Metadata] = [{"c": "red"}, {"c": ["red", "blue"]}, {"c": 1}]
    columns = table(rows)
    red = compile_filter({"c": "red"})
    assert red.mask(columns).tolist() == [True, True, False]
    columns.update([0, 2], [{"c": "blue"}, {"c": ["red"]}])
    assert red.mask(columns).tolist() == [False, True, True]
    columns.clear([1])
    assert red.mask(columns).tolist() == [False, False, True]
    columns.resize(5)
    columns.update([4], [{"c": "red"}])
    assert red.mask(columns).tolist() == [False, False, True, False, True]
    assert compile_filter({"c": {"$exists": False}}).mask(columns).tolist() == [
        False,
        True,
        False,
        True,
        False,
    ]
    columns.resize(3)
    assert red.mask(columns).tolist() == [False, False, True]


# -- property: the two evaluation paths agree on anything ---------------------------

FIELDS = ["a", "b", "tags"]
scalars = st.one_of(
    st.sampled_from(["x", "y", "z", ""]),
    st.integers(-3, 3),
    st.sampled_from([0.5, -1.5, 2.0]),
    st.booleans(),
)
values = st.one_of(scalars, st.lists(st.sampled_from(["x", "y", "z"]), max_size=3))
metadata_rows = st.lists(st.dictionaries(st.sampled_from(FIELDS), values), max_size=12)


def conditions() -> st.SearchStrategy[Any]:
    numbers = st.one_of(st.integers(-3, 3), st.sampled_from([0.5, -1.5, 2.0]))
    operator = st.one_of(
        st.tuples(st.sampled_from(["$eq", "$ne"]), scalars),
        st.tuples(st.sampled_from(["$in", "$nin"]), st.lists(scalars, max_size=3)),
        st.tuples(st.sampled_from(["$gt", "$gte", "$lt", "$lte"]), numbers),
        st.tuples(st.just("$exists"), st.booleans()),
    )
    return st.one_of(scalars, st.lists(operator, min_size=1, max_size=2).map(dict))


filters = st.recursive(
    st.dictionaries(st.sampled_from(FIELDS), conditions(), max_size=2),
    lambda inner: st.builds(
        lambda op, parts: {op: parts},
        st.sampled_from(["$and", "$or"]),
        st.lists(inner, min_size=1, max_size=3),
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(rows=metadata_rows, flt=filters)
def test_columnar_and_per_record_paths_agree(rows: list[Metadata], flt: Any) -> None:
    compiled = compile_filter(flt)
    assert compiled.mask(table(rows)).tolist() == [compiled(md) for md in rows]

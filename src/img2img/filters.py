"""One evaluator of Pinecone's metadata filter language, shared by the local stores.

Semantics (written out case by case in ``docs/filters.md``):

- A filter is a mapping. Field keys combine with AND. ``$and`` / ``$or`` take
  a non-empty list of filters.
- A field's condition is a bare value (implicit ``$eq``) or a mapping of
  operators, all of which must hold.
- ``$eq $ne $in $nin`` compare strings, numbers and booleans; against a
  list-of-strings field, ``$eq``/``$in`` match when any element matches and
  ``$ne``/``$nin`` when no element does.
- ``$gt $gte $lt $lte`` take a number and match only numeric fields.
- ``$exists`` takes a boolean.
- As in Pinecone (and MongoDB, whose language it follows), ``$ne`` and ``$nin``
  match records that lack the field; every other operator does not.
- Booleans are not numbers: ``True`` does not equal ``1``. Numbers compare as
  64-bit floats, as Pinecone stores them, so ``1`` equals ``1.0``.

:func:`compile_filter` validates once and returns a :class:`CompiledFilter`.
It evaluates one record at a time (call it with a metadata mapping) or a whole
table at once (:meth:`CompiledFilter.mask` over :class:`FieldColumn` arrays,
which is what lets a million-row store filter in milliseconds). Both paths sit
side by side in each node below and are checked against each other by tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from img2img.errors import InvalidFilterError
from img2img.models import Filter, Metadata

__all__ = [
    "COMPARISON_OPERATORS",
    "ColumnSource",
    "CompiledFilter",
    "FieldColumn",
    "Kind",
    "Predicate",
    "compile_filter",
    "matches",
]

Predicate = Callable[[Metadata], bool]
Mask = npt.NDArray[np.bool_]

COMPARISON_OPERATORS = frozenset(
    {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists"}
)
_MISSING = object()


class Kind:
    """Codes for what one row of a :class:`FieldColumn` holds."""

    MISSING = 0
    NUMBER = 1
    BOOL = 2
    STRING = 3
    LIST = 4


@dataclass(frozen=True)
class FieldColumn:
    """One metadata field across ``n`` rows, as arrays the vectorised path reads.

    - ``kind``: int8 ``(n,)``, a :class:`Kind` code per row.
    - ``number``: float64 ``(n,)``, the value of ``NUMBER`` rows.
    - ``code``: int32 ``(n,)``, ``0``/``1`` for ``BOOL`` rows, the ``vocab``
      index of ``STRING`` rows.
    - ``list_rows`` / ``list_codes``: one ``(row, vocab index)`` pair per
      element of every ``LIST`` row.
    """

    kind: npt.NDArray[np.int8]
    number: npt.NDArray[np.float64]
    code: npt.NDArray[np.int32]
    vocab: Mapping[str, int]
    list_rows: npt.NDArray[np.intp]
    list_codes: npt.NDArray[np.int32]


class ColumnSource(Protocol):
    """A table of ``size`` rows that hands out one :class:`FieldColumn` per field."""

    @property
    def size(self) -> int: ...

    def column(self, field: str) -> FieldColumn: ...


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_scalar(value: object) -> bool:
    return isinstance(value, (str, int, float))  # bool is an int


class _Node:
    def test(self, md: Metadata) -> bool:
        raise NotImplementedError

    def mask(self, source: ColumnSource) -> Mask:
        raise NotImplementedError


class _Everything(_Node):
    def test(self, md: Metadata) -> bool:
        return True

    def mask(self, source: ColumnSource) -> Mask:
        return np.ones(source.size, dtype=np.bool_)


class _All(_Node):
    def __init__(self, parts: list[_Node]) -> None:
        self.parts = parts

    def test(self, md: Metadata) -> bool:
        return all(p.test(md) for p in self.parts)

    def mask(self, source: ColumnSource) -> Mask:
        out = self.parts[0].mask(source)
        for part in self.parts[1:]:
            out &= part.mask(source)
        return out


class _Any(_Node):
    def __init__(self, parts: list[_Node]) -> None:
        self.parts = parts

    def test(self, md: Metadata) -> bool:
        return any(p.test(md) for p in self.parts)

    def mask(self, source: ColumnSource) -> Mask:
        out = self.parts[0].mask(source)
        for part in self.parts[1:]:
            out |= part.mask(source)
        return out


class _Not(_Node):
    # $ne and $nin are the negation of $eq and $in, so a missing field matches.
    def __init__(self, inner: _Node) -> None:
        self.inner = inner

    def test(self, md: Metadata) -> bool:
        return not self.inner.test(md)

    def mask(self, source: ColumnSource) -> Mask:
        return ~self.inner.mask(source)


class _OneOf(_Node):
    """``$eq`` (one value) and ``$in`` (several): the field equals any of ``values``."""

    def __init__(self, field: str, values: Sequence[str | int | float | bool]) -> None:
        self.field = field
        self.strings = frozenset(v for v in values if isinstance(v, str))
        self.numbers = frozenset(float(v) for v in values if _is_number(v))
        self.bools = frozenset(int(v) for v in values if isinstance(v, bool))

    def test(self, md: Metadata) -> bool:
        value = md.get(self.field, _MISSING)
        if isinstance(value, list):
            return any(isinstance(e, str) and e in self.strings for e in value)
        if isinstance(value, bool):
            return int(value) in self.bools
        if isinstance(value, str):
            return value in self.strings
        if _is_number(value):
            return float(value) in self.numbers  # type: ignore[arg-type]
        return False

    def mask(self, source: ColumnSource) -> Mask:
        col = source.column(self.field)
        out = np.zeros(source.size, dtype=np.bool_)
        codes = [col.vocab[s] for s in self.strings if s in col.vocab]
        if codes:
            out |= (col.kind == Kind.STRING) & _isin(col.code, codes)
            out[col.list_rows[_isin(col.list_codes, codes)]] = True
        if self.numbers:
            out |= (col.kind == Kind.NUMBER) & _isin(col.number, sorted(self.numbers))
        if self.bools:
            out |= (col.kind == Kind.BOOL) & _isin(col.code, sorted(self.bools))
        return out


def _isin(array: npt.NDArray[Any], values: Sequence[Any]) -> Mask:
    if len(values) == 1:
        return np.asarray(array == values[0], dtype=np.bool_)
    return np.isin(array, values)


_RANGES: dict[str, Callable[[Any, float], Any]] = {
    "$gt": lambda x, bound: x > bound,
    "$gte": lambda x, bound: x >= bound,
    "$lt": lambda x, bound: x < bound,
    "$lte": lambda x, bound: x <= bound,
}


class _Range(_Node):
    def __init__(self, field: str, op: str, bound: float) -> None:
        self.field = field
        self.compare = _RANGES[op]
        self.bound = bound

    def test(self, md: Metadata) -> bool:
        value = md.get(self.field)
        return _is_number(value) and bool(self.compare(float(value), self.bound))  # type: ignore[arg-type]

    def mask(self, source: ColumnSource) -> Mask:
        col = source.column(self.field)
        return (col.kind == Kind.NUMBER) & self.compare(col.number, self.bound)  # type: ignore[no-any-return]


class _Exists(_Node):
    def __init__(self, field: str, wanted: bool) -> None:
        self.field = field
        self.wanted = wanted

    def test(self, md: Metadata) -> bool:
        return (self.field in md) is self.wanted

    def mask(self, source: ColumnSource) -> Mask:
        present: Mask = source.column(self.field).kind != Kind.MISSING
        return present if self.wanted else ~present


def _check_scalar(field: str, op: str, operand: Any) -> None:
    if not _is_scalar(operand):
        raise InvalidFilterError(
            f"{field}: {op} takes a string, number or boolean, got {operand!r}"
        )
    if isinstance(operand, float) and not math.isfinite(operand):
        raise InvalidFilterError(f"{field}: {op} takes a finite number, got {operand!r}")


def _compile_operator(field: str, op: str, operand: Any) -> _Node:
    if op in ("$eq", "$ne"):
        _check_scalar(field, op, operand)
        node: _Node = _OneOf(field, [operand])
        return node if op == "$eq" else _Not(node)
    if op in ("$in", "$nin"):
        if not isinstance(operand, (list, tuple)):
            raise InvalidFilterError(
                f"{field}: {op} takes a list of strings, numbers or booleans, got {operand!r}"
            )
        for element in operand:
            _check_scalar(field, op, element)
        node = _OneOf(field, list(operand))
        return node if op == "$in" else _Not(node)
    if op in _RANGES:
        if not _is_number(operand) or not math.isfinite(operand):
            raise InvalidFilterError(f"{field}: {op} takes a finite number, got {operand!r}")
        return _Range(field, op, float(operand))
    if op == "$exists":
        if not isinstance(operand, bool):
            raise InvalidFilterError(f"{field}: $exists takes true or false, got {operand!r}")
        return _Exists(field, operand)
    raise InvalidFilterError(
        f"{field}: unknown operator {op!r}; supported: {', '.join(sorted(COMPARISON_OPERATORS))}"
    )


def _compile_condition(field: str, condition: Any) -> _Node:
    if isinstance(condition, Mapping):
        if not condition:
            raise InvalidFilterError(f"{field}: empty condition")
        parts = [_compile_operator(field, str(op), operand) for op, operand in condition.items()]
        return parts[0] if len(parts) == 1 else _All(parts)
    if _is_scalar(condition):
        return _compile_operator(field, "$eq", condition)
    raise InvalidFilterError(
        f"{field}: a condition is a string, number, boolean or an operator mapping, got {condition!r}"
    )


def _compile_logical(op: str, operand: Any) -> _Node:
    if not isinstance(operand, (list, tuple)) or not operand:
        raise InvalidFilterError(f"{op} takes a non-empty list of filters, got {operand!r}")
    parts = [_compile(sub) for sub in operand]
    return _All(parts) if op == "$and" else _Any(parts)


def _compile(filter: Any) -> _Node:
    if not isinstance(filter, Mapping):
        raise InvalidFilterError(f"a filter is a mapping, got {type(filter).__name__}")
    parts: list[_Node] = []
    for key, condition in filter.items():
        if not isinstance(key, str) or not key:
            raise InvalidFilterError(f"filter keys are non-empty strings, got {key!r}")
        if key in ("$and", "$or"):
            parts.append(_compile_logical(key, condition))
        elif key.startswith("$"):
            raise InvalidFilterError(f"unknown top-level operator {key!r}; use $and or $or")
        else:
            parts.append(_compile_condition(key, condition))
    if not parts:
        return _Everything()
    return parts[0] if len(parts) == 1 else _All(parts)


class CompiledFilter:
    """A validated filter: call it on one record's metadata, or :meth:`mask` a table."""

    def __init__(self, root: _Node) -> None:
        self._root = root

    @property
    def matches_everything(self) -> bool:
        """True for ``None`` and ``{}``: stores can skip filtering altogether."""
        return isinstance(self._root, _Everything)

    def __call__(self, metadata: Metadata) -> bool:
        return self._root.test(metadata)

    def mask(self, source: ColumnSource) -> Mask:
        """bool ``(source.size,)``: which rows of ``source`` match."""
        return self._root.mask(source)


def compile_filter(filter: Filter | None) -> CompiledFilter:
    """Validate ``filter`` and return a :class:`CompiledFilter`.

    ``None`` and ``{}`` match everything. Raises
    :class:`~img2img.errors.InvalidFilterError` naming the offending part.
    """
    return CompiledFilter(_Everything() if filter is None else _compile(filter))


def matches(filter: Filter | None, metadata: Metadata) -> bool:
    """True when ``metadata`` satisfies ``filter`` (one-off use; compile for many records)."""
    return compile_filter(filter)(metadata)

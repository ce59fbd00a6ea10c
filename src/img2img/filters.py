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
- Booleans are not numbers: ``True`` does not equal ``1``.

:func:`compile_filter` validates once and returns a predicate, so a malformed
filter fails before any record is read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from img2img.errors import InvalidFilterError
from img2img.models import Filter, Metadata

__all__ = ["COMPARISON_OPERATORS", "Predicate", "compile_filter", "matches"]

Predicate = Callable[[Metadata], bool]

COMPARISON_OPERATORS = frozenset(
    {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists"}
)
_MISSING = object()


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_scalar(value: object) -> bool:
    return isinstance(value, (str, int, float))  # bool is an int


def _same(a: object, b: object) -> bool:
    # Keep booleans apart from numbers: Pinecone treats them as distinct types.
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


def _any_equal(field_value: object, wanted: object) -> bool:
    if isinstance(field_value, list):
        return any(_same(element, wanted) for element in field_value)
    return _same(field_value, wanted)


def _compile_operator(field: str, op: str, operand: Any) -> Predicate:
    if op in ("$eq", "$ne"):
        if not _is_scalar(operand):
            raise InvalidFilterError(
                f"{field}: {op} takes a string, number or boolean, got {operand!r}"
            )
        if op == "$eq":
            return lambda md: (
                (v := md.get(field, _MISSING)) is not _MISSING and _any_equal(v, operand)
            )
        return lambda md: (v := md.get(field, _MISSING)) is _MISSING or not _any_equal(v, operand)
    if op in ("$in", "$nin"):
        if not isinstance(operand, list) or not all(_is_scalar(x) for x in operand):
            raise InvalidFilterError(
                f"{field}: {op} takes a list of strings, numbers or booleans, got {operand!r}"
            )
        values = list(operand)
        if op == "$in":
            return lambda md: (
                (v := md.get(field, _MISSING)) is not _MISSING
                and any(_any_equal(v, x) for x in values)
            )
        return lambda md: (
            (v := md.get(field, _MISSING)) is _MISSING or not any(_any_equal(v, x) for x in values)
        )
    if op in ("$gt", "$gte", "$lt", "$lte"):
        if not _is_number(operand):
            raise InvalidFilterError(f"{field}: {op} takes a number, got {operand!r}")
        bound = float(operand)
        compare: Callable[[float], bool] = {
            "$gt": lambda x: x > bound,
            "$gte": lambda x: x >= bound,
            "$lt": lambda x: x < bound,
            "$lte": lambda x: x <= bound,
        }[op]
        return lambda md: _is_number(v := md.get(field)) and compare(float(v))  # type: ignore[arg-type]
    if op == "$exists":
        if not isinstance(operand, bool):
            raise InvalidFilterError(f"{field}: $exists takes true or false, got {operand!r}")
        return lambda md: (field in md) is operand
    raise InvalidFilterError(
        f"{field}: unknown operator {op!r}; supported: {', '.join(sorted(COMPARISON_OPERATORS))}"
    )


def _compile_condition(field: str, condition: Any) -> Predicate:
    if isinstance(condition, Mapping):
        if not condition:
            raise InvalidFilterError(f"{field}: empty condition")
        parts = [_compile_operator(field, str(op), operand) for op, operand in condition.items()]
        return parts[0] if len(parts) == 1 else (lambda md: all(p(md) for p in parts))
    if _is_scalar(condition):
        return _compile_operator(field, "$eq", condition)
    raise InvalidFilterError(
        f"{field}: a condition is a string, number, boolean or an operator mapping, got {condition!r}"
    )


def _compile_logical(op: str, operand: Any) -> Predicate:
    if not isinstance(operand, Sequence) or isinstance(operand, str) or not operand:
        raise InvalidFilterError(f"{op} takes a non-empty list of filters, got {operand!r}")
    parts = [compile_filter(sub) for sub in operand]
    if op == "$and":
        return lambda md: all(p(md) for p in parts)
    return lambda md: any(p(md) for p in parts)


def compile_filter(filter: Filter | None) -> Predicate:
    """Validate ``filter`` and return a predicate over a record's metadata.

    ``None`` and ``{}`` match everything. Raises
    :class:`~img2img.errors.InvalidFilterError` naming the offending part.
    """
    if filter is None:
        return lambda md: True
    if not isinstance(filter, Mapping):
        raise InvalidFilterError(f"a filter is a mapping, got {type(filter).__name__}")
    parts: list[Predicate] = []
    for key, condition in filter.items():
        if not isinstance(key, str) or not key:
            raise InvalidFilterError(f"filter keys are non-empty strings, got {key!r}")
        if key in ("$and", "$or"):
            parts.append(_compile_logical(key, condition))
        elif key.startswith("$"):
            raise InvalidFilterError(f"unknown top-level operator {key!r}; use $and or $or")
        else:
            parts.append(_compile_condition(key, condition))
    if len(parts) == 1:
        return parts[0]
    return lambda md: all(p(md) for p in parts)


def matches(filter: Filter | None, metadata: Metadata) -> bool:
    """True when ``metadata`` satisfies ``filter`` (one-off use; compile for many records)."""
    return compile_filter(filter)(metadata)

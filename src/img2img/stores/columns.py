"""Metadata held as columns, so a filter is evaluated over a whole store at numpy speed.

A store hands :class:`MetadataColumns` a loader that yields ``(row, value)``
for one field; the first filter on that field loads its column, and later
writes keep every loaded column up to date, so only fields that filters name
ever cost memory or time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from img2img.filters import FieldColumn, Kind
from img2img.models import Metadata

__all__ = ["ColumnLoader", "MetadataColumns"]

#: Returns ``(rows, values)``: every row that holds ``field``, and its value there.
ColumnLoader = Callable[[str], tuple[Sequence[int], Sequence[Any]]]

_MISSING = object()


class _Field:
    """One field's arrays, over a capacity that grows with the table."""

    def __init__(self, capacity: int) -> None:
        self.kind = np.zeros(capacity, dtype=np.int8)
        self.number = np.full(capacity, np.nan, dtype=np.float64)
        self.code = np.full(capacity, -1, dtype=np.int32)
        self.vocab: dict[str, int] = {}
        self.lists: dict[int, list[int]] = {}
        self._pairs: tuple[npt.NDArray[np.intp], npt.NDArray[np.int32]] | None = None

    def grow(self, capacity: int) -> None:
        old = self.kind.shape[0]
        if capacity <= old:
            return
        self.kind = np.concatenate([self.kind, np.zeros(capacity - old, dtype=np.int8)])
        self.number = np.concatenate([self.number, np.full(capacity - old, np.nan)])
        self.code = np.concatenate([self.code, np.full(capacity - old, -1, dtype=np.int32)])

    def _intern(self, text: str) -> int:
        code = self.vocab.get(text)
        if code is None:
            code = self.vocab[text] = len(self.vocab)
        return code

    def assign(self, rows: Sequence[int], values: Sequence[Any]) -> None:
        """Set ``rows`` to ``values``; ``_MISSING`` clears a row."""
        # Sort by kind in Python, then write each kind with one numpy assignment.
        # This loop is the cost of loading a column, hence the local names.
        number_rows: list[int] = []
        numbers: list[float] = []
        bool_rows: list[int] = []
        bools: list[int] = []
        string_rows: list[int] = []
        strings: list[int] = []
        list_rows: list[int] = []
        vocab, intern, lists = self.vocab, self._intern, self.lists
        for row, value in zip(rows, values, strict=True):
            if lists and lists.pop(row, None) is not None:
                self._pairs = None
            kind = type(value)
            if kind is str:
                code = vocab.get(value)
                string_rows.append(row)
                strings.append(intern(value) if code is None else code)
            elif kind is bool:
                bool_rows.append(row)
                bools.append(int(value))
            elif kind is int or kind is float:
                number_rows.append(row)
                numbers.append(float(value))
            elif kind is list:
                list_rows.append(row)
                lists[row] = [intern(e) for e in value if isinstance(e, str)]
                self._pairs = None
        index = np.asarray(rows, dtype=np.intp)
        self.kind[index] = Kind.MISSING
        self.number[index] = np.nan
        self.code[index] = -1
        for code, where, codes in (
            (Kind.BOOL, bool_rows, bools),
            (Kind.STRING, string_rows, strings),
        ):
            self.kind[where] = code
            self.code[where] = codes
        self.kind[number_rows] = Kind.NUMBER
        self.number[number_rows] = numbers
        self.kind[list_rows] = Kind.LIST

    def view(self, size: int) -> FieldColumn:
        if self._pairs is None:
            rows = [row for row, codes in self.lists.items() for _ in codes]
            codes = [code for codes in self.lists.values() for code in codes]
            self._pairs = (np.asarray(rows, dtype=np.intp), np.asarray(codes, dtype=np.int32))
        list_rows, list_codes = self._pairs
        inside = list_rows < size
        return FieldColumn(
            kind=self.kind[:size],
            number=self.number[:size],
            code=self.code[:size],
            vocab=self.vocab,
            list_rows=list_rows[inside],
            list_codes=list_codes[inside],
        )


class MetadataColumns:
    """Lazily loaded, incrementally kept metadata columns over rows ``0 .. size-1``.

    Satisfies :class:`img2img.filters.ColumnSource`. Not thread-safe: the
    owning store serialises access.
    """

    def __init__(self, loader: ColumnLoader, size: int = 0) -> None:
        self._loader = loader
        self._size = size
        self._capacity = size
        self._fields: dict[str, _Field] = {}

    @property
    def size(self) -> int:
        return self._size

    @property
    def loaded(self) -> bool:
        """True once any column is held, so writes must keep columns up to date."""
        return bool(self._fields)

    def resize(self, size: int) -> None:
        """Grow or shrink the row range; rows past the old size start empty."""
        if size > self._capacity:
            self._capacity = max(size, self._capacity + self._capacity // 2)
            for field in self._fields.values():
                field.grow(self._capacity)
        if size < self._size:
            self.clear(range(size, self._size))
        self._size = size

    def column(self, field: str) -> FieldColumn:
        built = self._fields.get(field)
        if built is None:
            built = _Field(self._capacity)
            built.assign(*self._loader(field))
            self._fields[field] = built
        return built.view(self._size)

    def update(self, rows: Sequence[int], metadata: Sequence[Metadata]) -> None:
        """Record that ``rows`` now hold ``metadata`` (in the fields loaded so far)."""
        for name, field in self._fields.items():
            field.assign(rows, [md.get(name, _MISSING) for md in metadata])

    def clear(self, rows: Iterable[int]) -> None:
        """Record that ``rows`` hold nothing."""
        cleared = list(rows)
        for field in self._fields.values():
            field.assign(cleared, [_MISSING] * len(cleared))

    def forget(self) -> None:
        """Drop every loaded column; the next filter reloads what it needs."""
        self._fields.clear()

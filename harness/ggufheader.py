"""A few scalar fields of a GGUF file's header, read by streaming up to the last one wanted.

Why not ``gguf.GGUFReader``: it parses every key and every tensor's description up front, which for
Gemma 3 (a 262k-entry vocabulary stored as header arrays) takes seconds; the canary needs only
``general.file_type`` on every cell's start. Layout (ggml's gguf.md): magic ``GGUF``, u32 version,
u64 tensor count, u64 key count, then (key string, u32 value type, value) per key.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

# value type -> struct format of one scalar (8 string and 9 array are read apart)
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


class GgufHeaderError(ValueError):
    """Not a GGUF file, or a header cut short."""


def read_scalars(path: Path, keys: set[str]) -> dict[str, int | float | bool | str]:
    """The scalar (or string) values of ``keys`` found in ``path``'s header; stops once all are found."""
    found: dict[str, int | float | bool | str] = {}
    with path.open("rb") as handle:
        if handle.read(4) != b"GGUF":
            raise GgufHeaderError(f"{path}: not a GGUF file")
        _version, _tensors, count = struct.unpack("<IQQ", _exact(handle, 20))
        for _ in range(count):
            key = _string(handle)
            kind = int(_unpack(handle, "<I"))
            if key in keys and (kind in _SCALARS or kind == _STRING):
                found[key] = _string(handle) if kind == _STRING else _unpack(handle, _SCALARS[kind])
                if len(found) == len(keys):
                    break
            else:
                _skip(handle, kind)
    return found


def _exact(handle: BinaryIO, size: int) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise GgufHeaderError("GGUF header cut short")
    return data


def _unpack(handle: BinaryIO, fmt: str) -> int | float | bool:
    value: int | float | bool = struct.unpack(fmt, _exact(handle, struct.calcsize(fmt)))[0]
    return value


def _string(handle: BinaryIO) -> str:
    return _exact(handle, int(_unpack(handle, "<Q"))).decode("utf-8", "replace")


def _skip(handle: BinaryIO, kind: int) -> None:
    if kind in _SCALARS:
        handle.seek(struct.calcsize(_SCALARS[kind]), 1)
    elif kind == _STRING:
        handle.seek(int(_unpack(handle, "<Q")), 1)
    elif kind == _ARRAY:
        item, length = int(_unpack(handle, "<I")), int(_unpack(handle, "<Q"))
        if item in _SCALARS:
            handle.seek(struct.calcsize(_SCALARS[item]) * length, 1)
        else:
            for _ in range(length):
                _skip(handle, item)
    else:
        raise GgufHeaderError(f"GGUF header holds an unknown value type {kind}")

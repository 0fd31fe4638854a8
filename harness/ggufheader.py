"""The one reader of GGUF metadata: a file's header, streamed in-process, array contents skipped.

Not ``gguf.GGUFReader``: it parses every key and tensor up front, seconds for Gemma 3's 262k-entry
vocabulary; not llama.cpp's loader: it needs a child process to contain its chatter and aborts. Layout
(ggml's gguf.md): magic ``GGUF``, u32 version, u64 tensor count, u64 key count, then (key string, u32
value type, value) per key, then (name, u32 dims, u64 per dim, u32 type, u64 offset) per tensor.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

# value type -> struct format of one scalar (8 string and 9 array are read apart)
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
Scalar = int | float | bool | str


class GgufHeaderError(ValueError):
    """Not a GGUF file, or a header cut short."""


class NotGguf(GgufHeaderError):
    """The file does not start with the GGUF magic."""


@dataclass(frozen=True)
class GgufHeader:
    """A GGUF file's scalar (and string) metadata and its tensor table."""

    fields: dict[str, Scalar]
    tensor_elements: dict[str, int]  # tensor name -> element count
    tensor_bytes: int  # what the weights take in the file (llama.cpp's model size)

    @property
    def n_params(self) -> int:
        return sum(self.tensor_elements.values())


def read_scalars(path: Path, keys: set[str]) -> dict[str, Scalar]:
    """The scalar (or string) values of ``keys`` found in ``path``'s header; stops once all are found."""
    with path.open("rb") as handle:
        return _fields(handle, path, keys)[0]


def read_header(path: Path) -> GgufHeader:
    """Every scalar field and the tensor table of ``path`` (the weights themselves are not read)."""
    with path.open("rb") as handle:
        fields, n_tensors = _fields(handle, path, None)
        elements: dict[str, int] = {}
        nbytes = end = 0
        for _ in range(n_tensors):
            name = _string(handle)
            n_dims = int(_unpack(handle, "<I"))
            count = math.prod(struct.unpack(f"<{n_dims}Q", _exact(handle, 8 * n_dims)))
            kind, offset = struct.unpack("<IQ", _exact(handle, 12))  # offset: within the data section
            try:
                block, size = GGML_QUANT_SIZES[GGMLQuantizationType(kind)]
            except (ValueError, KeyError):
                raise GgufHeaderError(f"{path}: tensor {name} has an unknown type {kind}") from None
            elements[name] = count
            nbytes += count // block * size
            end = max(end, offset + count // block * size)
        align = int(fields.get("general.alignment", 32))
        if -(-handle.tell() // align) * align + end > path.stat().st_size:  # as llama.cpp's loader checks
            raise GgufHeaderError(f"{path}: tensor data cut short (the file ends before its last tensor)")
    return GgufHeader(fields, elements, nbytes)


def _fields(handle: BinaryIO, path: Path, keys: set[str] | None) -> tuple[dict[str, Scalar], int]:
    """(scalar fields among ``keys`` or all of them, tensor count); with ``keys``, stops once all are found."""
    if handle.read(4) != b"GGUF":
        raise NotGguf(f"{path}: not a GGUF file")
    _version, n_tensors, count = struct.unpack("<IQQ", _exact(handle, 20))
    found: dict[str, Scalar] = {}
    for _ in range(count):
        key = _string(handle)
        kind = int(_unpack(handle, "<I"))
        if (keys is None or key in keys) and (kind in _SCALARS or kind == _STRING):
            found[key] = _string(handle) if kind == _STRING else _unpack(handle, _SCALARS[kind])
            if keys is not None and len(found) == len(keys):
                break
        else:
            _skip(handle, kind)
    return found, n_tensors


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

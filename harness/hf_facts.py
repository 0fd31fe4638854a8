"""Roofline facts of a Hugging Face model directory: config.json and the safetensors headers.

A safetensors file starts with an 8-byte little-endian length and a JSON header of every tensor's
dtype and shape, so parameters are counted without touching the weights (through ``safetensors``'
``safe_open`` where installed). Layers, attention width and KV heads come from ``config.json``. A
decode step reads the weights as held at run time (the cell's ``weights_dtype``), not as stored.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

from harness.modelfacts import ModelFacts

# bytes per element of each safetensors dtype, and of the torch dtypes a cell records
SAFETENSORS_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1}
SAFETENSORS_BYTES.update({"F8_E4M3": 1, "F8_E5M2": 1, "BOOL": 1})
TORCH_BYTES = {"torch.float64": 8, "torch.float32": 4, "torch.float16": 2, "torch.bfloat16": 2}
MAX_HEADER = 100 * 2**20  # a real header is kilobytes; refuse a corrupt length instead of reading gigabytes


def parse_header(path: Path) -> dict[str, tuple[list[int], str]]:
    """Tensor name -> (shape, dtype) from a safetensors file's own header (no library needed)."""
    with path.open("rb") as handle:
        raw = handle.read(8)
        if len(raw) != 8:
            raise ValueError(f"{path.name}: too short for a safetensors header")
        (length,) = struct.unpack("<Q", raw)
        if length > MAX_HEADER:
            raise ValueError(f"{path.name}: header length {length} is not plausible")
        header: dict[str, Any] = json.loads(handle.read(length))
    return {name: (list(v["shape"]), str(v["dtype"])) for name, v in header.items() if name != "__metadata__"}


def read_shapes(path: Path) -> dict[str, tuple[list[int], str]]:
    """Tensor name -> (shape, dtype): through ``safetensors.safe_open`` where installed, else the header."""
    try:
        from safetensors import safe_open
    except ImportError:
        return parse_header(path)
    with safe_open(str(path), framework="numpy") as handle:
        pieces = {name: handle.get_slice(name) for name in handle.keys()}  # noqa: SIM118 (safe_open is not a mapping)
        return {name: (list(piece.get_shape()), str(piece.get_dtype())) for name, piece in pieces.items()}


def read_hf_facts(directory: Path, weights_dtype: str | None = None) -> ModelFacts:
    """ModelFacts of a model directory (config.json + *.safetensors); ValueError/OSError when it has none."""
    files = sorted(directory.glob("*.safetensors"))
    if not files:
        raise ValueError(f"no .safetensors files in {directory} (a .bin checkpoint has no readable header)")
    config: dict[str, Any] = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    config = config.get("text_config", config)  # a multimodal wrapper keeps the language model's figures inside
    params = embedding = output = 0
    stored_bytes = 0.0
    for file in files:  # a tied output layer has no lm_head tensor: output stays 0 (ModelFacts.tied)
        for name, (shape, dtype) in read_shapes(file).items():
            count = math.prod(int(dim) for dim in shape)
            params += count
            stored_bytes += count * SAFETENSORS_BYTES.get(dtype.upper(), 2)
            if name.endswith("embed_tokens.weight"):
                embedding = count
            elif name.endswith("lm_head.weight"):
                output = count
    if params == 0:
        raise ValueError(f"the safetensors files in {directory} hold no tensors")
    per_param = TORCH_BYTES.get(weights_dtype or "", stored_bytes / params)
    n_layer = int(config.get("num_hidden_layers") or 0)
    heads = int(config.get("num_attention_heads") or 1)
    kv_heads = int(config.get("num_key_value_heads") or heads)
    head_dim = int(config.get("head_dim") or int(config.get("hidden_size") or 0) // heads)
    return ModelFacts(
        file_bytes=round(params * per_param),
        params=params,
        embedding_params=embedding,
        output_params=output,
        n_layer=n_layer,
        attention_width=heads * head_dim,
        # transformers keeps K and V in the weights' dtype
        kv_bytes_per_token=per_param * n_layer * kv_heads * 2 * head_dim,
    )

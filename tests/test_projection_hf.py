"""Projection of a transformers model: facts from config.json and safetensors headers, and a plain
"not projected" for a host cell that ran on a GPU."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from harness.hardware import get_profile
from harness.hf_facts import parse_header, read_hf_facts, read_shapes
from harness.projection import model_facts, project_cell

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("torch", "transformers")), reason="needs torch + transformers"
)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A 2-layer Llama built from a config (random weights, saved as bf16 safetensors): nothing from the network."""
    import torch
    import transformers

    config = transformers.LlamaConfig(
        vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False,
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    directory = tmp_path_factory.mktemp("tiny")
    model.save_pretrained(directory)
    return directory, sum(p.numel() for p in model.parameters())


def test_facts_from_config_and_safetensors_headers(tiny_model: tuple[Path, int]) -> None:
    directory, n_params = tiny_model
    (file,) = directory.glob("*.safetensors")
    assert parse_header(file) == read_shapes(file)  # our header reader agrees with safetensors' own
    facts = read_hf_facts(directory)
    assert facts.params == n_params and facts.n_layer == 2 and facts.attention_width == 64
    assert facts.embedding_params == facts.output_params == 512 * 64 and not facts.tied
    assert facts.file_bytes == 2 * n_params  # bf16 on disk
    assert facts.kv_bytes_per_token == 2 * 2 * 2 * 2 * 16  # bytes x layers x KV heads x (K, V) x head dim
    # held in float32 at run time: twice the bytes per decoded token
    assert model_facts(str(directory), "torch.float32").file_bytes == 4 * n_params


def _host_cell(directory: Path, **fields: object) -> dict[str, object]:
    return {
        "cell_id": "hf@host", "model": "hf", "tier": "nano", "profile": "host", "status": "ok",
        "backend": "transformers", "model_path": str(directory), "weights_dtype": "torch.bfloat16",
        "roofline_threads": 2.0, "roofline_bandwidth_gbs": 10.0, "roofline_gflops": 100.0, "load_time_s": 1.0,
        **fields,
    }  # fmt: skip


REQUESTS = pd.DataFrame(
    [
        {"cell_id": "hf@host", "scenario": "s", "point": "p", "warmup": False, "error": None,
         "prompt_tokens": 128, "output_tokens": 64, "decode_tps": 50.0, "prefill_tps": 400.0}
    ]
)  # fmt: skip


def test_a_cpu_transformers_cell_is_projected_onto_a_gpu_profile(tiny_model: tuple[Path, int]) -> None:
    directory, _ = tiny_model
    (row,) = project_cell(_host_cell(directory), REQUESTS, get_profile("server-h100"), None, "x86_64")
    assert row["status"] == "projected", row["reason"]
    assert "all layers offloaded" in row["compute_target"] and row["band_low"] == 0.1
    assert row["decode_tps_low"] < row["decode_tps"] <= row["decode_tps_high"]


def test_a_host_cell_that_ran_on_a_gpu_says_plainly_why_it_is_not_projected(tiny_model: tuple[Path, int]) -> None:
    directory, _ = tiny_model
    cell = _host_cell(directory, gpu_process_mb=900.0, gpu_peak_allocated_mb=300.0)
    (row,) = project_cell(cell, REQUESTS, get_profile("server-h100"), None, "x86_64")
    assert row["status"] == "not_projected"
    assert "ran on a GPU" in row["reason"] and "none was made" in row["reason"]


def test_a_directory_without_safetensors_is_not_projected_and_says_why(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (row,) = project_cell(_host_cell(tmp_path), REQUESTS, get_profile("server-h100"), None, "x86_64")
    assert row["status"] == "not_projected" and "no .safetensors files" in row["reason"]

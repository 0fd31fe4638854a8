"""The GPU path end to end on a CUDA machine (run through benchmarks/gpu_check.sh).

Builds a small Llama from a config (random weights, a byte-level tokenizer trained on a few
hundred words: nothing from the network, files of a few MB), runs one real perf cell with the
transformers backend on the GPU (and ``server-h100`` emulated when the card is an H100), then
asserts what the GPU path must record. Exit codes: 0 all held, 1 an assertion failed (one
``FAIL:`` line each), 3 no CUDA device.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

NO_CUDA = 3
HERE = Path(__file__).resolve().parent
WORDS = [
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "is",
    "it",
    "you",
    "that",
    "he",
    "was",
    "for",
    "on",
    "are",
    "with",
    "as",
    "I",
    "his",
    "they",
    "be",
    "at",
    "one",
    "have",
    "this",
    "from",
    "or",
    "had",
    "by",
    "hot",
    "word",
    "but",
    "what",
    "some",
    "we",
    "can",
    "out",
    "other",
    "were",
    "all",
    "there",
    "when",
    "up",
    "use",
    "your",
    "how",
    "said",
    "an",
    "each",
    "she",
    "which",
    "do",
    "their",
    "time",
    "if",
    "will",
    "way",
    "about",
    "many",
    "then",
    "them",
    "write",
    "would",
    "like",
    "so",
    "these",
    "her",
    "long",
    "make",
    "thing",
    "see",
    "him",
    "two",
    "has",
    "look",
    "more",
    "day",
    "could",
    "go",
    "come",
    "did",
    "number",
    "sound",
    "no",
    "most",
    "people",
    "my",
    "over",
    "know",
    "water",
]


def build_model(directory: Path) -> None:
    """A 4-layer Llama with a 2,000-token byte-level BPE vocabulary, bf16 safetensors (~10 MB)."""
    import torch
    import transformers
    from tokenizers import ByteLevelBPETokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([" ".join(WORDS[i:] + WORDS[:i]) for i in range(len(WORDS))], vocab_size=2000)
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>")
    tok.add_special_tokens({"bos_token": "<s>", "eos_token": "</s>"})
    config = transformers.LlamaConfig(
        vocab_size=len(tok),
        hidden_size=512,
        intermediate_size=1536,
        num_hidden_layers=4,
        num_attention_heads=8,
        num_key_value_heads=4,
        max_position_embeddings=1024,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    transformers.AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16).save_pretrained(directory)
    tok.save_pretrained(directory)


def write_inputs(work: Path, model: Path, h100: bool) -> tuple[Path, Path, list[str]]:
    catalog = {
        "models": [
            {
                "name": "gpu-hf",
                "tier": "nano",
                "backend": "transformers",
                "description": "random-weight 4-layer Llama on CUDA (gpu_check)",
                "params": {"model_path": str(model), "device": "cuda", "dtype": "bfloat16"},
            }
        ]
    }
    suite = {
        "name": "gpu-check",
        "description": "one short perf point on the GPU",
        "models": ["gpu-hf"],
        "profiles": ["host"],
        "tasks": [],
        "scenarios": [
            {"name": "short", "kind": "grid", "prompt_tokens": [64], "output_tokens": [32], "requests": 8, "warmup": 2}
        ],
    }
    (work / "catalog.yaml").write_text(json.dumps(catalog))  # JSON is YAML
    (work / "suite.yaml").write_text(json.dumps(suite))
    return work / "catalog.yaml", work / "suite.yaml", ["host", *(["server-h100"] if h100 else [])]


def check_run(run: Path, h100: bool) -> list[str]:
    """Every assertion that failed, as one line each."""
    cells = pd.read_parquet(run / "cells.parquet").set_index("profile")
    failures: list[str] = []
    host = cells.loc["host"]
    if host["status"] != "ok":
        return [f"the GPU cell did not run: {host['status']}: {host['reason']}"]
    if "nvml" not in str(host["energy_source"]) or not (float(host["energy_j"] or 0) > 0):
        failures.append(f"NVML energy not recorded: source {host['energy_source']}, {host['energy_j']} J")
    if not (float(host.get("gpu_process_mb") or 0) > 0 and float(host.get("gpu_peak_allocated_mb") or 0) > 0):
        failures.append(
            f"GPU memory not recorded: process {host.get('gpu_process_mb')}, allocated {host.get('gpu_peak_allocated_mb')}"
        )
    if h100 and ("server-h100" not in cells.index or pd.isna(cells.loc["server-h100"]["emulated_on"])):
        reason = cells.loc["server-h100"]["reason"] if "server-h100" in cells.index else "no cell"
        failures.append(f"server-h100 not emulated on this H100: {reason}")
    return failures


def check_overhead(model: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, str(HERE / "overhead.py"), "--backend", "transformers", "--model-path", str(model),
         "--rounds", "5", "--prompt-tokens", "128", "--output-tokens", "64", "--json"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    if not done.stdout.strip().startswith("["):
        return [f"overhead.py --backend transformers failed: {done.stderr.strip()[-500:]}"]
    failures = []
    for r in json.loads(done.stdout):
        print(f"overhead {r['device']} {r['dtype']}: ratio {r['ratio']:.3f} (target <= {r['target_ratio']})")
        if not r["passed"]:
            failures.append(f"overhead ratio {r['ratio']:.3f} > {r['target_ratio']} on {r['device']} {r['dtype']}")
    return failures


def llamacpp_line() -> str:
    try:
        import llama_cpp
    except ImportError:
        return "llamacpp: not installed, not checked"
    if not llama_cpp.llama_supports_gpu_offload():
        return "llamacpp: CPU-only build, not checked (benchmarks/README.md gives the CUDA install line)"
    return "llamacpp: CUDA build present; a GPU llamacpp cell needs a GGUF file (not built here), not checked"


def main(work: Path) -> int:
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return NO_CUDA
    name = torch.cuda.get_device_name(0)
    h100 = "H100" in name
    print(f"device: {name}; server-h100 emulation {'checked' if h100 else 'not checked (not an H100)'}")
    work.mkdir(parents=True, exist_ok=True)
    model = work / "model"
    build_model(model)
    catalog, suite, profiles = write_inputs(work, model, h100)
    run = work / "run"
    subprocess.run(
        ["tierbench", "run", "--suite", str(suite), "--catalog", str(catalog), "--models", "gpu-hf",
         "--profiles", ",".join(profiles), "--out", str(run)],
        check=False, timeout=240,
    )  # fmt: skip
    failures = check_run(run, h100) if (run / "cells.parquet").exists() else ["tierbench run wrote no cells table"]
    failures += check_overhead(model)
    print(llamacpp_line())
    for line in failures:
        print(f"FAIL: {line}")
    print("gpu_check: " + ("FAILED" if failures else "all checks passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/tierbench-gpu-check")))

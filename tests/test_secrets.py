"""A planted API key and a planted secret header never reach any output.

The key lives only in the environment variable the catalog names (``api_key_env``), the header
value only in the one ``header_env`` names. A local OpenAI-compatible stub receives both (the
test checks it did, so the search below is not vacuous) and answers every other request with an
HTTP 400 whose body quotes the request headers, as a careless proxy does. Then every file that
``run``, ``report``, ``compare``, ``baseline save``, ``gate`` and ``models list`` write, and
everything they print, is searched for the secrets: raw bytes, gzip content and parquet cells.
"""

from __future__ import annotations

import gzip
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from openai_stub import openai_stub

from harness.results import RunStore

REPO = Path(__file__).resolve().parents[1]
KEY_ENV = "TIERBENCH_TEST_API_KEY"
HEADER_ENV = "TIERBENCH_TEST_ORG_TOKEN"


def _tierbench(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli.main", *args],
        cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _readable_forms(path: Path) -> list[str]:
    """The file as bytes, and decoded the ways a reader would see it (gzip, parquet)."""
    raw = path.read_bytes()
    forms = [raw.decode("utf-8", errors="replace"), raw.decode("latin-1")]
    if raw[:2] == b"\x1f\x8b":
        forms.append(gzip.decompress(raw).decode("utf-8", errors="replace"))
    if path.suffix == ".parquet":
        forms.append(pd.read_parquet(path).to_json(orient="records", default_handler=str))
    return forms


def _leaks(root: Path, needles: list[str]) -> list[str]:
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        for form in _readable_forms(path):
            found += [f"{path.relative_to(root)} contains {needle[:10]}..." for needle in needles if needle in form]
    return sorted(set(found))


@pytest.mark.server
def test_a_planted_key_appears_in_no_output(tmp_path: Path) -> None:
    key_body = secrets.token_hex(16)
    key = f"sk-tbtest-{key_body}"
    header_secret = f"hdr-tbtest-{secrets.token_hex(12)}"
    env = {KEY_ENV: key, HEADER_ENV: header_secret}
    needles = [key, key_body, key_body[:12], header_secret]

    work = tmp_path / "outputs"
    work.mkdir()
    with openai_stub("alternate") as (url, state):
        params = {
            "model": "stub-model",
            "base_url": url,
            "api_key_env": KEY_ENV,
            "header_env": {"X-Org-Token": HEADER_ENV},
            "headers": {"X-Trace": "visible-header"},
            "max_retries": 0,
        }
        catalog = tmp_path / "catalog.yaml"
        catalog.write_text(json.dumps({"models": [{"name": "remote", "tier": "full", "backend": "openai",
                                                   "params": params}]}))  # fmt: skip
        scenario = {"name": "short", "prompt_tokens": [8], "output_tokens": [4], "requests": 5, "warmup": 1}
        suite = tmp_path / "suite.yaml"
        suite.write_text(json.dumps({"name": "secrets", "scenarios": [scenario]}))
        rules = tmp_path / "gate.yaml"
        rules.write_text("rules:\n  - metric: e2e_p95\n    max_increase_pct: 50\n")
        run, other = work / "run", work / "run-2"

        common = ("--suite", str(suite), "--catalog", str(catalog), "--models", "remote")
        results = [
            _tierbench("run", *common, "--out", str(run), env=env),
            _tierbench("run", *common, "--out", str(other), "--no-report", env=env),
            _tierbench("report", str(run), "--baseline", str(other), env=env),
            _tierbench("compare", str(other), str(run), "--all", env=env),
            _tierbench("baseline", "save", str(other), "--to", str(work / "base.json.gz"), env=env),
            _tierbench("gate", str(run), "--baseline", str(work / "base.json.gz"), "--rules", str(rules),
                       "--junit", str(work / "gate.xml"), "--markdown", str(work / "gate.md"), env=env),
            _tierbench("models", "list", "--catalog", str(catalog), env=env),
        ]  # fmt: skip
        sent = [r["headers"] for r in state.seen if r["method"] == "POST"]

    # the secrets were really in use: the stub received both on every request
    assert sent and all(h.get("Authorization") == f"Bearer {key}" for h in sent)
    assert all(h.get("X-Org-Token") == header_secret for h in sent)
    assert results[0].returncode == 0, results[0].stdout[-2000:] + results[0].stderr[-2000:]
    for result in results[1:]:
        assert result.returncode in {0, 1}, " ".join(map(str, result.args)) + result.stderr[-2000:]
    # ... and the echoing error path was exercised: the recorded error is there, scrubbed
    requests = RunStore.open(run).read_table("requests")
    errors = [str(e) for e in requests["error"].dropna() if e]
    assert errors and all("HTTP 400" in e for e in errors), errors
    assert any("***" in e for e in errors), errors
    assert (run / "report.html").is_file() and (work / "gate.xml").is_file()

    assert _leaks(tmp_path, needles) == []
    for result in results:
        printed = result.stdout + result.stderr
        assert not [n for n in needles if n in printed], " ".join(map(str, result.args))

"""A planted API key, secret header and URL password never reach any output.

The key lives only in the environment variable the catalog names (``api_key_env``), the header
value only in the one ``header_env`` names, the password only in the URL ``base_url_env`` names.
A local OpenAI-compatible stub receives them (the test checks it did, so the search below is not
vacuous) and answers every other request with an HTTP 400 whose body quotes every header and the
body, as a careless proxy does, and every successful stream quotes them too. Then every file that
``run``, ``report``, ``compare``, ``baseline save``, ``gate`` and ``models list`` write, and
everything they print, is searched for the secrets: raw bytes, gzip content and parquet cells.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
import pytest
from openai_stub import openai_stub

from harness.catalog import load_catalog
from harness.errors import ConfigError
from harness.results import RunStore
from harness.secrets import Redactor, strip_credentials

REPO = Path(__file__).resolve().parents[1]
KEY_ENV = "TIERBENCH_TEST_API_KEY"
HEADER_ENV = "TIERBENCH_TEST_ORG_TOKEN"
URL_ENV = "TIERBENCH_TEST_PROXY_URL"


def _tierbench(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli.main", *args],
        cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _copy_run(run: Path, to: Path) -> subprocess.CompletedProcess[str]:
    shutil.copytree(run, to)
    return subprocess.CompletedProcess(["copy", str(run), str(to)], 0, "", "")


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
def test_a_planted_key_and_url_password_appear_in_no_output(tmp_path: Path) -> None:
    key_body = secrets.token_hex(16)
    key = f"sk-tbtest-{key_body}"
    header_secret = f"hdr-tbtest-{secrets.token_hex(12)}"
    password = f"pw-{secrets.token_hex(12)}"
    basic = base64.b64encode(f"tbuser:{password}".encode()).decode()
    # 8-character prefixes catch a secret cut by a truncation as well as a whole one
    needles = [key[:8], key_body[:8], key_body[-8:], header_secret[:8], password[:8], password[-8:], basic[:8]]

    work = tmp_path / "outputs"
    work.mkdir()
    # the stub quotes every header and the body in its errors and in every successful stream;
    # the padding puts the key across a 200-character cut of the error text
    with openai_stub("alternate", echo_in_stream=True, pad=130) as (url, state):
        env = {KEY_ENV: key, HEADER_ENV: header_secret, URL_ENV: url.replace("://", f"://tbuser:{password}@")}
        remote = {
            "model": "stub-model",
            "base_url": url,
            "api_key_env": KEY_ENV,
            "max_retries": 0,
            "header_env": {"X-Org-Token": HEADER_ENV},
            "headers": {"X-Trace": "visible-header"},
        }
        proxied = {"model": "stub-model", "base_url_env": URL_ENV, "max_retries": 0}
        catalog = tmp_path / "catalog.yaml"
        catalog.write_text(json.dumps({"models": [
            {"name": "remote", "tier": "full", "backend": "openai", "params": remote},
            {"name": "proxied", "tier": "full", "backend": "openai", "params": proxied},
        ]}))  # fmt: skip
        scenario = {"name": "short", "prompt_tokens": [8], "output_tokens": [4], "requests": 5, "warmup": 1}
        suite = tmp_path / "suite.yaml"
        suite.write_text(json.dumps({"name": "secrets", "scenarios": [scenario]}))
        rules = tmp_path / "gate.yaml"
        rules.write_text("rules:\n  - metric: e2e_p95\n    max_increase_pct: 50\n")
        run, other = work / "run", work / "run-copy"  # a second run would only repeat the first

        common = ("--suite", str(suite), "--catalog", str(catalog), "--models", "remote,proxied")
        results = [
            _tierbench("run", *common, "--tasks", "factual_qa", "--limit", "2", "--out", str(run), env=env),
            _copy_run(run, other),
            _tierbench("report", str(run), "--baseline", str(other), env=env),
            _tierbench("compare", str(other), str(run), "--all", env=env),
            _tierbench("baseline", "save", str(run), "--to", str(work / "base.json.gz"), env=env),
            _tierbench("gate", str(run), "--baseline", str(work / "base.json.gz"), "--rules", str(rules),
                       "--junit", str(work / "gate.xml"), "--markdown", str(work / "gate.md"), env=env),
            _tierbench("models", "list", "--catalog", str(catalog), env=env),
        ]  # fmt: skip
        posts = [r["headers"] for r in state.seen if r["method"] == "POST"]

    # the secrets were really in use: the stub received them on every request
    assert {h.get("Authorization") for h in posts} == {f"Bearer {key}", f"Basic {basic}"}
    assert all(h.get("X-Org-Token") == header_secret for h in posts if h["Authorization"].startswith("Bearer"))
    assert results[0].returncode == 0, results[0].stdout[-2000:] + results[0].stderr[-2000:]
    for result in results[1:]:
        assert result.returncode in {0, 1}, " ".join(map(str, result.args)) + result.stderr[-2000:]
    # ... and both echo paths were exercised: the recorded errors and answers are there, scrubbed
    store = RunStore.open(run)
    errors = [str(e) for e in store.read_table("requests")["error"].dropna() if e]
    assert errors and all("HTTP 400" in e and "***" in e for e in errors), errors
    answers = [json.dumps(s) for s in store.read_samples()]
    assert answers and any("***" in a for a in answers)
    assert (run / "report.html").is_file() and (work / "gate.xml").is_file()

    assert _leaks(tmp_path, needles) == []
    for result in results:
        printed = result.stdout + result.stderr
        assert not [n for n in needles if n in printed], " ".join(map(str, result.args))


def test_redaction_masks_every_form_and_what_a_cut_leaves() -> None:
    key, password = "sk-unit-" + "a1b2c3d4" * 4, "p@ss/word-123456"
    redactor = Redactor([key, password])
    assert redactor.text(f"key {key} and {key[:13]}... and {quote(password, safe='')}") == "key *** and ***... and ***"
    assert redactor.data({"e": [f"x{key}y"], "n": 3}) == {"e": ["x***y"], "n": 3}
    assert (
        strip_credentials(f"https://me:{quote(password, safe='')}@example.com:8443/v1") == "https://example.com:8443/v1"
    )


def _decodings(text: str) -> list[bytes]:
    """Everything base64 could make of ``text``: each run of base64 characters, from each of the
    four character offsets, in both alphabets (how someone would try to read a masked echo back)."""
    found = []
    for alphabet, table in ((r"[A-Za-z0-9+/]+", str.maketrans("", "")), (r"[A-Za-z0-9_-]+", str.maketrans("-_", "+/"))):
        for run in re.findall(alphabet, text):
            for start in range(4):
                chunk = run[start:][: (len(run) - start) // 4 * 4]
                found.append(base64.b64decode(chunk.translate(table), validate=True))
    return found


@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode], ids=["standard", "urlsafe"])
@pytest.mark.parametrize("offset", [0, 1, 2])
def test_a_secret_echoed_inside_base64_is_not_recoverable(offset: int, encode: Callable[[bytes], bytes]) -> None:
    """An endpoint that echoes the request back base64-encoded puts the key at any byte offset of
    the blob; each offset mod 3 encodes it differently, and every one is masked."""
    key = "sk-unit-" + "\xfb\xff~?>" * 3 + secrets.token_urlsafe(18)  # bytes that encode to + and / (or - and _)
    redactor = Redactor([key])
    payload = b'{"q":'[:offset] + key.encode() + b'", "user": "me"}'
    echoed = f"HTTP 400: could not parse {encode(payload).decode()} (request id 7)"
    masked = redactor.text(echoed)
    assert "***" in masked and masked.startswith("HTTP 400: could not parse ")
    pieces = [key.encode()[i : i + 4] for i in range(len(key.encode()) - 3)]
    leaked = [piece for decoded in _decodings(masked) for piece in pieces if piece in decoded]
    assert leaked == [], masked
    assert redactor.text(encode(key.encode()).decode()) == "***"  # the key alone, padding and all


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"api_key": "sk-abc"}, "params.api_key"),
        ({"base_url": "https://me:hunter2@example.com/v1"}, "params.base_url"),
        ({"headers": {"X-Custom": "Bearer abcdef123456"}}, "params.headers.X-Custom"),
        ({"headers": {"Cookie": "session=1"}}, "params.headers.Cookie"),
        ({"extra_body": {"user_token": "abc"}}, "params.extra_body.user_token"),
    ],
)
def test_an_inline_secret_in_a_catalog_is_refused_with_one_line(
    tmp_path: Path, params: dict[str, Any], named: str
) -> None:
    catalog = tmp_path / "catalog.yaml"
    model = {"name": "remote", "tier": "full", "backend": "openai", "params": {"model": "m", **params}}
    catalog.write_text(json.dumps({"models": [model]}))
    with pytest.raises(ConfigError) as caught:
        load_catalog(catalog)
    message = str(caught.value)
    assert str(catalog) in message and named in message and "environment variable" in message and "\n" not in message
    for value in params.values():
        secret = value if isinstance(value, str) else next(iter(value.values()))
        assert secret.split("@")[0][-6:] not in message  # the value itself is never repeated

"""``tierbench models list``: which models can run here, and why the others cannot."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from harness.cli.main import cli

USER_CATALOG = """
models:
  - name: nano
    tier: nano
    backend: llamacpp
    params: {model_path: /nowhere/nano.gguf}
  - name: hf-nano
    tier: nano
    backend: transformers
    params: {model_path: /nowhere/model-dir}
  - name: local-api
    tier: mini
    backend: openai
    params: {model: nano, base_url: "http://127.0.0.1:8080/v1", api_key_env: TB_NO_SUCH_KEY}
  - name: cloud
    tier: full
    backend: openai
    params: {model: gpt-5, base_url: "https://api.example.com/v1", api_key_env: TB_NO_SUCH_KEY}
    prices: {input_per_mtok: 1.25, output_per_mtok: 10}
"""


def listing(tmp_path: Path, *args: str) -> list[dict[str, object]]:
    path = tmp_path / "catalog.yaml"
    path.write_text(USER_CATALOG)
    result = CliRunner().invoke(
        cli, ["models", "list", "--catalog", str(path), "--json", *args], env={"TB_NO_SUCH_KEY": ""}
    )
    assert result.exit_code == 0, result.output
    rows: list[dict[str, object]] = json.loads(result.output)
    return rows


def test_user_catalog_is_merged_and_each_model_says_why(tmp_path: Path) -> None:
    rows = {row["name"]: row for row in listing(tmp_path)}
    assert {"mini", "gpt-5-mini", "full"} <= set(rows)  # defaults kept
    assert rows["nano"]["reason"] == "model file not found: /nowhere/nano.gguf"  # same name replaced
    assert rows["nano"]["runnable"] is False
    assert "model path not found" in str(rows["hf-nano"]["reason"])
    assert rows["local-api"]["runnable"] is True  # a local server needs no key
    assert rows["cloud"]["reason"] == "TB_NO_SUCH_KEY is not set (the API key for https://api.example.com/v1)"
    assert rows["cloud"]["prices"] == {
        "input_per_mtok": 1.25,
        "output_per_mtok": 10.0,
        "cached_input_per_mtok": None,
        "source": "",
    }
    assert [row["tier"] for row in rows.values()] == sorted(
        (row["tier"] for row in rows.values()), key=["nano", "mini", "full", "hybrid"].index
    )
    # the default cascade chains the replaced nano: it says which tier stops it
    assert rows["nano-mini"]["runnable"] is False
    assert rows["nano-mini"]["reason"] == "chain tier 'nano' cannot run: model file not found: /nowhere/nano.gguf"


def test_a_runnable_cascade_says_what_it_chains_and_a_bad_chain_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["models", "list", "--json"], env={"OPENAI_API_KEY": ""})
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["nano-mini"]["tier"] == "hybrid" and rows["nano-mini"]["backend"] == "cascade"
    if rows["nano"]["runnable"] and rows["mini"]["runnable"]:
        assert str(rows["nano-mini"]["reason"]).startswith("ready: nano -> mini (multiple_choice: stay when mc_margin")
    path = tmp_path / "bad.yaml"
    path.write_text(
        "models:\n  - {name: c, tier: hybrid, backend: cascade, params: {chain: [nano, nope], signal: mc_margin, threshold: 0.2}}\n"
    )
    result = CliRunner().invoke(cli, ["models", "list", "--catalog", str(path)])
    assert result.exit_code == 2
    assert f"{path}: model 'c' params.chain names unknown model 'nope'" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_table_output_and_help(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["models", "list"], env={"OPENAI_API_KEY": ""})
    assert result.exit_code == 0, result.output
    assert "OPENAI_API_KEY is not set" in result.output and "gpt-5-nano" in result.output
    for args in (["models", "--help"], ["models", "list", "--help"]):
        assert runner.invoke(cli, args).exit_code == 0


def test_catalog_mistakes_are_one_line_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("models:\n  - {name: x, tier: full, backend: openai, params: {model: m, api_key: sk-123}}\n")
    result = CliRunner().invoke(cli, ["models", "list", "--catalog", str(path)])
    assert result.exit_code == 2
    assert "api_key_env" in result.output and "sk-123" not in result.output
    path.write_text("models:\n  - {name: x, tier: full, backend: openai, params: {model: m, base_ulr: u}}\n")
    result = CliRunner().invoke(cli, ["models", "list", "--catalog", str(path)])
    assert result.exit_code == 2 and "base_ulr" in result.output and "unknown field" in result.output

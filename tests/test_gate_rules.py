"""Gate rules files: what they accept, and one-line errors naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config.loading import load_yaml_model
from harness.config.rules import GateRules, parse_metric
from harness.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(tmp_path: Path, text: str) -> GateRules:
    path = tmp_path / "gate.yaml"
    path.write_text(text, encoding="utf-8")
    return load_yaml_model(GateRules, path)


def test_example_rules_file_loads() -> None:
    rules = load_yaml_model(GateRules, EXAMPLES / "gate.yaml")
    assert rules.rules
    assert {r.info.source for r in rules.rules} == {"items", "requests", "cells"}


def test_metric_names_resolve_to_their_data() -> None:
    assert parse_metric("accuracy:arithmetic").task == "arithmetic"
    ttft = parse_metric("ttft_p95")
    assert (ttft.source, ttft.column, ttft.stat, ttft.direction) == ("requests", "ttft_s", "p95", "lower")
    assert parse_metric("decode_tps_mean").direction == "higher"
    assert parse_metric("cost_per_1k_requests_usd").source == "cells"
    assert parse_metric("cell:gpu_peak_mb").column == "gpu_peak_mb"


def test_unknown_metric_names_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(
            tmp_path,
            "rules:\n  - metric: accuracy\n    max_drop_points: 1\n  - metric: ttft_p96\n    max_increase_pct: 10\n",
        )
    message = str(caught.value)
    assert "gate.yaml:4" in message and "rules.1.metric" in message and "unknown metric 'ttft_p96'" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("metric: accuracy\n    max_increase_pct: 5", "better when higher"),
        ("metric: ttft_p95\n    max_drop_pct: 5", "better when lower"),
        ("metric: ttft_p95\n    max_drop_points: 1", "better when lower"),
        ("metric: decode_tps_mean\n    max_drop_points: 1", "accuracy metrics only"),
        ("metric: accuracy\n    floor: 55", "fraction between 0 and 1"),
        ("metric: accuracy", "needs a floor, a ceiling or a tolerance"),
        ("metric: accuracy\n    max_drop_points: 1\n    max_drop_pct: 2", "one relative tolerance"),
        ("metric: accuracy\n    tier: huge\n    floor: 0.5", "rules.0.tier"),
        ("metric: accuracy\n    floor: 0.5\n    tolerance: 3", "unknown field"),
    ],
)
def test_inconsistent_rules_are_refused(tmp_path: Path, rule: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        _load(tmp_path, f"rules:\n  - {rule}\n")


def test_alpha_sets_the_level(tmp_path: Path) -> None:
    rules = _load(tmp_path, "alpha: 0.01\nrules:\n  - metric: accuracy\n    floor: 0.5\n")
    assert rules.level == pytest.approx(0.99)
    with pytest.raises(ConfigError, match="level or alpha"):
        _load(tmp_path, "alpha: 0.01\nlevel: 0.9\nrules:\n  - metric: accuracy\n    floor: 0.5\n")
    with pytest.raises(ConfigError, match="rules"):
        _load(tmp_path, "rules: []\n")

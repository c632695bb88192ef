"""The alert rules evaluated on recorded series with ``promtool test rules``
(``alerts_test.yml``): every alert in ``helm/tracer-stream/files/alerts.yml`` must fire in one
case and stay silent in another. ``scripts/install`` installs promtool (Debian's ``prometheus``
package)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import CHART_DIR

pytestmark = pytest.mark.unit

RULES = CHART_DIR / "files" / "alerts.yml"
CASES = Path(__file__).parent / "alerts_test.yml"


def _alert_names() -> set[str]:
    rules = yaml.safe_load(RULES.read_text())
    return {r["alert"] for g in rules["groups"] for r in g["rules"]}


def _evaluations() -> list[dict[str, Any]]:
    cases = yaml.safe_load(CASES.read_text())
    return [e for t in cases["tests"] for e in t.get("alert_rule_test", [])]


def test_every_alert_has_a_firing_and_a_silent_case() -> None:
    evaluations = _evaluations()
    fired = {e["alertname"] for e in evaluations if e.get("exp_alerts")}
    silent = {e["alertname"] for e in evaluations if not e.get("exp_alerts")}
    names = _alert_names()
    assert names - fired == set(), "alerts never shown firing"
    assert names - silent == set(), "alerts never shown silent"
    assert (fired | silent) - names == set(), "cases for alerts that do not exist"


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (scripts/install installs Debian's prometheus)")
    return path


def test_rules_file_passes_promtool_check(promtool: str) -> None:
    result = subprocess.run([promtool, "check", "rules", str(RULES)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_fire_and_stay_silent_on_recorded_series(promtool: str, tmp_path: Path) -> None:
    rules = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)  # promtool compares them verbatim; checked above
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(rules))
    shutil.copy(CASES, tmp_path / CASES.name)
    result = subprocess.run([promtool, "test", "rules", CASES.name], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr

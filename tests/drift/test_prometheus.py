"""The shipped Prometheus rules pass promtool's unit tests; the Grafana dashboard queries real series."""
import json
import re
import shutil
import subprocess

import pytest

from server.config import REPO_ROOT

PROMETHEUS = REPO_ROOT / "config" / "prometheus"


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: install Debian's prometheus package (.ci/run does)")
    return path


def test_alert_rules_pass_promtool_unit_tests():
    result = subprocess.run([_promtool(), "test", "rules", str(PROMETHEUS / "alerts_test.yml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_alert_rules_are_valid():
    result = subprocess.run([_promtool(), "check", "rules", str(PROMETHEUS / "alerts.yml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_dashboard_uses_exported_series():
    dashboard = json.loads((REPO_ROOT / "config" / "grafana" / "congestion-drift.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    names = {n for e in exprs for n in re.findall(r"congestion_[a-z0-9_]+", e)}
    source = "".join(p.read_text() for p in (REPO_ROOT / "server").rglob("*.py"))
    assert names and all(f'"{n}' in source for n in names), names

"""The GitHub Actions workflow is valid and runs .ci/run; `make test` lints before it tests."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from server.config import REPO_ROOT

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "ci.yml"


def _tool(name: str) -> str:
    found = Path(sys.executable).with_name(name)
    return str(found) if found.exists() else (shutil.which(name) or name)


def test_the_workflow_matches_the_github_workflow_schema():
    """check-jsonschema ships SchemaStore's github-workflow schema: this validates offline."""
    result = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_workflow_runs_ci_run_on_pushes_and_pull_requests():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads `on` as true
    assert {"push", "pull_request"} <= set(triggers)
    steps = [step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]]
    assert any(".ci/run" in run for run in steps), steps


def test_make_test_runs_the_linter_first():
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "test: lint" in makefile and "ruff check ." in makefile


def test_the_tree_passes_the_linter():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(REPO_ROOT)],
                            capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr

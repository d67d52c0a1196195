"""One import root: the installed package is `leadscore`, and nothing answers to the bare names
`features`, `training` or `serving` (a PyPI project is called `features`, and a user's own
`training/` folder would shadow ours)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_elsewhere(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Python in another folder, without the checkout on its path: the installed package."""
    return subprocess.run(
        [sys.executable, "-P", "-c", code], cwd=tmp_path, capture_output=True, text=True
    )


def test_the_rooms_import_under_leadscore_from_any_folder(tmp_path):
    done = run_elsewhere(
        "import leadscore.features.spec, leadscore.training.model.scorer, leadscore.serving.batch",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr


def test_the_bare_names_are_not_installed(tmp_path):
    for name in ("features", "training", "serving"):
        done = run_elsewhere(f"import {name}", tmp_path)
        assert "ModuleNotFoundError" in done.stderr, f"`import {name}` worked: {done.stderr}"


def test_the_lint_rule_bans_the_bare_names(tmp_path):
    offender = tmp_path / "offender.py"
    offender.write_text("from training.model.scorer import LeadScorer\nimport features.spec\n")
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--config", str(ROOT / "pyproject.toml"),
         "--select", "TID251", str(offender)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 1 and done.stdout.count("TID251") == 2, done.stdout


def test_no_module_of_the_project_imports_a_bare_name():
    import re

    pattern = re.compile(r"^\s*(from|import) (features|training|serving)\b", re.MULTILINE)
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("leadscore", "features", "training", "serving", "tests", "benchmarks")
        for path in (ROOT / folder).rglob("*.py")
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert not offenders

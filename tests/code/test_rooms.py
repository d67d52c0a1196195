"""The rooms show the architecture: serving runs a model without the code that fitted it.

The runtime model (``leadscore.training.model``) imports nothing from the training job
(``leadscore.training.job``) or from serving; serving imports only the runtime model and
``leadscore.features``. Read from the source (every import, also those inside functions), so a
lazy import cannot slip past, and checked again in a fresh interpreter that loads and scores a
model with the job's modules made unimportable.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROOMS = {
    "leadscore.features": ROOT / "features",
    "leadscore.training.model": ROOT / "training" / "model",
    "leadscore.training.job": ROOT / "training" / "job",
    "leadscore.serving": ROOT / "serving",
}


def imports_of(folder: Path) -> dict[str, set[str]]:
    """Each module file of ``folder`` -> the ``leadscore`` modules it imports, anywhere in it."""
    found: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        found[str(path.relative_to(folder))] = {
            name for name in names if name.startswith("leadscore.")
        }
    return found


def reaching(room: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{room}.{file.removesuffix('.py')} imports {name}"
        for file, names in imports_of(ROOMS[room]).items()
        for name in sorted(names)
        if name.startswith(forbidden)
    ]


def test_the_runtime_model_imports_nothing_from_the_training_job_or_serving():
    assert (
        reaching(
            "leadscore.training.model",
            ("leadscore.training.job", "leadscore.serving", "leadscore.cli"),
        )
        == []
    )


def test_serving_imports_only_the_runtime_model_and_features():
    # leadscore.progress: the silent-by-default progress seam, which imports no leadscore module
    allowed = (
        "leadscore.training.model", "leadscore.features", "leadscore.serving", "leadscore.progress"
    )  # fmt: skip
    offenders = [
        f"leadscore.serving.{file.removesuffix('.py')} imports {name}"
        for file, names in imports_of(ROOMS["leadscore.serving"]).items()
        for name in sorted(names)
        if not name.startswith(allowed)
    ]
    assert offenders == []


def test_features_import_no_model_and_no_job():
    assert (
        reaching("leadscore.features", ("leadscore.training", "leadscore.serving", "leadscore.cli"))
        == []
    )


def test_the_check_sees_an_import_hidden_inside_a_function(tmp_path):
    (tmp_path / "sneaky.py").write_text(
        "def later():\n    from leadscore.training.job.train import fit_scorer\n"
    )
    assert imports_of(tmp_path) == {
        "sneaky.py": {"leadscore.training.job.train", "leadscore.training.job.train.fit_scorer"}
    }


def test_a_service_process_never_loads_the_training_job(tmp_path):
    """Import the service and every runtime module in a fresh interpreter: not one module of
    the job comes along (MLflow's pyfunc and the BentoML service load exactly this)."""
    code = (
        "import sys, pkgutil, importlib\n"
        "import leadscore.training.model as room\n"
        "for info in pkgutil.iter_modules(room.__path__):\n"
        "    importlib.import_module(f'leadscore.training.model.{info.name}')\n"
        "import leadscore.serving.service, leadscore.serving.batch, leadscore.serving.handoff\n"
        "print(sorted(m for m in sys.modules if m.startswith('leadscore.training.job')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-P", "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"

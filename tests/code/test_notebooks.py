"""The notebooks are the data scientist's tour: each one runs end to end on a small world.

Every notebook is executed with nbclient in a kernel of this virtualenv, on a few thousand
simulated leads. The X Education notebook never reads the real export here: it is pointed at a small
synthetic file with the same column layout, and at a missing path to show its skip message.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
SMALL_WORLD = "2000"  # leads; enough for every period to hold SQLs
SIMULATED = [
    "01_training_set_and_leakage.ipynb",
    "02_models_calibration_capacity.ipynb",
    "03_explanations_and_handoff.ipynb",
]
X_EDUCATION = "04_x_education.ipynb"
CHANNEL_COLUMNS = (  # X Education's yes/no columns on where the lead saw the course
    "Search", "Magazine", "Newspaper Article", "X Education Forums", "Newspaper",
    "Digital Advertisement", "Through Recommendations", "Receive More Updates About Our Courses",
)  # fmt: skip

pytestmark = pytest.mark.slow


def execute(notebook: nbformat.NotebookNode, workdir: Path, **env: str) -> str:
    """Run every cell in a fresh kernel; return all text the notebook printed or displayed."""
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    settings = {
        **os.environ,
        "LEADSCORE_NB_LEADS": SMALL_WORLD,
        "LEADSCORE_NB_WORKDIR": str(workdir),
        **env,
    }
    client.execute(env=settings)
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            texts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(texts)


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / name, as_version=4)


def test_notebooks_run_in_this_virtualenv(tmp_path):
    notebook = new_notebook(cells=[new_code_cell("import sys\nprint(sys.prefix)")])
    printed = execute(notebook, tmp_path)
    assert Path(printed.strip()).resolve() == Path(sys.prefix).resolve(), (
        "the python3 kernel is not this virtualenv's: install ipykernel in .venv"
    )


def test_every_notebook_is_executed_here():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted([*SIMULATED, X_EDUCATION])


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_saved_notebooks_carry_no_outputs(name):
    path = NOTEBOOKS / name
    notebook = read(name)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{name}: clear outputs"
    assert path.stat().st_size < 60_000, f"{name} is {path.stat().st_size:,} bytes"


@pytest.mark.parametrize("name", SIMULATED)
def test_notebook_runs_on_a_small_world(name, tmp_path):
    printed = execute(read(name), tmp_path)
    assert "Traceback" not in printed


def x_education_like(path: Path, rows: int = 600, seed: int = 0) -> Path:
    """A small file with the X Education column layout; the values are made up."""
    rng = np.random.default_rng(seed)
    yes_no = lambda share: rng.choice(["No", "Yes"], rows, p=[1 - share, share])  # noqa: E731
    origin = rng.choice(
        ["API", "Landing Page Submission", "Lead Add Form"], rows, p=[0.5, 0.4, 0.1]
    )
    seconds = rng.integers(0, 2000, rows)
    occupation = rng.choice(["Unemployed", "Working Professional", "Student", None], rows)
    logit = (
        -1.2
        + 2.5 * (origin == "Lead Add Form")
        + seconds / 700
        + (occupation == "Working Professional")
    )
    converted = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    choice = lambda *values: rng.choice(list(values), rows)  # noqa: E731
    frame = pd.DataFrame(
        {
            "Prospect ID": [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(rows)],
            "Lead Number": 660737 - np.arange(rows) * 7,
            "Lead Origin": origin,
            "Lead Source": choice("Google", "Direct Traffic", "Olark Chat", "Organic Search"),
            "Do Not Email": yes_no(0.08),
            "Do Not Call": yes_no(0.01),
            "Converted": converted,
            "TotalVisits": rng.poisson(3, rows).astype(float),
            "Total Time Spent on Website": seconds,
            "Page Views Per Visit": rng.gamma(2, 1.2, rows).round(2),
            "Last Activity": choice("Email Opened", "SMS Sent", "Page Visited on Website"),
            "Country": choice("India", None, "United States"),
            "Specialization": choice("Select", "Finance Management", "Marketing Management"),
            "How did you hear about X Education": choice("Select", "Online Search", None),
            "What is your current occupation": occupation,
            "What matters most to you in choosing a course": choice(
                "Better Career Prospects", None
            ),
            **{column: yes_no(0.01) for column in CHANNEL_COLUMNS},
            "Tags": np.where(converted == 1, "Will revert after reading the email", "Ringing"),
            "Lead Quality": choice("Might be", "Not Sure", None),
            "Update me on Supply Chain Content": yes_no(0.0),
            "Get updates on DM Content": yes_no(0.0),
            "Lead Profile": choice("Select", "Potential Lead", None),
            "City": choice("Mumbai", "Select", "Thane & Outskirts", None),
            "Asymmetrique Activity Index": choice("02.Medium", "01.High", None),
            "Asymmetrique Profile Index": choice("02.Medium", "01.High", None),
            "Asymmetrique Activity Score": rng.integers(12, 18, rows).astype(float),
            "Asymmetrique Profile Score": rng.integers(12, 20, rows).astype(float),
            "I agree to pay the amount through cheque": yes_no(0.0),
            "A free copy of Mastering The Interview": yes_no(0.3),
            "Last Notable Activity": choice("Modified", "Email Opened", "SMS Sent"),
        }
    )
    assert len(frame.columns) == 37
    frame.to_csv(path, index=False)
    return path


def test_x_education_notebook_trains_on_an_export_with_its_layout(tmp_path):
    csv = x_education_like(tmp_path / "Leads.csv")
    printed = execute(read(X_EDUCATION), tmp_path / "work", LEADSCORE_XEDUCATION_CSV=str(csv))
    assert "SKIPPED" not in printed
    assert "roc_auc" in printed and "combined" in printed
    # the columns sales fills in after contact never become features
    assert "features used:" in printed
    used = next(line for line in printed.splitlines() if line.startswith("features used:"))
    assert "tags" not in used.lower() and "lead_quality" not in used.lower()
    assert "lead_number" not in used.lower()
    # the file lists its newest leads first; the split follows the lead number all the same
    assert "test period = newest leads: True" in printed


def test_x_education_notebook_says_it_is_skipped_without_the_file(tmp_path):
    missing = tmp_path / "nowhere" / "Leads.csv"
    printed = execute(read(X_EDUCATION), tmp_path, LEADSCORE_XEDUCATION_CSV=str(missing))
    assert f"SKIPPED: the X Education export is not at {missing}" in printed

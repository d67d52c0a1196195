"""Long work shows progress where a person watches, and nothing anywhere else.

A user running `leadscore train` or `score` on a big export sees bars with what is running and
how far it is; a test, a notebook or the scoring service calling the same functions sees no
output at all.
"""

from __future__ import annotations

import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from leadscore import progress
from leadscore.features.offline import LABEL, connect, register
from leadscore.features.sources import Source
from leadscore.features.spec import load_spec
from leadscore.features.synthetic import simulate
from leadscore.features.training_set import SPLIT, build_training_set
from leadscore.serving import batch
from leadscore.serving.batch import SCORING_STAGES, SHOW_PROGRESS_FROM, score_source
from leadscore.training.job.train import fit_scorer
from leadscore.training.model.rulebook import compile_rules, load_rulebook

SPEC_PATH = Path(__file__).resolve().parents[2] / "features" / "default_spec.yaml"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def terminal() -> tuple[Console, StringIO]:
    screen = StringIO()
    return Console(file=screen, force_terminal=True, width=100), screen


def seen(screen: StringIO) -> str:
    return ANSI.sub("", screen.getvalue())


@pytest.fixture(scope="module")
def world():
    """A simulated export of 1,200 leads and the default spec with the default rulebook."""
    rulebook = load_rulebook()
    return simulate(1200, seed=3), compile_rules(rulebook, load_spec(SPEC_PATH)), rulebook


def build(world, out: Path) -> Path:  # type: ignore[no-untyped-def]
    leads, spec = world[0], world[1]
    con = connect()
    path, _ = build_training_set(
        con, register(con, "leads", leads.leads), register(con, "activities", leads.activities),
        register(con, "outcomes", leads.outcomes), spec, out, batches=2,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def scorer(world, tmp_path_factory):  # type: ignore[no-untyped-def]
    rows = pd.read_parquet(build(world, tmp_path_factory.mktemp("set")))
    labelled = rows[rows[LABEL].notna()]
    return fit_scorer(
        labelled[labelled[SPLIT] == "train"], labelled[labelled[SPLIT] == "validation"],
        world[1], world[2], logistic_grid=({"C": 0.1},),
        lightgbm_grid=({"num_leaves": 7, "learning_rate": 0.1, "min_child_samples": 50},),
    )  # fmt: skip


def export_of(world) -> Source:  # type: ignore[no-untyped-def]
    """The world's leads and activities, as `leadscore score` reads a file of leads."""
    con = connect()
    return Source(
        con, register(con, "leads", world[0].leads),
        register(con, "activities", world[0].activities),
        register(con, "outcomes", world[0].outcomes.head(0)), (),
    )  # fmt: skip


AS_OF = pd.Timestamp("2026-01-01", tz="UTC")


def test_the_training_set_build_shows_each_stage_and_finishes(world, tmp_path, capsys):
    console, screen = terminal()
    with progress.shown(console):
        build(world, tmp_path)
    text = seen(screen)
    for stage in ("cutoffs and the activities they can see", "features, batch 2/2",
                  "out-of-time split", "writing Parquet"):  # fmt: skip
        assert f"Building the training set: {stage}" in text
    assert re.search(r"Building the training set .* 100% 5/5", text)
    assert capsys.readouterr() == ("", "")


@pytest.fixture
def few_make_many(monkeypatch):  # type: ignore[no-untyped-def]
    """Scoring from 1,000 leads counts as big: the world's 1,200 leads score in seconds."""
    monkeypatch.setattr(batch, "SHOW_PROGRESS_FROM", 1_000)


def test_scoring_many_leads_shows_its_stages_and_finishes(world, scorer, few_make_many, capsys):
    console, screen = terminal()
    with progress.shown(console):
        scored = score_source(scorer, export_of(world), AS_OF)
    assert len(scored) >= batch.SHOW_PROGRESS_FROM
    text = seen(screen)
    title = f"Scoring {len(scored):,} leads"
    for stage in SCORING_STAGES:
        assert f"{title}: {stage}" in text
    assert re.search(rf"{title} .* 100% 3/3", text)
    assert capsys.readouterr() == ("", "")


def test_scoring_a_few_leads_shows_nothing(world, scorer):
    console, screen = terminal()
    with progress.shown(console):
        scored = score_source(scorer, export_of(world), AS_OF)
    assert len(scored) < SHOW_PROGRESS_FROM
    assert screen.getvalue() == ""


def test_without_a_display_the_library_writes_nothing(
    world, scorer, few_make_many, tmp_path, capsys
):
    build(world, tmp_path)
    score_source(scorer, export_of(world), AS_OF)
    assert capsys.readouterr() == ("", "")


def test_nested_tasks_go_when_done_and_a_small_job_hides_its_inner_tasks():
    console, screen = terminal()
    with progress.shown(console), progress.stages("Training", ["reading", "fitting"]) as begin:
        begin("reading")
        begin("fitting")
        for _ in progress.track(range(3), "LightGBM candidates"):
            pass
        with progress.task("Tiny job", 2, show=False), progress.task("Inside the tiny job"):
            pass
    text = seen(screen)
    assert "Training: fitting" in text and "LightGBM candidates" in text
    assert "Tiny job" not in text and "Inside the tiny job" not in text
    last = text.rstrip().splitlines()[-1]
    assert re.search(r"Training .* 100% 2/2", last)
    assert "LightGBM" not in last


def test_a_stage_name_that_is_not_declared_is_a_mistake_even_unseen():
    with pytest.raises(ValueError), progress.stages("Training", ["reading"]) as begin:
        begin("reeding")


def test_the_seam_imports_no_leadscore_module_and_no_rich_until_shown(tmp_path):
    code = (
        "import sys\n"
        "import leadscore.progress as p\n"
        "with p.task('quiet', 2) as advance:\n"
        "    advance()\n"
        "print(sorted(m for m in sys.modules if m.startswith(('rich', 'leadscore.'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-P", "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['leadscore.progress']"

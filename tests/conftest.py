"""One simulated MA export, trained once with `leadscore train`, shared by every room's tests.

Training is the slowest thing a test can ask for, so the model, serving and explanation tests
read one world instead of simulating and fitting their own. A session fixture is built once per
pytest-xdist worker: every module that uses it is marked `xdist_group(TRAINED_GROUP)`, so
that under `--dist loadgroup` it is built once per run, not once per worker. Tests read it and
never write into it; a test that changes a model or the MLflow store works on its own copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.features.synthetic import SyntheticWorld, simulate, write_world

TRAINED_GROUP = "trained_world"


@dataclass(frozen=True)
class TrainedWorld:
    """A 6,000-lead synthetic export as the simulator made it and as `leadscore train` left it."""

    simulated: SyntheticWorld  # leads, activities, outcomes and the simulator's truth, in memory
    export: dict[str, Path]  # leads, activities, outcomes, truth parquet files and the warehouse
    run: Path  # the --out folder of `leadscore train`
    tracking_uri: str  # the MLflow store the run registered its challenger in

    @property
    def model(self) -> Path:
        return self.run / "model"

    @property
    def training_set(self) -> Path:
        return self.run / "training" / "training_set.parquet"


@pytest.fixture(scope="session")
def trained_world(tmp_path_factory) -> TrainedWorld:
    base = tmp_path_factory.mktemp("trained_world")
    simulated = simulate(6000, seed=21)
    export = write_world(simulated, base / "export")
    uri = f"sqlite:///{base / 'mlflow.db'}"
    result = CliRunner().invoke(
        app,
        ["train", "--warehouse", str(export["warehouse"]), "--out", str(base / "run"),
         "--tracking-uri", uri],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return TrainedWorld(simulated, export, base / "run", uri)

"""The model as MLflow knows it: the registered name, its aliases and the pyfunc face.

Kept in the runtime room because ``mlflow.pyfunc.load_model`` unpickles this class in a process
that never trains: it must import nothing from the training job. The names are here, once, for
the job that registers the model, ``leadscore promote`` that moves an alias, and serving that
loads ``models:/lead-scorer@champion``.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd

REGISTERED_MODEL_NAME = "lead-scorer"
CHALLENGER = "challenger"  # what a training run registers
CHAMPION = "champion"  # what serving loads
CHAMPION_URI = f"models:/{REGISTERED_MODEL_NAME}@{CHAMPION}"


class LeadScorerModel(mlflow.pyfunc.PythonModel):
    """The pyfunc face of a model directory: feature rows in, p_sql / score / decision out."""

    def load_context(self, context) -> None:  # type: ignore[no-untyped-def]
        from leadscore.training.model.artifact import load_model

        self.scorer = load_model(Path(context.artifacts["model_dir"]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:  # type: ignore[no-untyped-def]
        return self.scorer.score(model_input).reset_index(drop=True)

"""The model as MLflow loads it: the pyfunc face of a model directory.

Kept in the runtime room because ``mlflow.pyfunc.load_model`` builds this class in a process
that never trains: it must import nothing from the training job. Its registered name and aliases
are in :mod:`leadscore.training.model.registry`.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd

# the file MLflow runs to build this model (models from code: no pickle of it is stored)
ENTRY = Path(__file__).with_name("pyfunc_entry.py")


class LeadScorerModel(mlflow.pyfunc.PythonModel):
    """The pyfunc face of a model directory: feature rows in, p_sql / score / decision out."""

    def load_context(self, context) -> None:  # type: ignore[no-untyped-def]
        from leadscore.training.model.artifact import load_model

        self.scorer = load_model(Path(context.artifacts["model_dir"]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:  # type: ignore[no-untyped-def]
        return self.scorer.score(model_input).reset_index(drop=True)

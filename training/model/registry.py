"""The model's names in the MLflow registry, once: what training registers, `promote` moves and
serving loads.

A module of its own, without MLflow, so the command line and the service can name the model
without importing MLflow first.
"""

from __future__ import annotations

from typing import Final

REGISTERED_MODEL_NAME: Final = "lead-scorer"
CHALLENGER: Final = "challenger"  # what a training run registers
CHAMPION: Final = "champion"  # what serving loads
CHAMPION_URI: Final = f"models:/{REGISTERED_MODEL_NAME}@{CHAMPION}"

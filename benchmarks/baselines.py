"""The plain baselines every benchmark compares leadscore with, defined once.

Plain logistic regression and default LightGBM with the minimal preprocessing a data scientist
would write in ten minutes: what leadscore must beat to be worth its machinery.
"""

from __future__ import annotations

from lightgbm import LGBMClassifier
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler


def baseline_models(numeric: list[str], categorical: list[str]) -> dict[str, Pipeline]:
    """Plain logistic regression and default LightGBM with minimal preprocessing."""
    fill = SimpleImputer(strategy="constant", fill_value="(missing)")
    logistic = make_pipeline(
        ColumnTransformer(
            [
                ("n", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
                ("c", make_pipeline(fill, OneHotEncoder(handle_unknown="ignore")), categorical),
            ]
        ),
        LogisticRegression(max_iter=2000),
    )
    ordinal = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    lightgbm = make_pipeline(
        ColumnTransformer(
            [("n", "passthrough", numeric), ("c", make_pipeline(fill, ordinal), categorical)]
        ),
        LGBMClassifier(verbose=-1),
    )
    return {"plain logistic regression": logistic, "default LightGBM": lightgbm}

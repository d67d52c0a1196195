"""The scorer's fast encoders give exactly what scikit-learn's fitted transformers give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer

from tests.worlds import TEST_SPEC
from training.encoding import FittedEncoding
from training.scorer import lightgbm_pipeline, logistic_pipeline, model_columns

NUMERIC, CATEGORICAL = model_columns(TEST_SPEC)
LEVELS = ["it", "marketing", "sales", "rare-one", None]


def fitted_encoders() -> list[ColumnTransformer]:
    rng = np.random.default_rng(5)
    n = 400
    frame = pd.DataFrame({c: rng.normal(size=n) for c in NUMERIC})
    frame.loc[rng.random(n) < 0.3, NUMERIC[0]] = np.nan  # a column with missing values
    frame[NUMERIC[1]] = np.nan  # an all-empty column, which the imputer drops
    for column in CATEGORICAL:
        frame[column] = rng.choice(np.array(LEVELS[:3], dtype=object), n)
        frame.loc[0, column] = "rare-one"  # below min_frequency: grouped as infrequent
        frame.loc[1:4, column] = None
    label = rng.random(n) < 0.3
    out = []
    for pipeline in (logistic_pipeline(TEST_SPEC, 1.0), lightgbm_pipeline(TEST_SPEC, {})):
        out.append(pipeline.fit(frame, label).named_steps["encode"])
    return out


ENCODERS = fitted_encoders()
value = st.one_of(st.floats(allow_nan=True, allow_infinity=False, width=32), st.just(np.nan))
level = st.sampled_from([*LEVELS, "never-seen", np.nan])


@pytest.mark.parametrize("which", [0, 1], ids=["logistic", "lightgbm"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_encoding_equals_scikit_learn_transform(which, data):
    n = data.draw(st.integers(1, 6))
    frame = pd.DataFrame(
        {c: [data.draw(value) for _ in range(n)] for c in NUMERIC}
        | {c: pd.Series([data.draw(level) for _ in range(n)], dtype=object) for c in CATEGORICAL}
    )
    encoder = ENCODERS[which]
    expected = np.asarray(encoder.transform(frame), float)
    got = FittedEncoding.of(encoder).apply(
        frame[NUMERIC].to_numpy(float), frame[CATEGORICAL].to_numpy(object)
    )
    np.testing.assert_array_equal(got, expected)

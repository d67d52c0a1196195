"""The scorer's fast encoders give exactly what scikit-learn's fitted transformers give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.compose import ColumnTransformer

from leadscore.features.spec import CategoricalAttribute
from leadscore.training.model.encoding import FittedEncoding
from leadscore.training.model.scorer import (
    SignConstrainedLogistic,
    fit_logistic,
    lightgbm_pipeline,
    logistic_pipeline,
    model_columns,
)
from tests.worlds import TEST_SPEC

# two categoricals with their own rare-level thresholds: 'some' (5% of rows) is a level of
# its own in department and grouped with the rare levels in region
SPEC = TEST_SPEC.model_copy(
    update={
        "attributes": (
            TEST_SPEC.attributes[0].model_copy(update={"min_share": 0.01}),
            *TEST_SPEC.attributes[1:],
            CategoricalAttribute(name="region", column="region", min_share=0.1),
        )
    }
)
NUMERIC, CATEGORICAL = model_columns(SPEC)
LEVELS = ["it", "marketing", "sales", "rare-one", "some", None]


def fitted_encoders() -> list[ColumnTransformer]:
    rng = np.random.default_rng(5)
    n = 400
    frame = pd.DataFrame({c: rng.normal(size=n) for c in NUMERIC})
    frame.loc[rng.random(n) < 0.3, NUMERIC[0]] = np.nan  # a column with missing values
    frame[NUMERIC[1]] = np.nan  # an all-empty column, which the imputer drops
    for column in CATEGORICAL:
        frame[column] = rng.choice(np.array(LEVELS[:3], dtype=object), n)
        frame.loc[0, column] = "rare-one"  # below every min_share: grouped as rare
        frame.loc[1:60, column] = np.nan  # empty often enough to be a level of its own
        frame.loc[61:80, column] = "some"
    label = rng.random(n) < 0.3
    out = []
    for pipeline in (logistic_pipeline(SPEC, 1.0), lightgbm_pipeline(SPEC, {})):
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
    # scikit-learn gets empty levels as NaN, as LeadScorer.model_inputs hands them over; the
    # fast path gets the scorer's rows as they are, where an empty level is None
    levels = frame[CATEGORICAL].to_numpy(object)
    encoded = encoder.transform(frame.assign(**{c: frame[c].where(frame[c].notna(), np.nan)
                                                for c in CATEGORICAL}))  # fmt: skip
    # the logistic encoder answers sparse when its one-hot levels make the rows mostly zeros
    expected = encoded.toarray() if sparse.issparse(encoded) else np.asarray(encoded, float)
    got = FittedEncoding.of(encoder).apply(frame[NUMERIC].to_numpy(float), levels)
    np.testing.assert_array_equal(got, expected)


def test_an_empty_level_is_the_missing_level_however_it_arrives():
    """None (the scorer's rows), NaN and a whole column of empties all mean 'missing': the
    level the models learned, never the unknown-level column."""
    encoder = ENCODERS[0]
    fast = FittedEncoding.of(encoder)
    numbers = np.zeros((3, len(NUMERIC)))
    empty = np.array([[None] * len(CATEGORICAL), [np.nan] * len(CATEGORICAL)], dtype=object)
    known = np.array([["it"] * len(CATEGORICAL)], dtype=object)
    got = fast.apply(numbers, np.vstack([empty, known]))
    assert (got[0] == got[1]).all() and not (got[0] == got[2]).all()
    frame = pd.DataFrame(numbers[:1], columns=NUMERIC).assign(
        **{c: np.array([np.nan], dtype=object) for c in CATEGORICAL}
    )
    np.testing.assert_array_equal(got[:1], np.asarray(encoder.transform(frame), float))


def test_a_categorical_empty_on_every_training_row_keeps_its_place():
    """A form field added after the train period: empty throughout training, filled later.
    Every later categorical must still be read from its own column, and LightGBM must fit."""
    rng = np.random.default_rng(9)
    n = 300
    frame = pd.DataFrame({c: rng.normal(size=n) for c in NUMERIC})
    for column in CATEGORICAL:
        frame[column] = rng.choice(np.array(LEVELS[:3], dtype=object), n)
    frame[CATEGORICAL[0]] = np.full(n, np.nan, dtype=object)  # as LeadScorer.model_inputs
    label = rng.random(n) < 0.3
    later = frame.head(5).copy()
    later[CATEGORICAL[0]] = "it"  # filled in now
    for pipeline in (logistic_pipeline(SPEC, 1.0), lightgbm_pipeline(SPEC, {})):
        encoder = pipeline.fit(frame, label).named_steps["encode"]
        expected = np.asarray(encoder.transform(later), float)
        got = FittedEncoding.of(encoder).apply(
            later[NUMERIC].to_numpy(float), later[CATEGORICAL].to_numpy(object)
        )
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("which", [0, 1], ids=["logistic", "lightgbm"])
def test_each_attribute_groups_rare_levels_at_its_own_min_share(which):
    """A level with 5% of rows is kept where the spec asks for 1% and grouped where it asks
    for 10%; there it reads like a level never seen in training."""
    assert CATEGORICAL == ["department", "region"]
    encoding = FittedEncoding.of(ENCODERS[which]).categorical
    assert encoding is not None
    rows = np.array([["some"] * 2, ["rare-one"] * 2, ["never-seen"] * 2], dtype=object)
    encoded = encoding.apply(rows)
    department, region = np.split(encoded, [encoding.widths[0]], axis=1)
    assert (department[0] != department[1]).any()  # 'some' is a level of its own
    assert (region[0] == region[1]).all() and (region[1] == region[2]).all()  # grouped


def test_each_encoded_column_is_credited_to_the_input_it_came_from():
    """'source_detail_page' is the level 'detail_page' of `source`, not a column of
    `source_detail`: a reason must be credited to the attribute that gave it."""
    spec = TEST_SPEC.model_copy(
        update={
            "attributes": (
                *TEST_SPEC.attributes,
                CategoricalAttribute(name="source", column="source"),
                CategoricalAttribute(name="source_detail", column="source_detail"),
            )
        }
    )
    numeric, categorical = model_columns(spec)
    rng = np.random.default_rng(3)
    n = 200
    frame = pd.DataFrame({c: rng.normal(size=n) for c in numeric})
    frame.loc[:20, numeric[0]] = np.nan  # a missing indicator column too
    frame["department"] = rng.choice(np.array(["it", "sales"], dtype=object), n)
    frame["source"] = rng.choice(np.array(["detail_page", "web"], dtype=object), n)
    frame["source_detail"] = rng.choice(np.array(["a", "b"], dtype=object), n)
    label = rng.random(n) < 0.3
    one_hot = {  # one column per level, and missing indicators
        "categorical__source_detail_page": "source",
        "categorical__source_detail_a": "source_detail",
        f"numeric__missingindicator_{numeric[0]}": numeric[0],
    }
    ordinal = {"source": "source", "source_detail": "source_detail"}  # one column per input
    for pipeline, expected in (
        (logistic_pipeline(spec, 1.0), one_hot),
        (lightgbm_pipeline(spec, {}), ordinal),
    ):
        encoder = pipeline.fit(frame, label).named_steps["encode"]
        names = list(encoder.get_feature_names_out())
        sources = FittedEncoding.of(encoder).sources(numeric, categorical)
        assert len(sources) == len(names)
        credited = dict(zip(names, sources, strict=True))
        assert {name: credited[name] for name in expected} == expected


def test_a_logistic_regression_over_hundreds_of_levels_fits_sparse_and_finds_the_dense_optimum():
    """An export's job titles and landing pages give hundreds of one-hot columns, mostly zeros:
    the logistic model fits on a sparse matrix (the dense one of every labelled row was the
    training job's peak memory) and lands on the weights the dense matrix gives."""
    many = SPEC.model_copy(
        update={"attributes": tuple(
            a.model_copy(update={"min_share": 0.0}) if isinstance(a, CategoricalAttribute) else a
            for a in SPEC.attributes
        )}
    )  # fmt: skip
    rng = np.random.default_rng(3)
    n = 3000
    frame = pd.DataFrame({c: rng.normal(size=n) for c in NUMERIC})
    for column in CATEGORICAL:
        frame[column] = rng.choice(np.array([f"page {k}" for k in range(300)], dtype=object), n)
    hot = frame[CATEGORICAL[0]].isin([f"page {k}" for k in range(30)])
    label = rng.random(n) < 1 / (1 + np.exp(-(frame[NUMERIC[2]] + 1.5 * hot - 1.5)))
    pipeline = fit_logistic(many, 1.0, frame, label.to_numpy())
    encoded = pipeline.named_steps["encode"].transform(frame)
    assert sparse.issparse(encoded) and encoded.shape[1] > 300 * len(CATEGORICAL)
    fitted = pipeline.named_steps["model"]
    dense = SignConstrainedLogistic(**fitted.get_params()).fit(encoded.toarray(), label)
    np.testing.assert_allclose(fitted.coef_, dense.coef_, atol=1e-6)
    np.testing.assert_allclose(fitted.intercept_, dense.intercept_, atol=1e-6)
    fast = FittedEncoding.of(pipeline.named_steps["encode"])
    levels = frame[CATEGORICAL].to_numpy(object)
    np.testing.assert_allclose(
        fitted.margin(fast.apply(frame[NUMERIC].to_numpy(float), levels)),
        pipeline.decision_function(frame),
        atol=1e-9,
    )

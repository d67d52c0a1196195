"""A lead posted to the service is read exactly as the same lead in a file's table.

The service scores one object block per call, files are DataFrames; both go through
:class:`training.model.rows.FeatureRows` and the rules' array conditions. These properties hold the
block reads equal to the DataFrame reads, and the conditions equal to pandas' own comparisons.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.training.model.rows import FeatureRows
from leadscore.training.model.rulebook import Condition
from leadscore.training.model.rules import condition_mask

NAMES = ["department", "employees", "visits", "ratio"]
cell = st.one_of(
    st.none(),
    st.just(np.nan),
    st.just(pd.NA),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["it", "marketing", "3", " sales ", ""]),
    st.booleans(),
)


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal element by element, empty values (None, NaN) matching each other."""
    assert a.shape == b.shape
    return all(
        (pd.isna(x) and pd.isna(y) and type(x) is type(y)) or x == y
        for x, y in zip(a.ravel(), b.ravel(), strict=True)
    )


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.lists(cell, min_size=len(NAMES), max_size=len(NAMES)), min_size=1,
                    max_size=5),
    asked=st.lists(st.sampled_from([*NAMES, "absent"]), min_size=1, max_size=6),
)  # fmt: skip
def test_a_posted_block_reads_like_the_same_rows_in_a_table(values, asked):
    block = np.empty((len(values), len(NAMES)), dtype=object)
    block[:] = values
    posted = FeatureRows.from_block(block, NAMES)
    table = FeatureRows.of(pd.DataFrame(block.copy(), columns=NAMES, dtype=object))
    assert same(posted.levels(asked), table.levels(asked))
    present = [name for name in asked if name != "absent"]
    if present:
        assert same(posted.raw(present), table.raw(present))
    try:
        expected = table.numbers(asked)
    except (TypeError, ValueError):  # text that is no number: both refuse
        with pytest.raises((TypeError, ValueError)):
            posted.numbers(asked)
        return
    np.testing.assert_array_equal(posted.numbers(asked), expected)


def pandas_condition(values: pd.Series, condition: Condition) -> np.ndarray:
    """The rule condition as pandas evaluates it: the reference the array version must match."""
    if condition.missing is not None:
        return (values.isna() == condition.missing).to_numpy()
    if condition.equals is not None:
        return (values == condition.equals).fillna(False).to_numpy(bool)
    if condition.in_ is not None:
        return values.isin(list(condition.in_)).fillna(False).to_numpy(bool)
    low, high = condition.range or (None, None)
    numbers = pd.to_numeric(values, errors="coerce")
    mask = numbers.notna()
    if low is not None:
        mask &= numbers >= low
    if high is not None:
        mask &= numbers < high
    return mask.to_numpy(bool)


level = st.one_of(st.none(), st.just(np.nan), st.sampled_from(["it", "marketing", "sales", "3"]))
number = st.one_of(st.none(), st.just(np.nan), st.floats(-10, 10), st.integers(-10, 10))
conditions = st.one_of(
    st.builds(Condition, missing=st.booleans()),
    st.builds(Condition, equals=st.one_of(st.sampled_from(["it", "sales", "3"]), st.floats(-3, 3))),
    st.builds(
        Condition,
        in_=st.lists(
            st.one_of(st.sampled_from(["it", "marketing"]), st.integers(-3, 3)),
            min_size=1,
            max_size=3,
        ).map(tuple),
    ),
    st.builds(
        Condition,
        range=st.tuples(
            st.one_of(st.none(), st.floats(-5, 5)), st.one_of(st.none(), st.floats(-5, 5))
        ),
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    values=st.one_of(*[st.lists(kind, min_size=1, max_size=8) for kind in (level, number)]),
    condition=conditions,
    typed=st.booleans(),
)  # fmt: skip
def test_rule_conditions_match_what_pandas_says(values, condition, typed):
    column = pd.Series(values, dtype=object)
    if typed:  # as a file's column arrives: float64, or pandas' own text type
        column = column.infer_objects()
    expected = pandas_condition(column, condition)
    np.testing.assert_array_equal(condition_mask(column, condition), expected)
    np.testing.assert_array_equal(
        condition_mask(column.to_numpy(dtype=object), condition), expected
    )

"""Columns that alone predict the outcome too well: a sign they were filled in after it.

A CRM report carries fields sales fills in after contact (a lead status, a call note, a
quality grade). Trained on, they give a model that shines on the history and knows nothing
about a new lead, which has no such value yet. X Education's ``Tags`` is one: alone it ranks
its leads at ROC-AUC 0.92, where no field a lead fills in reaches 0.75. leadscore cannot
know when a column was filled, so it never drops one; it names the suspects and how to leave
them out, and the run carries on.
"""

from __future__ import annotations

import shlex

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import TargetEncoder

from leadscore.features.spec import CategoricalAttribute, FeatureSpec, NumericAttribute

LEAK_AUC = 0.85  # a column alone ranking leads this well is named as a suspect
_MIN_LEADS = 100  # fewer labelled leads say nothing either way


def alone_auc(values: pd.Series, label: np.ndarray, categorical: bool) -> float | None:
    """How well one column alone ranks the leads (ROC-AUC, either direction).

    A categorical column is scored by its levels' conversion rates, cross-fitted
    (scikit-learn's ``TargetEncoder``): in-sample rates would let a column of many rare
    levels, an id say, look perfect. A numeric one is scored by its value, gaps at the
    median. None when the column is empty or constant.
    """
    if categorical:
        text = values.astype("string").fillna("<empty>").to_numpy(dtype=object).reshape(-1, 1)
        if len(set(text[:, 0])) < 2:
            return None
        folds = StratifiedKFold(5, shuffle=True, random_state=0)  # the same answer every run
        encoder = TargetEncoder(target_type="binary", cv=folds)
        score = encoder.fit_transform(text, label)[:, 0]
    else:
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.nunique() < 2:
            return None
        score = numbers.fillna(numbers.median()).to_numpy(float)
    auc = float(roc_auc_score(label, score))
    return max(auc, 1 - auc)


def leak_suspects(
    leads: pd.DataFrame, label: pd.Series, spec: FeatureSpec, *, flat: bool = True
) -> list[str]:
    """One line per attribute that alone ranks the labelled leads (``label`` aligned with
    ``leads``, NaN for a lead not judged) at ``LEAK_AUC`` or more, with the way to leave it
    out (``--drop`` in flat mode, the spec in event mode); none when fewer than
    ``_MIN_LEADS`` leads are labelled."""
    known = label.notna().to_numpy()
    y = label.to_numpy()[known].astype(int)
    if known.sum() < _MIN_LEADS or len(set(y)) < 2:
        return []
    lines: list[str] = []
    for attribute in spec.attributes:
        if not isinstance(attribute, CategoricalAttribute | NumericAttribute):
            continue
        if attribute.column not in leads.columns:
            continue
        values = leads[attribute.column][known]
        auc = alone_auc(values, y, isinstance(attribute, CategoricalAttribute))
        if auc is not None and auc >= LEAK_AUC:
            fix = (
                f"leave it out with --drop {shlex.quote(attribute.column)}" if flat else
                f"remove the attribute {attribute.name} from spec.yaml beside the training set "
                "and train with --spec"
            )  # fmt: skip
            lines.append(
                f"kept '{attribute.column}', though alone it ranks the leads at ROC-AUC "
                f"{auc:.2f}: a column filled in after the outcome (a sales status, a note, a "
                f"grade) does that, and would know nothing of a new lead; if it was, {fix}"
            )
    return lines

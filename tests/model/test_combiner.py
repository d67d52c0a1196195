"""The combiner: a model that looks a little better on a short validation period does not take
all the weight, the rule points never get a weight of their own, and the probabilities stay
calibrated."""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from leadscore.training.model.combiner import LogOddsBlend


def validation_period(seed: int, n: int = 8000) -> tuple[np.ndarray, np.ndarray]:
    """(margins, label): rule points per 10 and two models' noisy log-odds of one truth."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(-3.8, 1.3, n)
    margins = np.column_stack(
        [
            np.clip(truth + rng.normal(0, 2, n), 0, None) * 2,
            truth + rng.normal(0, 0.5, n),
            truth + rng.normal(0, 0.5, n),
        ]
    )
    return margins, (rng.random(n) < expit(truth)).astype(int)


def test_without_a_prior_the_blend_is_a_plain_logistic_fit_of_the_two_models():
    margins, label = validation_period(1)
    blend = LogOddsBlend(prior_strength=0.0).fit(margins, label)
    plain = LogisticRegression(C=1e9, max_iter=5000).fit(margins[:, 1:], label)
    np.testing.assert_allclose(blend.coef_[0, 1:], plain.coef_[0], atol=1e-3)
    np.testing.assert_allclose(blend.intercept_, plain.intercept_, atol=1e-3)


def test_equally_good_models_keep_near_equal_weights_where_a_free_fit_would_tilt():
    tilt_free, tilt_shrunk = [], []
    for seed in range(8):
        margins, label = validation_period(seed)
        for strength, tilts in ((0.0, tilt_free), (100.0, tilt_shrunk)):
            w = LogOddsBlend(strength).fit(margins, label).coef_[0]
            tilts.append(abs(w[1] - w[2]) / (w[1] + w[2]))
    assert max(tilt_shrunk) < 0.5 * max(tilt_free)
    assert np.mean(tilt_shrunk) < 0.1


def test_rule_points_get_no_weight_of_their_own_and_the_rate_is_kept():
    margins, label = validation_period(2)
    blend = LogOddsBlend().fit(margins, label)
    assert blend.coef_[0, 0] == 0.0
    assert abs(blend.predict_proba(margins)[:, 1].mean() - label.mean()) < 0.002

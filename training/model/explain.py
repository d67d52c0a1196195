"""Exact, additive explanations of the combined score, turned into reasons a rep can read.

In log-odds, the combined score of a lead is

    logit = b0 + w_rules * points / 10 + w_logistic * m_logistic + w_gbm * m_gbm

and each part splits exactly: the points into rules, the logistic margin into coefficient x
(value - training mean) per input, LightGBM's margin into TreeSHAP values (LightGBM's own
``pred_contrib``, exact for trees). So every term below is one rule or one input feature, and the
terms plus ``base`` add up to the lead's logit to floating-point precision.

The reason catalog (``reason_catalog.yaml``, completed for each model by
:mod:`training.model.wording`) groups terms into concepts a rep knows and words them in
Japanese and English with the lead's own values.

A reason never contradicts what a rep knows (:func:`concept_weights`): an absence ("Has not
submitted a form") is never a reason for a lead, and an activity whose spec direction is up
never a reason against it (nor, for a ``down`` signal, the other way round). The models are
held to the directions, but interactions and centring on the training mean still leave parts
of terms against them; those parts are summed into one concept, ``activity_pattern``
("Activity pattern unlike leads that converted"; for a model without activities, "Details
together unlike leads that converted"), so the reasons still add up exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from leadscore.features.spec import ANY_TYPE, FeatureSpec, NumericAttribute
from leadscore.training.model.rows import FeatureRows
from leadscore.training.model.scorer import (
    INSTANT_PASS,
    RULE_POINTS,
    LeadScorer,
    ScoringPass,
    gbm_predict_options,
    signal_of,
    signal_sign,
)
from leadscore.training.model.wording import (
    PATTERN,
    Concept,
    ModelCatalog,
    concept_text,
    generated_text,
    load_catalog,
    model_catalog,
    template_names,
)

BASE = "base"
TOP_REASONS = 3  # reasons per side that sales sees by default


@lru_cache(maxsize=32)
def _mapping(sources: tuple[str, ...], inputs: tuple[str, ...]) -> np.ndarray:
    """0/1 matrix from encoded columns (named by the input each came from) to the inputs."""
    matrix = np.zeros((len(sources), len(inputs)))
    matrix[np.arange(len(sources)), [inputs.index(source) for source in sources]] = 1.0
    return matrix


def contribution_terms(
    scorer: LeadScorer, rows: pd.DataFrame | FeatureRows, scored: ScoringPass | None = None
) -> tuple[list[str], np.ndarray]:
    """Term names and a (rows x terms) matrix of log-odds: ``rule:<name>``, inputs, ``base``."""
    scored = scored or scorer.run(rows)
    numeric, categorical = scorer.input_columns
    names = numeric + categorical
    w_points, w_logistic, w_gbm = scorer.combiner.coef_[0]
    rule_names = [f"rule:{rule}" for rule in scorer.rules.rule_names]
    rule_terms = w_points * scored.points / 10.0

    model = scorer.logistic.named_steps["model"]
    encoded = scored.z_logistic
    means = (
        scorer.logistic_means if scorer.logistic_means is not None else np.zeros(encoded.shape[1])
    )
    base = model.intercept_[0] + float(model.coef_[0] @ means)
    logistic_sources, gbm_sources = scorer.encoded_sources
    to_inputs = _mapping(logistic_sources, tuple(names))
    by_input = w_logistic * (model.coef_[0] * (encoded - means)) @ to_inputs

    gbm = scorer.lightgbm.named_steps["model"]
    shap = gbm.booster_.predict(
        scored.z_gbm, pred_contrib=True, **gbm_predict_options(len(scored.z_gbm))
    )
    to_inputs = _mapping(gbm_sources, tuple(names))
    by_input = by_input + w_gbm * shap[:, :-1] @ to_inputs
    base_term = np.full(
        (len(shap), 1), scorer.combiner.intercept_[0] + w_logistic * base + w_gbm * shap[0, -1]
    )
    return [*rule_names, *names, BASE], np.hstack([rule_terms, by_input, base_term])


def contributions(
    scorer: LeadScorer, rows: pd.DataFrame | FeatureRows, scored: ScoringPass | None = None
) -> pd.DataFrame:
    """Log-odds terms per row: ``rule:<name>``, one per model input, and ``base``."""
    names, terms = contribution_terms(scorer, rows, scored)
    return pd.DataFrame(terms, columns=names, index=FeatureRows.of(rows).index)


# ------------------------------------------------------------------------------ reasons


def scorer_catalog(scorer: LeadScorer) -> ModelCatalog:
    """The catalog a scorer was trained with, completed for its spec and rulebook."""
    return model_catalog(scorer.spec, scorer.rulebook, scorer.reason_catalog)


_GROUPINGS: dict[
    tuple[int, tuple[str, ...]], tuple[dict, list[str], np.ndarray, frozenset[str]]
] = {}


def _grouping(
    terms: tuple[str, ...], catalog: dict[str, Concept]
) -> tuple[list[str], np.ndarray, frozenset[str]]:
    """Concept names, the 0/1 (terms x concepts) matrix that sums terms into concepts, and the
    names of the values a reason's text may show.

    Matching terms to concepts (glob patterns) costs more than scoring one lead, and the terms
    of a scorer never change, so the answer is kept per (catalog, terms).
    """
    key = (id(catalog), terms)
    cached = _GROUPINGS.get(key)
    if cached is None or cached[0] is not catalog:
        concepts = [concept_of(term, catalog) or term for term in terms]
        names = list(dict.fromkeys(concepts))
        membership = np.zeros((len(concepts), len(names)))
        membership[np.arange(len(concepts)), [names.index(c) for c in concepts]] = 1.0
        shown = frozenset({n for c in catalog.values() for n in template_names(c)} | set(names))
        cached = _GROUPINGS[key] = (catalog, names, membership, shown)
    return cached[1], cached[2], cached[3]


def concept_of(term: str, catalog: dict[str, Concept]) -> str | None:
    """The catalog concept of a term (a rule, an input feature), or None."""
    if term.startswith("rule:"):
        rule = term.split(":", 1)[1]
        return next((c.key for c in catalog.values() if rule in c.rules), None)
    return next((c.key for c in catalog.values() if c.matches(term)), None)


@dataclass(frozen=True)
class Facts:
    """Per concept, what a rep knows about it: the feature that says whether it happened for
    a lead (None: no such feature, the concept is never moved), whether that feature is a
    time since (empty = never) rather than a count (0 = never), and its direction's sign."""

    keys: tuple[str | None, ...]
    timed: np.ndarray
    signs: np.ndarray


def concept_facts(spec: FeatureSpec, names: list[str], catalog: dict[str, Concept]) -> Facts:
    """:class:`Facts` of each concept name (a catalog concept, or a term the catalog lacks).

    A catalog concept happened when its ``key`` count is above 0 (its text then says what the
    lead did, else its ``none`` text says what it did not); a term of its own, when its
    feature is. The direction is that of the key's signal (a hand-raise is up; all activity
    together is up for reasons, though the models leave it free) or numeric attribute; the
    rulebook's points rise.
    """
    numbers = {
        a.name: a.sign for a in spec.attributes if isinstance(a, NumericAttribute) and a.sign
    }
    # key -> (timed, sign). The models leave all activity together free, but a rep reads "14
    # actions on 9 days" as interest: never shown against, nor its absence for
    directions = {RULE_POINTS: (False, 1), INSTANT_PASS: (False, 1)}
    directions |= {name: (False, sign) for name, sign in numbers.items()}
    directions |= {
        name: (stat in ("recency", "first"),
               1 if ANY_TYPE in signal.activity_types else signal_sign(signal))
        for name, (signal, stat) in signal_of(spec).items()
    }  # fmt: skip
    keys, timed, signs = [], [], []
    for name in names:
        key = catalog[name].count if name in catalog else name
        if key is None and name in catalog and catalog[name].features in ((n,) for n in numbers):
            key = catalog[name].features[0]  # a number with a direction ('TotalVisits': up)
        fact = directions.get(key) if key is not None else None
        if fact is None and key is not None and key.startswith("engagement_"):
            fact = (False, 0)  # happened or not, no direction
        keys.append(key if fact is not None else None)
        timed.append(fact is not None and fact[0])
        signs.append(fact[1] if fact is not None else 0)
    return Facts(tuple(keys), np.array(timed, bool), np.array(signs, float))


def contradicting(weights: np.ndarray, values: np.ndarray, facts: Facts) -> np.ndarray:
    """(rows x concepts) True where a concept's weight contradicts what happened.

    ``values``: (rows x concepts) the key feature's value (NaN where there is none). An
    absence counts for a lead only when it is the absence of a ``down`` signal; a fact counts
    the way of its direction (an ``up`` activity that happened never against the lead).
    """
    # a count that is not known (NaN) says nothing; an empty time since says "never"
    known = np.array([key is not None for key in facts.keys]) & (facts.timed | ~np.isnan(values))
    present = ~np.isnan(values) & (facts.timed | (np.nan_to_num(values) > 0))
    fact = np.where(present, facts.signs, -facts.signs)
    absence_for = ~present & (weights > 0) & (facts.signs >= 0)
    return known & (absence_for | (weights * fact < 0))


def _key_values(rows: FeatureRows, facts: Facts, scored: ScoringPass | None = None) -> np.ndarray:
    """(rows x concepts) each concept's key value; ``scored``: the rows' rulebook points and
    passes, which are the scorer's, not a feature's."""
    values = np.full((len(rows), len(facts.keys)), np.nan)
    present = [(j, key) for j, key in enumerate(facts.keys) if key is not None and key in rows]
    if present:
        values[:, [j for j, _ in present]] = rows.numbers([key for _, key in present])
    if scored is not None:
        for key, by_row in ((RULE_POINTS, scored.total_points), (INSTANT_PASS, scored.passes)):
            if key in facts.keys:
                values[:, facts.keys.index(key)] = by_row
    return values


def concept_weights(
    scorer: LeadScorer,
    rows: pd.DataFrame | FeatureRows,
    *,
    catalog: dict[str, Concept] | None = None,
    scored: ScoringPass | None = None,
    respect_directions: bool = True,
) -> pd.DataFrame:
    """Log-odds per concept and row, plus ``base``: they add up to the lead's logit.

    With ``respect_directions``, each concept's weight that contradicts what happened
    (:func:`contradicting`) is moved into ``activity_pattern`` (see the module docstring).
    """
    rows = FeatureRows.of(rows)
    names, grouped, base = _concept_arrays(scorer, rows, catalog, scored, respect_directions)
    frame = pd.DataFrame(grouped, columns=names, index=rows.index)
    frame[BASE] = base
    return frame


def _concept_arrays(
    scorer: LeadScorer,
    rows: FeatureRows,
    catalog: dict[str, Concept] | None,
    scored: ScoringPass | None,
    respect_directions: bool,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    catalog = scorer_catalog(scorer).concepts if catalog is None else catalog
    scored = scored or scorer.run(rows)
    term_names, terms = contribution_terms(scorer, rows, scored)
    # the last term is the base
    names, membership, _ = _grouping(tuple(term_names[:-1]), catalog)
    grouped = terms[:, :-1] @ membership
    if respect_directions:
        facts = _facts(scorer, tuple(names), catalog)
        values = _key_values(rows, facts, scored)
        against = contradicting(grouped, values, facts)
        pattern = (grouped * against).sum(axis=1, keepdims=True)
        names = [*names, PATTERN]
        grouped = np.hstack([np.where(against, 0.0, grouped), pattern])
    return names, grouped, terms[:, -1]


_FACTS: dict[tuple[int, int, tuple[str, ...]], tuple[FeatureSpec, dict, Facts]] = {}


def _facts(scorer: LeadScorer, names: tuple[str, ...], catalog: dict[str, Concept]) -> Facts:
    """:func:`concept_facts` of a scorer's concepts, kept per (spec, catalog, concepts)."""
    key = (id(scorer.spec), id(catalog), names)
    cached = _FACTS.get(key)
    if cached is None or cached[0] is not scorer.spec or cached[1] is not catalog:
        facts = concept_facts(scorer.spec, list(names), catalog)
        cached = _FACTS[key] = (scorer.spec, catalog, facts)
    return cached[2]


def reasons(
    scorer: LeadScorer,
    rows: pd.DataFrame | FeatureRows,
    *,
    lang: str = "en",
    top: int = TOP_REASONS,
    catalog: dict[str, Concept] | None = None,
    scored: ScoringPass | None = None,
    respect_directions: bool = True,
) -> list[dict]:
    """Per row: the top positive and negative reasons, each with its log-odds weight.

    Terms are summed into concepts with one matrix product and ranked with NumPy; only the
    chosen reasons are worded, so cost per lead stays flat as the catalog grows. No reason
    contradicts its direction (:func:`concept_weights`; ``respect_directions=False`` shows
    the raw concepts, for comparison only).
    """
    model = scorer_catalog(scorer)
    catalog = model.concepts if catalog is None else catalog
    rows = FeatureRows.of(rows)
    names, grouped, _ = _concept_arrays(scorer, rows, catalog, scored, respect_directions)
    scored = scored or scorer.run(rows)
    _, _, wanted = _grouping(tuple(contribution_names(scorer)), catalog)
    order = np.argsort(grouped, axis=1)
    # only the values a text can name, as arrays: a records dict of every column costs more
    # than the whole explanation for one lead
    present = [c for c in rows.names if c in wanted]
    block = rows.raw(present)
    columns = {c: block[:, j] for j, c in enumerate(present)}
    columns[RULE_POINTS] = scored.total_points
    columns[INSTANT_PASS] = scored.passes
    pattern = catalog.get(PATTERN) or load_catalog()[PATTERN]  # a catalog trained before it
    typical = scorer.typical_counts or {}
    out = []
    for i, row_order in enumerate(order):
        row_values = {c: values[i] for c, values in columns.items()}
        items: dict[str, list[dict]] = {"positive": [], "negative": []}
        for side, picks in (("positive", row_order[::-1]), ("negative", row_order)):
            for j in picks[:top]:
                weight = grouped[i, j]
                if weight <= 0 if side == "positive" else weight >= 0:
                    break
                concept = names[j]
                if concept in catalog or concept == PATTERN:
                    text = concept_text(
                        catalog.get(concept, pattern), row_values, lang, positive=weight > 0,
                        typical=typical, phrases=model.phrases,
                    )  # fmt: skip
                else:
                    text = generated_text(concept, row_values.get(concept), lang)
                items[side].append(
                    {"concept": concept, "text": text, "log_odds": round(float(weight), 4)}
                )
        out.append(items)
    return out


def contribution_names(scorer: LeadScorer) -> list[str]:
    """The term names of :func:`contribution_terms` without the base, listed once."""
    numeric, categorical = scorer.input_columns
    return [f"rule:{rule}" for rule in scorer.rules.rule_names] + numeric + categorical


def shown_contradictions(
    spec: FeatureSpec,
    rows: pd.DataFrame | FeatureRows,
    explained: list[dict],
    catalog: dict[str, Concept] | None = None,
    scored: ScoringPass | None = None,
) -> np.ndarray:
    """Per row, how many shown reasons contradict the directions declared in ``spec``: an
    absence shown for the lead, or a fact shown against its direction (:func:`contradicting`).

    For tests and benchmarks: ``spec`` may declare directions the scorer was trained without.
    ``catalog``: the scorer's (:func:`scorer_catalog`), so that the concepts it wrote for an
    export's own signals are judged too; ``scored``: the scorer's pass over the rows (their
    rulebook points and passes).
    """
    catalog = load_catalog() if catalog is None else catalog
    rows = FeatureRows.of(rows)
    union = list(dict.fromkeys(r["concept"] for items in explained for side in items.values()
                               for r in side))  # fmt: skip
    facts = concept_facts(spec, union, catalog)
    values = _key_values(rows, facts, scored)
    weights = np.zeros((len(rows), len(union)))
    for i, items in enumerate(explained):
        for side in items.values():
            for r in side:
                weights[i, union.index(r["concept"])] = r["log_odds"]
    return contradicting(weights, values, facts).sum(axis=1)


def reason_text(items: dict, lang: str = "en") -> str:
    """One line for a spreadsheet: '+ Viewed the pricing page ... / - Viewed the careers ...'."""
    parts = [f"+ {r['text']}" for r in items["positive"]] + [
        f"- {r['text']}" for r in items["negative"]
    ]
    return " / ".join(parts)

"""Exact, additive explanations of the combined score, turned into reasons a rep can read.

In log-odds, the combined score of a lead is

    logit = b0 + w_rules * points / 10 + w_logistic * m_logistic + w_gbm * m_gbm

and each part splits exactly: the points into rules, the logistic margin into coefficient x
(value - training mean) per input, LightGBM's margin into TreeSHAP values (LightGBM's own
``pred_contrib``, exact for trees). So every term below is one rule or one input feature, and the
terms plus ``base`` add up to the lead's logit to floating-point precision.

The reason catalog (``reason_catalog.yaml``) groups terms into concepts a rep knows and words
them in Japanese and English with the lead's own values.
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from leadscore.training.model.rows import FeatureRows
from leadscore.training.model.scorer import (
    INSTANT_PASS,
    RULE_POINTS,
    LeadScorer,
    ScoringPass,
    gbm_predict_options,
)

CATALOG = Path(__file__).resolve().parent / "reason_catalog.yaml"
BASE = "base"
LANGUAGES = ("en", "ja")
TOP_REASONS = 3  # reasons per side that sales sees by default
_UNKNOWN = {"en": "unknown", "ja": "不明"}


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


@dataclass(frozen=True)
class Concept:
    key: str
    features: tuple[str, ...]
    rules: tuple[str, ...]
    texts: dict[str, str]
    none_texts: dict[str, str]
    count: str | None
    labels: dict[str, str] = field(default_factory=dict)  # the concept's name in a rule
    words: dict[str, dict[str, str]] = field(default_factory=dict)  # per language, level -> word


@lru_cache(maxsize=8)
def load_catalog(path: Path = CATALOG) -> dict[str, Concept]:
    return parse_catalog(yaml.safe_load(path.read_text()))


def parse_catalog(document: dict) -> dict[str, Concept]:
    raw = document["concepts"]
    return {
        key: Concept(
            key=key,
            features=tuple(entry.get("features", ())),
            rules=tuple(entry.get("rules", ())),
            texts={lang: entry[lang] for lang in LANGUAGES if lang in entry},
            none_texts={
                lang: entry[f"{lang}_none"] for lang in LANGUAGES if f"{lang}_none" in entry
            },
            count=entry.get("key"),
            labels=dict(entry.get("label", {})),
            words={lang: dict(levels) for lang, levels in entry.get("words", {}).items()},
        )
        for key, entry in raw.items()
    }


_CATALOGS: dict[int, tuple[dict, dict[str, Concept]]] = {}
_GROUPINGS: dict[
    tuple[int, tuple[str, ...]], tuple[dict, list[str], np.ndarray, frozenset[str]]
] = {}


def scorer_catalog(scorer: LeadScorer) -> dict[str, Concept]:
    """The catalog a scorer was trained with (parsed once per scorer), or the default one."""
    document = scorer.reason_catalog
    if not document:
        return load_catalog()
    cached = _CATALOGS.get(id(document))
    if cached is None or cached[0] is not document:
        cached = _CATALOGS[id(document)] = (document, parse_catalog(document))
    return cached[1]


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
        shown = frozenset({n for c in catalog.values() for n in _template_names(c)} | set(names))
        cached = _GROUPINGS[key] = (catalog, names, membership, shown)
    return cached[1], cached[2], cached[3]


def concept_of(term: str, catalog: dict[str, Concept]) -> str | None:
    """The catalog concept of a term (a rule, an input feature), or None."""
    if term.startswith("rule:"):
        rule = term.split(":", 1)[1]
        return next((c.key for c in catalog.values() if rule in c.rules), None)
    return next(
        (c.key for c in catalog.values() if any(fnmatch.fnmatchcase(term, p) for p in c.features)),
        None,
    )


def generated_text(term: str, value: object, lang: str, column: str | None = None) -> str:
    """Readable text for a term the catalog lacks: words, not a feature name.

    ``column``: the export's column an attribute is read from, shown as written
    (``役職: 部長``) where the feature's name would read as something else (see
    :func:`columns_as_written`).
    """
    words = re.sub(r"_(\d+)d$", r" (last \1 days)", term.removeprefix("rule:"))
    words = column or words.replace("_", " ").strip().capitalize()
    shown = _format_value(value, lang)
    return f"{words}: {shown}" if lang == "en" else f"{words}：{shown}"


def _format_value(value: object, lang: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return _UNKNOWN[lang]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, str) and value.isascii():
        return value.upper() if len(value) <= 3 else value.replace("_", " ").title()
    return str(value)  # a level in another script or mixed ('it部長') is shown as it is


def columns_as_written(scorer: LeadScorer) -> dict[str, str]:
    """Attribute feature -> the export's column, for columns whose name is not plain ASCII.

    Why: a feature's name is folded for the machine (``ＩＴ部門`` becomes ``it部門``); a rep
    reads the column the export calls it. ASCII columns read well from their feature's name
    ("Job title"), as they always have.
    """
    return {
        attribute.name: attribute.column
        for attribute in scorer.spec.attributes
        if attribute.kind != "created" and not attribute.column.isascii()
    }


class _Values(dict):
    """Template values: empty ones read 'unknown', never raise."""

    def __init__(self, values: dict, lang: str) -> None:
        super().__init__(values)
        self.lang = lang

    def __missing__(self, key: str) -> object:
        return _UNKNOWN[self.lang]


def _render(template: str, values: dict, lang: str) -> str:
    # only the values this template names: a lead's row has dozens, a text shows one or two
    named = {k: values[k] for k in _names_in(template) if k in values}
    clean = {
        k: (_UNKNOWN[lang] if v is None or (isinstance(v, float) and math.isnan(v)) else v)
        for k, v in named.items()
    }
    clean = {k: _format_value(v, lang) if isinstance(v, str) else v for k, v in clean.items()}
    try:
        return template.format_map(_Values(clean, lang))
    except (ValueError, TypeError):  # a number format applied to 'unknown'
        return re.sub(
            r"\{(\w+)[^}]*\}", lambda m: _format_value(clean.get(m.group(1)), lang), template
        )


_ONE_TIMES = re.compile(r"\b1 times\b")
_ONE_IES = re.compile(r"\b1 ((?:[a-z]+ )?[a-z]+?)ies\b")
_ONE_PLURAL = re.compile(r"\b1 ((?:[a-z]+ )?[a-z]+?)s\b")


def singular_en(text: str) -> str:
    """'1 times' -> 'once', '1 webinars' -> '1 webinar', '1 case studies' -> '1 case study'.

    The catalog writes each English text once, with plural nouns; counts of one are common
    enough that 'Attended 1 webinars' would read as careless. Japanese has no plural.
    """
    text = _ONE_TIMES.sub("once", text)
    text = _ONE_IES.sub(r"1 \1y", text)
    return _ONE_PLURAL.sub(r"1 \1", text)


def concept_text(concept: Concept, values: dict, lang: str) -> str:
    count = values.get(concept.count) if concept.count else None
    use_none = concept.count is not None and (count is None or count == 0) and concept.none_texts
    template = (concept.none_texts if use_none else concept.texts).get(lang) or concept.texts["en"]
    words = concept.words.get(lang)
    if words:  # a level in the reader's words: 'monday' is 月曜日 in Japanese
        values = {
            k: words.get(values[k], values[k]) if isinstance(values[k], str) else values[k]
            for k in _names_in(template)
            if k in values
        }
    text = _render(template, values, lang)
    return singular_en(text) if lang == "en" else text


def reasons(
    scorer: LeadScorer,
    rows: pd.DataFrame | FeatureRows,
    *,
    lang: str = "en",
    top: int = TOP_REASONS,
    catalog: dict[str, Concept] | None = None,
    scored: ScoringPass | None = None,
) -> list[dict]:
    """Per row: the top positive and negative reasons, each with its log-odds weight.

    Terms are summed into concepts with one matrix product and ranked with NumPy; only the
    chosen reasons are worded, so cost per lead stays flat as the catalog grows.
    """
    if catalog is None:
        catalog = scorer_catalog(scorer)
    rows = FeatureRows.of(rows)
    scored = scored or scorer.run(rows)
    term_names, terms = contribution_terms(scorer, rows, scored)
    # the last term is the base
    names, membership, wanted = _grouping(tuple(term_names[:-1]), catalog)
    grouped = terms[:, :-1] @ membership
    order = np.argsort(grouped, axis=1)
    # only the values a text can name, as arrays: a records dict of every column costs more
    # than the whole explanation for one lead
    present = [c for c in rows.names if c in wanted]
    block = rows.raw(present)
    columns = {c: block[:, j] for j, c in enumerate(present)}
    columns[RULE_POINTS] = scored.total_points
    columns[INSTANT_PASS] = scored.passes
    written = columns_as_written(scorer)
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
                text = (
                    concept_text(catalog[concept], row_values, lang)
                    if concept in catalog
                    else generated_text(
                        concept, row_values.get(concept), lang, written.get(concept)
                    )
                )
                items[side].append(
                    {"concept": concept, "text": text, "log_odds": round(float(weight), 4)}
                )
        out.append(items)
    return out


@lru_cache(maxsize=256)
def _names_in(template: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\{(\w+)", template))


def _template_names(concept: Concept) -> set[str]:
    names = {concept.count} if concept.count else set()
    for template in [*concept.texts.values(), *concept.none_texts.values()]:
        names |= set(_names_in(template))
    return names


def reason_text(items: dict, lang: str = "en") -> str:
    """One line for a spreadsheet: '+ Viewed the pricing page ... / - Viewed the careers ...'."""
    parts = [f"+ {r['text']}" for r in items["positive"]] + [
        f"- {r['text']}" for r in items["negative"]
    ]
    return " / ".join(parts)

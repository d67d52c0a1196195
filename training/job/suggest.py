"""Points suggested from history: the rulebook's rules re-weighed, plus candidate new rules.

Each rule is reduced to its *unit* on every training row (1 when an attribute rule holds;
occurrences in the window, up to the cap, for a behaviour rule), so a logistic regression on
the units gives log-odds per unit; scaled to the rulebook's own range and rounded, those are
points a marketing-ops person can read. L1 regularisation, tuned on the validation period,
keeps only candidates that add something. The threshold is set on the validation period to
hand off a target volume, so the test period stays untouched for judging.
"""

from __future__ import annotations

import difflib
import fnmatch
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from leadscore.features import schema
from leadscore.features.infer import name_words
from leadscore.features.schema import LABEL
from leadscore.features.spec import (
    ANY_TYPE,
    CategoricalAttribute,
    CreatedAttribute,
    FeatureSpec,
    Signal,
)
from leadscore.training.job.rule_metrics import (
    DEFAULT_HANDOFF_SHARE,
    default_handoff_leads,
    handoff_metrics,
    threshold_for_volume,
    top_k_handoff,
    weeks_spanned,
)
from leadscore.training.model.rulebook import (
    ActivityMatch,
    Condition,
    Grades,
    InstantPass,
    Rule,
    Rulebook,
    dump_rulebook,
    normalised_conditions,
)
from leadscore.training.model.rules import behaviour_units, capped_points, condition_mask
from leadscore.training.model.scorer import signal_sign
from leadscore.training.model.wording import (
    each_language,
    format_value,
    load_catalog,
    parse_phrases,
    readable_column,
    signal_words,
)

_CANDIDATE_OCCURRENCES = 3
_CANDIDATE_WINDOW = 30
# the largest points of a proposed rule when the rulebook has none to take its range from
DEFAULT_POINT_RANGE = 50.0
_PASS_LIFT = 5.0
_PASS_MIN_RATE = 0.1
_PASS_MIN_ROWS = 20
_PASS_MIN_SQLS = 5
_MIN_LEVEL_SHARE = 0.02
_LEVELS_PER_ATTRIBUTE = 8
_C_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


@dataclass(frozen=True)
class Suggestion:
    rulebook: Rulebook
    evidence: pd.DataFrame
    metrics: pd.DataFrame
    diff: str
    volume_rule: str = ""  # which rule set the hand-off volume the threshold aims at

    @property
    def handoff(self) -> str:
        """What the suggested threshold hands off, in words: the volume it aims at, or no one
        when no rule raises a lead's points above zero (its threshold is then infinite)."""
        if math.isfinite(self.rulebook.mql_threshold):
            return f"hands off {self.volume_rule}, at {self.rulebook.mql_threshold:g} points"
        return (
            "hands off no one: no rule raises a lead's points above zero, so the models' "
            "policy sets the volume"
        )


def _occurrence_cap(rule: Rule) -> float:
    return abs(rule.cap / rule.points) if rule.cap is not None and rule.points else np.inf


def rule_units(rules: list[Rule], spec: FeatureSpec, rows: pd.DataFrame) -> pd.DataFrame:
    """The unit of every rule on every row (see module docstring)."""
    units = {}
    for rule in rules:
        if rule.when is not None:
            mask = np.ones(len(rows), bool)
            for field, condition in normalised_conditions(rule, spec).items():
                mask &= condition_mask(rows[field], condition)
            units[rule.name] = mask.astype(float)
        else:
            occurrences = behaviour_units(rows, rule, spec)
            units[rule.name] = np.minimum(occurrences, _occurrence_cap(rule))
    return pd.DataFrame(units, index=rows.index)


def _slug(text: str) -> str:
    """A rule-name part for a level, in its own words and script (see
    :func:`features.infer.name_words`: two levels never share a name)."""
    return name_words(text) if text.strip() else "blank"


def _concept_label(signal: Signal) -> dict[str, str]:
    """The catalog's words for the concept a signal belongs to, in every language it has."""
    feature = f"{signal.name}_count_30d"
    for concept in load_catalog().values():
        if concept.labels and any(fnmatch.fnmatchcase(feature, p) for p in concept.features):
            return dict(concept.labels)
    return {}


def signal_label(signal: Signal) -> dict[str, str]:
    """A rule's label in English and Japanese, worded as the reasons word the signal: the
    catalog's concept where it knows one (``page_view`` on ``/pricing*`` is "Viewed the
    pricing page" / 「料金ページを閲覧」), else the export's own words, with the catalog's
    words for an activity it knows under the export's name (Marketo's "Fill Out Form (Contact
    Sales)" reads 「フォームを送信（Contact Sales）」 in Japanese)."""
    known = _concept_label(signal)
    if known:
        return known
    phrases = parse_phrases(None)
    return each_language(lambda lang: signal_words(signal, phrases, lang))


def attribute_label(
    column: str, level: object, spellings: Mapping[str, str] | None = None
) -> dict[str, str]:
    """An attribute rule's label in both languages, as the reasons word the attribute: the
    export's column and level, spelt as the export writes it when ``spellings`` know it
    ("Seniority: Staff", 「流入元：Web広告」)."""
    phrases = parse_phrases(None)
    shown = readable_column(column)
    written = (spellings or {}).get(str(level))
    return each_language(
        lambda lang: phrases(
            "attribute", lang, column=shown,
            value=written if written is not None else format_value(level, lang, phrases),
        )
    )  # fmt: skip


def candidate_behaviour_rules(spec: FeatureSpec, rulebook: Rulebook) -> list[Rule]:
    """One candidate per single-type signal of the spec (optionally narrowed by its detail).

    They depend on the spec alone, so a run that must bootstrap a rulebook can compile them
    onto the spec before it builds the training set, and the rules it keeps need no rebuild.
    """
    taken = {r.name for r in rulebook.rules} | {p.name for p in rulebook.instant_pass}
    passes = {(p.activity.type, p.activity.detail) for p in rulebook.instant_pass}
    behaviour = {
        (r.activity.type, r.activity.detail) for r in rulebook.behaviour_rules if r.activity
    }
    candidates = []
    for signal in spec.signals:
        if signal.name.startswith("rule_") or ANY_TYPE in signal.activity_types:
            continue
        if len(signal.activity_types) != 1 or "count" not in signal.stats:
            continue
        key = (signal.activity_types[0], signal.detail)
        windows = spec.signal_windows(signal)
        name = f"did_{signal.name}"
        if key in passes or key in behaviour or name in taken:
            continue
        candidates.append(
            Rule(
                name=name,
                label=signal_label(signal),
                activity=ActivityMatch(type=key[0], detail=key[1]),
                points=1,
                cap=_CANDIDATE_OCCURRENCES,
                window_days=_CANDIDATE_WINDOW if _CANDIDATE_WINDOW in windows else max(windows),
            )
        )
    return candidates


def candidate_attribute_rules(
    spec: FeatureSpec, rulebook: Rulebook, rows: pd.DataFrame
) -> list[Rule]:
    """One candidate per frequent level of each categorical attribute, labelled as the export
    writes the column and level ("Seniority: director")."""
    taken = {r.name for r in rulebook.rules} | {p.name for p in rulebook.instant_pass}
    candidates = []
    for attribute in spec.attributes:
        if not isinstance(attribute, CategoricalAttribute) or attribute.name not in rows.columns:
            continue
        shares = rows[attribute.name].value_counts(normalize=True)
        for level in shares[shares >= _MIN_LEVEL_SHARE].index[:_LEVELS_PER_ATTRIBUTE]:
            name = f"{attribute.name}_{_slug(str(level))}"
            if name not in taken:
                candidates.append(
                    Rule(
                        name=name,
                        label=attribute_label(attribute.column, level, attribute.spellings),
                        when={attribute.name: Condition.model_validate({"in": [level]})},
                        points=1,
                    )
                )
    return candidates


# The moments a marketer writes rules on, as the creation attributes spell their levels. Why
# groups and not each weekday or hour: one hour holds a few percent of leads, and a rule of
# its own would be noise; "signed up on a weekend" or "at night" is what people read and keep.
_CREATED_GROUPS: dict[str, tuple[tuple[str, tuple[str, ...], dict[str, str]], ...]] = {
    "weekday": (
        ("weekend", ("saturday", "sunday"),
         {"en": "Became a lead on a weekend ({zone})", "ja": "土日に獲得したリード（{zone}）"}),
    ),
    "hour": (
        ("office_hours", tuple(f"{h:02d}" for h in range(9, 18)),
         {"en": "Became a lead in office hours (09:00-17:59, {zone})",
          "ja": "営業時間内（9時〜17時台、{zone}）に獲得したリード"}),
        ("night", tuple(f"{h:02d}" for h in (*range(22, 24), *range(0, 6))),
         {"en": "Became a lead at night (22:00-05:59, {zone})",
          "ja": "深夜（22時〜5時台、{zone}）に獲得したリード"}),
    ),
}  # fmt: skip


def candidate_moment_rules(spec: FeatureSpec, rulebook: Rulebook, rows: pd.DataFrame) -> list[Rule]:
    """Candidates on when a lead was created (weekend, office hours, night), on the creation
    attributes' own clock, the zone named in the label so a reader knows which clock."""
    taken = {r.name for r in rulebook.rules} | {p.name for p in rulebook.instant_pass}
    candidates = []
    for attribute in spec.attributes:
        if not isinstance(attribute, CreatedAttribute) or attribute.name not in rows.columns:
            continue
        for key, levels, label in _CREATED_GROUPS[attribute.part]:
            name = f"{attribute.name}_{key}"
            share = rows[attribute.name].isin(levels).mean()
            if name in taken or not _MIN_LEVEL_SHARE <= share <= 1 - _MIN_LEVEL_SHARE:
                continue
            candidates.append(
                Rule(
                    name=name,
                    label={
                        lang: text.format(zone=attribute.time_zone) for lang, text in label.items()
                    },
                    when={attribute.name: Condition.model_validate({"in": list(levels)})},
                    points=1,
                )
            )
    return candidates


def candidate_rules(spec: FeatureSpec, rulebook: Rulebook, rows: pd.DataFrame) -> list[Rule]:
    """New rules worth testing: frequent attribute levels, creation moments and the spec's
    single-type signals."""
    return [
        *candidate_attribute_rules(spec, rulebook, rows),
        *candidate_moment_rules(spec, rulebook, rows),
        *candidate_behaviour_rules(spec, rulebook),
    ]


def bootstrap_rulebook(spec: FeatureSpec) -> Rulebook:
    """A rulebook of every behaviour candidate at one point and no threshold.

    Compiled onto a spec before a training set is built, it gives the set the columns that any
    rulebook :func:`suggest` then proposes from those candidates will read.
    """
    empty = empty_rulebook()
    return empty.model_copy(update={"rules": tuple(candidate_behaviour_rules(spec, empty))})


def empty_rulebook() -> Rulebook:
    """No rules, no passes, a threshold nothing reaches: the start when no rulebook fits."""
    return Rulebook(
        mql_threshold=float("inf"),
        grades=Grades(fit={}, engagement={}),
        rules=(),
    )


def instant_pass_candidates(
    rules: list[Rule],
    units: pd.DataFrame,
    label: np.ndarray,
    valid_units: pd.DataFrame,
    valid_label: np.ndarray,
) -> list[InstantPass]:
    """Behaviour candidates whose SQL rate is far above the rest: an inquiry or demo form.

    The stated rule: on the train period the activity fired (within its window) on at least
    ``_PASS_MIN_ROWS`` rows holding at least ``_PASS_MIN_SQLS`` SQLs, and the SQL rate when it
    fired is at least ``_PASS_LIFT`` times the period's rate and at least ``_PASS_MIN_RATE``;
    the validation period confirms it at half that lift (when it fired there at all).
    """
    base = max(label.mean(), 1e-9)
    valid_base = max(valid_label.mean(), 1e-9)
    passes = []
    for rule in rules:
        if rule.activity is None:
            continue
        fires = units[rule.name].to_numpy() > 0
        sqls = int(label[fires].sum())
        if fires.sum() < _PASS_MIN_ROWS or sqls < _PASS_MIN_SQLS:
            continue
        rate = sqls / fires.sum()
        if rate < max(_PASS_LIFT * base, _PASS_MIN_RATE):
            continue
        valid_fires = valid_units[rule.name].to_numpy() > 0
        if valid_fires.any() and valid_label[valid_fires].mean() < _PASS_LIFT / 2 * valid_base:
            continue
        passes.append(
            InstantPass(
                name=rule.name,
                label=rule.label,
                activity=rule.activity,
                window_days=rule.window_days,
            )
        )
    return passes


def _fit(
    units: pd.DataFrame, label: np.ndarray, valid_units: pd.DataFrame, valid_label: np.ndarray
):  # type: ignore[no-untyped-def]
    best = None
    for c in _C_GRID:
        model = LogisticRegression(l1_ratio=1.0, solver="liblinear", C=c, max_iter=500)
        model.fit(units.to_numpy(), label)
        auc = roc_auc_score(valid_label, model.decision_function(valid_units.to_numpy()))
        if best is None or auc > best[0] + 1e-4:
            best = (auc, model)
    assert best is not None
    return best[1]


def held_to_directions(points: pd.Series, rules: list[Rule], spec: FeatureSpec) -> pd.Series:
    """Points with the sign of the direction their activity's signal declares: an ``up``
    activity (a webinar, an opened email) never takes points away and a ``down`` one (the
    careers page) never adds them, whatever the history's collinear fit says. A sign it
    may not have becomes 0, which the review shows as a proposal to drop the rule."""
    signs = {
        (signal.activity_types[0], signal.detail): signal_sign(signal)
        for signal in spec.signals
        if len(signal.activity_types) == 1
    }
    held = points.copy()
    for rule in rules:
        if rule.activity is None or rule.name not in held.index:
            continue
        sign = signs.get((rule.activity.type, rule.activity.detail), 0)
        if sign * held[rule.name] < 0:
            held[rule.name] = 0.0
    return held


def _evidence(units: pd.DataFrame, label: np.ndarray) -> pd.DataFrame:
    base = max(label.mean(), 1e-9)
    rows = []
    for name in units.columns:
        fires = units[name].to_numpy() > 0
        rate_fires = label[fires].mean() if fires.any() else np.nan
        rate_not = label[~fires].mean() if (~fires).any() else np.nan
        rows.append(
            {
                "rule": name,
                "fires_share": fires.mean(),
                "sql_rate_when_fires": rate_fires,
                "sql_rate_otherwise": rate_not,
                "lift": rate_fires / base if fires.any() else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("rule")


def handoff_volume(
    rows: pd.DataFrame,
    current_leads: int,
    *,
    target_mql_per_week: float | None = None,
    historical_mql_per_week: float | None = None,
) -> tuple[int, str]:
    """How many leads of ``rows`` the suggested threshold hands off, and the rule that said so.

    Volumes are leads, as MQLs are (a lead counts once, however many of its snapshot rows
    qualify). In order: the target a person gave; the current rulebook's volume on these
    rows; the historical MQL volume (from the outcomes' ``mql_at``); else the top
    ``DEFAULT_HANDOFF_SHARE`` of the leads. A rulebook that hands off nobody never sets the
    volume: that would propose a threshold nothing reaches.
    """
    weeks = weeks_spanned(rows["cutoff_at"])
    if target_mql_per_week:
        return round(target_mql_per_week * weeks), f"the target of {target_mql_per_week:g} a week"
    if current_leads > 0:
        return current_leads, "the current rulebook's volume on the validation period"
    if historical_mql_per_week:
        return (
            round(historical_mql_per_week * weeks),
            f"the historical MQL volume, {historical_mql_per_week:.1f} leads a week from mql_at",
        )
    return (
        default_handoff_leads(rows),
        f"the top {DEFAULT_HANDOFF_SHARE:.0%} of leads a week (no MQL history)",
    )


def threshold_for_leads(
    rows: pd.DataFrame, points: np.ndarray, passes: np.ndarray, leads: int
) -> float:
    """The points threshold that hands off at most ``leads`` leads of ``rows``: a lead is
    handed off when any of its rows reaches the threshold or passes, so each lead is judged
    by its best row."""
    per_lead = (
        pd.DataFrame({"lead": rows[schema.LEAD_ID].to_numpy(), "points": points, "passed": passes})
        .groupby("lead", sort=False)
        .agg(points=("points", "max"), passed=("passed", "any"))
    )
    return threshold_for_volume(per_lead["points"].to_numpy(), per_lead["passed"].to_numpy(), leads)


def suggest(
    rulebook: Rulebook,
    spec: FeatureSpec,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    *,
    test: pd.DataFrame | None = None,
    target_mql_per_week: float | None = None,
    historical_mql_per_week: float | None = None,
    max_new_rules: int = 8,
) -> Suggestion:
    """A reviewable rulebook with points from history, its evidence and its figures.

    Works from an empty rulebook too: then every rule is new, points take the range
    ``DEFAULT_POINT_RANGE`` and the hand-off volume follows :func:`handoff_volume`.
    """
    from leadscore.training.model.rules import RuleScorer

    candidates = candidate_rules(spec, rulebook, train)
    rules = [*rulebook.rules, *candidates]
    if not rules:
        raise ValueError(
            "nothing to suggest from: the spec has no categorical attribute with a frequent "
            "level and no single-type activity signal"
        )
    units = rule_units(rules, spec, train)
    valid_units = rule_units(rules, spec, validation)
    label, valid_label = train[LABEL].to_numpy(int), validation[LABEL].to_numpy(int)
    new_passes = instant_pass_candidates(candidates, units, label, valid_units, valid_label)
    pass_names = {p.name for p in new_passes}
    candidates = [c for c in candidates if c.name not in pass_names]
    rules = [r for r in rules if r.name not in pass_names]
    model = _fit(units[[r.name for r in rules]], label, valid_units[[r.name for r in rules]],
                 valid_label)  # fmt: skip
    coefs = pd.Series(model.coef_[0], index=[r.name for r in rules])
    reference = max((abs(r.points) for r in rulebook.rules), default=DEFAULT_POINT_RANGE)
    points = (coefs * reference / max(coefs.abs().max(), 1e-9)).round()
    points = held_to_directions(points, rules, spec)
    keep_new = (
        points[[c.name for c in candidates]]
        .loc[lambda p: p.abs() >= 2]
        .abs()
        .mul(units[[c.name for c in candidates]].gt(0).mean())
        .sort_values(ascending=False)
        .index[:max_new_rules]
    )
    suggested_rules = []
    for rule in rules:
        if rule in candidates and rule.name not in keep_new:
            continue
        new_points = float(points[rule.name])
        if new_points == 0 and rule in candidates:
            continue
        update: dict = {"points": new_points}
        if rule.activity is not None and (rule.cap is not None):
            occurrences = _occurrence_cap(rule)
            update["cap"] = new_points * occurrences if new_points else None
        suggested_rules.append(rule.model_copy(update=update))
    # a rule with 0 points is kept (so the diff shows the proposal to drop it) but gives nothing
    draft = rulebook.model_copy(
        update={
            "rules": tuple(suggested_rules),
            "instant_pass": (*rulebook.instant_pass, *new_passes),
        }
    )

    current = RuleScorer(rulebook, spec).fit(validation)
    handed_now = current.predict(validation).astype(bool)
    volume, volume_rule = handoff_volume(
        validation,
        validation.loc[handed_now, schema.LEAD_ID].nunique(),
        target_mql_per_week=target_mql_per_week,
        historical_mql_per_week=historical_mql_per_week,
    )
    threshold = threshold_for_leads(
        validation, _points(draft, spec, validation), _passes(draft, spec, validation), volume
    )
    if np.isfinite(threshold):
        threshold = float(np.ceil(threshold))
    suggested = draft.model_copy(update={"mql_threshold": threshold})
    if not suggested.grades.fit and not suggested.grades.engagement:
        suggested = suggested.model_copy(update={"grades": _grades(suggested, spec, train)})

    metrics = {}
    for period, rows in (("validation", validation), ("test", test)):
        if rows is None or rows.empty:
            continue
        passes = current.instant_passes(rows).any(axis=1).to_numpy()
        new = _passes(suggested, spec, rows)
        now = current.decision_function(rows)
        proposed = _points(suggested, spec, rows)
        metrics[f"now, {period}"] = handoff_metrics(
            rows, now, (now >= rulebook.mql_threshold) | passes
        )
        metrics[f"suggested, {period}"] = handoff_metrics(
            rows, proposed, (proposed >= suggested.mql_threshold) | new
        )
        # the same hand-off volume as the current rulebook in this period: a like-for-like look
        volume_now = metrics[f"now, {period}"]["mql_rows"]
        if volume_now:
            metrics[f"suggested at now's volume, {period}"] = handoff_metrics(
                rows, proposed, top_k_handoff(proposed, new, volume_now)
            )
    evidence = _evidence(units, label)
    now_points = {r.name: r.points for r in rulebook.rules}
    status = {r.name: "kept" for r in rulebook.rules} | {n: "new instant pass" for n in pass_names}
    status |= {n: "new" for n in keep_new}
    evidence.insert(0, "points_now", evidence.index.map(lambda n: now_points.get(n, np.nan)))
    evidence.insert(1, "points_suggested", points.reindex(evidence.index))
    evidence.insert(0, "status", evidence.index.map(lambda n: status.get(n, "not proposed")))
    diff = "".join(
        difflib.unified_diff(
            dump_rulebook(rulebook).splitlines(keepends=True),
            dump_rulebook(suggested).splitlines(keepends=True),
            "rulebook (current)",
            "rulebook (suggested)",
        )
    )
    return Suggestion(suggested, evidence, pd.DataFrame(metrics).T, diff, volume_rule)


def _passes(rulebook: Rulebook, spec: FeatureSpec, rows: pd.DataFrame) -> np.ndarray:
    """Rows where one of the rulebook's instant passes fired (compiled or not yet)."""
    fired = np.zeros(len(rows), bool)
    for trigger in rulebook.instant_pass:
        fired |= behaviour_units(rows, trigger, spec) > 0  # type: ignore[arg-type]
    return fired


def _grades(rulebook: Rulebook, spec: FeatureSpec, rows: pd.DataFrame) -> Grades:
    """Grade floors for a rulebook that had none: quartiles of its positive fit and
    engagement points on the train period, so A/1 are the top quarter of leads that score."""
    floors: dict[str, dict[str, float]] = {}
    units = rule_units(list(rulebook.rules), spec, rows)
    for kind, names in (("fit", ("A", "B", "C")), ("engagement", ("1", "2", "3"))):
        total = sum(
            (capped_points(units[r.name].to_numpy(), r) for r in rulebook.rules if r.kind == kind),
            np.zeros(len(rows)),
        )
        positive = total[total > 0]
        if positive.size:
            quantiles = np.quantile(positive, (0.75, 0.5, 0.0))
            floors[kind] = {
                name: float(np.ceil(q)) for name, q in zip(names, quantiles, strict=True)
            }
    return Grades(fit=floors.get("fit", {}), engagement=floors.get("engagement", {}))


def _points(rulebook: Rulebook, spec: FeatureSpec, rows: pd.DataFrame) -> np.ndarray:
    """Total points of a rulebook whose new rules are not compiled into ``rows`` yet."""
    units = rule_units(list(rulebook.rules), spec, rows)
    return sum(
        (capped_points(units[rule.name].to_numpy(), rule) for rule in rulebook.rules),
        np.zeros(len(rows)),
    )

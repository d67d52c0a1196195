"""The hand-off sheet: what a sales rep reads in ten seconds before calling a lead.

Score, tier, fit x engagement grade, top reasons, the rulebook's points breakdown, the recent
activity timeline, what is still unknown (budget, authority, need, timing, where the export has
such fields), the recommended next step and the follow-up deadline from the policy. Rendered as
JSON for systems and as one self-contained HTML page for people (Jinja2, autoescaped, so nothing
a lead typed into a form can inject markup).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jinja2
import pandas as pd

from leadscore.features import schema
from leadscore.features.contract import FlatShape, empty_activities, is_empty, load_export
from leadscore.features.infer import organisation_column
from leadscore.features.offline import connect, flat_feature_rows
from leadscore.features.reading import ExportFormat
from leadscore.serving.batch import flat_as_of, flat_file_rows
from leadscore.serving.scoring import check_language, is_flat, online_rows, score_features
from leadscore.serving.team_clock import (
    deadline_text,
    follow_up_deadline,
    moment_text,
    on_team_clock,
    team_time_zone,
)
from leadscore.training.model.artifact import load_model
from leadscore.training.model.explain import scorer_catalog
from leadscore.training.model.rows import FeatureRows
from leadscore.training.model.scorer import LeadScorer
from leadscore.training.model.wording import activity_words

_BANT = {
    "budget": r"budget|予算",
    "authority": r"authority|decision_?maker|決裁",
    "need": r"need|pain|use_?case|ニーズ|課題",
    "timing": r"timing|timeline|time_?frame|導入時期|導入予定|検討時期",
}
_TEXT = {
    "en": {
        "title": "Hand-off sheet", "score": "Score", "tier": "Tier", "grade": "Grade",
        "p_sql": "Chance of SQL within {h} days", "why": "Why", "against": "Against",
        "p_label": "Chance of '{label}'",
        "points": "Rulebook points", "timeline": "Recent activity", "unknown": "Still unknown",
        "next": "Next step", "deadline": "Follow up by", "none": "nothing recorded",
        "no_fields": "the export has no budget, authority, need or timing fields: ask all four",
        "call": "Call now: confirm the request, qualify budget, authority, need and timing",
        "sdr": "Sales development call: open with {reason}",
        "nurture": "Keep in nurture; no sales call yet",
        "times": "Times in {zone}",
        "budget": "budget", "authority": "authority", "need": "need", "timing": "timing",
    },
    "ja": {
        "title": "営業引き継ぎシート", "score": "スコア", "tier": "ランク", "grade": "グレード",
        "p_sql": "{h}日以内に商談化する確率", "why": "有望な理由", "against": "懸念点",
        "p_label": "「{label}」の確率",
        "points": "スコアリングルールの内訳", "timeline": "最近の行動", "unknown": "未確認事項",
        "next": "次のアクション", "deadline": "対応期限", "none": "記録なし",
        "no_fields": "予算・決裁権・ニーズ・導入時期の項目がエクスポートにありません。"
                     "4点とも確認してください",
        "call": "すぐに電話：依頼内容を確認し、予算・決裁権・ニーズ・導入時期をヒアリング",
        "sdr": "インサイドセールスから連絡：「{reason}」を切り口に",
        "nurture": "ナーチャリングを継続（まだ営業連絡は不要）",
        "times": "時刻は{zone}",
        "budget": "予算", "authority": "決裁権", "need": "ニーズ", "timing": "導入時期",
    },
}  # fmt: skip
# one colour per tier, from hot to cold, each with white text at a readable contrast
TIER_COLOURS = {"A": "#1b7f3b", "B": "#1f5fa8", "C": "#a35c00", "D": "#5f6670"}
OTHER_TIER_COLOUR = "#444a52"

_HTML = jinja2.Environment(autoescape=True).from_string(
    """<!doctype html><html lang="{{ lang }}"><head><meta charset="utf-8">
<title>{{ t.title }} {{ s.lead_id }}</title>
<style>body{font-family:sans-serif;max-width:46rem;margin:2rem auto;color:#222}
.big{font-size:2.4rem;font-weight:bold}.tier{padding:.2rem .6rem;border-radius:.3rem;
color:#fff}td{padding:.15rem .6rem}.neg{color:#a33}.pos{color:#264}.company{color:#555}
.note{color:#666;font-size:.9rem}</style>
</head><body><h1>{{ t.title }} — {{ s.lead_id }}{% if s.company %}
<span class="company">{{ s.company }}</span>{% endif %}</h1>
<p><span class="big">{{ s.score }}</span> / 100 &nbsp; <span class="tier" data-tier="{{ s.tier }}"
style="background:{{ colour }}">{{ t.tier }} {{ s.tier }}</span> &nbsp; {{ s.tier_meaning }}
&nbsp; {{ t.grade }} {{ s.grade }} &nbsp; {{ s.p_sql_label }}:
{{ "%.1f"|format(s.p_sql * 100) }}%</p>
<p><b>{{ t.next }}:</b> {{ s.next_step }}<br><b>{{ t.deadline }}:</b> {{ s.follow_up_by_text }}</p>
<h2>{{ t.why }}</h2><ul>{% for r in s.reasons.positive %}<li class="pos">{{ r.text }}</li>
{% else %}<li>{{ t.none }}</li>{% endfor %}</ul>
<h2>{{ t.against }}</h2><ul>{% for r in s.reasons.negative %}<li class="neg">{{ r.text }}</li>
{% else %}<li>{{ t.none }}</li>{% endfor %}</ul>
<h2>{{ t.points }}</h2><p>{{ s.rule_breakdown }}</p>
<h2>{{ t.unknown }}</h2><ul>{% for u in s.unknown %}<li>{{ u }}</li>{% endfor %}</ul>
{% if s.timeline is not none %}<h2>{{ t.timeline }}</h2><p class="note">{{ times }}</p>
<table>{% for a in s.timeline %}
<tr><td>{{ a.when }}</td><td>{{ a.activity }}</td><td>{{ a.detail }}</td></tr>
{% else %}<tr><td>{{ t.none }}</td></tr>{% endfor %}</table>{% endif %}</body></html>"""
)


def unknowns(lead: dict, lang: str) -> list[str]:
    """BANT fields the export has but this lead leaves empty, or a note that none exist."""
    columns = {c: v for c, v in lead.items() if isinstance(c, str)}
    found, empty = [], []
    for topic, pattern in _BANT.items():
        matches = [c for c in columns if re.search(pattern, c, re.IGNORECASE)]
        found += matches
        empty += [f"{_TEXT[lang][topic]}: {c}" for c in matches if is_empty(columns[c])]
    return empty if found else [_TEXT[lang]["no_fields"]]


def company_of(lead: dict) -> str | None:
    """The lead's company as the export names it, for the rep to read beside the id."""
    column = organisation_column(c for c in lead if isinstance(c, str))
    value = lead.get(column) if column else None
    return None if value is None or is_empty(value) else str(value)


def handoff_sheet(
    scorer: LeadScorer,
    features: pd.DataFrame | FeatureRows,
    lead: dict,
    activities: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    lang: str = "en",
    time_zone: str | None = None,
) -> dict:
    """The sheet of one lead (``features`` is its single feature row) as a JSON-ready dict.

    Times are on the team's clock (:func:`serving.team_clock.team_time_zone`; ``time_zone``
    overrides), as ISO 8601 with their offset for systems and in the language's words for
    people; activities are named in words from the model's catalog. A flat model's sheet has
    no timeline (``None``): its file records no activities, and "nothing recorded" would say
    the lead did nothing.
    """
    text = _TEXT[lang]
    zone = team_time_zone(scorer, lang, time_zone)
    result = score_features(scorer, features, lang=lang)
    scored = result.table.iloc[0]
    explained, _ = result.reasons_of(0)
    if scored["decision"] == "hand off":
        step = text["call"]
    elif scored["tier"] in ("A", "B") and explained["positive"]:
        step = text["sdr"].format(reason=explained["positive"][0]["text"])
    else:
        step = text["nurture"]
    policy = scorer.in_force()
    deadline = follow_up_deadline(as_of, str(scored["decision"]), policy)
    catalog = scorer_catalog(scorer)
    recent = activities[activities[schema.OCCURRED_AT] <= as_of].sort_values(schema.OCCURRED_AT)
    timeline = [
        {
            "occurred_at": on_team_clock(row[schema.OCCURRED_AT], zone).isoformat(),
            "when": moment_text(row[schema.OCCURRED_AT], zone, lang, year=False),
            "activity_type": str(row[schema.ACTIVITY_TYPE]),
            "activity": activity_words(
                catalog, str(row[schema.ACTIVITY_TYPE]), row.get(schema.DETAIL), lang
            ),
            "detail": "" if pd.isna(row.get(schema.DETAIL)) else str(row.get(schema.DETAIL)),
        }
        for _, row in recent.tail(10).iloc[::-1].iterrows()
    ]
    tier = str(scored["tier"])
    return {
        "lead_id": getattr(lead[schema.LEAD_ID], "item", lambda: lead[schema.LEAD_ID])(),
        "company": company_of(lead),
        "as_of": on_team_clock(as_of, zone).isoformat(),
        "time_zone": zone,
        "p_sql": float(scored["p_sql"]),
        "p_sql_label": _chance_of(scorer, text),
        "score": int(scored["score"]),
        "tier": tier,
        "tier_meaning": policy.tiers[tier].meaning_in(lang) if tier in policy.tiers else "",
        "grade": str(scored["grade"]),
        "decision": str(scored["decision"]),
        "reasons": explained,
        "rule_breakdown": result.breakdown_text(0, lang),
        "rule_points": float(scored["rule_points"]),
        # a flat model's file has no activities: no timeline, rather than an empty one
        "timeline": None if is_flat(scorer) else timeline,
        "unknown": unknowns(lead, lang),
        "next_step": step,
        "follow_up_by": on_team_clock(deadline, zone).isoformat() if deadline else None,
        "follow_up_by_text": deadline_text(deadline, zone, lang),
        "model_version": scorer.metadata.get("model_version"),
    }


def _chance_of(scorer: LeadScorer, text: dict[str, str]) -> str:
    """What the probability is of: SQL within the spec's days, or for a flat model the label
    its file had ('受注'), which carries no horizon."""
    shape = FlatShape.from_metadata(scorer.metadata)
    if shape is not None:
        return text["p_label"].format(label=shape.label_column)
    return text["p_sql"].format(h=scorer.spec.sql_within_days)


def _the_lead(leads: pd.DataFrame, lead_id: str, path: Path) -> pd.DataFrame:
    """The row of ``lead_id`` (as typed on the command line) among ``leads``, or a ValueError."""
    ids = leads[schema.LEAD_ID]
    wanted = int(lead_id) if pd.api.types.is_integer_dtype(ids) and lead_id.isdigit() else lead_id
    match = leads[ids == wanted]
    if match.empty:
        raise ValueError(f"lead_id {lead_id} is not in {path.name}")
    return match


def render_html(sheet: dict, lang: str = "en") -> str:
    zone = sheet.get("time_zone") or "UTC"
    return _HTML.render(
        s=sheet,
        t=_TEXT[lang],
        lang=lang,
        colour=TIER_COLOURS.get(sheet["tier"], OTHER_TIER_COLOUR),
        times=_TEXT[lang]["times"].format(zone=zone),
    )


def write_handoff_sheet(
    model: Path,
    lead_id: str,
    leads: Path,
    out: Path,
    *,
    activities: Path | None = None,
    as_of: str | None = None,
    lang: str = "en",
    fmt: ExportFormat | None = None,
    time_zone: str | None = None,
) -> dict:
    """`leadscore explain`: the sheet of lead ``lead_id`` of an export, scored by the model
    directory ``model`` and written to ``out`` (.json for systems, else HTML for people).

    The export is read the way the model's was (its remembered format, with ``fmt`` on top);
    the lead is seen as of ``as_of`` (ISO 8601; default: the latest time in the input), and
    its times are read on ``time_zone``'s clock (default: the team's, see
    :mod:`serving.team_clock`). Returns the sheet.
    """
    check_language(lang)
    scorer = load_model(model)
    fmt = ExportFormat.remembered(scorer.metadata, fmt)
    if is_flat(scorer):  # the next file of its shape, as `score` reads it
        rows = flat_file_rows(scorer, leads, activities, fmt)
        match = _the_lead(rows, lead_id, leads)
        history = empty_activities(rows[schema.LEAD_ID].dtype)
        moment = flat_as_of(rows, as_of)
        if schema.CREATED_AT in match and match[schema.CREATED_AT].iloc[0] > moment:
            raise ValueError(f"lead_id {lead_id} was created after {moment:%Y-%m-%d %H:%M} UTC")
        features = flat_feature_rows(connect(), match, scorer.spec)
    else:
        export = load_export(leads, activities, fmt=fmt)
        match = _the_lead(export.leads, lead_id, leads)
        wanted = match[schema.LEAD_ID].iloc[0]
        history = export.activities[export.activities[schema.LEAD_ID] == wanted]
        if history.empty:
            history = empty_activities(export.leads[schema.LEAD_ID].dtype)
        moment = schema.utc_timestamp(as_of if as_of else max(
            [export.leads[schema.CREATED_AT].max(), export.activities[schema.OCCURRED_AT].max()]
            if len(export.activities) else [export.leads[schema.CREATED_AT].max()]
        ))  # fmt: skip
        features = online_rows(scorer, [match.iloc[0].to_dict()], [history], [moment])
    lead = match.iloc[0].to_dict()
    sheet = handoff_sheet(scorer, features, lead, history, moment, lang=lang, time_zone=time_zone)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".json":
        out.write_text(json.dumps(sheet, indent=2, ensure_ascii=False, default=str))
    else:
        out.write_text(render_html(sheet, lang))
    return sheet

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
from leadscore.features.contract import empty_activities, is_empty, load_export
from leadscore.features.reading import ExportFormat
from leadscore.serving.scoring import check_language, online_rows, score_features
from leadscore.training.model.artifact import load_model
from leadscore.training.model.rows import FeatureRows
from leadscore.training.model.scorer import LeadScorer

_BANT = {
    "budget": r"budget",
    "authority": r"authority|decision_?maker",
    "need": r"need|pain|use_?case",
    "timing": r"timing|timeline|time_?frame",
}
_TEXT = {
    "en": {
        "title": "Hand-off sheet", "score": "Score", "tier": "Tier", "grade": "Grade",
        "p_sql": "Chance of SQL within {h} days", "why": "Why", "against": "Against",
        "points": "Rulebook points", "timeline": "Recent activity", "unknown": "Still unknown",
        "next": "Next step", "deadline": "Follow up by", "none": "nothing recorded",
        "no_fields": "the export has no budget, authority, need or timing fields: ask all four",
        "call": "Call now: confirm the request, qualify budget, authority, need and timing",
        "sdr": "Sales development call: open with {reason}",
        "nurture": "Keep in nurture; no sales call yet",
    },
    "ja": {
        "title": "営業引き継ぎシート", "score": "スコア", "tier": "ティア", "grade": "グレード",
        "p_sql": "{h}日以内にSQLになる確率", "why": "理由", "against": "懸念点",
        "points": "ルールブックのポイント", "timeline": "最近の行動", "unknown": "未確認事項",
        "next": "次のアクション", "deadline": "対応期限", "none": "記録なし",
        "no_fields": "予算・決裁権・ニーズ・時期の項目がエクスポートにありません。"
                     "4点とも確認してください",
        "call": "すぐに電話：依頼内容を確認し、予算・決裁権・ニーズ・時期をヒアリング",
        "sdr": "インサイドセールスから連絡：「{reason}」を切り口に",
        "nurture": "ナーチャリングを継続（まだ営業連絡は不要）",
    },
}  # fmt: skip

_HTML = jinja2.Environment(autoescape=True).from_string(
    """<!doctype html><html lang="{{ lang }}"><head><meta charset="utf-8">
<title>{{ t.title }} {{ s.lead_id }}</title>
<style>body{font-family:sans-serif;max-width:46rem;margin:2rem auto;color:#222}
.big{font-size:2.4rem;font-weight:bold}.tier{padding:.2rem .6rem;border-radius:.3rem;
background:#264;color:#fff}td{padding:.15rem .6rem}.neg{color:#a33}.pos{color:#264}</style>
</head><body><h1>{{ t.title }} — {{ s.lead_id }}</h1>
<p><span class="big">{{ s.score }}</span> / 100 &nbsp; <span class="tier">{{ t.tier }}
{{ s.tier }}</span> &nbsp; {{ t.grade }} {{ s.grade }} &nbsp; {{ s.p_sql_label }}:
{{ "%.1f"|format(s.p_sql * 100) }}%</p>
<p><b>{{ t.next }}:</b> {{ s.next_step }}<br><b>{{ t.deadline }}:</b> {{ s.follow_up_by }}</p>
<h2>{{ t.why }}</h2><ul>{% for r in s.reasons.positive %}<li class="pos">{{ r.text }}</li>
{% else %}<li>{{ t.none }}</li>{% endfor %}</ul>
<h2>{{ t.against }}</h2><ul>{% for r in s.reasons.negative %}<li class="neg">{{ r.text }}</li>
{% else %}<li>{{ t.none }}</li>{% endfor %}</ul>
<h2>{{ t.points }}</h2><p>{{ s.rule_breakdown }}</p>
<h2>{{ t.unknown }}</h2><ul>{% for u in s.unknown %}<li>{{ u }}</li>{% endfor %}</ul>
<h2>{{ t.timeline }}</h2><table>{% for a in s.timeline %}<tr><td>{{ a.occurred_at }}</td>
<td>{{ a.activity_type }}</td><td>{{ a.detail }}</td></tr>{% else %}<tr><td>{{ t.none }}</td></tr>
{% endfor %}</table></body></html>"""
)


def unknowns(lead: dict, lang: str) -> list[str]:
    """BANT fields the export has but this lead leaves empty, or a note that none exist."""
    columns = {c: v for c, v in lead.items() if isinstance(c, str)}
    found, empty = [], []
    for topic, pattern in _BANT.items():
        matches = [c for c in columns if re.search(pattern, c, re.IGNORECASE)]
        found += matches
        empty += [f"{topic}: {c}" for c in matches if is_empty(columns[c])]
    return empty if found else [_TEXT[lang]["no_fields"]]


def handoff_sheet(
    scorer: LeadScorer,
    features: pd.DataFrame | FeatureRows,
    lead: dict,
    activities: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    lang: str = "en",
) -> dict:
    """The sheet of one lead (``features`` is its single feature row) as a JSON-ready dict."""
    text = _TEXT[lang]
    result = score_features(scorer, features, lang=lang)
    scored = result.table.iloc[0]
    explained, _ = result.reasons_of(0)
    breakdown = result.breakdown_text(0)
    if scored["decision"] == "hand off":
        step = text["call"]
    elif scored["tier"] in ("A", "B") and explained["positive"]:
        step = text["sdr"].format(reason=explained["positive"][0]["text"])
    else:
        step = text["nurture"]
    policy = scorer.in_force()
    hours = policy.sla_hours
    deadline = as_of + pd.Timedelta(hours=hours) if scored["decision"] == "hand off" else None
    recent = activities[activities[schema.OCCURRED_AT] <= as_of].sort_values(schema.OCCURRED_AT)
    timeline = [
        {
            "occurred_at": f"{row[schema.OCCURRED_AT]:%Y-%m-%d %H:%M}",
            "activity_type": str(row[schema.ACTIVITY_TYPE]),
            "detail": "" if pd.isna(row.get(schema.DETAIL)) else str(row.get(schema.DETAIL)),
        }
        for _, row in recent.tail(10).iloc[::-1].iterrows()
    ]
    return {
        "lead_id": getattr(lead[schema.LEAD_ID], "item", lambda: lead[schema.LEAD_ID])(),
        "as_of": as_of.isoformat(),
        "p_sql": float(scored["p_sql"]),
        "p_sql_label": text["p_sql"].format(h=scorer.spec.sql_within_days),
        "score": int(scored["score"]),
        "tier": str(scored["tier"]),
        "tier_meaning": policy.tiers[scored["tier"]].meaning,
        "grade": str(scored["grade"]),
        "decision": str(scored["decision"]),
        "reasons": explained,
        "rule_breakdown": breakdown,
        "rule_points": float(scored["rule_points"]),
        "timeline": timeline,
        "unknown": unknowns(lead, lang),
        "next_step": step,
        "follow_up_by": deadline.isoformat() if deadline is not None else "—",
        "model_version": scorer.metadata.get("model_version"),
    }


def render_html(sheet: dict, lang: str = "en") -> str:
    return _HTML.render(s=sheet, t=_TEXT[lang], lang=lang)


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
) -> dict:
    """`leadscore explain`: the sheet of lead ``lead_id`` of an export, scored by the model
    directory ``model`` and written to ``out`` (.json for systems, else HTML for people).

    The export is read the way the model's was (its remembered format, with ``fmt`` on top);
    the lead is seen as of ``as_of`` (ISO 8601; default: the latest time in the input).
    Returns the sheet.
    """
    check_language(lang)
    scorer = load_model(model)
    export = load_export(leads, activities, fmt=ExportFormat.remembered(scorer.metadata, fmt))
    ids = export.leads[schema.LEAD_ID]
    wanted = int(lead_id) if pd.api.types.is_integer_dtype(ids) and lead_id.isdigit() else lead_id
    match = export.leads[ids == wanted]
    if match.empty:
        raise ValueError(f"lead_id {lead_id} is not in {leads.name}")
    lead = match.iloc[0].to_dict()
    history = export.activities[export.activities[schema.LEAD_ID] == wanted]
    if history.empty:
        history = empty_activities(ids.dtype)
    moment = schema.utc_timestamp(as_of if as_of else max(
        [export.leads[schema.CREATED_AT].max(), export.activities[schema.OCCURRED_AT].max()]
        if len(export.activities) else [export.leads[schema.CREATED_AT].max()]
    ))  # fmt: skip
    features = online_rows(scorer, [lead], [history], [moment])
    sheet = handoff_sheet(scorer, features, lead, history, moment, lang=lang)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".json":
        out.write_text(json.dumps(sheet, indent=2, ensure_ascii=False, default=str))
    else:
        out.write_text(render_html(sheet, lang))
    return sheet

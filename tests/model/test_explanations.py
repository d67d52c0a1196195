"""Explanations sales can trust: exact, worded from the catalog, stable where they should be."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.features import schema
from leadscore.features.infer import created_attributes
from leadscore.features.offline import CUTOFF_AT, feature_table
from leadscore.features.online import online_features
from leadscore.features.sources import from_files
from leadscore.features.spec import load_spec
from leadscore.serving.handoff import handoff_sheet, render_html
from leadscore.training.model.artifact import load_model
from leadscore.training.model.explain import BASE, concept_of, contributions, reasons
from leadscore.training.model.rulebook import compile_rules, load_rulebook
from leadscore.training.model.scorer import hand_raise_inputs
from leadscore.training.model.wording import LANGUAGES, generated_text, load_catalog

pytestmark = pytest.mark.xdist_group("trained_world")  # the shared world: one worker builds it

SPEC_PATH = Path(__file__).resolve().parents[2] / "features" / "default_spec.yaml"


@pytest.fixture(scope="module")
def fitted(trained_world):
    """(simulated world, the scorer `leadscore train` made of it, its training set rows)."""
    return (
        trained_world.simulated,
        load_model(trained_world.model),
        pd.read_parquet(trained_world.training_set),
    )


def test_contributions_add_up_to_the_logit_for_random_leads(fitted):
    _, scorer, rows = fitted
    sample = rows.sample(400, random_state=1)
    terms = contributions(scorer, sample)
    p = scorer.probability(sample)
    np.testing.assert_allclose(terms.sum(axis=1), np.log(p / (1 - p)), atol=1e-6)
    assert BASE in terms.columns and any(c.startswith("rule:") for c in terms.columns)


def test_every_default_feature_and_rule_has_catalog_words_in_both_languages():
    catalog = load_catalog()
    rulebook = load_rulebook()
    spec = compile_rules(rulebook, load_spec(SPEC_PATH))
    terms = [*spec.feature_names(), "rule_points", "instant_pass"]
    terms += [f"rule:{r.name}" for r in rulebook.rules]
    # and the creation weekday and hour, which spec inference adds to an export's own spec
    leads = pd.DataFrame({"lead_id": [1], "created_at": ["2025-01-06T10:00:00Z"]})
    terms += [a.name for a in created_attributes(leads, "UTC")[0]]
    for term in terms:
        concept = concept_of(term, catalog)
        assert concept is not None, f"{term} has no concept in the reason catalog"
        assert set(LANGUAGES) <= set(catalog[concept].texts), concept
    # every feature a template names exists, so no template prints 'unknown' by mistake
    for concept in catalog.values():
        for text in [*concept.texts.values(), *concept.none_texts.values()]:
            for name in __import__("re").findall(r"\{(\w+)", text):
                assert name in terms, f"{concept.key} names {name}"


def test_a_feature_without_catalog_entry_reads_as_words_not_a_column():
    text = generated_text("whitepaper_views_count_30d", 3.0, "en")
    assert text == "Whitepaper views count (last 30 days): 3"
    assert "_" not in text


def test_a_demo_request_never_shows_as_a_negative_reason(fitted):
    _, scorer, rows = fitted
    asked = rows[rows["demo_request_count_30d"] > 0]
    assert len(asked) > 20
    for items in reasons(scorer, asked, top=5):
        assert "inbound_request" not in [r["concept"] for r in items["negative"]]


@pytest.fixture(scope="module")
def scored_export(trained_world, tmp_path_factory):
    """The shared trained world scored as a user would: `leadscore score` on its export."""
    scores = tmp_path_factory.mktemp("scored") / "scores.parquet"
    paths = trained_world.export
    result = CliRunner().invoke(
        app,
        ["score", "--model", str(trained_world.model), "--leads", str(paths["leads"]),
         "--activities", str(paths["activities"]), "--output", str(scores)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return trained_world.run, paths, pd.read_parquet(scores)


def test_no_lead_that_asked_for_a_demo_or_quote_sees_it_as_a_reason_against(scored_export):
    run, paths, scores = scored_export
    scorer = load_model(run / "model")
    source = from_files(paths["leads"], paths["activities"], None)
    cutoffs = source.leads.select(
        schema.LEAD_ID,
        **{CUTOFF_AT: ibis.literal(scores["as_of"].iloc[0], type="timestamp('UTC')")},
    )
    features = source.con.to_pyarrow(
        feature_table(cutoffs, source.leads, source.activities, scorer.spec)
    ).to_pandas()
    counted, _ = hand_raise_inputs(scorer.spec)
    counts = [c for c in counted if c in features.columns]
    asked = set(features.loc[features[counts].gt(0).any(axis=1), schema.LEAD_ID])
    assert len(asked) > 50  # the world's hand-raisers, within the features' windows
    against = [
        lead
        for lead, items in zip(scores[schema.LEAD_ID], scores["reasons_json"], strict=True)
        if lead in asked
        and "inbound_request" in [r["concept"] for r in json.loads(items)["negative"]]
    ]
    assert not against, f"{len(against)} leads that asked read it as a reason against them"


def test_renaming_the_company_or_changing_the_email_does_not_move_the_reasons(fitted):
    world, scorer, _rows = fitted
    lead = world.leads.iloc[42].to_dict()
    history = world.activities[world.activities[schema.LEAD_ID] == lead[schema.LEAD_ID]]
    as_of = history[schema.OCCURRED_AT].max()
    original = pd.DataFrame([online_features(lead, history, as_of, scorer.spec)])
    changed = dict(lead, company="Totally Different KK", email="someone.else@example.org")
    renamed = pd.DataFrame([online_features(changed, history, as_of, scorer.spec)])
    assert reasons(scorer, original) == reasons(scorer, renamed)
    assert scorer.probability(original) == pytest.approx(scorer.probability(renamed))


def test_reasons_read_in_japanese_and_english_with_the_leads_own_values(fitted):
    _, scorer, rows = fitted
    viewer = rows[rows["pricing_page_count_7d"] >= 2].head(30)
    texts = {
        lang: [
            r["text"]
            for items in reasons(scorer, viewer, lang=lang, top=10)
            for side in items.values()
            for r in side
        ]
        for lang in LANGUAGES
    }
    assert any(
        fnmatch.fnmatch(t, "Viewed the pricing page * times in the last 7 days*")
        for t in texts["en"]
    )
    assert any(fnmatch.fnmatch(t, "直近7日間に料金ページを*回閲覧*") for t in texts["ja"])


def test_the_hand_off_sheet_has_what_a_rep_needs_and_escapes_lead_input(fitted):
    world, scorer, _rows = fitted
    lead = world.leads.iloc[7].to_dict()
    history = world.activities[world.activities[schema.LEAD_ID] == lead[schema.LEAD_ID]].copy()
    history[schema.DETAIL] = history[schema.DETAIL].astype(object)
    history.iloc[-1, history.columns.get_loc(schema.DETAIL)] = "<script>alert(1)</script>"
    as_of = history[schema.OCCURRED_AT].max()
    features = pd.DataFrame([online_features(lead, history, as_of, scorer.spec)])
    sheet = handoff_sheet(scorer, features, lead, history, as_of, lang="ja")
    for key in ("score", "tier", "grade", "reasons", "rule_breakdown", "timeline", "unknown",
                "next_step", "follow_up_by"):  # fmt: skip
        assert key in sheet
    assert sheet["timeline"] and len(sheet["timeline"]) <= 10
    assert "予算" in sheet["unknown"][0]  # the synthetic export has no BANT fields: say so
    html = render_html(sheet, "ja")
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert lead["email"] not in html


def test_the_sheet_and_a_scored_file_tell_a_rep_the_same_about_a_lead(fitted):
    """One assembly (`score_features`) serves the file, the service, `explain` and the sheet:
    the same lead reads the same score, tier, reasons and points on each."""
    from leadscore.serving.scoring import online_rows, score_features

    world, scorer, _rows = fitted
    lead = world.leads.iloc[11].to_dict()
    history = world.activities[world.activities[schema.LEAD_ID] == lead[schema.LEAD_ID]]
    as_of = history[schema.OCCURRED_AT].max()
    rows = online_rows(scorer, [lead], [history], [as_of])
    sheet = handoff_sheet(scorer, rows, lead, history, as_of, lang="en")
    filed = score_features(scorer, rows, lang="en").as_columns("en").iloc[0]
    assert (sheet["score"], sheet["tier"], sheet["decision"]) == (
        int(filed["score"]), filed["tier"], filed["decision"],
    )  # fmt: skip
    assert json.loads(filed["reasons_json"]) == sheet["reasons"]
    points = json.loads(filed["rule_breakdown"])
    written = ", ".join(f"{r['rule']} {r['points']:+g}" for r in points) or "no points"
    assert sheet["rule_breakdown"] == written


JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def hottest(world, scorer, rows):
    """The hottest lead of the test period: its lead record, history and moment."""
    test = rows[rows["split"] == "test"]
    top = test.iloc[int(np.argmax(scorer.probability(test)))]
    lead = world.leads[world.leads[schema.LEAD_ID] == top[schema.LEAD_ID]].iloc[0].to_dict()
    history = world.activities[world.activities[schema.LEAD_ID] == top[schema.LEAD_ID]]
    return lead, history, top[CUTOFF_AT]


def test_a_japanese_sheet_reads_in_japanese_on_tokyo_time(fitted):
    # before: deadline 2026-07-01T23:59:59+00:00, timeline 'page_view', 'Manager', 'Apac',
    # 'no points', 'tier_meaning' in English, ティア
    from leadscore.serving.scoring import online_rows

    world, scorer, rows = fitted
    lead, history, as_of = hottest(world, scorer, rows)
    features = online_rows(scorer, [lead], [history], [as_of])
    sheet = handoff_sheet(scorer, features, lead, history, as_of, lang="ja")
    assert sheet["decision"] == "hand off" and sheet["tier"] == "A"
    assert sheet["time_zone"] == "Asia/Tokyo" and sheet["as_of"].endswith("+09:00")
    assert sheet["follow_up_by"].endswith("+09:00")
    assert re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日\(.\) \d{1,2}:\d{2} JST",
                        sheet["follow_up_by_text"])  # fmt: skip
    assert sheet["company"] == lead["company"]
    for item in sheet["timeline"]:
        assert item["occurred_at"].endswith("+09:00")
        assert re.fullmatch(r"\d{1,2}月\d{1,2}日\(.\) \d{1,2}:\d{2}", item["when"])
        assert JAPANESE.search(item["activity"]) and "_" not in item["activity"], item
    read = [r["text"] for side in sheet["reasons"].values() for r in side]
    read += [sheet["rule_breakdown"], sheet["tier_meaning"], sheet["next_step"],
             sheet["p_sql_label"], *sheet["unknown"]]  # fmt: skip
    read += [item["activity"] for item in sheet["timeline"]]
    for text in read:
        english = set(re.findall(r"[A-Za-z]{2,}", text)) - {"SLA", "Web", "SNS", "SQL"}
        assert not english, (text, english)
    html = render_html(sheet, "ja")
    assert "ランク A" in html and "ティア" not in html and lead["company"] in html


def test_the_sheet_keeps_the_teams_clock(fitted):
    from dataclasses import replace

    from leadscore.serving.scoring import online_rows

    world, scorer, rows = fitted
    lead, history, as_of = hottest(world, scorer, rows)
    features = online_rows(scorer, [lead], [history], [as_of])
    english = handoff_sheet(scorer, features, lead, history, as_of, lang="en")
    assert english["time_zone"] == "UTC" and english["follow_up_by_text"].endswith(" UTC")
    new_york = replace(scorer, policy=scorer.policy.amended(time_zone="America/New_York"))
    sheet = handoff_sheet(new_york, features, lead, history, as_of, lang="ja")
    assert sheet["time_zone"] == "America/New_York"
    assert sheet["follow_up_by"][-6:] in ("-04:00", "-05:00")
    deadline = pd.Timestamp(sheet["follow_up_by"])
    assert deadline == pd.Timestamp(as_of) + pd.Timedelta(hours=scorer.policy.sla_hours)
    asked = handoff_sheet(new_york, features, lead, history, as_of, time_zone="Europe/Berlin")
    assert asked["time_zone"] == "Europe/Berlin"


def test_a_first_pricing_view_never_lowers_the_score_whenever_it_came(fitted):
    # a first view 20 days ago changes the counts and the time since together: 'never viewed'
    # must not score above it (an empty recency once fell on the warm side of the trees)
    _, scorer, rows = fitted
    never = rows[rows["pricing_page_count_90d"] == 0].sample(800, random_state=8)
    for days_ago in (3, 20, 60):
        viewed = never.copy()
        viewed["pricing_page_recency_days"] = float(days_ago)
        for window in (7, 30, 90):
            viewed[f"pricing_page_count_{window}d"] = float(days_ago <= window)
        fell = scorer.probability(viewed) < scorer.probability(never) - 1e-12
        assert not fell.any(), f"{int(fell.sum())} leads fell with a first view {days_ago} days ago"

"""Directions in the feature spec: what marketing ops declares, and what `spec infer` proposes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadscore.features import schema
from leadscore.features.infer import infer
from leadscore.features.spec import SpecError, dump_spec, parse_spec
from tests.worlds import TEST_SPEC

START = pd.Timestamp("2025-01-01", tz="UTC")


def test_a_bad_direction_names_the_field_and_the_choices():
    raw = {"signals": [{"name": "pricing", "activity_types": ["page_view"], "direction": "more"}]}
    with pytest.raises(SpecError) as error:
        parse_spec(raw)
    assert "signals.0.direction" in str(error.value)
    assert "up, down, free" in str(error.value)
    raw = {"attributes": [{"name": "revenue", "column": "r", "kind": "numeric",
                           "direction": "higher"}]}  # fmt: skip
    with pytest.raises(SpecError, match=r"attributes\.0\.numeric\.direction"):
        parse_spec(raw)


def test_a_spec_that_declares_no_direction_keeps_its_fingerprint():
    # the fingerprint this spec had before directions existed: its models still load
    assert TEST_SPEC.fingerprint() == "cce421c67fbf"
    assert (
        parse_spec(
            yaml_round_trip := __import__("yaml").safe_load(dump_spec(TEST_SPEC))
        ).fingerprint()
        == "cce421c67fbf"
    ), yaml_round_trip


def test_a_declared_direction_changes_the_fingerprint_and_its_reason_does_not():
    signals = list(TEST_SPEC.signals)
    signals[2] = signals[2].model_copy(update={"direction": "up"})
    up = TEST_SPEC.model_copy(update={"signals": tuple(signals)})
    signals[2] = signals[2].model_copy(update={"direction_reason": "sales says so"})
    explained = TEST_SPEC.model_copy(update={"signals": tuple(signals)})
    assert up.fingerprint() != TEST_SPEC.fingerprint()
    assert explained.fingerprint() == up.fingerprint()
    assert "direction_reason: sales says so" in dump_spec(explained)


def _foreign_export(seed: int = 3, n: int = 800) -> tuple[pd.DataFrame, ...]:
    """Marketo- and Japanese-named activities; 'Web Session' has no telling name, but leads
    with more sessions in their first weeks become SQL more often afterwards."""
    rng = np.random.default_rng(seed)
    created = START + pd.to_timedelta(np.sort(rng.uniform(0, 200, n)), unit="D")
    leads = pd.DataFrame({schema.LEAD_ID: np.arange(1, n + 1), schema.CREATED_AT: created})
    visits = rng.poisson(1.5, n)
    sql = rng.random(n) < 0.03 + 0.08 * np.minimum(visits, 4)
    rows = []
    names = ["Fill Out Form", "Unsubscribe Email", "資料ダウンロード", "セミナー参加",
             "料金ページ閲覧", "お問い合わせ", "採用ページ閲覧", "Open Email"]  # fmt: skip
    for i in range(n):
        for _ in range(visits[i]):
            rows.append((i + 1, created[i] + pd.Timedelta(days=rng.uniform(0, 25)),
                         "Web Session"))  # fmt: skip
        for name in rng.choice(names, 3):
            rows.append((i + 1, created[i] + pd.Timedelta(days=rng.uniform(0, 60)), str(name)))
    activities = pd.DataFrame(rows, columns=[schema.LEAD_ID, schema.OCCURRED_AT,
                                             schema.ACTIVITY_TYPE])  # fmt: skip
    sql_at = created + pd.to_timedelta(rng.uniform(35, 60, n), unit="D")
    outcomes = pd.DataFrame({schema.LEAD_ID: leads[schema.LEAD_ID],
                             schema.SQL_AT: pd.Series(sql_at).where(sql)})  # fmt: skip
    return leads, activities, outcomes


def test_spec_infer_proposes_directions_from_foreign_and_japanese_names_and_history():
    leads, activities, outcomes = _foreign_export()
    inference = infer(leads, activities, (), outcomes=outcomes, evidence_share=1.0)
    directions = {s.name: s.direction for s in inference.spec.signals}
    assert directions == {
        "any_activity": "free", "web_session": "up", "fill_out_form": "up",
        "unsubscribe_email": "down", "資料ダウンロード": "up", "セミナー参加": "up",
        "料金ページ閲覧": "up", "お問い合わせ": "up", "採用ページ閲覧": "down",
        "open_email": "up",  # an opened email is interest, as in the default spec
    }  # fmt: skip
    reasons = {s.name: s.direction_reason for s in inference.spec.signals}
    assert reasons["web_session"].startswith("history: SQL")
    assert "'資料'" in reasons["資料ダウンロード"]
    written = dump_spec(inference.spec)
    assert "direction: up" in written and "direction_reason:" in written
    assert any(line.startswith("web_session: direction up") for line in inference.kept)


def test_a_japanese_export_and_its_english_twin_get_the_same_directions():
    # a Japanese team's model must be held to what the same team's English export would be
    from leadscore.features.directions import direction_by_name
    from leadscore.features.japanese import ACTIVITIES, FORMS
    from leadscore.features.spec import Signal

    def direction(activity: str, detail: str | None = None) -> str:
        return direction_by_name(Signal(name="s", activity_types=(activity,), detail=detail))[0]

    form_ja, form_en = ACTIVITIES["form_submit"]
    for kind, (ja, en) in ACTIVITIES.items():
        assert direction(ja) == direction(en), kind
    for form, (ja, en) in FORMS.items():
        assert direction(form_ja, ja) == direction(form_en, en), form
    assert direction(ACTIVITIES["tradeshow_scan"][0]) == "up"
    assert direction(ACTIVITIES["unsubscribe"][0]) == "down"


def test_a_flat_exports_engagement_numbers_are_proposed_up_and_its_fit_numbers_stay_free():
    # X Education's own columns: visits and time on the site are interest; revenue is fit
    leads = pd.DataFrame({
        schema.LEAD_ID: range(60),
        "TotalVisits": np.arange(60) % 7,
        "Total Time Spent on Website": np.arange(60) * 13,
        "ページ閲覧数": np.arange(60) % 5,
        "Email Bounces": np.arange(60) % 2,
        "Annual Revenue": np.arange(60) * 1000.0,
    })  # fmt: skip
    spec = infer(leads, None, ()).spec
    directions = {a.column: (a.direction, a.direction_reason) for a in spec.attributes
                  if a.kind == "numeric"}  # fmt: skip
    assert directions["TotalVisits"] == ("up", "name: 'visit' counts engagement")
    assert directions["Total Time Spent on Website"][0] == "up"
    assert directions["ページ閲覧数"][0] == "up"
    assert directions["Email Bounces"][0] == "down"
    assert directions["Annual Revenue"] == ("free", None)


@pytest.mark.parametrize(
    "activity",
    ["Webinar Registration Cancelled", "セミナー申込キャンセル", "Unregistered from Webinar",
     "Demo No-Show", "Contact Deleted"],
)  # fmt: skip
def test_a_cancellation_is_never_proposed_up(activity):
    from leadscore.features.directions import direction_by_name
    from leadscore.features.spec import Signal

    assert direction_by_name(Signal(name="s", activity_types=(activity,)))[0] == "down"

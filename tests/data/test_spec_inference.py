"""Spec inference on an export leadscore has never seen: Marketo-style activity types with form
names in the detail, leads with job titles, seniority, head counts, a lead source and the
landing page's id. What a data scientist checks before signing the inferred spec."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadscore.features import schema
from leadscore.features.infer import infer, infer_spec, spec_header
from leadscore.features.online import attribute_values
from leadscore.features.spec import CategoricalAttribute, glob_to_regex, is_feature_name

START = pd.Timestamp("2025-01-01", tz="UTC")
HOT_PAGE = 417  # the landing page of a campaign that converts
AREAS = ("IT", "Security", "Finance", "Operations", "Sales", "HR", "Legal")
TITLES = [f"{level} of {area}" for level in ("Head", "Director", "Manager") for area in AREAS]


def leads_table(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Leads as a Marketo export lists them; one in eight landed on the campaign page, the rest
    on one of 300 pages that each saw a handful of leads."""
    hot = rng.random(n) < 0.12
    return pd.DataFrame(
        {
            schema.LEAD_ID: np.arange(1, n + 1),
            schema.CREATED_AT: START + pd.to_timedelta(np.sort(rng.uniform(0, 300, n)), unit="D"),
            "crm_key": [f"00Q5g{rng.integers(16**10):010x}" for _ in range(n)],
            "job_title": rng.choice(TITLES, n),
            "seniority": rng.choice(["Director", "Manager", "VP", "Individual Contributor"], n),
            "employees": rng.lognormal(5, 1.5, n).round(),
            "lead_source": rng.choice(["Web", "Paid Search", "Event", "Referral", "Partner"], n),
            "landing_page_id": np.where(hot, HOT_PAGE, rng.integers(1000, 1300, n)),
        }
    )


def marketo_export(n: int = 3000, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(leads, activities, outcomes). Every lead signs up for the newsletter; a 'Contact Sales'
    form triples the odds of SQL, a 'Whitepaper Download' changes nothing. SQLs get a sales
    meeting logged before their SQL moment, as a CRM would sync it."""
    rng = np.random.default_rng(seed)
    leads = leads_table(rng, n)
    created = leads[schema.CREATED_AT]
    contact = rng.random(n) < 0.15
    whitepaper = rng.random(n) < 0.3
    p = np.where(contact, 0.35, 0.08)
    sql = rng.random(n) < p
    sql_at = created + pd.to_timedelta(rng.uniform(20, 40, n), unit="D")
    rows = []

    def log(who: np.ndarray, kind: str, detail: object, days: tuple[float, float]) -> None:
        for i in np.flatnonzero(who):
            at = created[i] + pd.Timedelta(days=float(rng.uniform(*days)))
            rows.append((leads[schema.LEAD_ID][i], at, kind, detail))

    log(np.ones(n, bool), "Fill Out Form", "Newsletter Signup", (0, 2))
    log(contact, "Fill Out Form", "Contact Sales", (2, 15))
    log(whitepaper, "Fill Out Form", "Whitepaper Download", (2, 15))
    for page in ("/pricing", "/blog/zero-trust", "/careers"):
        log(rng.random(n) < 0.4, "Visit Webpage", page, (0, 15))
    log(sql, "Sales Meeting Booked", "Discovery call", (15, 19))
    activities = pd.DataFrame(
        rows, columns=[schema.LEAD_ID, schema.OCCURRED_AT, schema.ACTIVITY_TYPE, schema.DETAIL]
    )
    outcomes = pd.DataFrame(
        {schema.LEAD_ID: leads[schema.LEAD_ID], schema.SQL_AT: sql_at.where(sql, pd.NaT)}
    )
    return leads, activities, outcomes


@pytest.fixture(scope="module")
def export() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return marketo_export()


def test_a_column_unique_per_lead_is_an_identifier_whatever_its_name(export):
    leads, activities, _ = export
    _, skipped = infer_spec(leads, activities, ())
    assert any(line.startswith("crm_key: an identifier: unique per lead") for line in skipped)


def test_a_repeated_id_code_stays_a_categorical_with_rare_levels_grouped(export):
    """A landing page's id repeats over leads: it is a categorical whose levels with about 50
    leads keep their own weight, not an identifier and not a number."""
    leads, activities, _ = export
    spec, skipped = infer_spec(leads, activities, ())
    page = next(a for a in spec.attributes if a.column == "landing_page_id")
    assert isinstance(page, CategoricalAttribute)
    assert 40 <= page.min_share * len(leads) <= 60
    assert not any(line.startswith("landing_page_id") for line in skipped)


def test_a_frequent_landing_page_keeps_its_learned_effect_in_the_logistic_model():
    """A flat export where leads from landing page 417 convert at 40% and others at 5%: the
    inferred spec keeps the page, and the fitted model scores its leads clearly higher."""
    from leadscore.training.model.scorer import INSTANT_PASS, RULE_POINTS, fit_logistic

    rng = np.random.default_rng(3)
    leads = leads_table(rng, 4000).drop(columns=[schema.CREATED_AT])
    hot = (leads["landing_page_id"] == HOT_PAGE).to_numpy()
    converted = rng.random(len(leads)) < np.where(hot, 0.4, 0.05)
    spec, _ = infer_spec(leads, None, ())
    x = pd.DataFrame([attribute_values(lead, spec) for lead in leads.to_dict("records")])
    x[RULE_POINTS], x[INSTANT_PASS] = 0.0, 0.0
    x = x.fillna(np.nan)
    train = np.arange(len(x)) < 3000
    model = fit_logistic(spec, 1.0, x[train], converted[train].astype(int))
    p = model.predict_proba(x[~train])[:, 1]
    assert p[hot[~train]].mean() > 4 * p[~hot[~train]].mean()


def test_a_form_name_with_a_distinct_sql_rate_becomes_its_own_signal(export):
    leads, activities, outcomes = export
    spec, _ = infer_spec(leads, activities, (), outcomes=outcomes)
    by_detail = {s.detail: s for s in spec.signals if s.detail is not None}
    contact = by_detail["Contact Sales"]
    assert contact.name == "fill_out_form_contact_sales"
    assert contact.activity_types == ("Fill Out Form",)
    assert "Whitepaper Download" not in by_detail  # the same SQL rate as other form fillers
    assert "Newsletter Signup" not in by_detail  # every form filler has it: the type itself
    assert "fill_out_form" in {s.name for s in spec.signals}


def test_without_outcomes_details_with_support_become_signals(export):
    leads, activities, _ = export
    spec, _ = infer_spec(leads, activities, ())
    details = {s.detail for s in spec.signals if s.detail is not None}
    assert {"Contact Sales", "Whitepaper Download", "/pricing*", "/careers*"} <= details


def test_sales_side_activity_stays_excluded_even_when_it_predicts_sql(export):
    """A sales meeting comes before every SQL in this export, and still never becomes a
    signal: it is logged after sales took the lead."""
    leads, activities, outcomes = export
    spec, skipped = infer_spec(leads, activities, (), outcomes=outcomes)
    assert spec.exclude_activity_types == ("Sales Meeting Booked",)
    assert not any("Sales Meeting Booked" in s.activity_types for s in spec.signals)
    assert "Sales Meeting Booked: sales-side activity (leaks the outcome)" in skipped


def test_a_form_name_in_another_script_gets_a_valid_readable_signal_name():
    rng = np.random.default_rng(5)
    leads = leads_table(rng, 400)
    forms = rng.choice(["資料請求", "Contact Sales", "Webinar * Replay"], len(leads))
    activities = pd.DataFrame(
        {
            schema.LEAD_ID: leads[schema.LEAD_ID],
            schema.OCCURRED_AT: leads[schema.CREATED_AT] + pd.Timedelta(days=1),
            schema.ACTIVITY_TYPE: "Fill Out Form",
            schema.DETAIL: forms,
        }
    )
    spec, _ = infer_spec(leads, activities, ())
    by_detail = {s.detail: s.name for s in spec.signals if s.detail is not None}
    assert set(by_detail) == {"資料請求", "Contact Sales", "Webinar * Replay"}
    assert all(is_feature_name(name) for name in by_detail.values())
    assert by_detail["資料請求"] == "fill_out_form_資料請求"
    assert by_detail["Webinar * Replay"].startswith("fill_out_form_webinar_replay")
    for detail in by_detail:  # each glob matches its own value and no other
        matched = [f for f in set(forms) if pd.Series([f]).str.match(glob_to_regex(detail))[0]]
        assert matched == [detail]


def test_the_header_names_identifiers_and_detail_signals_with_their_evidence(export):
    leads, activities, outcomes = export
    inference = infer(leads, activities, (), outcomes=outcomes)
    header = spec_header(inference.skipped, "leads.csv", inference.kept)
    assert "crm_key: an identifier: unique per lead (3,000 distinct values" in header
    assert "landing_page_id: a repeated code" in header
    line = next(x for x in header.splitlines() if "-> fill_out_form_contact_sales" in x)
    assert "Fill Out Form 'Contact Sales'" in line and "leads; SQL" in line
    assert "for the rest of the type" in line


def test_lightgbm_sets_apart_every_converting_landing_page_whatever_its_code():
    """Pages that convert are grouped by how they convert, not by where their code falls in
    the order: one split of one tree puts each converting page above each other page."""
    from leadscore.training.model.scorer import INSTANT_PASS, RULE_POINTS, lightgbm_pipeline

    rng = np.random.default_rng(11)
    pages = rng.integers(101, 111, 4000)  # ten pages, about 400 leads each
    hot = pages % 2 == 1
    converted = rng.random(len(pages)) < np.where(hot, 0.4, 0.05)
    leads = pd.DataFrame({schema.LEAD_ID: np.arange(len(pages)), "landing_page_id": pages})
    spec, _ = infer_spec(leads, None, ())
    x = pd.DataFrame([attribute_values(lead, spec) for lead in leads.to_dict("records")])
    x[RULE_POINTS], x[INSTANT_PASS] = 0.0, 0.0
    stump = {"num_leaves": 2, "n_estimators": 1, "learning_rate": 1.0, "min_child_samples": 20}
    model = lightgbm_pipeline(spec, stump).fit(x, converted.astype(int))
    p = model.predict_proba(x)[:, 1]
    assert p[hot].min() > p[~hot].max()


def test_spec_infer_with_outcomes_writes_the_evidence_into_the_yaml(export, tmp_path):
    from typer.testing import CliRunner

    from leadscore.cli import app
    from leadscore.features.spec import load_spec

    paths = {}
    for name, table in zip(("leads", "activities", "outcomes"), export, strict=True):
        paths[name] = tmp_path / f"{name}.csv"
        table.to_csv(paths[name], index=False)
    out = tmp_path / "spec.yaml"
    result = CliRunner().invoke(app, [
        "spec", "infer", "--leads", str(paths["leads"]), "--activities",
        str(paths["activities"]), "--outcomes", str(paths["outcomes"]), "--out", str(out),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    header = out.read_text().split("\nversion:")[0]
    assert "-> fill_out_form_contact_sales" in header and "Whitepaper" not in header
    spec = load_spec(out)
    assert "fill_out_form_contact_sales" in {s.name for s in spec.signals}
    assert "landing_page_id" in {a.column for a in spec.attributes}

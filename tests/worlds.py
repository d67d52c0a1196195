"""Small, readable MA worlds for tests: a few leads, a handful of activities, known outcomes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from leadscore.features.spec import parse_spec

START = pd.Timestamp("2025-01-01", tz="UTC")
TYPES = ["page_view", "email_open", "email_click", "demo_request", "webinar_attended", "sales_call"]
DETAILS = ["/pricing", "/pricing/enterprise", "/blog/a", "/careers", "/", None, "webinar-1"]

# A spec that exercises every kind of feature: both attribute kinds, aliases, all signal stats,
# per-signal windows, a detail glob, engagement with a negative weight, and a ratio.
TEST_SPEC = parse_spec(
    {
        "sql_within_days": 30,
        "lookback_days": 120,
        "windows": [7, 30],
        "cutoffs": {"every_days": 10, "max_lead_age_days": 60},
        "exclude_activity_types": ["sales_call"],
        "attributes": [
            {"name": "department", "column": "department", "kind": "categorical",
             "aliases": {"information technology": "it"}},
            {"name": "employees", "column": "employees", "kind": "numeric"},
        ],
        "signals": [
            {"name": "any_activity", "activity_types": ["*"],
             "stats": ["count", "days", "recency", "first"]},
            {"name": "web_visit", "activity_types": ["page_view"], "stats": ["count", "days"]},
            {"name": "pricing_page", "activity_types": ["page_view"], "detail": "/pricing*",
             "stats": ["count", "recency"]},
            {"name": "careers_page", "activity_types": ["page_view"], "detail": "/careers*"},
            {"name": "email_open", "activity_types": ["email_open"]},
            {"name": "email_click", "activity_types": ["email_click"]},
            {"name": "demo_request", "activity_types": ["demo_request"], "windows": [60]},
        ],
        "engagement": [
            {"name": "intent", "half_life_days": 7,
             "weights": {"pricing_page": 3, "demo_request": 10, "careers_page": -2}},
            {"name": "recent_clicks", "half_life_days": 3, "window_days": 7,
             "weights": {"email_click": 1}},
        ],
        "ratios": [
            {"name": "click_to_open_30d", "numerator": "email_click_count_30d",
             "denominator": "email_open_count_30d"},
        ],
    }
)  # fmt: skip


def small_world(
    seed: int, n_leads: int = 60, activities_per_lead: int = 12, days: int = 200
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(leads, activities, outcomes) with messy attributes and post-SQL sales calls."""
    rng = np.random.default_rng(seed)
    created = START + pd.to_timedelta(rng.uniform(0, days * 0.7, n_leads), unit="D")
    leads = pd.DataFrame(
        {
            "lead_id": np.arange(1, n_leads + 1),
            "created_at": created.astype("datetime64[us, UTC]"),
            "email": [f"person{i}@example.com" for i in range(n_leads)],
            "department": rng.choice(
                ["IT", " it ", "Information Technology", "Marketing", "Select", None], n_leads
            ),
            "employees": rng.choice([10.0, 250.0, 5000.0, np.nan], n_leads),
        }
    )
    n = n_leads * activities_per_lead
    owner = rng.integers(0, n_leads, n)
    occurred = created[owner] + pd.to_timedelta(rng.uniform(-5, days * 0.5, n), unit="D")
    activities = pd.DataFrame(
        {
            "lead_id": leads["lead_id"].to_numpy()[owner],
            "occurred_at": pd.DatetimeIndex(occurred).astype("datetime64[us, UTC]"),
            "activity_type": rng.choice(TYPES[:-1], n),
            "detail": rng.choice(np.array(DETAILS, dtype=object), n),
        }
    )
    converts = rng.random(n_leads) < 0.35
    sql_at = created + pd.to_timedelta(rng.uniform(1, days * 0.6, n_leads), unit="D")
    outcomes = pd.DataFrame(
        {
            "lead_id": leads["lead_id"],
            "sql_at": pd.Series(sql_at).where(converts).astype("datetime64[us, UTC]"),
        }
    )
    # the trap: sales calls logged after the lead became SQL
    sold = outcomes.dropna()
    calls = pd.DataFrame(
        {
            "lead_id": sold["lead_id"],
            "occurred_at": sold["sql_at"] + pd.Timedelta(hours=3),
            "activity_type": "sales_call",
            "detail": None,
        }
    )
    activities = pd.concat([activities, calls], ignore_index=True)
    return leads, activities, outcomes


DEFAULT_SPEC_PATH = Path(__file__).resolve().parents[1] / "features" / "default_spec.yaml"


def default_training_set(world, out: Path, plan=None):  # type: ignore[no-untyped-def]
    """A simulated world's training set under the default spec with the default rulebook
    compiled onto it, as `leadscore train` builds it: (parquet path, spec, rulebook)."""
    from leadscore.features.offline import connect, register
    from leadscore.features.spec import load_spec
    from leadscore.features.training_set import build_training_set
    from leadscore.training.model.rulebook import compile_rules, load_rulebook

    rulebook = load_rulebook()
    spec = compile_rules(rulebook, load_spec(DEFAULT_SPEC_PATH))
    con = connect()
    tables = {name: register(con, name, getattr(world, name))
              for name in ("leads", "activities", "outcomes")}  # fmt: skip
    options = {} if plan is None else {"plan": plan}
    path, _ = build_training_set(
        con, tables["leads"], tables["activities"], tables["outcomes"], spec, out, **options
    )
    return path, spec, rulebook


CRM_SOURCES = ["Google", "Referral", "Olark Chat", "Direct Traffic"]


def crm_report(n: int, seed: int, *, first_number: int = 660_000) -> pd.DataFrame:
    """A CRM report as X Education writes it: newest leads first, no created_at."""
    rng = np.random.default_rng(seed)
    source = rng.choice(CRM_SOURCES, n)
    visits = rng.poisson(3, n).astype(float)
    visits[rng.random(n) < 0.05] = np.nan
    logit = -1.5 + 1.4 * (source == "Referral") + 0.3 * np.nan_to_num(visits)
    return pd.DataFrame(
        {
            "Prospect ID": [f"p-{seed}-{i:05d}" for i in rng.permutation(n)],
            "Lead Number": first_number - 3 * np.arange(n),
            "Lead Source": source,
            "TotalVisits": visits,
            "Email": [f"lead{seed}x{i}@example.com" for i in range(n)],
            "Tags": np.where(rng.random(n) < 0.5, "Ringing", "Will revert"),
            "Converted": np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "Yes", "No"),
        }
    )


def hubspot_contacts(n: int = 400, seed: int = 2) -> pd.DataFrame:
    """A HubSpot contacts export: the conversion is the date a contact became an SQL."""
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2025-03-01") + pd.to_timedelta(np.sort(rng.uniform(0, 200, n)), "D")
    converts = rng.random(n) < 0.3
    delay = pd.to_timedelta(rng.uniform(0, 20, n), unit="D")
    return pd.DataFrame({
        "Record ID": range(1, n + 1),
        "Create Date": created.strftime("%Y-%m-%d %H:%M"),
        "Original Source": rng.choice(["ORGANIC_SEARCH", "PAID_SEARCH", "REFERRALS"], n),
        "Became a Sales Qualified Lead Date": np.where(
            converts, (created + delay).strftime("%Y-%m-%d %H:%M"), ""
        ),
    })  # fmt: skip

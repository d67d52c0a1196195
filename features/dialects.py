"""A simulated export rewritten in another MA system's words: the test of "your own export".

leadscore's default spec and rulebook speak the simulator's vocabulary (``page_view``,
``demo_request``, ``job_level``). A user's export speaks Marketo's (``Visit Webpage``,
``Fill Out Form`` with the form's name as detail), HubSpot's (``Page View``, ``Form
Submission``, ``hs_analytics_source``) or their own. Rewriting one simulated world in each
vocabulary keeps its hidden truth (``truth.parquet``), so a run on the rewritten export can be
judged against the world's true probabilities, and a test can show that nothing in leadscore
depends on the simulator's names.

Each dialect renames lead columns, maps level spellings, and maps every (activity type,
detail) pair to the dialect's pair: a demo request becomes a ``Fill Out Form`` with detail
``Request a Demo`` in Marketo's words, so the signal hides in the detail as it does in a real
export. The contract's own columns (``lead_id``, ``created_at``, ``occurred_at``,
``activity_type``, ``detail``, ``sql_at`` ...) keep their names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from leadscore.features import schema
from leadscore.features.schema import Activity
from leadscore.features.synthetic import SyntheticWorld, write_world

DetailMap = Callable[[str | None], str | None]


def _same(detail: str | None) -> str | None:
    return detail


def _title(detail: str | None) -> str | None:
    return None if detail is None else detail.replace("-", " ").title()


def _prefixed(prefix: str) -> DetailMap:
    return lambda detail: f"{prefix}{_title(detail) or ''}"


def _fixed(text: str) -> DetailMap:
    return lambda _: text


@dataclass(frozen=True)
class Dialect:
    """How one system writes the same export: column names, level spellings, activities."""

    name: str
    columns: dict[str, str]
    """Simulator lead column -> this system's column (columns not named keep their name)."""
    levels: dict[str, dict[str, str]] = field(default_factory=dict)
    """This system's column -> {simulator level: this system's level}."""
    activities: dict[str, tuple[str, DetailMap]] = field(default_factory=dict)
    """Simulator activity type -> (this system's type, how the detail is written)."""
    numeric_employees: str | None = None
    """Write the employee band as a head count in this column (HubSpot's numberofemployees)."""
    repeated_code: str | None = None
    """A landing page or campaign code column: hundreds of levels, each repeated, tied to source."""


_FORM_NAMES = {
    "contact-us": "Contact Us", "newsletter-signup": "Newsletter Signup",
    "ebook-form": "Ebook Form", "trial-signup": "Free Trial Signup",
    "event-registration": "Event Registration", "lead-gen-form": "Lead Gen Form",
    "partner-referral": "Partner Referral",
}  # fmt: skip


def _form(detail: str | None) -> str | None:
    return _FORM_NAMES.get(detail or "", _title(detail))


MARKETO = Dialect(
    name="marketo",
    columns={
        "job_level": "seniority",
        "department": "job_function",
        "employee_band": "employees",
        "source": "lead_source",
        "region": "sales_region",
        "annual_revenue_musd": "annual_revenue_musd",
    },
    levels={
        "seniority": {
            "Head": "Director",
            "Staff": "Individual Contributor",
            "Executive": "C-Level",
        },
        "lead_source": {
            "organic_search": "Web - Organic",
            "paid_search": "Web - PPC",
            "paid_social": "Social - Paid",
            "email": "Email Campaign",
            "referral": "Referral",
            "tradeshow": "Trade Show",
            "partner": "Partner",
            "direct": "Web - Direct",
        },
    },
    activities={
        Activity.PAGE_VIEW: ("Visit Webpage", _same),
        Activity.EMAIL_OPEN: ("Open Email", _same),
        Activity.EMAIL_CLICK: ("Click Email", _same),
        Activity.EMAIL_BOUNCE: ("Email Bounced", _same),
        Activity.UNSUBSCRIBE: ("Unsubscribe Email", _same),
        Activity.CONTENT_DOWNLOAD: ("Fill Out Form", _prefixed("Download: ")),
        Activity.FORM_SUBMIT: ("Fill Out Form", _form),
        Activity.DEMO_REQUEST: ("Fill Out Form", _fixed("Request a Demo")),
        Activity.QUOTE_REQUEST: ("Fill Out Form", _fixed("Contact Sales")),
        Activity.WEBINAR_REGISTERED: ("Register for Event", _same),
        Activity.WEBINAR_ATTENDED: ("Attend Event", _same),
        Activity.TRADESHOW_SCAN: ("Attend Event", _same),
        Activity.SALES_CALL: ("Log Call", _same),
        Activity.SALES_MEETING: ("Log Meeting", _same),
    },
    repeated_code="landing_page_id",
)

HUBSPOT = Dialect(
    name="hubspot",
    columns={
        "job_title": "jobtitle",
        "job_level": "hs_seniority",
        "department": "job_function",
        "source": "hs_analytics_source",
        "region": "country_region",
        "annual_revenue_musd": "annualrevenue_musd",
        "first_name": "firstname",
        "last_name": "lastname",
    },
    levels={
        "hs_seniority": {
            "Executive": "executive",
            "Head": "director",
            "Manager": "manager",
            "Staff": "employee",
            "Student": "student",
        },
        "hs_analytics_source": {
            "organic_search": "ORGANIC_SEARCH",
            "paid_search": "PAID_SEARCH",
            "paid_social": "PAID_SOCIAL",
            "email": "EMAIL_MARKETING",
            "referral": "REFERRALS",
            "tradeshow": "OFFLINE",
            "partner": "OTHER_CAMPAIGNS",
            "direct": "DIRECT_TRAFFIC",
        },
    },
    activities={
        Activity.PAGE_VIEW: ("Page View", _same),
        Activity.EMAIL_OPEN: ("Marketing Email Opened", _same),
        Activity.EMAIL_CLICK: ("Marketing Email Clicked", _same),
        Activity.EMAIL_BOUNCE: ("Marketing Email Bounced", _same),
        Activity.UNSUBSCRIBE: ("Unsubscribed", _same),
        Activity.CONTENT_DOWNLOAD: ("Form Submission", _prefixed("Ebook Download - ")),
        Activity.FORM_SUBMIT: ("Form Submission", _form),
        Activity.DEMO_REQUEST: ("Form Submission", _fixed("Book a Demo")),
        Activity.QUOTE_REQUEST: ("Form Submission", _fixed("Request Pricing")),
        Activity.WEBINAR_REGISTERED: ("Event Registration", _same),
        Activity.WEBINAR_ATTENDED: ("Event Attended", _same),
        Activity.TRADESHOW_SCAN: ("Event Attended", _same),
        Activity.SALES_CALL: ("Call", _same),
        Activity.SALES_MEETING: ("Meeting", _same),
    },
    numeric_employees="numberofemployees",
)

LEDGER = Dialect(
    name="ledger",
    columns={
        "job_title": "title",
        "job_level": "level",
        "department": "role",
        "industry": "sector",
        "employee_band": "size",
        "region": "geo",
        "source": "channel",
        "annual_revenue_musd": "revenue_musd",
    },
    activities={
        Activity.PAGE_VIEW: ("web", _same),
        Activity.EMAIL_OPEN: ("mail_open", _same),
        Activity.EMAIL_CLICK: ("mail_click", _same),
        Activity.EMAIL_BOUNCE: ("mail_bounce", _same),
        Activity.UNSUBSCRIBE: ("optout", _same),
        Activity.CONTENT_DOWNLOAD: ("download", _same),
        Activity.FORM_SUBMIT: ("form", _same),
        Activity.DEMO_REQUEST: ("inquiry", _fixed("demo")),
        Activity.QUOTE_REQUEST: ("inquiry", _fixed("quote")),
        Activity.WEBINAR_REGISTERED: ("event_signup", _same),
        Activity.WEBINAR_ATTENDED: ("event", _same),
        Activity.TRADESHOW_SCAN: ("booth", _same),
        Activity.SALES_CALL: ("sales_task", _same),
        Activity.SALES_MEETING: ("sales_visit", _same),
    },
    repeated_code="campaign_id",
)

DIALECTS: dict[str, Dialect] = {d.name: d for d in (MARKETO, HUBSPOT, LEDGER)}
_HEAD_COUNT = {"1-10": 5, "11-50": 30, "51-200": 120, "201-1000": 500, "1001-5000": 2500,
               "5000+": 12000}  # fmt: skip
_CODES_PER_SOURCE = 60


def _repeated_code(leads: pd.DataFrame, seed: int) -> pd.Series:
    """A landing page or campaign code per lead: Zipf-popular within each source's pages."""
    rng = np.random.default_rng(seed)
    source = pd.Categorical(leads["source"])
    popularity = 1.0 / (np.arange(_CODES_PER_SOURCE) + 3.0)
    page = rng.choice(_CODES_PER_SOURCE, len(leads), p=popularity / popularity.sum())
    code = 1000 + source.codes.astype(np.int64) * 100 + page
    return pd.Series(code, index=leads.index).astype(str).where(source.codes >= 0)


def _leads(leads: pd.DataFrame, dialect: Dialect, seed: int) -> pd.DataFrame:
    frame = leads.copy()
    if dialect.repeated_code:
        frame[dialect.repeated_code] = _repeated_code(leads, seed)
    if dialect.numeric_employees:
        band = frame.pop("employee_band")
        frame[dialect.numeric_employees] = band.map(_HEAD_COUNT).astype("Float64")
    frame = frame.rename(columns=dialect.columns)
    for column, spelling in dialect.levels.items():
        frame[column] = frame[column].map(
            lambda v, s=spelling: s.get(v, v) if isinstance(v, str) else v
        )
    return frame


def _activities(activities: pd.DataFrame, dialect: Dialect) -> pd.DataFrame:
    """Every (type, detail) pair mapped once, then spread over the rows by code."""
    kinds = pd.Categorical(activities[schema.ACTIVITY_TYPE])
    details = pd.Categorical(activities[schema.DETAIL])
    key = kinds.codes.astype(np.int64) * (len(details.categories) + 1) + (details.codes + 1)
    unique, inverse = np.unique(key, return_inverse=True)
    new_types, new_details = [], []
    for value in unique:
        kind = kinds.categories[value // (len(details.categories) + 1)]
        code = value % (len(details.categories) + 1) - 1
        detail = None if code < 0 else str(details.categories[code])
        name, write = dialect.activities[kind]
        new_types.append(name)
        new_details.append(write(detail))
    frame = activities.copy()
    frame[schema.ACTIVITY_TYPE] = pd.Categorical(np.asarray(new_types, dtype=object)[inverse])
    frame[schema.DETAIL] = pd.Categorical(np.asarray(new_details, dtype=object)[inverse])
    return frame


def rewrite(world: SyntheticWorld, dialect: Dialect | str, seed: int = 0) -> SyntheticWorld:
    """The same world, written as ``dialect``'s system exports it; the truth is unchanged."""
    dialect = DIALECTS[dialect] if isinstance(dialect, str) else dialect
    return SyntheticWorld(
        leads=_leads(world.leads, dialect, seed),
        activities=_activities(world.activities, dialect),
        outcomes=world.outcomes,
        truth=world.truth,
        export_at=world.export_at,
    )


def write_dialect(world: SyntheticWorld, dialect: Dialect | str, out_dir: Path) -> dict[str, Path]:
    """Write the rewritten world as :func:`features.synthetic.write_world` does."""
    return write_world(rewrite(world, dialect), out_dir)

"""A synthetic Marketo/HubSpot-style export whose generative story is known: the stand-in for a
real export, so every later stage can be tested against a truth a real export never reveals.

The generative story, lead by lead (times are days since ``config.start``; ``export_at`` is the
end of the period and censors everything):

1. **Accounts and leads.** Accounts carry industry, employee band, region and revenue; about
   ``leads_per_account`` leads share each account. Leads arrive across the period with inflow
   growing by ``lead_volume_growth``; lead_id rises with created_at. The channel (``source``)
   drifts: paid social grows from ``paid_social_share_start`` to ``paid_social_share_end`` and
   brings more students, job seekers and low engagement, so the label rate falls over time.
2. **Fit.** ``fit_logit`` adds effects of the clean department, job level, employee band,
   industry and source, a job-seeker penalty, an account effect (some accounts are in market)
   and lead noise. The export shows messy copies of these attributes, never the clean values.
3. **Intent episode.** With ``p_intent_episode = sigmoid(intent_episode_intercept +
   intent_episode_fit_slope * fit_logit)`` a lead has one buying episode of strength
   ``intent_strength`` (log-normal, median 1), starting right after creation for a share
   ``in_market_at_creation_share`` of episodes and otherwise after an exponential delay
   (``intent_delay_mean_days``), lasting a log-normal time around ``intent_duration_median_days``.
   During the episode activity rises in proportion to the strength and shifts to high-intent
   actions (pricing, case studies, product pages, bottom-of-funnel content, webinars).
4. **Hand-off.** Two paths hand a lead to sales. (A) A lead with an episode raises a hand
   (demo or quote request, contact form, webinar attendance) with ``p_hand_raise =
   sigmoid(hand_raise_intercept + 0.4 * fit_logit + log(intent_strength))`` at ``hand_raise_at``,
   inside the episode. (B) A lead without a hand-raise may cross the marketing score threshold
   with ``p_score_handoff = sigmoid(logit(score_handoff_share) + 0.7 * fit_logit)`` at
   ``score_handoff_at``. Either way ``mql_at`` follows within hours and ``first_contact_at =
   mql_at + follow_up_delay_hours`` (log-normal; every lead has a delay drawn, used if handed off).
5. **Qualification.** A handed-off lead becomes SQL with ``p_qualify = sigmoid(intercept +
   0.6 * fit_logit + delay_logit_penalty)``, where the intercept is ``qualify_intercept`` on
   path A and ``score_qualify_intercept`` on path B, and ``delay_logit_penalty =
   -delay_decay_per_day * follow_up_delay_hours / 24``: a slow follow-up costs conversions.
   ``sql_due_at`` is ``first_contact_at`` plus a qualification lag (median 36 h); ``won_at``
   follows for a share of SQLs. Outcome timestamps after ``export_at`` are censored to NaT.
6. **The trap.** Sales calls and meetings are logged only after ``sql_at``; a pipeline that
   reads past its cutoff learns the label from them.

``true_p_sql`` is the probability of ever becoming SQL (ignoring the export's censoring) given
the latent state of steps 1-3 and the follow-up delay: ``p_hand_raise * p_qualify_hand_raise +
(1 - p_hand_raise) * p_score_handoff * p_qualify_score`` (``p_hand_raise`` is 0 without an
episode). For "SQL within H days of cutoff c" for a lead not yet SQL at c, the sharpest oracle
knows the path taken and its timing: ``p_qualify_path * 1[c < sql_due_at <= c + H]``, with
``p_qualify_path`` the column of the path taken (``hand_raised`` or ``score_handoff``) and 0
when neither was; ``converts`` is the coin that decided it. A softer oracle integrates the
timing distributions above from the parameters in ``truth`` and :class:`SimulationConfig`.
In ``truth``, ``hand_raise_at`` is set for every lead with an episode (when it would raise a
hand; ``hand_raised`` says whether it did) and ``sql_due_at`` for every handed-off lead (when it
would become SQL; ``converts`` says whether it did); neither is censored by the export.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from leadscore.features import schema
from leadscore.features.schema import Activity

__all__ = ["SimulationConfig", "SyntheticWorld", "simulate", "write_world"]

_SECOND = 1.0 / 86_400.0
_HOUR = 1.0 / 24.0


@dataclass(frozen=True)
class SimulationConfig:
    """Knobs of the simulated export; the defaults give a plausible mid-size B2B SaaS funnel."""

    start: pd.Timestamp = field(default_factory=lambda: pd.Timestamp("2025-01-01", tz="UTC"))
    """First moment a lead can be created; naive timestamps are taken as UTC."""
    months: int = 18
    """Length of the period; leads arrive across it and the export is taken at its end."""
    lead_volume_growth: float = 0.3
    """Lead inflow at the end of the period relative to its start, minus one (0 = flat)."""
    leads_per_account: float = 3.0
    """Average leads per account (buying committees); account sizes are over-dispersed."""
    paid_social_share_start: float = 0.10
    """Share of new leads from paid social at the start of the period."""
    paid_social_share_end: float = 0.40
    """Share of new leads from paid social at the end: the drift that lowers the label rate."""
    job_seeker_share: float = 0.04
    """Share of leads who look for a job rather than a product (2.5 times more in paid social)."""
    missing_share: float = 0.10
    """Share of missing department, industry, employee band and (x1.5) job title values."""
    missing_job_level_share: float = 0.20
    """Share of leads whose job level was never filled in."""
    placeholder_share: float = 0.03
    """Share of categorical values left at the form's "Select" placeholder."""
    variant_share: float = 0.30
    """Share of department values written in a variant spelling or case ("it", "I.T.")."""
    missing_revenue_share: float = 0.60
    """Share of accounts without annual revenue."""
    missing_phone_share: float = 0.30
    """Share of leads without a phone number."""
    intent_episode_intercept: float = -0.7
    """Logit of having a buying episode for a lead of average fit (fit_logit = 0)."""
    intent_episode_fit_slope: float = 0.8
    """How much fit raises the logit of having a buying episode."""
    in_market_at_creation_share: float = 0.3
    """Share of episodes that start within hours of creation (the lead came in market)."""
    intent_delay_mean_days: float = 120.0
    """Mean wait from creation to the start of the other episodes (exponential)."""
    intent_duration_median_days: float = 21.0
    """Median length of a buying episode (log-normal, sigma 0.6)."""
    intent_strength_sigma: float = 0.6
    """Spread of the log-normal episode strength (median 1): activity rate and hand-raise odds."""
    hand_raise_intercept: float = -0.4
    """Logit of a hand-raise during an episode of strength 1 for a lead with fit_logit = 0."""
    score_handoff_share: float = 0.05
    """Share of leads of average fit handed off by the marketing score without a hand-raise."""
    qualify_intercept: float = 0.0
    """Logit of qualifying after a hand-raise (fit_logit = 0, no follow-up delay)."""
    score_qualify_intercept: float = -1.5
    """Logit of qualifying after a score-based hand-off (fit_logit = 0, no delay)."""
    follow_up_median_hours: float = 18.0
    """Median sales follow-up delay from MQL to first contact (log-normal)."""
    follow_up_sigma: float = 1.2
    """Spread of the log-normal follow-up delay."""
    delay_decay_per_day: float = 0.25
    """Logit of qualifying lost per day of follow-up delay: speed to lead matters."""
    won_intercept: float = -1.5
    """Logit of winning an SQL for a lead with fit_logit = 0."""
    email_open_rate_per_day: float = 0.11
    """Background email opens per day of an average lead (clicks add about 12%)."""
    web_rate_per_day: float = 0.045
    """Background web and content actions per day of an average lead."""
    episode_rate_per_day: float = 1.2
    """Extra actions per day during a buying episode of strength 1."""
    sales_activities_mean: float = 3.0
    """Mean sales calls and meetings logged per SQL (at least one)."""
    unsubscribe_share: float = 0.10
    """Share of leads who unsubscribe at some point (emails stop afterwards)."""
    bounce_share: float = 0.03
    """Share of leads whose email address bounces (no email activity at all)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", schema.utc_timestamp(self.start))
        if self.months < 1:
            raise ValueError(f"SimulationConfig.months is {self.months}; expected at least 1")
        if self.leads_per_account < 1:
            raise ValueError(
                f"SimulationConfig.leads_per_account is {self.leads_per_account}; expected >= 1"
            )
        for item in fields(self):
            value = getattr(self, item.name)
            if "_share" in item.name and not 0.0 <= value <= 1.0:
                raise ValueError(
                    f"SimulationConfig.{item.name} is {value}; expected a share in [0, 1]"
                )
            positive = ("_days", "_hours", "_per_day", "_sigma", "_mean", "_growth")
            if item.name.endswith(positive) and value < 0:
                raise ValueError(f"SimulationConfig.{item.name} is {value}; expected >= 0")

    @property
    def export_at(self) -> pd.Timestamp:
        """When the export is taken: the end of the period."""
        return self.start + pd.DateOffset(months=self.months)


@dataclass(frozen=True)
class SyntheticWorld:
    """An MA export (leads, activities, outcomes) and the hidden truth that generated it."""

    leads: pd.DataFrame
    activities: pd.DataFrame
    outcomes: pd.DataFrame
    truth: pd.DataFrame
    export_at: pd.Timestamp


# ------------------------------------------------------------------------------ the world's facts


@dataclass(frozen=True)
class _Attribute:
    """A categorical attribute: its values, their effect on fit, and how often each occurs."""

    names: tuple[str, ...]
    fit: tuple[float, ...]
    mix: tuple[float, ...]
    mix_paid_social: tuple[float, ...] | None = None


_SOURCES = _Attribute(
    names=("organic_search", "paid_search", "paid_social", "email", "referral", "tradeshow",
           "partner", "direct"),
    fit=(0.1, 0.3, -0.8, -0.1, 0.6, 0.2, 0.5, 0.2),
    mix=(0.22, 0.15, 0.0, 0.10, 0.10, 0.10, 0.08, 0.15),  # paid social is drawn apart (drift)
)  # fmt: skip
_PAID_SOCIAL = _SOURCES.names.index("paid_social")
_TRADESHOW = _SOURCES.names.index("tradeshow")
_DEPARTMENTS = _Attribute(
    names=("IT", "Marketing", "Sales", "Finance", "HR", "Operations", "Other"),
    fit=(0.7, 0.0, -0.2, 0.1, -0.6, 0.3, -0.8),
    mix=(0.30, 0.12, 0.10, 0.08, 0.06, 0.14, 0.20),
    mix_paid_social=(0.18, 0.15, 0.12, 0.06, 0.10, 0.10, 0.29),
)
_JOB_LEVELS = _Attribute(
    names=("Executive", "Head", "Manager", "Staff", "Student"),
    fit=(0.4, 0.7, 0.5, -0.3, -2.5),
    mix=(0.07, 0.13, 0.30, 0.42, 0.08),
    mix_paid_social=(0.04, 0.08, 0.22, 0.46, 0.20),
)
_STUDENT = _JOB_LEVELS.names.index("Student")
_STAFF = _JOB_LEVELS.names.index("Staff")
_EMPLOYEE_BANDS = _Attribute(
    names=("1-10", "11-50", "51-200", "201-1000", "1001-5000", "5000+"),
    fit=(-1.2, -0.5, 0.0, 0.4, 0.6, 0.4),
    mix=(0.15, 0.22, 0.25, 0.20, 0.10, 0.08),
)
_BAND_REVENUE_MUSD = (0.5, 3.0, 15.0, 80.0, 400.0, 3000.0)
_INDUSTRIES = _Attribute(
    names=("Software", "Manufacturing", "Financial Services", "Healthcare", "Retail",
           "Logistics", "Education", "Public Sector", "Media"),
    fit=(0.5, 0.3, 0.3, 0.0, -0.1, 0.1, -0.6, -0.3, -0.2),
    mix=(0.18, 0.20, 0.10, 0.08, 0.12, 0.08, 0.08, 0.06, 0.10),
)  # fmt: skip
_REGIONS = _Attribute(
    names=("Kanto", "Kansai", "Chubu", "Kyushu", "APAC", "NA", "EMEA"),
    fit=(0.0,) * 7,
    mix=(0.38, 0.14, 0.07, 0.05, 0.14, 0.12, 0.10),
)
_JAPAN_REGIONS = 4  # the first four regions are in Japan
_PHONE_PREFIXES = ("+81-3-5550-", "+81-6-5550-", "+81-52-555-", "+81-92-555-", "+65 5550 ",
                   "+1-212-555-", "+44 20 7946 ")  # fmt: skip
_JOB_SEEKER_FIT = -3.0
_PLACEHOLDER = "Select"

_DEPARTMENT_VARIANTS = {
    "IT": ("it", " IT ", "Information Technology", "I.T.", "情報システム部"),
    "Marketing": ("marketing", "MARKETING", "Mktg", "Digital Marketing"),
    "Sales": ("sales", "SALES", "Business Development", " Sales"),
    "Finance": ("finance", "Accounting", "Finance & Accounting", "FINANCE"),
    "HR": ("hr", "Human Resources", "People", "H.R."),
    "Operations": ("operations", "Ops", "OPERATIONS", "Operations "),
    "Other": ("other", "Misc", "R&D", "OTHER"),
}
_TITLE_TEMPLATES = {
    "Executive": ("Chief {d} Officer", "VP of {d}", "VP, {d}", "Managing Director", "President"),
    "Head": ("Head of {d}", "{d} Director", "Director, {d}", "Sr. Director {d}"),
    "Manager": ("{d} Manager", "Manager, {d}", "Sr. {d} Manager", "{d} Team Lead"),
    "Staff": ("{d} Specialist", "{d} Analyst", "{d} Engineer", "Associate, {d}", "{d} staff"),
    "Student": ("Student", "Graduate Student", "Intern", "MBA candidate"),
}
_TITLE_WORDS = {
    "IT": ("IT", "Information Systems", "Infrastructure"),
    "Marketing": ("Marketing", "Digital Marketing"),
    "Sales": ("Sales", "Business Development"),
    "Finance": ("Finance", "Accounting"),
    "HR": ("HR", "People"),
    "Operations": ("Operations", "Supply Chain"),
    "Other": ("Product", "R&D", "General Affairs"),
}
_JAPANESE_TITLES = {
    "Executive": ("取締役", "代表取締役", "執行役員"),
    "Head": ("{j} 部長", "{j}長"),
    "Manager": ("{j} 課長", "{j} マネージャー"),
    "Staff": ("{j}", "{j} 担当", "{j} 主任"),
    "Student": ("学生", "大学院生"),
}
_JAPANESE_DEPARTMENTS = {
    "IT": "情報システム部", "Marketing": "マーケティング部", "Sales": "営業部",
    "Finance": "経理部", "HR": "人事部", "Operations": "業務部", "Other": "総務部",
}  # fmt: skip
_JOB_SEEKER_TITLES = ("Job Seeker", "Looking for opportunities", "求職中", "Unemployed", "-")

_JAPANESE_FIRST = ("Haruto", "Yuto", "Sota", "Yuki", "Hiroshi", "Takashi", "Kenji", "Daichi",
                   "Ren", "Kaito", "Yui", "Aoi", "Sakura", "Hina", "Yuna", "Mei", "Akari", "Emi",
                   "Naoko", "Keiko", "Tomoko", "Ayaka", "Misaki", "Riko", "Shota", "Kazuki",
                   "Ryota", "Takumi", "Mayu", "Nanami")  # fmt: skip
_JAPANESE_LAST = ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto",
                  "Nakamura", "Kobayashi", "Kato", "Yoshida", "Yamada", "Sasaki", "Yamaguchi",
                  "Matsumoto", "Inoue", "Kimura", "Hayashi", "Shimizu", "Yamazaki", "Mori", "Abe",
                  "Ikeda", "Hashimoto", "Ishikawa", "Ogawa", "Fujita", "Okada", "Goto",
                  "Hasegawa")  # fmt: skip
_OTHER_FIRST = ("James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda",
                "David", "Elizabeth", "William", "Susan", "Richard", "Jessica", "Thomas", "Sarah",
                "Daniel", "Karen", "Matthew", "Emma", "Lucas", "Sophie", "Priya", "Arjun", "Wei",
                "Mei-Ling", "Min-jun", "Ji-woo", "Olivia", "Noah")  # fmt: skip
_OTHER_LAST = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
               "Martinez", "Lopez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Martin",
               "Lee", "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Hall", "Young",
               "King", "Wright", "Chen", "Wang", "Kumar", "Singh", "Muller", "Dubois",
               "Rossi")  # fmt: skip
_COMPANY_PREFIXES = ("Sakura", "Fuji", "Nova", "Blue", "Summit", "Pacific", "Kaze", "Hikari",
                     "Orion", "Atlas", "Zen", "Aozora", "Maple", "Vertex", "Cedar", "Harbor",
                     "Kita", "Minami", "Tokai", "Asahi", "Polar", "Crest", "Iron", "Silver",
                     "Green", "Sora", "Midori", "Yamato", "Shin", "Delta")  # fmt: skip
_COMPANY_CORES = ("Data", "Logistics", "Manufacturing", "Systems", "Solutions", "Networks",
                  "Foods", "Medical", "Trading", "Robotics", "Energy", "Finance", "Retail",
                  "Software", "Engineering", "Media", "Capital", "Labs", "Works",
                  "Electric")  # fmt: skip
_COMPANY_SUFFIXES = ("Inc.", "Co., Ltd.", "K.K.", "Corp.", "Holdings", "GmbH", "Ltd", "LLC", "")

_ACTIVITY_TYPES = (
    Activity.EMAIL_OPEN, Activity.EMAIL_CLICK, Activity.EMAIL_BOUNCE, Activity.UNSUBSCRIBE,
    Activity.PAGE_VIEW, Activity.CONTENT_DOWNLOAD, Activity.WEBINAR_REGISTERED,
    Activity.WEBINAR_ATTENDED, Activity.TRADESHOW_SCAN, Activity.FORM_SUBMIT,
    Activity.DEMO_REQUEST, Activity.QUOTE_REQUEST, Activity.SALES_CALL, Activity.SALES_MEETING,
)  # fmt: skip
_KIND = {name: code for code, name in enumerate(_ACTIVITY_TYPES)}

_PRODUCTS = ("endpoint", "identity", "backup", "monitoring", "siem", "helpdesk",
             "asset-management", "integrations")  # fmt: skip
_CASE_STUDIES = ("sakura-logistics", "kansai-precision", "nova-bank", "tokai-foods",
                 "orion-retail", "harbor-health", "atlas-robotics", "midori-energy",
                 "summit-capital", "kaze-media", "polar-trading", "vertex-software",
                 "cedar-university", "crest-insurance", "asahi-electric", "blue-pharma",
                 "iron-works", "sora-airlines", "yamato-transport", "zen-hotels")  # fmt: skip
_BLOG_TOPICS = ("zero-trust", "endpoint-security", "cloud-migration", "data-governance",
                "backup-strategy", "identity-management", "sase", "siem", "incident-response",
                "ransomware", "it-asset-management", "patch-management", "remote-work",
                "compliance", "gdpr", "appi", "mfa", "network-monitoring", "devops",
                "kubernetes", "cost-optimisation", "vendor-selection", "helpdesk", "automation",
                "ai-governance")  # fmt: skip
_BLOG_FORMS = ("what-is-{t}", "{t}-guide", "{t}-checklist", "{t}-best-practices",
               "{t}-mistakes-to-avoid", "{t}-trends-2025", "{t}-vs-legacy-tools", "{t}-roi",
               "{t}-for-small-business", "{t}-for-enterprise", "how-we-did-{t}",
               "{t}-faq")  # fmt: skip
_TOFU_ASSETS = tuple(f"ebook-{t}" for t in _BLOG_TOPICS[:12]) + tuple(
    f"checklist-{t}" for t in _BLOG_TOPICS[12:20]
)
_BOFU_ASSETS = (*(f"datasheet-{p}" for p in _PRODUCTS), "roi-calculator", "pricing-guide",
                "analyst-report-2025", "security-whitepaper", "migration-playbook",
                "rfp-template")  # fmt: skip
_FORMS = ("contact-us", "newsletter-signup", "ebook-form", "trial-signup", "event-registration",
          "lead-gen-form", "partner-referral", "demo-request", "quote-request")  # fmt: skip
_CAMPAIGN_THEMES = ("newsletter", "product-update", "webinar-invite", "customer-story",
                    "event-invite", "nurture-security", "nurture-cloud", "tips")  # fmt: skip
_SHOWS = ("interop-tokyo", "japan-it-week-spring", "aws-summit-tokyo", "security-days",
          "japan-it-week-autumn", "gartner-symposium", "cloud-expo-asia",
          "rsa-conference")  # fmt: skip

_BACKGROUND_PAGES = {"/": 0.18, "blog": 0.55, "product": 0.09, "/faq": 0.04, "/pricing": 0.03,
                     "case": 0.03, "/careers": 0.03, "/about": 0.03, "/contact": 0.02}  # fmt: skip
_EPISODE_PAGES = {"/pricing": 0.18, "case": 0.18, "product": 0.25, "/faq": 0.07, "/": 0.07,
                  "blog": 0.17, "/contact": 0.04, "/about": 0.02, "/careers": 0.02}  # fmt: skip
_CAREERS_PAGES = {"/careers": 0.75, "/": 0.08, "/about": 0.09, "blog": 0.08}
_BACKGROUND_WEB_MIX = {Activity.PAGE_VIEW: 0.75, Activity.CONTENT_DOWNLOAD: 0.09,
                       Activity.WEBINAR_REGISTERED: 0.05, Activity.WEBINAR_ATTENDED: 0.025,
                       Activity.FORM_SUBMIT: 0.03, Activity.TRADESHOW_SCAN: 0.055}  # fmt: skip
_EPISODE_WEB_MIX = {Activity.PAGE_VIEW: 0.82, Activity.CONTENT_DOWNLOAD: 0.09,
                    Activity.WEBINAR_REGISTERED: 0.05, Activity.WEBINAR_ATTENDED: 0.03,
                    Activity.FORM_SUBMIT: 0.01}  # fmt: skip
_BACKGROUND_FORMS = {"newsletter-signup": 0.4, "ebook-form": 0.3, "event-registration": 0.2,
                     "contact-us": 0.1}  # fmt: skip
_EPISODE_FORMS = {"contact-us": 0.3, "trial-signup": 0.4, "event-registration": 0.3}
# How each channel creates a lead: (activity type, form name or None to draw the detail, share).
_CREATION = {
    "organic_search": ((Activity.FORM_SUBMIT, "ebook-form", 0.45),
                       (Activity.CONTENT_DOWNLOAD, None, 0.25),
                       (Activity.FORM_SUBMIT, "newsletter-signup", 0.2),
                       (Activity.FORM_SUBMIT, "contact-us", 0.1)),
    "paid_search": ((Activity.FORM_SUBMIT, "trial-signup", 0.3),
                    (Activity.FORM_SUBMIT, "ebook-form", 0.3),
                    (Activity.CONTENT_DOWNLOAD, None, 0.2),
                    (Activity.FORM_SUBMIT, "contact-us", 0.2)),
    "paid_social": ((Activity.FORM_SUBMIT, "lead-gen-form", 0.8),
                    (Activity.CONTENT_DOWNLOAD, None, 0.2)),
    "email": ((Activity.FORM_SUBMIT, "newsletter-signup", 0.6),
              (Activity.WEBINAR_REGISTERED, None, 0.4)),
    "referral": ((Activity.FORM_SUBMIT, "contact-us", 0.6),
                 (Activity.FORM_SUBMIT, "trial-signup", 0.4)),
    "tradeshow": ((Activity.TRADESHOW_SCAN, None, 1.0),),
    "partner": ((Activity.FORM_SUBMIT, "partner-referral", 1.0),),
    "direct": ((Activity.FORM_SUBMIT, "contact-us", 0.3),
               (Activity.FORM_SUBMIT, "newsletter-signup", 0.4),
               (Activity.FORM_SUBMIT, "trial-signup", 0.3)),
}  # fmt: skip
# The explicit hand-raise: (activity type, form name or None, share).
_HAND_RAISES = ((Activity.DEMO_REQUEST, "demo-request", 0.45),
                (Activity.QUOTE_REQUEST, "quote-request", 0.15),
                (Activity.FORM_SUBMIT, "contact-us", 0.25),
                (Activity.WEBINAR_ATTENDED, None, 0.15))  # fmt: skip


# ------------------------------------------------------------------------------------- catalog


@dataclass(frozen=True)
class _Catalog:
    """Everything an activity's detail can name, and when campaigns, webinars and shows ran.

    Details are codes into ``names``; each group (pages, assets, ...) is a contiguous range so a
    draw inside a group is an offset plus a small code.
    """

    names: tuple[str, ...]
    offsets: dict[str, int]
    page_groups: dict[str, tuple[int, int]]
    campaign_days: np.ndarray
    webinar_days: np.ndarray
    show_days: np.ndarray

    def page_weights(self, shares: dict[str, float]) -> np.ndarray:
        """Weights over all pages from group shares; blog posts are Zipf-popular."""
        weights = np.zeros(self.offsets["assets"] - self.offsets["pages"])
        for group, share in shares.items():
            lo, hi = self.page_groups[group]
            popularity = 1.0 / (np.arange(hi - lo) + 5.0) if group == "blog" else np.ones(hi - lo)
            weights[lo:hi] = share * popularity / popularity.sum()
        return weights


def _dated(start: pd.Timestamp, days: np.ndarray, fmt: str) -> list[str]:
    return list((start + pd.to_timedelta(days, unit="D")).strftime(fmt))


def _build_catalog(config: SimulationConfig, period_days: float) -> _Catalog:
    """The site's pages, assets and forms, plus campaign, webinar and show calendars.

    Campaigns go out on Tuesdays and Thursdays, webinars run fortnightly and shows every six
    weeks or so; an email or webinar detail names the one current at the activity's time.
    """
    start = config.start
    campaign_days = np.sort(
        np.concatenate([np.arange(-6.0, period_days, 7.0), np.arange(-4.0, period_days, 7.0)])
    )
    webinar_days = np.arange(-10.0, period_days + 30.0, 14.0)
    show_days = np.arange(-20.0, period_days, 45.0)

    fixed = ["/", "/pricing", "/faq", "/careers", "/about", "/contact"]
    products = [f"/product/{p}" for p in _PRODUCTS]
    cases = [f"/case-studies/{c}" for c in _CASE_STUDIES]
    blogs = [
        "/blog/" + form.format(t=topic)
        for form, topic in itertools.product(_BLOG_FORMS, _BLOG_TOPICS)
    ]
    page_groups = {p: (i, i + 1) for i, p in enumerate(fixed)}
    page_groups["product"] = (len(fixed), len(fixed) + len(products))
    page_groups["case"] = (page_groups["product"][1], page_groups["product"][1] + len(cases))
    page_groups["blog"] = (page_groups["case"][1], page_groups["case"][1] + len(blogs))
    cycle = itertools.cycle
    groups = {
        "pages": fixed + products + cases + blogs,
        "assets": [*_TOFU_ASSETS, *_BOFU_ASSETS],
        "forms": list(_FORMS),
        "campaigns": [
            f"{d}-{theme}"
            for d, theme in zip(
                _dated(start, campaign_days, "%Y-%m-%d"), cycle(_CAMPAIGN_THEMES), strict=False
            )
        ],
        "webinars": [
            f"webinar-{d}-{topic}"
            for d, topic in zip(
                _dated(start, webinar_days, "%Y-%m-%d"), cycle(_BLOG_TOPICS), strict=False
            )
        ],
        "shows": [
            f"{show}-{d}"
            for d, show in zip(_dated(start, show_days, "%Y-%m"), cycle(_SHOWS), strict=False)
        ],
    }
    names: list[str] = []
    offsets: dict[str, int] = {}
    for group, values in groups.items():
        offsets[group] = len(names)
        names.extend(values)
    return _Catalog(tuple(names), offsets, page_groups, campaign_days, webinar_days, show_days)


# ----------------------------------------------------------------------------------- utilities


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _draw_codes(
    rng: np.random.Generator, weights: np.ndarray | tuple[float, ...] | list[float], size: int
) -> np.ndarray:
    """Codes 0..k-1 drawn with the given (unnormalised) weights, as small integers."""
    cdf = np.cumsum(np.asarray(weights, dtype=float))
    cdf /= cdf[-1]
    codes = np.searchsorted(cdf, rng.random(size), side="right")
    return np.minimum(codes, len(cdf) - 1).astype(np.int16)


def _mixed_codes(
    rng: np.random.Generator, attribute: _Attribute, paid_social: np.ndarray
) -> np.ndarray:
    """An attribute drawn from its usual mix, or from the paid-social mix for those leads."""
    usual = _draw_codes(rng, attribute.mix, paid_social.size)
    social = _draw_codes(rng, attribute.mix_paid_social or attribute.mix, paid_social.size)
    return np.where(paid_social, social, usual)


def _lognormal(rng: np.random.Generator, median: float, sigma: float, size: int) -> np.ndarray:
    return median * np.exp(sigma * rng.standard_normal(size))


def _pick(values: list[str] | tuple[str, ...], codes: np.ndarray) -> pd.Series:
    """Categorical strings by code into `values` (-1 is missing), with no loop over rows.

    `values` may repeat a string (the same title in two groups); codes are mapped to uniques.
    """
    unique_codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    mapped = np.where(codes >= 0, unique_codes[np.maximum(codes, 0)], -1)
    return pd.Series(pd.Categorical.from_codes(mapped, categories=uniques))


def _text(values: list[str] | tuple[str, ...], codes: np.ndarray) -> pd.Series:
    return _pick(values, codes).astype("str")


def _timestamps(days: np.ndarray, start: pd.Timestamp) -> pd.Series:
    """UTC timestamps to the second from days since `start`; NaN becomes NaT."""
    seconds = np.round(days * 86_400.0)
    missing = np.isnan(seconds)
    micros = np.where(missing, 0, seconds).astype(np.int64) * 1_000_000 + start.value // 1_000
    micros[missing] = np.iinfo(np.int64).min
    return pd.Series(micros.view("M8[us]")).dt.tz_localize("UTC")


def _logit(share: float) -> float:
    share = min(max(share, 1e-12), 1.0 - 1e-12)
    return math.log(share / (1.0 - share))


# --------------------------------------------------------------------------------------- leads


@dataclass(frozen=True)
class _People:
    """Clean attributes of each lead (codes) and of its account, in lead_id order."""

    created: np.ndarray
    source: np.ndarray
    account: np.ndarray
    n_accounts: int
    industry: np.ndarray  # per account
    band: np.ndarray  # per account
    region: np.ndarray  # per account
    account_fit: np.ndarray  # per account
    department: np.ndarray
    job_level: np.ndarray
    job_seeker: np.ndarray


def _arrival_days(rng: np.random.Generator, n: int, growth: float, period: float) -> np.ndarray:
    """Creation times with inflow growing linearly by `growth` over the period (inverse CDF)."""
    u = rng.random(n)
    share = u if growth == 0 else (np.sqrt(1.0 + growth * (2.0 + growth) * u) - 1.0) / growth
    return share * period


def _account_of_each_lead(rng: np.random.Generator, n: int, per_account: float) -> np.ndarray:
    """Account index per lead: over-dispersed account sizes (1 + negative binomial)."""
    mean_extra, dispersion = per_account - 1.0, 0.5
    n_guess = int(n / per_account * 1.3) + 10
    if mean_extra > 0:
        extra = rng.negative_binomial(dispersion, dispersion / (dispersion + mean_extra), n_guess)
    else:
        extra = np.zeros(n_guess, dtype=np.int64)
    sizes = 1 + extra
    if sizes.sum() < n:  # rare: top up with single-lead accounts
        sizes = np.concatenate([sizes, np.ones(n, dtype=np.int64)])
    n_accounts = int(np.searchsorted(np.cumsum(sizes), n) + 1)
    account = np.repeat(np.arange(n_accounts, dtype=np.int32), sizes[:n_accounts])[:n]
    return rng.permutation(account)


def _draw_people(
    rng: np.random.Generator, n: int, config: SimulationConfig, catalog: _Catalog, period: float
) -> _People:
    created = _arrival_days(rng, n, config.lead_volume_growth, period)
    drift = created / period
    social_share = config.paid_social_share_start + drift * (
        config.paid_social_share_end - config.paid_social_share_start
    )
    source = np.where(
        rng.random(n) < social_share, _PAID_SOCIAL, _draw_codes(rng, _SOURCES.mix, n)
    ).astype(np.int16)
    # tradeshow leads are scanned at a show: move them to the show's days
    shows = catalog.show_days
    show = np.clip(np.searchsorted(shows, created, side="right") - 1, 0, shows.size - 1)
    at_show = np.clip(shows[show], 0.0, None) + rng.random(n) * 2.0
    created = np.where(source == _TRADESHOW, np.minimum(at_show, period - _HOUR), created)
    order = np.argsort(created, kind="stable")
    created, source = created[order], source[order]

    account = _account_of_each_lead(rng, n, config.leads_per_account)
    n_accounts = int(account.max()) + 1
    paid_social = source == _PAID_SOCIAL
    job_seeker = rng.random(n) < np.where(
        paid_social, min(1.0, 2.5 * config.job_seeker_share), config.job_seeker_share
    )
    job_level = _mixed_codes(rng, _JOB_LEVELS, paid_social)
    seeker_level = np.where(rng.random(n) < 0.4, _STUDENT, _STAFF)
    return _People(
        created=created,
        source=source,
        account=account,
        n_accounts=n_accounts,
        industry=_draw_codes(rng, _INDUSTRIES.mix, n_accounts),
        band=_draw_codes(rng, _EMPLOYEE_BANDS.mix, n_accounts),
        region=_draw_codes(rng, _REGIONS.mix, n_accounts),
        account_fit=0.6 * rng.standard_normal(n_accounts),
        department=_mixed_codes(rng, _DEPARTMENTS, paid_social),
        job_level=np.where(job_seeker, seeker_level, job_level).astype(np.int16),
        job_seeker=job_seeker,
    )


def _fit_logit(rng: np.random.Generator, people: _People) -> np.ndarray:
    acc = people.account
    return (
        np.asarray(_DEPARTMENTS.fit)[people.department]
        + np.asarray(_JOB_LEVELS.fit)[people.job_level]
        + np.asarray(_EMPLOYEE_BANDS.fit)[people.band[acc]]
        + np.asarray(_INDUSTRIES.fit)[people.industry[acc]]
        + np.asarray(_SOURCES.fit)[people.source]
        + _JOB_SEEKER_FIT * people.job_seeker
        + people.account_fit[acc]
        + 0.3 * rng.standard_normal(acc.size)
    )


@cache
def _title_vocabulary() -> tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Job titles per (level, department) group, English and Japanese, plus messy case copies.

    Returns the vocabulary and, per group, the offset and count of English and Japanese titles;
    the last group is job seekers. The vocabulary holds each title three times: as written,
    lower case with a trailing space, upper case.
    """
    titles: list[str] = []
    groups = len(_JOB_LEVELS.names) * len(_DEPARTMENTS.names) + 1
    en_offset, en_count = np.zeros(groups, np.int32), np.zeros(groups, np.int32)
    jp_offset, jp_count = np.zeros(groups, np.int32), np.zeros(groups, np.int32)
    for li, level in enumerate(_JOB_LEVELS.names):
        for di, department in enumerate(_DEPARTMENTS.names):
            g = li * len(_DEPARTMENTS.names) + di
            english = dict.fromkeys(
                t.format(d=w) for t in _TITLE_TEMPLATES[level] for w in _TITLE_WORDS[department]
            )
            japanese = dict.fromkeys(
                t.format(j=_JAPANESE_DEPARTMENTS[department]) for t in _JAPANESE_TITLES[level]
            )
            en_offset[g], en_count[g] = len(titles), len(english)
            titles.extend(english)
            jp_offset[g], jp_count[g] = len(titles), len(japanese)
            titles.extend(japanese)
    en_offset[-1] = jp_offset[-1] = len(titles)
    en_count[-1] = jp_count[-1] = len(_JOB_SEEKER_TITLES)
    titles.extend(_JOB_SEEKER_TITLES)
    messy = titles + [t.lower() + " " for t in titles] + [t.upper() for t in titles]
    return tuple(messy), en_offset, en_count, jp_offset, jp_count


def _messy(
    rng: np.random.Generator, codes: np.ndarray, missing: float, placeholder: float
) -> np.ndarray:
    """Codes with a share set to missing (-1) and a share to the "Select" placeholder (-2)."""
    u = rng.random(codes.size)
    return np.where(u < missing, -1, np.where(u < missing + placeholder, -2, codes))


def _with_placeholder(names: tuple[str, ...], codes: np.ndarray) -> pd.Series:
    """Strings for codes where -2 means the "Select" placeholder and -1 means missing."""
    return _text((*names, _PLACEHOLDER), np.where(codes == -2, len(names), codes))


def _job_titles(
    rng: np.random.Generator, people: _People, japan: np.ndarray, missing: float
) -> pd.Series:
    """Free-text job titles consistent with level and department, in two languages, messy."""
    titles, en_offset, en_count, jp_offset, jp_count = _title_vocabulary()
    n = people.created.size
    group = np.where(
        people.job_seeker,
        en_offset.size - 1,
        people.job_level * len(_DEPARTMENTS.names) + people.department,
    )
    japanese = japan & (rng.random(n) < 0.5)
    offset = np.where(japanese, jp_offset[group], en_offset[group])
    count = np.where(japanese, jp_count[group], en_count[group])
    code = offset + (rng.random(n) * count).astype(np.int32)
    case = _draw_codes(rng, (0.85, 0.07, 0.08), n).astype(np.int32)  # written, lower, upper
    code = code + case * (len(titles) // 3)
    return _text(titles, np.where(rng.random(n) < missing, -1, code))


def _departments(
    rng: np.random.Generator, department: np.ndarray, config: SimulationConfig
) -> pd.Series:
    """Departments as typed into forms: canonical, variant spellings, missing or "Select"."""
    n = department.size
    department = _messy(rng, department, config.missing_share, config.placeholder_share)
    canonical = len(_DEPARTMENTS.names)
    variants = [v for d in _DEPARTMENTS.names for v in _DEPARTMENT_VARIANTS[d]]
    sizes = [len(_DEPARTMENT_VARIANTS[d]) for d in _DEPARTMENTS.names]
    variant_offset = np.cumsum([0, *sizes])
    safe = np.maximum(department, 0)
    variant = (
        canonical
        + 1
        + variant_offset[safe]
        + (rng.random(n) * np.asarray(sizes)[safe]).astype(np.int64)
    )
    use_variant = (department >= 0) & (rng.random(n) < config.variant_share)
    code = np.where(use_variant, variant, np.where(department == -2, canonical, department))
    return _text((*_DEPARTMENTS.names, _PLACEHOLDER, *variants), code)


def _lead_frame(
    rng: np.random.Generator, people: _People, config: SimulationConfig, lead_ids: np.ndarray
) -> pd.DataFrame:
    """The leads table as an MA tool exports it: messy, with (fake) personal data."""
    n, acc, n_acc = lead_ids.size, people.account, people.n_accounts
    region = people.region[acc]
    japan = region < _JAPAN_REGIONS

    n_cores, n_suffixes = len(_COMPANY_CORES), len(_COMPANY_SUFFIXES)
    prefix = rng.integers(0, len(_COMPANY_PREFIXES), n_acc)
    core = rng.integers(0, n_cores, n_acc)
    suffix = rng.integers(0, n_suffixes, n_acc)
    company_names = [
        f"{p} {c} {s}".strip()
        for p, c, s in itertools.product(_COMPANY_PREFIXES, _COMPANY_CORES, _COMPANY_SUFFIXES)
    ]
    company = _text(company_names, ((prefix * n_cores + core) * n_suffixes + suffix)[acc])
    company = company.where(rng.random(n) >= 0.05, company.str.upper())
    domains = [f"{p}-{c}".lower() for p, c in itertools.product(_COMPANY_PREFIXES, _COMPANY_CORES)]
    domain = _text(domains, (prefix * n_cores + core)[acc])

    first_code = np.where(
        japan,
        rng.integers(0, len(_JAPANESE_FIRST), n),
        len(_JAPANESE_FIRST) + rng.integers(0, len(_OTHER_FIRST), n),
    )
    last_code = np.where(
        japan,
        rng.integers(0, len(_JAPANESE_LAST), n),
        len(_JAPANESE_LAST) + rng.integers(0, len(_OTHER_LAST), n),
    )
    first = _text((*_JAPANESE_FIRST, *_OTHER_FIRST), first_code)
    last = _text((*_JAPANESE_LAST, *_OTHER_LAST), last_code)
    given, family = first.str.lower(), last.str.lower()
    initial_only = rng.random(n) < 0.3
    work = given.str.slice(0, 1).where(initial_only, given + ".") + family
    work = work + "@" + domain + ".example"
    digits = pd.Series(rng.integers(10, 100, n)).astype("str")
    private = given + family + digits + "@mail.example"
    free_mail = people.job_seeker | (people.job_level == _STUDENT) | (rng.random(n) < 0.03)
    email = work.where(~free_mail, private)

    number = pd.Series(rng.integers(0, 10_000, n)).astype("str").str.zfill(4)
    phone = (_text(_PHONE_PREFIXES, region) + number).where(
        rng.random(n) >= config.missing_phone_share
    )

    level = _messy(rng, people.job_level, config.missing_job_level_share, config.placeholder_share)
    industry_missing = rng.random(n_acc) < config.missing_share
    industry = _messy(
        rng, np.where(industry_missing, -1, people.industry)[acc], 0.0, config.placeholder_share
    )
    industry_text = _with_placeholder(_INDUSTRIES.names, industry)
    industry_text = industry_text.where(
        rng.random(n) >= config.variant_share / 3, industry_text.str.lower()
    )
    band = np.where(rng.random(n_acc) < config.missing_share, -1, people.band)[acc]
    revenue = np.asarray(_BAND_REVENUE_MUSD)[people.band] * np.exp(0.7 * rng.standard_normal(n_acc))
    revenue = np.where(
        rng.random(n_acc) < config.missing_revenue_share, np.nan, np.round(revenue, 1)
    )
    account_ids = 300_001 + 7 * np.arange(n_acc, dtype=np.int64)
    return pd.DataFrame(
        {
            schema.LEAD_ID: lead_ids,
            schema.CREATED_AT: _timestamps(people.created, config.start),
            "account_id": account_ids[acc],
            "company": company,
            "email": email,
            "first_name": first,
            "last_name": last,
            "phone": phone,
            "job_title": _job_titles(rng, people, japan, 1.5 * config.missing_share),
            "job_level": _with_placeholder(_JOB_LEVELS.names, level),
            "department": _departments(rng, people.department, config),
            "industry": industry_text,
            "employee_band": _text(_EMPLOYEE_BANDS.names, band),
            "region": _text(_REGIONS.names, region),
            "annual_revenue_musd": revenue[acc],
            "source": _text(_SOURCES.names, people.source),
        }
    )


# -------------------------------------------------------------------------------------- journey


@dataclass(frozen=True)
class _Journey:
    """Each lead's hidden state and its path through the funnel (days since start; NaN = none)."""

    fit_logit: np.ndarray
    engagement: np.ndarray
    p_intent_episode: np.ndarray
    has_episode: np.ndarray
    intent_start: np.ndarray
    intent_end: np.ndarray
    intent_strength: np.ndarray
    p_hand_raise: np.ndarray
    hand_raised: np.ndarray
    hand_raise_at: np.ndarray
    p_score_handoff: np.ndarray
    score_handoff: np.ndarray
    score_handoff_at: np.ndarray
    follow_up_delay_hours: np.ndarray
    delay_logit_penalty: np.ndarray
    p_qualify_hand_raise: np.ndarray
    p_qualify_score: np.ndarray
    true_p_sql: np.ndarray
    mql_at: np.ndarray
    first_contact_at: np.ndarray
    sql_due_at: np.ndarray
    converts: np.ndarray
    won_at: np.ndarray
    email_until: np.ndarray
    bounce_at: np.ndarray
    unsubscribe_at: np.ndarray


def _draw_journey(rng: np.random.Generator, people: _People, config: SimulationConfig) -> _Journey:
    """Steps 2-5 of the story: fit, intent episode, hand-off, qualification, email status."""
    n = people.created.size
    created = people.created
    fit = _fit_logit(rng, people)
    paid_social = people.source == _PAID_SOCIAL
    engagement = _lognormal(rng, math.exp(-(0.9**2) / 2), 0.9, n) * np.where(paid_social, 0.7, 1.0)

    p_episode = _sigmoid(config.intent_episode_intercept + config.intent_episode_fit_slope * fit)
    has_episode = rng.random(n) < p_episode
    wait = np.where(
        rng.random(n) < config.in_market_at_creation_share,
        rng.exponential(0.5, n),
        rng.exponential(config.intent_delay_mean_days, n),
    )
    duration = _lognormal(rng, config.intent_duration_median_days, 0.6, n)
    strength = np.where(has_episode, _lognormal(rng, 1.0, config.intent_strength_sigma, n), 0.0)
    intent_start = np.where(has_episode, created + wait, np.nan)
    intent_end = intent_start + duration

    with np.errstate(divide="ignore"):
        log_strength = np.log(strength)
    p_hand_raise = np.where(
        has_episode, _sigmoid(config.hand_raise_intercept + 0.4 * fit + log_strength), 0.0
    )
    hand_raised = rng.random(n) < p_hand_raise
    hand_raise_at = intent_start + rng.beta(1.3, 2.5, n) * duration

    p_score = _sigmoid(_logit(config.score_handoff_share) + 0.7 * fit)
    score_handoff = ~hand_raised & (rng.random(n) < p_score)
    score_handoff_at = np.where(score_handoff, created + rng.exponential(60.0, n), np.nan)
    handed_off = hand_raised | score_handoff

    delay_hours = _lognormal(rng, config.follow_up_median_hours, config.follow_up_sigma, n)
    penalty = -config.delay_decay_per_day * delay_hours / 24.0
    p_qualify_a = _sigmoid(config.qualify_intercept + 0.6 * fit + penalty)
    p_qualify_b = _sigmoid(config.score_qualify_intercept + 0.6 * fit + penalty)
    true_p_sql = p_hand_raise * p_qualify_a + (1.0 - p_hand_raise) * p_score * p_qualify_b

    trigger = np.where(hand_raised, hand_raise_at, score_handoff_at)
    mql_at = trigger + rng.exponential(3.0 * _HOUR, n)
    first_contact_at = mql_at + delay_hours * _HOUR
    sql_due_at = first_contact_at + _lognormal(rng, 36.0 * _HOUR, 0.7, n)
    p_qualify = np.where(hand_raised, p_qualify_a, np.where(score_handoff, p_qualify_b, 0.0))
    converts = rng.random(n) < p_qualify
    won = converts & (rng.random(n) < _sigmoid(config.won_intercept + 0.5 * fit))
    won_at = np.where(won, sql_due_at + _lognormal(rng, 45.0, 0.5, n), np.nan)

    risky = paid_social | people.job_seeker
    bounced = rng.random(n) < np.where(risky, 2.0, 1.0) * config.bounce_share
    unsubscribes = ~bounced & (
        rng.random(n) < np.where(paid_social, 1.5, 1.0) * config.unsubscribe_share
    )
    bounce_at = np.where(bounced, created + rng.exponential(2.0, n), np.nan)
    unsubscribe_at = np.where(unsubscribes, created + rng.exponential(150.0, n), np.nan)
    return _Journey(
        fit_logit=fit,
        engagement=engagement,
        p_intent_episode=p_episode,
        has_episode=has_episode,
        intent_start=intent_start,
        intent_end=intent_end,
        intent_strength=strength,
        p_hand_raise=p_hand_raise,
        hand_raised=hand_raised,
        hand_raise_at=hand_raise_at,
        p_score_handoff=p_score,
        score_handoff=score_handoff,
        score_handoff_at=score_handoff_at,
        follow_up_delay_hours=delay_hours,
        delay_logit_penalty=penalty,
        p_qualify_hand_raise=p_qualify_a,
        p_qualify_score=p_qualify_b,
        true_p_sql=true_p_sql,
        mql_at=np.where(handed_off, mql_at, np.nan),
        first_contact_at=np.where(handed_off, first_contact_at, np.nan),
        sql_due_at=np.where(handed_off, sql_due_at, np.nan),
        converts=converts,
        won_at=won_at,
        email_until=np.where(bounced, created, np.where(unsubscribes, unsubscribe_at, np.inf)),
        bounce_at=bounce_at,
        unsubscribe_at=unsubscribe_at,
    )


# ---------------------------------------------------------------------------------- activities


@dataclass(frozen=True)
class _Events:
    """A batch of activities: lead index, time in days, type code, detail code (-1 missing)."""

    lead: np.ndarray
    at: np.ndarray
    kind: np.ndarray
    detail: np.ndarray

    @staticmethod
    def concat(batches: list[_Events]) -> _Events:
        columns = ("lead", "at", "kind", "detail")
        return _Events(*(np.concatenate([getattr(b, c) for b in batches]) for c in columns))

    def where(self, keep: np.ndarray) -> _Events:
        return _Events(self.lead[keep], self.at[keep], self.kind[keep], self.detail[keep])


def _in_windows(
    rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray, rate: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson events per lead at `rate` per day, uniform within [lo, hi]; no loop over leads."""
    span = np.where(np.isfinite(lo) & (hi > lo), hi - lo, 0.0)
    counts = rng.poisson(rate * span)
    lead = np.repeat(np.arange(lo.size, dtype=np.int32), counts)
    at = lo[lead] + rng.random(lead.size) * span[lead]
    return lead, at


def _previous(days: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Index of the latest scheduled day at or before each time (the first one if none)."""
    return np.clip(np.searchsorted(days, at, side="right") - 1, 0, days.size - 1)


def _details(
    rng: np.random.Generator,
    kind: np.ndarray,
    at: np.ndarray,
    catalog: _Catalog,
    pages: dict[str, float],
    bottom_of_funnel: float,
    forms: dict[str, float],
) -> np.ndarray:
    """A detail code for each activity from its type, its time and the phase's interests."""
    detail = np.full(kind.size, -1, dtype=np.int16)
    off = catalog.offsets

    def fill(activity: str, codes_for: Callable[[np.ndarray], np.ndarray]) -> None:
        rows = np.flatnonzero(kind == _KIND[activity])
        if rows.size:
            detail[rows] = codes_for(rows)

    page_weights = catalog.page_weights(pages)
    n_tofu, n_bofu = len(_TOFU_ASSETS), len(_BOFU_ASSETS)
    asset_weights = np.concatenate(
        [
            np.full(n_tofu, (1 - bottom_of_funnel) / n_tofu),
            np.full(n_bofu, bottom_of_funnel / n_bofu),
        ]
    )
    form_codes = off["forms"] + np.array([_FORMS.index(f) for f in forms])
    form_weights = list(forms.values())
    webinars = catalog.webinar_days
    fill(Activity.PAGE_VIEW, lambda r: off["pages"] + _draw_codes(rng, page_weights, r.size))
    fill(
        Activity.CONTENT_DOWNLOAD,
        lambda r: off["assets"] + _draw_codes(rng, asset_weights, r.size),
    )
    fill(Activity.FORM_SUBMIT, lambda r: form_codes[_draw_codes(rng, form_weights, r.size)])
    for activity in (Activity.EMAIL_OPEN, Activity.EMAIL_CLICK, Activity.EMAIL_BOUNCE,
                     Activity.UNSUBSCRIBE):  # fmt: skip
        fill(activity, lambda r: off["campaigns"] + _previous(catalog.campaign_days, at[r]))
    upcoming = np.clip(np.searchsorted(webinars, at), 0, webinars.size - 1)
    fill(Activity.WEBINAR_REGISTERED, lambda r: off["webinars"] + upcoming[r])
    fill(Activity.WEBINAR_ATTENDED, lambda r: off["webinars"] + _previous(webinars, at[r]))
    fill(Activity.TRADESHOW_SCAN, lambda r: off["shows"] + _previous(catalog.show_days, at[r]))
    for activity, form in ((Activity.DEMO_REQUEST, "demo-request"),
                           (Activity.QUOTE_REQUEST, "quote-request")):  # fmt: skip
        fill(activity, lambda r, f=form: np.full(r.size, off["forms"] + _FORMS.index(f)))
    return detail


def _phase(
    rng: np.random.Generator,
    window: tuple[np.ndarray, np.ndarray],
    rate: np.ndarray,
    mix: dict[str, float],
    catalog: _Catalog,
    *,
    pages: dict[str, float] = _BACKGROUND_PAGES,
    bottom_of_funnel: float = 0.15,
    forms: dict[str, float] = _BACKGROUND_FORMS,
) -> _Events:
    """Activities of one phase of every lead's life: Poisson counts, uniform times, mixed types."""
    lead, at = _in_windows(rng, *window, rate)
    codes = np.array([_KIND[k] for k in mix], dtype=np.int8)
    kind = codes[_draw_codes(rng, list(mix.values()), lead.size)]
    detail = _details(rng, kind, at, catalog, pages, bottom_of_funnel, forms)
    return _Events(lead, at, kind, detail)


def _one_each(
    rng: np.random.Generator,
    lead: np.ndarray,
    at: np.ndarray,
    options: tuple[tuple[str, str | None, float], ...],
    catalog: _Catalog,
) -> _Events:
    """One activity per given lead and time, its type and form drawn from `options`."""
    choice = _draw_codes(rng, [w for _, _, w in options], lead.size)
    kind = np.array([_KIND[k] for k, _, _ in options], dtype=np.int8)[choice]
    detail = _details(rng, kind, at, catalog, _BACKGROUND_PAGES, 0.15, _BACKGROUND_FORMS)
    forms = [-1 if f is None else catalog.offsets["forms"] + _FORMS.index(f) for _, f, _ in options]
    form = np.array(forms)[choice]
    detail = np.where(form >= 0, form, detail).astype(np.int16)
    return _Events(lead.astype(np.int32), at, kind, detail)


def _at_shows(rng: np.random.Generator, events: _Events, catalog: _Catalog) -> _Events:
    """Tradeshow scans happen on a show's days: move each scan to the show it names."""
    rows = np.flatnonzero(events.kind == _KIND[Activity.TRADESHOW_SCAN])
    show = events.detail[rows] - catalog.offsets["shows"]
    events.at[rows] = catalog.show_days[show] + rng.random(rows.size) * 2.0
    return events


def _registrations(rng: np.random.Generator, hand_raises: _Events, created: np.ndarray) -> _Events:
    """A webinar attendee registered for the same webinar some days before."""
    rows = np.flatnonzero(hand_raises.kind == _KIND[Activity.WEBINAR_ATTENDED])
    lead = hand_raises.lead[rows]
    at = np.maximum(hand_raises.at[rows] - rng.uniform(1.0, 10.0, rows.size), created[lead])
    kind = np.full(rows.size, _KIND[Activity.WEBINAR_REGISTERED], dtype=np.int8)
    return _Events(lead, at, kind, hand_raises.detail[rows])


def _draw_activities(
    rng: np.random.Generator,
    people: _People,
    journey: _Journey,
    config: SimulationConfig,
    catalog: _Catalog,
    period: float,
) -> _Events:
    """Every activity of every lead, phase by phase; only those in [created_at, export_at]."""
    n = people.created.size
    created, end = people.created, np.full(n, period)
    everyone = np.arange(n)
    batches: list[_Events] = []

    def add(events: _Events) -> None:
        inside = (events.at >= created[events.lead]) & (events.at <= period)
        batches.append(events if inside.all() else events.where(inside))

    by_source = np.argsort(people.source, kind="stable")
    for code, name in enumerate(_SOURCES.names):
        leads = by_source[people.source[by_source] == code]
        add(_one_each(rng, leads, created[leads], _CREATION[name], catalog))

    email_end = np.minimum(end, journey.email_until)
    opens = 1.12 * config.email_open_rate_per_day * journey.engagement
    email_mix = {Activity.EMAIL_OPEN: 0.89, Activity.EMAIL_CLICK: 0.11}
    add(_phase(rng, (created, email_end), opens, email_mix, catalog))
    web = config.web_rate_per_day * journey.engagement
    background = _phase(rng, (created, end), web, _BACKGROUND_WEB_MIX, catalog)
    add(_at_shows(rng, background, catalog))
    careers = np.where(people.job_seeker | (people.job_level == _STUDENT), created, np.nan)
    add(
        _phase(rng, (careers, end), 0.03 * journey.engagement, {Activity.PAGE_VIEW: 1.0},
               catalog, pages=_CAREERS_PAGES)
    )  # fmt: skip

    episode_rate = config.episode_rate_per_day * journey.intent_strength
    episode_rate = episode_rate * np.sqrt(journey.engagement)
    episode_end = np.minimum(journey.intent_end, end)
    episode_email = (journey.intent_start, np.minimum(episode_end, journey.email_until))
    email_mix = {Activity.EMAIL_OPEN: 0.7, Activity.EMAIL_CLICK: 0.3}
    add(_phase(rng, episode_email, 0.3 * episode_rate, email_mix, catalog))
    add(
        _phase(rng, (journey.intent_start, episode_end), 0.7 * episode_rate, _EPISODE_WEB_MIX,
               catalog, pages=_EPISODE_PAGES, bottom_of_funnel=0.6, forms=_EPISODE_FORMS)
    )  # fmt: skip

    raised = everyone[journey.hand_raised & (journey.hand_raise_at <= period)]
    hand_raises = _one_each(rng, raised, journey.hand_raise_at[raised], _HAND_RAISES, catalog)
    add(hand_raises)
    add(_registrations(rng, hand_raises, created))

    bounced = everyone[journey.bounce_at <= period]
    add(
        _one_each(rng, bounced, journey.bounce_at[bounced], ((Activity.EMAIL_BOUNCE, None, 1),),
                  catalog)
    )  # fmt: skip
    left = everyone[journey.unsubscribe_at <= period]
    unsubscribes = _one_each(
        rng, left, journey.unsubscribe_at[left], ((Activity.UNSUBSCRIBE, None, 1.0),), catalog
    )
    unsubscribes.detail[rng.random(left.size) < 0.3] = -1
    add(unsubscribes)

    sql = everyone[journey.converts & (journey.sql_due_at <= period)]
    lead = np.repeat(sql, 1 + rng.poisson(max(config.sales_activities_mean - 1.0, 0.0), sql.size))
    at = journey.sql_due_at[lead] + 60 * _SECOND + rng.exponential(10.0, lead.size)
    sales = ((Activity.SALES_CALL, None, 0.65), (Activity.SALES_MEETING, None, 0.35))
    add(_one_each(rng, lead, at, sales, catalog))

    return _Events.concat(batches)


def _activity_frame(
    events: _Events, lead_ids: np.ndarray, catalog: _Catalog, start: pd.Timestamp
) -> pd.DataFrame:
    """Activities in time order, as an export log lists them; types and details categorical.

    Pass the only reference to `events`: its arrays are released as soon as they are used, which
    keeps the peak memory of a 50M-activity world near twice the final frame.
    """
    lead, kind, detail = events.lead, events.kind, events.detail
    seconds = np.rint(events.at * 86_400.0).astype(np.int64)
    del events
    order = np.argsort(seconds, kind="stable")
    micros = seconds[order]
    del seconds
    micros *= 1_000_000
    micros += start.value // 1_000
    occurred = pd.Series(micros.view("M8[us]")).dt.tz_localize("UTC")
    del micros
    lead = lead_ids[lead[order]]
    kind, detail = kind[order], detail[order]
    del order
    return pd.DataFrame(
        {
            schema.LEAD_ID: lead,
            schema.OCCURRED_AT: occurred,
            schema.ACTIVITY_TYPE: pd.Categorical.from_codes(kind, categories=_ACTIVITY_TYPES),
            schema.DETAIL: pd.Categorical.from_codes(detail, categories=catalog.names),
        },
        copy=False,
    )


# ---------------------------------------------------------------------------- outcomes and truth


def _censored(days: np.ndarray, period: float) -> np.ndarray:
    return np.where(days <= period, days, np.nan)


def _outcome_frame(
    journey: _Journey, lead_ids: np.ndarray, start: pd.Timestamp, period: float
) -> pd.DataFrame:
    """One row per lead, as the CRM knows it at export time: later events are not known yet."""
    sql_at = np.where(journey.converts, journey.sql_due_at, np.nan)
    return pd.DataFrame(
        {
            schema.LEAD_ID: lead_ids,
            schema.SQL_AT: _timestamps(_censored(sql_at, period), start),
            schema.MQL_AT: _timestamps(_censored(journey.mql_at, period), start),
            schema.FIRST_CONTACT_AT: _timestamps(
                _censored(journey.first_contact_at, period), start
            ),
            schema.WON_AT: _timestamps(_censored(journey.won_at, period), start),
        }
    )


def _truth_frame(
    journey: _Journey, people: _People, lead_ids: np.ndarray, start: pd.Timestamp
) -> pd.DataFrame:
    """The hidden truth: every latent value and uncensored time an oracle may need."""
    stamps = {
        "intent_start_at": journey.intent_start,
        "intent_end_at": journey.intent_end,
        "hand_raise_at": journey.hand_raise_at,
        "score_handoff_at": journey.score_handoff_at,
        "sql_due_at": journey.sql_due_at,
        "bounced_at": journey.bounce_at,
        "unsubscribed_at": journey.unsubscribe_at,
    }
    stamped = {name: _timestamps(days, start) for name, days in stamps.items()}
    return pd.DataFrame(
        {
            schema.LEAD_ID: lead_ids,
            "true_p_sql": journey.true_p_sql,
            "fit_logit": journey.fit_logit,
            "p_intent_episode": journey.p_intent_episode,
            "has_intent_episode": journey.has_episode,
            "intent_start_at": stamped["intent_start_at"],
            "intent_end_at": stamped["intent_end_at"],
            "intent_strength": journey.intent_strength,
            "p_hand_raise": journey.p_hand_raise,
            "hand_raised": journey.hand_raised,
            "hand_raise_at": stamped["hand_raise_at"],
            "p_score_handoff": journey.p_score_handoff,
            "score_handoff": journey.score_handoff,
            "score_handoff_at": stamped["score_handoff_at"],
            "follow_up_delay_hours": journey.follow_up_delay_hours,
            "delay_logit_penalty": journey.delay_logit_penalty,
            "p_qualify_hand_raise": journey.p_qualify_hand_raise,
            "p_qualify_score": journey.p_qualify_score,
            "converts": journey.converts,
            "sql_due_at": stamped["sql_due_at"],
            "engagement": journey.engagement,
            "is_job_seeker": people.job_seeker,
            "true_department": _pick(_DEPARTMENTS.names, people.department),
            "true_job_level": _pick(_JOB_LEVELS.names, people.job_level),
            "bounced_at": stamped["bounced_at"],
            "unsubscribed_at": stamped["unsubscribed_at"],
        }
    )


# ----------------------------------------------------------------------------------- public API


def simulate(n_leads: int, seed: int, config: SimulationConfig | None = None) -> SyntheticWorld:
    """Simulate an MA export of `n_leads` leads; the same seed always gives the same world.

    Vectorised throughout (no loop over leads), so a million leads and some fifty million
    activities take minutes and a few GB. The module docstring tells the generative story.
    """
    if n_leads < 1:
        raise ValueError(f"n_leads is {n_leads}; expected at least one lead")
    config = config or SimulationConfig()
    period = (config.export_at - config.start) / pd.Timedelta(days=1)
    catalog = _build_catalog(config, period)
    people_rng, journey_rng, lead_rng, activity_rng = np.random.default_rng(seed).spawn(4)

    people = _draw_people(people_rng, n_leads, config, catalog, period)
    lead_ids = 100_000 + np.cumsum(people_rng.geometric(0.85, n_leads)).astype(np.int64)
    journey = _draw_journey(journey_rng, people, config)
    leads = _lead_frame(lead_rng, people, config, lead_ids)
    activities = _activity_frame(
        _draw_activities(activity_rng, people, journey, config, catalog, period),
        lead_ids,
        catalog,
        config.start,
    )
    return SyntheticWorld(
        leads=leads,
        activities=activities,
        outcomes=_outcome_frame(journey, lead_ids, config.start, period),
        truth=_truth_frame(journey, people, lead_ids, config.start),
        export_at=config.export_at,
    )


def write_world(world: SyntheticWorld, out_dir: Path) -> dict[str, Path]:
    """Write each table as Parquet and all of them into one embedded DuckDB file.

    The DuckDB file (key ``warehouse``) lets the feature builder and a data scientist query the
    export with SQL at once; tables load from Arrow, not row by row, so fifty million activities
    take seconds. Returns table name -> Parquet path, plus ``warehouse`` -> DuckDB path.
    """
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {
        "leads": world.leads,
        "activities": world.activities,
        "outcomes": world.outcomes,
        "truth": world.truth,
    }
    warehouse = out_dir / "world.duckdb"
    for stale in (warehouse, out_dir / "world.duckdb.wal"):
        stale.unlink(missing_ok=True)
    paths: dict[str, Path] = {}
    with duckdb.connect(str(warehouse)) as connection:
        for name, frame in tables.items():
            arrow = pa.Table.from_pandas(frame, preserve_index=False)
            paths[name] = out_dir / f"{name}.parquet"
            pq.write_table(arrow, paths[name], compression="zstd")
            connection.register("incoming", arrow)
            connection.execute(f'CREATE TABLE "{name}" AS SELECT * FROM incoming')
            connection.unregister("incoming")
            del arrow
    paths["warehouse"] = warehouse
    return paths

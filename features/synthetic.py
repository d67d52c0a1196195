"""A synthetic MA world: a Marketo/HubSpot-style export whose ground truth is known.

Generative story (so that a later reader can build an oracle at any cutoff):

1. **Accounts** have firmographics (industry, employee band, region). About three leads share an
   account. **Leads** get a creation time uniform over the period, a source channel whose mix
   drifts (paid social grows from ~10% to ~40% and brings weaker leads), a job level and a
   department. ``fit_logit`` is the sum of attribute effects (``_EFFECTS``).
2. **Intent**: with probability ``sigmoid(episode_bias + fit_logit)`` a lead has one buying
   episode, starting ``Exp(episode_delay_days)`` after creation and lasting
   ``U(10, 40)`` days, with strength ``s ~ LogNormal(0, 0.5)``.
3. **Activities** are Poisson streams: a background rate over the lead's whole life (mostly
   email opens, blog visits; job seekers and students read /careers), and during the episode a
   higher rate ``episode_rate * s`` with a high-intent mix (pricing, case studies, webinars,
   downloads). Unsubscribed leads stop receiving email; bounced leads never opened any.
4. **Conversion**: ``true_p_sql = sigmoid(conversion_bias + fit_logit + 1.5 * log(s))`` for
   leads with an episode (``baseline_p_sql`` otherwise). Converters raise a hand (demo or quote
   request, webinar attendance, content download) inside the episode; sales follows up after
   ``follow_up_delay_hours`` (log-normal), and every hour of delay lowers the chance of SQL by
   the factor ``exp(-delay / delay_decay_hours)``. ``sql_at`` = hand-raise + delay + up to 2
   days of qualification. Some non-converting episode leads raise a hand too (MQLs that fail).
5. **Traps**: ``sales_call`` / ``sales_meeting`` activities only after ``sql_at``; messy
   attributes (missing values, ``Select``, spelling variants of departments); channel drift.
   Anything after ``export_at`` is cut (SQL not yet happened reads as empty).

``truth`` holds every latent above; it is never part of an export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features import schema
from features.schema import Activity

US_PER_DAY = 86_400 * 1_000_000
US_PER_HOUR = 3_600 * 1_000_000

_INDUSTRIES = ["Manufacturing", "Software", "Financial Services", "Retail", "Healthcare",
               "Logistics", "Education", "Public Sector"]  # fmt: skip
_BANDS = ["1-10", "11-50", "51-200", "201-1000", "1001-5000", "5000+"]
_REGIONS = ["Kanto", "Kansai", "Chubu", "APAC", "NA", "EMEA"]
_LEVELS = ["Executive", "Head", "Manager", "Staff", "Student"]
_DEPARTMENTS = ["IT", "Marketing", "Sales", "Finance", "HR", "Operations", "Other"]
_SOURCES = ["organic_search", "paid_search", "paid_social", "email", "referral", "tradeshow",
            "partner", "direct"]  # fmt: skip
_EFFECTS = {
    "industry": [0.3, 0.5, 0.2, -0.2, 0.0, 0.1, -0.4, -0.3],
    "employee_band": [-0.7, -0.3, 0.2, 0.4, 0.3, 0.1],
    "region": [0.1, 0.0, -0.1, 0.0, 0.1, -0.1],
    "job_level": [0.5, 0.8, 0.4, 0.0, -1.6],
    "department": [0.9, 0.3, 0.0, 0.1, -0.5, 0.0, -0.3],
    "source": [0.2, 0.1, -0.6, 0.0, 0.5, 0.2, 0.4, 0.3],
}
_LEVEL_P = [0.06, 0.14, 0.25, 0.40, 0.07]
_DEPARTMENT_P = [0.30, 0.22, 0.12, 0.08, 0.06, 0.12, 0.10]
_SOURCE_P_EARLY = np.array([0.22, 0.16, 0.10, 0.16, 0.08, 0.10, 0.08, 0.10])

# activity vocabulary: (type, mix in background, mix in an episode)
_TYPES = [
    (Activity.EMAIL_OPEN, 0.58, 0.14),
    (Activity.EMAIL_CLICK, 0.07, 0.13),
    (Activity.PAGE_VIEW, 0.27, 0.46),
    (Activity.CONTENT_DOWNLOAD, 0.025, 0.10),
    (Activity.WEBINAR_REGISTERED, 0.02, 0.05),
    (Activity.WEBINAR_ATTENDED, 0.008, 0.05),
    (Activity.TRADESHOW_SCAN, 0.004, 0.01),
    (Activity.FORM_SUBMIT, 0.012, 0.03),
    (Activity.DEMO_REQUEST, 0.0005, 0.01),
    (Activity.QUOTE_REQUEST, 0.0005, 0.01),
]
_PAGE_SECTIONS = [  # (section, n pages, background mix, episode mix)
    ("/", 1, 0.18, 0.10),
    ("/blog/", 300, 0.50, 0.08),
    ("/product/", 6, 0.10, 0.22),
    ("/pricing", 1, 0.03, 0.25),
    ("/case-studies/", 30, 0.05, 0.22),
    ("/faq", 1, 0.04, 0.10),
    ("/careers", 1, 0.10, 0.03),
]
_NAMED_DETAILS = {
    Activity.EMAIL_OPEN: ("newsletter-", 60),
    Activity.EMAIL_CLICK: ("newsletter-", 60),
    Activity.CONTENT_DOWNLOAD: ("whitepaper-", 40),
    Activity.WEBINAR_REGISTERED: ("webinar-", 20),
    Activity.WEBINAR_ATTENDED: ("webinar-", 20),
    Activity.TRADESHOW_SCAN: ("expo-", 8),
    Activity.FORM_SUBMIT: ("form-", 5),
    Activity.DEMO_REQUEST: ("form-demo", 1),
    Activity.QUOTE_REQUEST: ("form-quote", 1),
}
_FIRST = ["Haruto", "Yui", "Sota", "Aoi", "Ren", "Mio", "James", "Emma", "Liam", "Olivia",
          "Kenji", "Sakura", "Noah", "Ava", "Daiki", "Hina"]  # fmt: skip
_LAST = ["Sato", "Suzuki", "Takahashi", "Tanaka", "Ito", "Smith", "Johnson", "Brown", "Kato",
         "Yamamoto", "Nakamura", "Garcia", "Kobayashi", "Miller"]  # fmt: skip


@dataclass(frozen=True)
class SimulationConfig:
    """Knobs of the world; the defaults give roughly 50 activities and 7% SQL per lead."""

    start: pd.Timestamp = field(default_factory=lambda: pd.Timestamp("2025-01-01", tz="UTC"))
    months: int = 18  # leads arrive over this period; the export is taken at its end
    leads_per_account: float = 3.0
    background_rate_per_day: float = 0.15  # mean; each lead's own rate is log-normal around it
    episode_bias: float = -1.3  # logit offset of having a buying episode
    episode_delay_days: float = 30.0
    episode_rate_per_day: float = 1.0  # times the episode strength
    conversion_bias: float = -2.2
    baseline_p_sql: float = 0.003
    follow_up_median_hours: float = 10.0
    delay_decay_hours: float = 240.0
    paid_social_final_share: float = 0.40  # channel drift: share at the end of the period
    failed_mql_share: float = 0.35  # episode non-converters that still raise a hand
    messy_share: float = 0.15  # share of department values written in a variant spelling


@dataclass(frozen=True)
class SyntheticWorld:
    """An export (leads, activities, outcomes), its hidden truth and its as-of moment."""

    leads: pd.DataFrame
    activities: pd.DataFrame
    outcomes: pd.DataFrame
    truth: pd.DataFrame
    export_at: pd.Timestamp


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _stamps(us: np.ndarray) -> pd.Series:
    """int64 microseconds (NaT where negative) as UTC timestamps."""
    values = np.where(us < 0, np.iinfo("int64").min, us).astype("datetime64[us]")
    return pd.Series(values).dt.tz_localize("UTC")


def _detail_vocabulary() -> tuple[list[str], dict[str, tuple[int, int]]]:
    """Every detail string once, and each group's (first code, size)."""
    vocabulary: list[str] = []
    groups: dict[str, tuple[int, int]] = {}
    for section, size, _, _ in _PAGE_SECTIONS:
        groups[section] = (len(vocabulary), size)
        vocabulary += (
            [section] if size == 1 else [f"{section}{section[1:-1]}-{i}" for i in range(size)]
        )
    for prefix, size in set(_NAMED_DETAILS.values()):
        groups[prefix] = (len(vocabulary), size)
        vocabulary += [prefix] if size == 1 else [f"{prefix}{i}" for i in range(size)]
    return vocabulary, groups


_VOCABULARY, _GROUPS = _detail_vocabulary()
_TYPE_NAMES = [t for t, _, _ in _TYPES] + [Activity.EMAIL_BOUNCE, Activity.UNSUBSCRIBE,
                                           *Activity.SALES_SIDE]  # fmt: skip


def _details(
    rng: np.random.Generator, types: np.ndarray, episode: bool, seeker: np.ndarray
) -> np.ndarray:
    """Detail codes for events of the given type codes (-1 = no detail)."""
    codes = np.full(types.size, -1, dtype="int32")
    page = types == _TYPE_NAMES.index(Activity.PAGE_VIEW)
    mix = np.array([s[3] if episode else s[2] for s in _PAGE_SECTIONS])
    section = rng.choice(len(_PAGE_SECTIONS), size=int(page.sum()), p=mix / mix.sum())
    careers = [s[0] for s in _PAGE_SECTIONS].index("/careers")
    section = np.where(seeker[page] & (rng.random(section.size) < 0.5), careers, section)
    starts = np.array([_GROUPS[s[0]][0] for s in _PAGE_SECTIONS])
    sizes = np.array([_GROUPS[s[0]][1] for s in _PAGE_SECTIONS])
    codes[page] = starts[section] + (rng.random(section.size) * sizes[section]).astype("int32")
    for activity_type, (prefix, size) in _NAMED_DETAILS.items():
        chosen = types == _TYPE_NAMES.index(activity_type)
        first, _ = _GROUPS[prefix]
        codes[chosen] = first + rng.integers(0, size, int(chosen.sum()))
    return codes


def _stream(
    rng: np.random.Generator,
    start: np.ndarray,
    length: np.ndarray,
    rate: np.ndarray,
    episode: bool,
    seeker: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A Poisson stream per lead on [start, start + length): (lead index, time, type, detail)."""
    counts = rng.poisson(np.maximum(rate * length / US_PER_DAY, 0))
    owner = np.repeat(np.arange(start.size, dtype="int64"), counts)
    times = start[owner] + (rng.random(owner.size) * length[owner]).astype("int64")
    mix = np.array([t[2] if episode else t[1] for t in _TYPES])
    types = rng.choice(len(_TYPES), size=owner.size, p=mix / mix.sum()).astype("int8")
    return owner, times, types, _details(rng, types, episode, seeker[owner])


def _categorical(rng: np.random.Generator, levels: list[str], p, n: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    return rng.choice(len(levels), size=n, p=np.asarray(p) / np.sum(p))


def simulate(n_leads: int, seed: int, config: SimulationConfig | None = None) -> SyntheticWorld:
    """A deterministic world of ``n_leads`` leads: same seed, same world."""
    cfg = config or SimulationConfig()
    rng = np.random.default_rng(seed)
    start_us = cfg.start.value // 1000
    export_at = cfg.start + pd.DateOffset(months=cfg.months)
    end_us = export_at.value // 1000
    n = int(n_leads)

    # accounts and leads -----------------------------------------------------------------
    n_accounts = max(1, round(n / cfg.leads_per_account))
    industry_a = _categorical(rng, _INDUSTRIES, [3, 3, 2, 2, 2, 2, 1, 1], n_accounts)
    band_a = _categorical(rng, _BANDS, [2, 3, 3, 2, 1, 1], n_accounts)
    region_a = _categorical(rng, _REGIONS, [4, 2, 1, 1, 1, 1], n_accounts)
    account = rng.integers(0, n_accounts, n)
    created = start_us + np.sort(rng.random(n) * (end_us - start_us)).astype("int64")
    progress = (created - start_us) / (end_us - start_us)
    social = 0.10 + (cfg.paid_social_final_share - 0.10) * progress
    others = np.delete(_SOURCE_P_EARLY, 2) / np.delete(_SOURCE_P_EARLY, 2).sum()
    shares = (1 - social)[:, None] * others[None, :]
    source_p = np.column_stack([shares[:, :2], social, shares[:, 2:]])
    source = (rng.random(n)[:, None] > np.cumsum(source_p, axis=1)).sum(axis=1).clip(0, 7)
    level = _categorical(rng, _LEVELS, _LEVEL_P, n)
    department = _categorical(rng, _DEPARTMENTS, _DEPARTMENT_P, n)
    industry, band, region = industry_a[account], band_a[account], region_a[account]
    fit = (
        np.take(_EFFECTS["industry"], industry) + np.take(_EFFECTS["employee_band"], band)
        + np.take(_EFFECTS["region"], region) + np.take(_EFFECTS["job_level"], level)
        + np.take(_EFFECTS["department"], department) + np.take(_EFFECTS["source"], source)
        + 0.4 * ((department == 0) & (level <= 1))  # IT decision makers, as the rulebook says
    )  # fmt: skip
    seeker = (level == _LEVELS.index("Student")) | (rng.random(n) < 0.04)

    # intent episode -----------------------------------------------------------------------
    has_episode = rng.random(n) < _sigmoid(cfg.episode_bias + fit)
    episode_start = created + (rng.exponential(cfg.episode_delay_days, n) * US_PER_DAY).astype(
        "int64"
    )
    episode_length = (rng.uniform(10, 40, n) * US_PER_DAY).astype("int64")
    strength = rng.lognormal(0.0, 0.5, n)
    has_episode &= episode_start < end_us

    # conversion ---------------------------------------------------------------------------
    true_p = np.where(
        has_episode,
        _sigmoid(cfg.conversion_bias + fit + 1.5 * np.log(strength)),
        cfg.baseline_p_sql,
    )
    delay_hours = rng.lognormal(np.log(cfg.follow_up_median_hours), 1.2, n)
    p_after_delay = true_p * np.exp(-delay_hours / cfg.delay_decay_hours)
    converts = rng.random(n) < p_after_delay
    raises_hand = converts | (has_episode & (rng.random(n) < cfg.failed_mql_share * true_p / 0.3))
    hand_at = np.where(
        has_episode,
        episode_start + (rng.uniform(0.2, 0.8, n) * episode_length).astype("int64"),
        created + (rng.random(n) * (end_us - created)).astype("int64"),
    )
    first_contact = hand_at + (delay_hours * US_PER_HOUR).astype("int64")
    sql_at = first_contact + (rng.random(n) * 2 * US_PER_DAY).astype("int64")
    won = converts & (rng.random(n) < 0.25)
    won_at = sql_at + (rng.uniform(14, 90, n) * US_PER_DAY).astype("int64")

    def censor(mask: np.ndarray, when: np.ndarray) -> np.ndarray:
        return np.where(mask & (when <= end_us), when, -1)

    outcomes = pd.DataFrame(
        {
            schema.LEAD_ID: np.arange(1, n + 1, dtype="int64"),
            schema.SQL_AT: _stamps(censor(converts, sql_at)),
            schema.MQL_AT: _stamps(censor(raises_hand, hand_at)),
            schema.FIRST_CONTACT_AT: _stamps(censor(raises_hand, first_contact)),
            schema.WON_AT: _stamps(censor(won, won_at)),
        }
    )

    # activities ---------------------------------------------------------------------------
    engagement = rng.lognormal(-0.3, 0.7, n) * np.exp(0.15 * fit)
    background = _stream(
        rng, created, end_us - created, cfg.background_rate_per_day * engagement, False, seeker
    )
    length = np.where(has_episode, np.minimum(episode_length, end_us - episode_start), 0)
    episode = _stream(rng, episode_start, length, cfg.episode_rate_per_day * strength, True, seeker)
    hands = np.nonzero(raises_hand & (hand_at <= end_us))[0]
    kind = rng.choice(
        [Activity.DEMO_REQUEST, Activity.QUOTE_REQUEST, Activity.WEBINAR_ATTENDED,
         Activity.CONTENT_DOWNLOAD], size=hands.size, p=[0.5, 0.2, 0.15, 0.15],
    )  # fmt: skip
    hand_types = np.array([_TYPE_NAMES.index(k) for k in kind], dtype="int8")
    hand_details = _details(rng, hand_types, True, seeker[hands])
    sold = np.nonzero(converts & (sql_at <= end_us))[0]
    calls = rng.poisson(2.0, sold.size) + 1
    sales_owner = np.repeat(sold, calls)
    sales_at = sql_at[sales_owner] + (rng.exponential(5, sales_owner.size) * US_PER_DAY).astype(
        "int64"
    )
    sales_types = np.where(
        rng.random(sales_owner.size) < 0.6,
        _TYPE_NAMES.index(Activity.SALES_CALL),
        _TYPE_NAMES.index(Activity.SALES_MEETING),
    ).astype("int8")
    unsubscribed = rng.random(n) < 0.05
    unsubscribe_at = created + (rng.random(n) * (end_us - created)).astype("int64")
    bounced = rng.random(n) < 0.02
    bounce_at = created + (rng.random(n) * US_PER_DAY).astype("int64")
    flagged_unsub, flagged_bounce = np.nonzero(unsubscribed)[0], np.nonzero(bounced)[0]

    owner = np.concatenate(
        [background[0], episode[0], hands, sales_owner, flagged_unsub, flagged_bounce]
    )
    times = np.concatenate(
        [background[1], episode[1], hand_at[hands], sales_at, unsubscribe_at[flagged_unsub],
         bounce_at[flagged_bounce]]
    )  # fmt: skip
    types = np.concatenate(
        [background[2], episode[2], hand_types, sales_types,
         np.full(flagged_unsub.size, _TYPE_NAMES.index(Activity.UNSUBSCRIBE), "int8"),
         np.full(flagged_bounce.size, _TYPE_NAMES.index(Activity.EMAIL_BOUNCE), "int8")]
    )  # fmt: skip
    details = np.concatenate(
        [background[3], episode[3], hand_details, np.full(sales_owner.size, -1, "int32"),
         np.full(flagged_unsub.size + flagged_bounce.size, -1, "int32")]
    )  # fmt: skip
    is_email = np.isin(
        types, [_TYPE_NAMES.index(Activity.EMAIL_OPEN), _TYPE_NAMES.index(Activity.EMAIL_CLICK)]
    )
    silenced = is_email & (bounced[owner] | (unsubscribed[owner] & (times > unsubscribe_at[owner])))
    keep = (times <= end_us) & ~silenced
    owner, times, types, details = owner[keep], times[keep], types[keep], details[keep]
    order = np.lexsort((times, owner))
    owner, times, types, details = owner[order], times[order], types[order], details[order]
    activities = pd.DataFrame(
        {
            schema.LEAD_ID: owner + 1,
            schema.OCCURRED_AT: _stamps(times),
            schema.ACTIVITY_TYPE: pd.Categorical.from_codes(types, categories=_TYPE_NAMES),
            schema.DETAIL: pd.Categorical.from_codes(details, categories=_VOCABULARY),
        }
    )

    leads = _lead_table(
        rng, cfg, n, created, account, industry, band, region, level, department, source
    )
    truth = pd.DataFrame(
        {
            schema.LEAD_ID: np.arange(1, n + 1, dtype="int64"),
            "true_p_sql": true_p,
            "p_sql_after_delay": p_after_delay,
            "fit_logit": fit,
            "has_episode": has_episode,
            "intent_start_at": _stamps(np.where(has_episode, episode_start, -1)),
            "intent_end_at": _stamps(np.where(has_episode, episode_start + episode_length, -1)),
            "intent_strength": np.where(has_episode, strength, 0.0),
            "follow_up_delay_hours": delay_hours,
            "converted": converts,
            "job_seeker": seeker,
        }
    )
    return SyntheticWorld(leads, activities, outcomes, truth, export_at)


def _lead_table(rng, cfg, n, created, account, industry, band, region, level, department, source):  # type: ignore[no-untyped-def]
    """The leads table with personal data and the mess of a real export."""
    ids = np.arange(1, n + 1, dtype="int64")
    first = np.array(_FIRST)[rng.integers(0, len(_FIRST), n)]
    last = np.array(_LAST)[rng.integers(0, len(_LAST), n)]
    company = pd.Series(account).map(lambda a: f"Company {a:06d} KK")

    def pick(levels: list[str], codes: np.ndarray, missing: float, select: float) -> pd.Series:
        values = pd.Series(np.array(levels, dtype=object)[codes])
        draw = rng.random(n)
        values[draw < missing] = None
        values[(draw >= missing) & (draw < missing + select)] = "Select"
        return values

    departments = pick(_DEPARTMENTS, department, 0.03, 0.0)
    variants = {
        "IT": ["it", " IT ", "Information Technology", "I.T."],
        "Marketing": ["marketing", "Mktg"],
    }
    for canonical, spellings in variants.items():
        chosen = (departments == canonical) & (rng.random(n) < cfg.messy_share)
        departments[chosen] = np.array(spellings, dtype=object)[
            rng.integers(0, len(spellings), int(chosen.sum()))
        ]
    levels = pick(_LEVELS, level, 0.08, 0.03)
    title_level = np.array(["Chief", "Head of", "Manager,", "", "Student,"], dtype=object)[level]
    titles = pd.Series(
        title_level + " " + np.array(_DEPARTMENTS, dtype=object)[department]
    ).str.strip()
    revenue = np.round(np.exp(rng.normal(2 + 0.8 * band, 0.6)), 1)
    return pd.DataFrame(
        {
            schema.LEAD_ID: ids,
            schema.CREATED_AT: _stamps(created),
            "account_id": account.astype("int64") + 1,
            "company": company,
            "email": pd.Series(first).str.lower()
            + "."
            + pd.Series(last).str.lower()
            + ids.astype(str)
            + "@example.com",
            "first_name": first,
            "last_name": last,
            "phone": pd.Series(rng.integers(1000, 9999, n).astype(str)).radd("+81-3-5550-"),
            "industry": pick(_INDUSTRIES, industry, 0.04, 0.03),
            "employee_band": pick(_BANDS, band, 0.06, 0.0),
            "region": pick(_REGIONS, region, 0.05, 0.0),
            "job_title": titles,
            "job_level": levels,
            "department": departments,
            "source": pd.Series(np.array(_SOURCES, dtype=object)[source]),
            "annual_revenue_musd": np.where(rng.random(n) < 0.4, np.nan, revenue),
        }
    )


def write_world(world: SyntheticWorld, out_dir: Path) -> dict[str, Path]:
    """Parquet files and an embedded DuckDB warehouse (``world.duckdb``) with the same tables."""
    import duckdb

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {
        "leads": world.leads,
        "activities": world.activities,
        "outcomes": world.outcomes,
        "truth": world.truth,
    }
    paths = {}
    for name, frame in tables.items():
        paths[name] = out_dir / f"{name}.parquet"
        frame.to_parquet(paths[name], index=False)
    paths["warehouse"] = out_dir / "world.duckdb"
    paths["warehouse"].unlink(missing_ok=True)
    with duckdb.connect(str(paths["warehouse"])) as con:
        con.execute("SET TimeZone = 'UTC'")
        for name in tables:
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_parquet(?)", [str(paths[name])])
    return paths

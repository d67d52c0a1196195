"""The leads table as an MA tool exports it: fake names and contacts, messy titles and fields.

The mess is the point: variant spellings, "Select" placeholders, missing values and two
languages are what a real export hands the contract and the feature builder.
"""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np
import pandas as pd

from leadscore.features import schema
from leadscore.features.synthetic._draw import _draw_codes, _text, _timestamps
from leadscore.features.synthetic.companies_and_people import (
    _DEPARTMENTS,
    _EMPLOYEE_BANDS,
    _INDUSTRIES,
    _JAPAN_REGIONS,
    _JOB_LEVELS,
    _REGIONS,
    _SOURCES,
    _STUDENT,
    _People,
)
from leadscore.features.synthetic.config import SimulationConfig

_BAND_REVENUE_MUSD = (0.5, 3.0, 15.0, 80.0, 400.0, 3000.0)


_PHONE_PREFIXES = ("+81-3-5550-", "+81-6-5550-", "+81-52-555-", "+81-92-555-", "+65 5550 ",
                   "+1-212-555-", "+44 20 7946 ")  # fmt: skip


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

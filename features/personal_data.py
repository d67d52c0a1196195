"""Recognise columns that hold personal data (emails, names, phones, addresses).

Leads carry personal data; leadscore must never turn it into a feature and never write it to a
log line or an error message. Recognition is by column name first (what MA exports call these
fields) and by content second, so an export that hides an email address in a column called
`contact` is still caught.
"""

from __future__ import annotations

import re
from collections.abc import Collection

import pandas as pd

_NAME_PATTERNS = (
    r"e_?mail",
    r"phone|mobile|telephone|^tel$|^fax$|cell_?phone",
    r"^(first|last|full|given|family|middle|sur|contact|person|lead|customer)_?name$",
    r"^name$|^surname$|^firstname$|^lastname$",
    r"address|street|postal|post_?code|zip_?code|^zip$",
    r"^ip$|ip_?address",
    r"linkedin|twitter|facebook",
    r"birth|^dob$",
)
_NAME_RE = re.compile("|".join(f"(?:{p})" for p in _NAME_PATTERNS))
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE_RE = re.compile(r"^\+?[\d\s\-().]{7,20}$")
_DATE_RE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}")
_SAMPLE = 200
_SHARE = 0.5


def _normalise(column: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(column).strip().lower()).strip("_")


def is_personal_name(column: str) -> bool:
    """True when the column's name says it holds personal data."""
    return bool(_NAME_RE.search(_normalise(column)))


def _looks_personal(values: pd.Series) -> bool:
    sample = values.dropna().astype(str).str.strip()
    sample = sample[sample != ""].head(_SAMPLE)
    if sample.empty:
        return False
    emails = sample.str.match(_EMAIL_RE).mean()
    digits = sample.str.count(r"\d")
    formatted = sample.str.contains(r"^\+|[\s\-().]") | (digits >= 10)
    phones = (
        sample.str.match(_PHONE_RE) & (digits >= 7) & formatted & ~sample.str.match(_DATE_RE)
    ).mean()
    return bool(emails >= _SHARE or phones >= _SHARE)


_FLAG_WORDS = frozenset({"yes", "no", "y", "n", "true", "false", "0", "1", "0.0", "1.0"})


def _is_flag(values: pd.Series) -> bool:
    """A yes/no column: consent flags such as "Do Not Email" are named like personal data
    but say nothing about the person's identity, and they carry signal."""
    levels = set(values.dropna().astype(str).str.strip().str.lower()) - {""}
    return bool(levels) and levels <= _FLAG_WORDS


def personal_data_columns(frame: pd.DataFrame, numbers: Collection[str] = ()) -> list[str]:
    """Columns of `frame` that hold personal data, by name or by content, in frame order.

    A number column (a numeric type, or one of ``numbers``: text columns read from CSV that
    hold only numbers) is judged by its name alone: revenue in yen has a phone's digits. A
    column named like personal data that only holds yes/no flags ("Do Not Email") is not.
    """
    found = []
    for column in frame.columns:
        number = column in numbers or pd.api.types.is_numeric_dtype(frame[column])
        named = is_personal_name(column) and not _is_flag(frame[column])
        if named or (not number and _looks_personal(frame[column])):
            found.append(column)
    return found

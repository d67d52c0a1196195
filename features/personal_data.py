"""Recognise columns that hold personal data (emails, names, phones, addresses).

Leads carry personal data; leadscore must never turn it into a feature and never write it to a
log line or an error message. A column is personal by its name, in English or Japanese (what MA
exports and Japanese web forms call these fields: ``tel_no``, ``E-Mail Address``, ``氏名``,
``電話番号``), or by its content, whatever its name, so an export that hides an email address in
a column called ``contact`` or a phone number in a column of digits is still caught.

Content rules judge the *form* of a value, so they hold for CSV columns that hold only numbers
too: a phone keeps its leading ``0`` or ``+`` (``09012345678``, ``+81312345678``), a revenue of
``1500000000`` or a 10-digit lead id has neither.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection

import pandas as pd

# ------------------------------------------------------------------------------------ by name

# English names are read token by token ("tel_no" -> tel, no; "EMailAddress" -> e, mail,
# address), so "hotel" or "telemetry" are not phones and "email_opens" is caught as email-named.
_PHONE_TOKENS = frozenset({"tel", "tele", "telephone", "phone", "phones", "fax", "cellphone",
                           "mobilephone", "telno", "phoneno"})  # fmt: skip
# "mobile" and "cell" also name devices and spreadsheet cells: a phone only beside a number word
_PHONE_IF_NUMBER = frozenset({"mobile", "cell", "keitai"})
_NUMBER_TOKENS = frozenset({"no", "nr", "num", "number", "phone", "tel", "#"})
_EMAIL_TOKENS = frozenset({"email", "emails", "mail", "mails", "emailaddress", "mailaddress"})
_ADDRESS_TOKENS = frozenset({"address", "addr", "street", "postal", "postcode", "zip",
                             "zipcode", "postalcode", "address1", "address2"})  # fmt: skip
_OTHER_TOKENS = frozenset({"ip", "ipaddress", "linkedin", "twitter", "facebook", "birthday",
                           "birthdate", "birth", "dob"})  # fmt: skip
_NAME_WORDS = frozenset({"firstname", "lastname", "fullname", "givenname", "familyname",
                         "surname", "middlename", "nickname", "fname", "lname", "username",
                         "contactname", "displayname"})  # fmt: skip
# "name" beside one of these names a thing, not a person: company names carry signal
_THING_WORDS = frozenset({"company", "account", "campaign", "industry", "job", "form", "event",
                          "product", "page", "file", "domain", "org", "organization",
                          "organisation", "business", "brand", "plan", "program", "programme",
                          "source", "channel", "list", "segment", "stage", "status", "type",
                          "category", "team", "department", "dept", "title", "region", "country",
                          "city", "state", "prefecture", "site", "web", "website", "host",
                          "server", "field", "asset", "content", "tag", "group", "model",
                          "device", "browser", "utm", "medium", "webinar", "seminar", "feature",
                          "column", "sheet", "table", "app", "service", "project", "deal",
                          "opportunity", "pipeline", "activity", "landing", "lp", "url", "link",
                          "menu", "option", "tier", "role", "position", "division",
                          "unit", "sector", "vendor", "partner", "competitor", "school",
                          "university", "corporate", "firm", "employer", "store", "shop",
                          "branch", "office", "template"})  # fmt: skip
# an address of a web page is not a person's
_WEB_WORDS = frozenset({"web", "website", "site", "url", "ip", "mac", "server", "host", "email",
                        "mail"})  # fmt: skip

# Japanese names are read by substring: headers are not split into words ("携帯電話番号")
_JA_SUBSTRINGS = {
    "phone": ("電話", "携帯", "ファックス", "ファクス"),
    "email": ("メール", "ｅメール", "eメール"),
    "address": ("住所", "郵便", "〒", "番地", "町名"),
    "name": ("氏名", "名前", "姓名", "苗字", "名字", "フリガナ", "ふりがな", "ﾌﾘｶﾞﾅ"),
    "other": ("生年月日", "誕生日", "連絡先"),
}
_JA_NAME_TOKENS = frozenset({"姓", "名", "せい", "めい", "セイ", "メイ"})
# a person noun before 名: 担当者名, 個人名, 社員名, 顧客名 (会社名, 製品名 are not personal)
_JA_PERSON_NAME = re.compile(r"(?:(?<!業)者|(?<!法)人|様|員|客)名")
_TOKEN = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+|[^\W\d_A-Za-z]+|#")


def _tokens(column: str) -> list[str]:
    """Words of a column name: split on anything not a letter or digit and on camelCase."""
    return [t.lower() for t in _TOKEN.findall(unicodedata.normalize("NFKC", str(column)))]


def _japanese_kind(text: str, tokens: list[str]) -> str | None:
    for kind, parts in _JA_SUBSTRINGS.items():
        if any(part in text for part in parts):
            return kind
    if _JA_PERSON_NAME.search(text) or _JA_NAME_TOKENS & set(tokens):
        return "name"
    return None


def _english_kind(tokens: list[str]) -> str | None:
    words = set(tokens)
    joined = {"".join(tokens[i : i + 2]) for i in range(len(tokens) - 1)}  # "e mail", "zip code"
    words |= {w for w in joined if w in _EMAIL_TOKENS | _ADDRESS_TOKENS | _PHONE_TOKENS}
    if words & _EMAIL_TOKENS:
        return "email"
    device = words & _PHONE_IF_NUMBER
    if words & _PHONE_TOKENS or (device and (len(words) == 1 or words & _NUMBER_TOKENS)):
        return "phone"
    if words & _OTHER_TOKENS:
        return "other"
    if words & _ADDRESS_TOKENS and not words & _WEB_WORDS:
        return "address"
    if words & _NAME_WORDS or ("name" in words and not words & _THING_WORDS):
        return "name"
    return None


def personal_kind(column: str) -> str | None:
    """What personal data a column's name says it holds ("email", "phone", "address", "name",
    "other"), or None when its name says nothing personal."""
    text = unicodedata.normalize("NFKC", str(column)).strip().lower()
    tokens = _tokens(column)
    return _japanese_kind(text, tokens) or _english_kind(tokens)


def is_personal_name(column: str) -> bool:
    """True when the column's name says it holds personal data."""
    return personal_kind(column) is not None


# --------------------------------------------------------------------------------- by content

_EMAIL = re.compile(r"[\w.+\-']+@[\w\-]+(?:\.[\w\-]+)*\.[A-Za-z]{2,}")
# +81 3-1234-5678, +81312345678, +1 (415) 555-2671, +44 20 7946 0958
_PHONE_INTERNATIONAL = re.compile(r"\+\d[\d \-().]{6,20}")
# 03-1234-5678, 090 1234 5678, (03) 5555-0101, (415) 555-2671, 415.555.2671, 1-415-555-2671
_PHONE_GROUPED = re.compile(r"(?:1[ \-.])?\(?\d{2,5}\)?[ \-.]?\d{1,4}[ \-.]\d{3,4}")
# 0312345678, 09012345678: a domestic number keeps its trunk 0, an amount or an id never has it
_PHONE_DIGITS = re.compile(r"0\d{9,10}")
_POSTCODE = re.compile(r"〒\s*\d{3}-?\d{4}|\d{3}-\d{4}")
_JA_ADDRESS = re.compile(
    r"(?:東京都|北海道|京都府|大阪府|[\u4e00-\u9fff]{2,3}県)\s*[\u3040-\u30ff\u4e00-\u9fffー]{1,8}?"
    r"[市区町村郡]"
    r"|[\u4e00-\u9fff]{1,5}[市区町村][\u3040-\u30ff\u4e00-\u9fffー]{0,10}\d+(?:丁目|番|-)"
)
_STREET = re.compile(
    r"\b\d{1,6}[A-Za-z]?\s+(?:[A-Za-z0-9.'\-]+\s+){0,4}(?:st|street|ave|avenue|rd|road|blvd|"
    r"boulevard|dr|drive|ln|lane|way|ct|court|pl|place|pkwy|parkway|hwy|highway|sq|square|"
    r"ter|terrace)\b|\b(?:suite|ste\.?|apt\.?|apartment)\s*#?\s*\d+",
    re.IGNORECASE,
)
# a gap written as text says nothing about what the column holds
_GAP_WORDS = frozenset({"-", "--", "n/a", "na", "none", "null", "nan", "unknown", "不明", "なし",
                        "未記入", "未入力", "ー", "―"})  # fmt: skip
_SAMPLE = 200
_SHARE = 0.5


def _is_phone(value: str) -> bool:
    digits = sum(c.isdigit() for c in value)
    if _PHONE_INTERNATIONAL.fullmatch(value):
        return 8 <= digits <= 15
    if _PHONE_DIGITS.fullmatch(value):
        return True
    return 10 <= digits <= 11 and bool(_PHONE_GROUPED.fullmatch(value))


def _is_address(value: str) -> bool:
    return bool(
        _POSTCODE.fullmatch(value) or value.startswith("〒")
        or _JA_ADDRESS.search(value) or _STREET.search(value)
    )  # fmt: skip


def _is_personal_value(value: str) -> bool:
    return bool(_EMAIL.search(value)) or _is_phone(value) or _is_address(value)


def _texts(values: pd.Series) -> pd.Series:
    """Non-empty values as NFKC text, as a person wrote them: numbers are read only from text
    (a CSV cell), since a number type has already lost a phone's leading 0 or +."""
    text = values.dropna().astype(str).map(lambda v: unicodedata.normalize("NFKC", v).strip())
    return text[(text != "") & ~text.str.lower().isin(_GAP_WORDS)]


def _looks_personal(values: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return False
    sample = _texts(values).head(_SAMPLE)
    return not sample.empty and sample.map(_is_personal_value).mean() >= _SHARE


_FLAG_WORDS = frozenset({"yes", "no", "y", "n", "true", "false", "0", "1", "0.0", "1.0",
                         "はい", "いいえ", "有", "無", "あり", "なし", "可", "不可", "済", "未",
                         "○", "×", "〇", "する", "しない", "希望する", "希望しない"})  # fmt: skip


def _is_flag(values: pd.Series) -> bool:
    """A yes/no column: consent flags such as "Do Not Email" are named like personal data
    but say nothing about the person's identity, and they carry signal."""
    levels = set(_texts(values).str.lower())
    return bool(levels) and levels <= _FLAG_WORDS


def _is_count(kind: str | None, values: pd.Series, number: bool) -> bool:
    """An email- or name-named column of numbers ("email_opens", "メール開封数") counts
    something: an address or a name is never a number. A phone-named one holds phones unless
    every number is too short to be one ("phone_calls"); an address-named one may hold zips."""
    if kind not in ("email", "name", "phone") or not (number or _all_numbers(values)):
        return False
    numbers = pd.to_numeric(_texts(values), errors="coerce")
    if numbers.empty:
        return False
    return kind != "phone" or bool((numbers.abs() < 1_000_000).all())


def _all_numbers(values: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(values):
        return not pd.api.types.is_bool_dtype(values)
    text = _texts(values)
    return not text.empty and pd.to_numeric(text, errors="coerce").notna().all()


def is_personal_value(value: object) -> bool:
    """True when one value has the form of an email or a phone, whatever its column.

    For a single posted lead, which has too few values for the share that judges a column's
    content; an address form is left to columns, as "501-1000" is a postcode's form and an
    employee band's too.
    """
    if not isinstance(value, str):
        return False
    text = unicodedata.normalize("NFKC", value).strip()
    return bool(_EMAIL.search(text)) or _is_phone(text)


def personal_data_columns(
    frame: pd.DataFrame, numbers: Collection[str] = (), *, by_content: bool = True
) -> list[str]:
    """Columns of `frame` that hold personal data, by name or by content, in frame order.

    A column named like personal data is personal unless it only holds yes/no flags ("Do Not
    Email") or counts ("email_opens"). Any other column is personal when at least half its
    values have the form of an email, a phone or a postal address (``by_content``). ``numbers``
    are the CSV text columns that hold only numbers: their text is judged by form as any other,
    so ``+14155552671`` is a phone and ``1500000000`` is not.
    """
    found = []
    for column in frame.columns:
        values = frame[column]
        kind = personal_kind(column)
        if kind is not None:
            if not _is_flag(values) and not _is_count(kind, values, column in numbers):
                found.append(column)
        elif by_content and _looks_personal(values):
            found.append(column)
    return found

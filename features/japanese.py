"""A simulated world as a Japanese MA tool exports it, and its English twin.

Why: most of leadscore's users export from Japanese tools (SATORI, a Japanese Salesforce or
HubSpot account, Excel): CP932 files with CRLF line ends, Japanese headers (the contract's own
columns included: ``リードID``, ``作成日時``), Japanese levels and activity names, and times
on Tokyo's clock written ``2026/04/06 09:29:00`` without a zone. The English twin is the same
world word for word in English, UTF-8 and ISO 8601 UTC, with headers as an English CRM writes
them (none is the simulator's, so the default spec and rulebook fit neither); both share one
structure (every Japanese word has exactly one English word), so a run on each must reach the
same model, which is the test that reading Japanese files loses nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from leadscore.features import schema
from leadscore.features.dialects import DetailMap, Dialect, rewrite
from leadscore.features.schema import Activity
from leadscore.features.synthetic import SyntheticWorld

# canonical word -> (Japanese, English): one table, so the two exports cannot drift apart
COLUMNS = {
    "company": ("会社名", "Company"), "email": ("メールアドレス", "Email"),
    "first_name": ("名", "First Name"), "last_name": ("姓", "Last Name"),
    "phone": ("電話番号", "Phone"), "account_id": ("企業ID", "Account ID"),
    "job_title": ("役職名", "Title"), "job_level": ("役職", "Seniority"),
    "department": ("部署", "Function"), "industry": ("業種", "Sector"),
    "employee_band": ("従業員規模", "Company Size"), "region": ("地域", "Territory"),
    "annual_revenue_musd": ("年間売上（百万ドル）", "Revenue (MUSD)"),
    "source": ("流入元", "Lead Source"),
}  # fmt: skip
CONTRACT = {
    schema.LEAD_ID: "リードID", schema.CREATED_AT: "作成日時",
    schema.OCCURRED_AT: "日時", schema.ACTIVITY_TYPE: "行動", schema.DETAIL: "詳細",
    schema.SQL_AT: "商談化日時", schema.MQL_AT: "MQL化日時",
    schema.FIRST_CONTACT_AT: "初回対応日時", schema.WON_AT: "受注日時",
}  # fmt: skip
LEVELS = {
    "job_level": {
        "Executive": ("役員", "Executive"), "Head": ("部長", "Head"),
        "Manager": ("課長", "Manager"), "Staff": ("担当者", "Staff"),
        "Student": ("学生", "Student"), "Select": ("選択してください", "Select"),
    },
    "region": {
        "Kanto": ("関東", "Kanto"), "Kansai": ("関西", "Kansai"), "Chubu": ("中部", "Chubu"),
        "Kyushu": ("九州", "Kyushu"), "APAC": ("アジア太平洋", "APAC"),
        "NA": ("北米", "North America"), "EMEA": ("欧州", "EMEA"),
    },
    "source": {
        "organic_search": ("自然検索", "organic_search"),
        "paid_search": ("リスティング広告", "paid_search"),
        "paid_social": ("SNS広告", "paid_social"), "email": ("メールマガジン", "email"),
        "referral": ("紹介", "referral"), "tradeshow": ("展示会", "tradeshow"),
        "partner": ("パートナー", "partner"), "direct": ("直接流入", "direct"),
    },
    "industry": {
        "Manufacturing": ("製造業", "Manufacturing"), "Software": ("ソフトウェア", "Software"),
        "Financial Services": ("金融", "Financial Services"), "Healthcare": ("医療", "Healthcare"),
        "Retail": ("小売", "Retail"), "Education": ("教育", "Education"),
        "Logistics": ("物流", "Logistics"), "Public Sector": ("官公庁", "Public Sector"),
        "Media": ("メディア", "Media"), "Select": ("選択してください", "Select"),
    },
    "employee_band": {
        band: (f"{band}名", band)
        for band in ("1-10", "11-50", "51-200", "201-1000", "1001-5000", "5000+")
    },
}  # fmt: skip
ACTIVITIES = {
    Activity.PAGE_VIEW: ("ページ閲覧", "Page View"),
    Activity.EMAIL_OPEN: ("メール開封", "Email Open"),
    Activity.EMAIL_CLICK: ("メールクリック", "Email Click"),
    Activity.EMAIL_BOUNCE: ("メール不達", "Email Bounce"),
    Activity.UNSUBSCRIBE: ("配信停止", "Unsubscribe"),
    Activity.CONTENT_DOWNLOAD: ("資料ダウンロード", "Content Download"),
    Activity.FORM_SUBMIT: ("フォーム送信", "Form Submit"),
    Activity.DEMO_REQUEST: ("フォーム送信", "Form Submit"),
    Activity.QUOTE_REQUEST: ("フォーム送信", "Form Submit"),
    Activity.WEBINAR_REGISTERED: ("セミナー申込", "Webinar Registration"),
    Activity.WEBINAR_ATTENDED: ("セミナー参加", "Webinar Attendance"),
    Activity.TRADESHOW_SCAN: ("展示会来場", "Trade Show Visit"),
    Activity.SALES_CALL: ("営業電話", "Sales Call"),
    Activity.SALES_MEETING: ("商談", "Sales Meeting"),
}
FORMS = {
    "contact-us": ("お問い合わせ", "Contact Us"),
    "newsletter-signup": ("メルマガ登録", "Newsletter"),
    "ebook-form": ("ホワイトペーパー請求", "Ebook Form"),
    "trial-signup": ("無料トライアル申込", "Free Trial"),
    "event-registration": ("イベント申込", "Event Registration"),
    "lead-gen-form": ("資料請求", "Lead Gen Form"),
    "partner-referral": ("パートナー紹介", "Partner Referral"),
    "demo-request": ("デモ依頼", "Demo Request"), "quote-request": ("見積依頼", "Quote Request"),
}  # fmt: skip


@dataclass(frozen=True)
class FileForm:
    """How a system writes its files: encoding, line ends, times, and contract headers."""

    encoding: str
    line_end: str
    time_format: str  # strftime; the clock is ``time_zone``'s, written without a zone
    time_zone: str
    contract: Mapping[str, str]  # contract column -> the header the file uses


JAPANESE_FILES = FileForm("cp932", "\r\n", "%Y/%m/%d %H:%M:%S", "Asia/Tokyo", CONTRACT)
ENGLISH_FILES = FileForm("utf-8", "\n", "%Y-%m-%dT%H:%M:%SZ", "UTC", {})


def _form_detail(language: int) -> DetailMap:
    def write(detail: str | None) -> str | None:
        if detail is None:
            return None
        return FORMS[detail][language] if detail in FORMS else detail

    return write


def dialect(language: str) -> Dialect:
    """The world's vocabulary in ``language`` (``ja`` or ``en``), one word for one word."""
    index = {"ja": 0, "en": 1}[language]
    levels = {}
    for column, words in LEVELS.items():
        spelled = {}
        for canonical, pair in words.items():  # the simulator's messy spellings map too
            for variant in (canonical, canonical.lower(), canonical.upper()):
                spelled[variant] = pair[index]
        levels[COLUMNS[column][index]] = spelled
    return Dialect(
        name=f"japanese-{language}",
        columns={canonical: names[index] for canonical, names in COLUMNS.items()},
        levels=levels,
        activities={
            kind: (names[index], _form_detail(index)) for kind, names in ACTIVITIES.items()
        },
    )


def write_files(world: SyntheticWorld, out_dir: Path, language: str) -> dict[str, Path]:
    """Write leads, activities and outcomes CSVs as a Japanese tool (``ja``: CP932, CRLF,
    Japanese headers and words, Tokyo times without a zone) or its English twin (``en``:
    UTF-8, ISO 8601 UTC) writes them; returns table name -> path. The truth stays Parquet."""
    form = JAPANESE_FILES if language == "ja" else ENGLISH_FILES
    spoken = rewrite(world, dialect(language))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in (
        ("leads", spoken.leads), ("activities", spoken.activities), ("outcomes", spoken.outcomes)
    ):  # fmt: skip
        paths[name] = out_dir / f"{name}.csv"
        _written(frame, form).to_csv(
            paths[name], index=False, encoding=form.encoding, lineterminator=form.line_end
        )
    paths["truth"] = out_dir / "truth.parquet"
    world.truth.to_parquet(paths["truth"], index=False)
    return paths


def _written(frame: pd.DataFrame, form: FileForm) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype):
            local = out[column].dt.tz_convert(form.time_zone)
            out[column] = local.dt.strftime(form.time_format).where(local.notna(), "")
    return out.rename(columns=dict(form.contract))


def column_options(language: str) -> list[str]:
    """The ``--column`` options that map a ``language`` export's contract headers."""
    form = JAPANESE_FILES if language == "ja" else ENGLISH_FILES
    return [f"{contract}={header}" for contract, header in form.contract.items()]

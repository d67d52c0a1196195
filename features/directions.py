"""Which way each inferred signal may move the score: proposed from its name and its history.

A direction (``up``: more never lowers the score; ``down``: more never raises it) is a fact a
rep knows, so the name of the activity comes first: a pricing page, a demo or an inquiry form,
a webinar, a download, a page view or an opened email (in English or in Japanese: 料金,
問い合わせ, セミナー, 資料, 閲覧, 開封) is up; a
careers page, an unsubscribe, a bounce (採用, 配信停止, 不達) is down. When the name says
nothing, history may: the SQL rate of train-period leads that did it once and more than once
against those that never did. Each proposal carries its evidence in ``direction_reason``, so a
person reads why before signing the spec; nothing here is final.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection

import pandas as pd

from leadscore.features import schema
from leadscore.features.spec import ANY_TYPE, Direction, Signal, fold_text, glob_to_regex

# checked first: an 'unsubscribe form' is an unsubscribe, a cancelled registration a cancel
_DOWN_WORDS = re.compile(
    r"\bcareer|\bjobs?\b|\brecruit|\bhiring\b|\bunsubscri|\bopt ?out|\bbounce|\bspam"
    r"|\bcancel|\bno.?show|\bunregist|\bderegist|\bdelet"
    r"|採用|求人|リクルート|配信停止|購読解除|登録解除|不達|エラー|キャンセル|取消|取り消|欠席|削除"
)
_UP_WORDS = re.compile(
    r"\bpric|\bdemo|\bquote|\btrial|\bcontact|\binquir|\benquir|\bwebinar|\bseminar|\bevent"
    r"|\battend|\bdownload|\bwhite ?paper|\be ?book|\bcase stud|\bform\b|\bregist|\bsign ?up"
    r"|\bclick|\bsubmit|\btrade ?show|\bexpo\b|\bbooth|\bnewsletter|\bsubscri"
    r"|\bpage ?view|\bvisit|\bopen|閲覧|訪問|開封"
    r"|資料|セミナー|ウェビナー|料金|価格|見積|問い?合わ?せ|デモ|導入事例|ダウンロード|申し?込"
    r"|参加|展示会|来場|フォーム|登録|請求|クリック|トライアル|ホワイトペーパー|メルマガ"
)
# a number that counts engagement (visits, pages viewed, time on the site, emails opened):
# more of it is more interest; a number of bounces or unsubscribes the other way. Numbers of
# fit (revenue, employees, age) stay free: bigger is not better for every product
_ENGAGEMENT_NUMBER = re.compile(
    r"\bvisit|\bview|\btime ?(?:spent|on)|\bsession|\bopen|\bclick|\bdownload|\battend"
    r"|\bengag|閲覧|訪問|滞在|開封|クリック|ダウンロード|参加"
)
_DISENGAGEMENT_NUMBER = re.compile(r"\bbounce|\bunsubscri|\bopt ?out|配信停止|不達")
_MIN_Z = 1.96
_MIN_LEADS = 25  # leads that did it, among the evidence leads, before history may speak


def words_of(signal: Signal) -> str:
    """The signal's detail and activity types as one folded text, separators as spaces: the
    detail is read first, as it is the more specific ('Request a Demo' under 'Fill Out Form')."""
    parts = [(signal.detail or "").replace("*", " "), *signal.activity_types]  # detail first
    return re.sub(r"[_\-/.:]+", " ", fold_text(" ".join(parts)))


def direction_by_name(signal: Signal) -> tuple[Direction, str | None]:
    """(direction, the word that chose it) from the signal's names; ``free`` when none."""
    text = words_of(signal)
    for direction, words in (("down", _DOWN_WORDS), ("up", _UP_WORDS)):
        found = words.search(text)
        if found:
            return direction, found.group(0).strip()  # type: ignore[return-value]
    return "free", None


def _counts(signal: Signal, activities: pd.DataFrame) -> pd.Series:
    """Activities of the signal per lead."""
    hit = pd.Series(True, index=activities.index)
    if ANY_TYPE not in signal.activity_types:
        hit &= activities[schema.ACTIVITY_TYPE].astype(str).isin(list(signal.activity_types))
    if signal.detail is not None and schema.DETAIL in activities.columns:
        pattern = glob_to_regex(signal.detail)
        hit &= activities[schema.DETAIL].astype(str).str.match(pattern).fillna(False)
    return activities.loc[hit, schema.LEAD_ID].value_counts()


def history_trend(
    signal: Signal, activities: pd.DataFrame, leads: Collection[object], sql_leads: set
) -> tuple[Direction, str | None]:
    """(direction, evidence) from the SQL rate by how often ``leads`` did it.

    ``activities``: only those up to each lead's SQL moment (what came after cannot explain
    it). Up when the leads that did it convert more (two-proportion z >= 1.96) and twice or
    more converts no less than once; down the other way round; else free.
    """
    counts = _counts(signal, activities).reindex(list(leads), fill_value=0)
    converted = counts.index.isin(list(sql_leads))
    groups = {"0": counts == 0, "1": counts == 1, "2+": counts >= 2}
    sizes = {k: int(v.sum()) for k, v in groups.items()}
    if sizes["0"] == 0 or sizes["1"] + sizes["2+"] < _MIN_LEADS:
        return "free", None
    rates = {k: float(converted[v.to_numpy()].mean()) if sizes[k] else math.nan
             for k, v in groups.items()}  # fmt: skip
    did = (counts > 0).to_numpy()
    hits, n = int(converted[did].sum()), int(did.sum())
    rest_hits, rest_n = int(converted[~did].sum()), int((~did).sum())
    pooled = (hits + rest_hits) / (n + rest_n)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / rest_n))
    z = 0.0 if spread == 0 else (hits / n - rest_hits / rest_n) / spread
    evidence = (
        f"SQL after the first weeks: {rates['1']:.1%} if done once in them, "
        f"{rates['2+']:.1%} twice or more, {rates['0']:.1%} never "
        f"(z = {z:.1f}, {n:,} of {n + rest_n:,} train-period leads)"
    ).replace("nan%", "n/a")
    rising = math.isnan(rates["2+"]) or math.isnan(rates["1"]) or rates["2+"] >= rates["1"]
    falling = math.isnan(rates["2+"]) or math.isnan(rates["1"]) or rates["2+"] <= rates["1"]
    if z >= _MIN_Z and rising:
        return "up", evidence
    if z <= -_MIN_Z and falling:
        return "down", evidence
    return "free", evidence


def propose_directions(
    signals: list[Signal],
    activities: pd.DataFrame | None = None,
    leads: Collection[object] | None = None,
    sql_leads: set | None = None,
) -> list[Signal]:
    """The signals with a proposed ``direction`` and its ``direction_reason``.

    The name decides when it has a known word; history (when ``activities`` before SQL, the
    evidence ``leads`` and the ``sql_leads`` among them are given) decides otherwise, and is
    quoted beside a name's choice, with a warning when the two disagree. The catch-all
    ``*`` signal stays free: it mixes every kind of activity.
    """
    out = []
    for signal in signals:
        if ANY_TYPE in signal.activity_types:
            out.append(signal)
            continue
        direction, word = direction_by_name(signal)
        trend, evidence = "free", None
        if activities is not None and leads is not None and sql_leads is not None:
            trend, evidence = history_trend(signal, activities, leads, sql_leads)
        if word is not None:
            reason = f"name: '{word}' is a known {direction} activity"
            if evidence is not None:
                check = "" if trend in (direction, "free") else "; history disagrees, check it"
                reason += f"; history: {evidence}{check}"
        elif trend != "free":
            direction, reason = trend, f"history: {evidence}"
        else:
            reason = None
        out.append(signal.model_copy(update={"direction": direction, "direction_reason": reason}))
    return out


def number_direction_by_name(column: str) -> tuple[Direction, str | None]:
    """(direction, the reason) for a numeric column of a flat export, from its name: up for
    engagement counts ('TotalVisits', 'Total Time Spent on Website', 'ページ閲覧数'), down for
    bounces and unsubscribes, free for everything else."""
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", column)  # 'TotalVisits' reads 'Total Visits'
    text = re.sub(r"[_\-/.:]+", " ", fold_text(text))
    for direction, words in (("down", _DISENGAGEMENT_NUMBER), ("up", _ENGAGEMENT_NUMBER)):
        found = words.search(text)
        if found:
            kind = "disengagement" if direction == "down" else "engagement"
            return direction, f"name: '{found.group(0).strip()}' counts {kind}"  # type: ignore[return-value]
    return "free", None

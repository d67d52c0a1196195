"""A Japanese team brings its export as it is: Japanese headers, Japanese levels, full-width
letters typed on a Japanese keyboard, a job title that mixes scripts.

Every distinct level stays a level of its own (a 部長 is never shown to sales as a 担当者),
full-width ``ＩＴ`` and ``IT`` are one level because they are one word, the features keep the
export's own names, a lead reads the same level in batch and online, and a reason shows the
column and the level as the export writes them.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.features import schema
from leadscore.features.infer import infer, infer_attributes
from leadscore.features.offline import LABEL, attribute_features, connect, register
from leadscore.features.online import attribute_values
from leadscore.features.spec import (
    CategoricalAttribute,
    dump_spec,
    is_feature_name,
    load_spec,
    normalise_level,
    parse_spec,
)
from leadscore.features.training_set import SPLIT, SplitPlan, build_training_set
from leadscore.training.job.train import fit_scorer
from leadscore.training.model.explain import reasons
from leadscore.training.model.rulebook import parse_rulebook

START = pd.Timestamp("2024-04-01", tz="UTC")
# title -> how much likelier to become SQL; the spellings as people type them
TITLES = {"代表取締役": 3.0, "役員": 2.5, "部長": 2.0, "IT部長": 1.5, "課長": 1.0, "担当者": 0.3}
SPELLINGS = {"部長": ["部長", "部長 ", "部長\u3000"], "IT部長": ["IT部長", "ＩＴ部長", "it部長"]}
REGIONS = ["関東", "関西", "中部", "アジア太平洋", "欧州"]
INDUSTRIES = ["IT", "ＩＴ", "製造業", "金融", "ｻｰﾋﾞｽ"]  # ＩＴ is IT; ｻｰﾋﾞｽ is サービス
ACTIVITY_TYPES = ["資料請求", "ウェビナー参加", "メール開封"]


def japanese_export(n_leads: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(leads, activities, outcomes) of a Japanese MA export, with a sales-side 商談 logged
    after each SQL (the trap every export has)."""
    rng = np.random.default_rng(seed)
    titles = rng.choice(list(TITLES), n_leads)
    typed = [rng.choice(SPELLINGS.get(t, [t])) for t in titles]
    created = START + pd.to_timedelta(rng.uniform(0, 240, n_leads), unit="D")
    leads = pd.DataFrame(
        {
            schema.LEAD_ID: np.arange(1, n_leads + 1),
            schema.CREATED_AT: created.astype("datetime64[us, UTC]"),
            "メールアドレス": [f"tanaka{i}@example.co.jp" for i in range(n_leads)],
            "役職": typed,
            "地域": rng.choice(REGIONS, n_leads),
            "業種": rng.choice(INDUSTRIES, n_leads),
            "従業員数": rng.choice([10.0, 120.0, 800.0, 5000.0], n_leads),
        }
    )
    n = n_leads * 4
    owner = rng.integers(0, n_leads, n)
    activities = pd.DataFrame(
        {
            schema.LEAD_ID: leads[schema.LEAD_ID].to_numpy()[owner],
            schema.OCCURRED_AT: pd.DatetimeIndex(
                created[owner] + pd.to_timedelta(rng.uniform(0, 60, n), unit="D")
            ).astype("datetime64[us, UTC]"),
            schema.ACTIVITY_TYPE: rng.choice(ACTIVITY_TYPES, n),
            schema.DETAIL: None,
        }
    )
    odds = np.array([TITLES[t] for t in titles]) * 0.12
    converts = rng.random(n_leads) < odds / (1 + odds)
    sql_at = created + pd.to_timedelta(rng.uniform(1, 20, n_leads), unit="D")
    outcomes = pd.DataFrame(
        {
            schema.LEAD_ID: leads[schema.LEAD_ID],
            schema.SQL_AT: pd.Series(sql_at).where(converts).astype("datetime64[us, UTC]"),
        }
    )
    sold = outcomes.dropna()
    meetings = pd.DataFrame(
        {
            schema.LEAD_ID: sold[schema.LEAD_ID],
            schema.OCCURRED_AT: sold[schema.SQL_AT] + pd.Timedelta(hours=2),
            schema.ACTIVITY_TYPE: "商談",
            schema.DETAIL: None,
        }
    )
    return leads, pd.concat([activities, meetings], ignore_index=True), outcomes


@pytest.fixture(scope="module")
def export() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return japanese_export(2400, seed=11)


@pytest.fixture(scope="module")
def inferred(export):  # type: ignore[no-untyped-def]
    leads, activities, outcomes = export
    return infer(leads, activities, ("メールアドレス",), outcomes=outcomes, time_zone="Asia/Tokyo")


def levels_of(attribute: CategoricalAttribute, raw: pd.Series) -> set[str]:
    return {level for v in raw if (level := normalise_level(v, attribute.aliases)) is not None}


# every job level the export writes, folded: full-width ＩＴ部長 reads it部長, nothing merged
JOB_LEVELS = {"代表取締役", "役員", "部長", "it部長", "課長", "担当者"}

# ------------------------------------------------------------------------------ inference


def test_every_japanese_job_title_stays_a_level_of_its_own(export, inferred):
    leads, _, _ = export
    by_column = {a.column: a for a in inferred.spec.attributes if a.kind == "categorical"}
    title = by_column["役職"]
    assert levels_of(title, leads["役職"]) == JOB_LEVELS
    assert normalise_level("代表取締役", title.aliases) == "代表取締役"  # never 学生, never merged
    assert levels_of(by_column["地域"], leads["地域"]) == {
        "関東",
        "関西",
        "中部",
        "アジア太平洋",
        "欧州",
    }
    # one word typed in two widths is one level; two words are two
    assert levels_of(by_column["業種"], leads["業種"]) == {"it", "製造業", "金融", "サービス"}


def test_japanese_headers_become_features_of_their_own_names(inferred):
    spec = inferred.spec
    by_column = {a.column: a.name for a in spec.attributes}
    assert by_column["役職"] == "役職" and by_column["地域"] == "地域"
    assert by_column["業種"] == "業種" and by_column["従業員数"] == "従業員数"
    assert next(a for a in spec.attributes if a.name == "従業員数").kind == "numeric"
    assert "メールアドレス" not in by_column  # personal data is never a feature
    names = spec.feature_names()
    assert len(names) == len(set(names)) and all(is_feature_name(n) for n in names)
    assert {"資料請求", "ウェビナー参加", "メール開封"} <= {s.name for s in spec.signals}
    assert spec.exclude_activity_types == ("商談",)  # sales-side: it leaks the outcome


def test_two_headers_that_fold_to_one_name_stay_two_features():
    leads = pd.DataFrame(
        {
            schema.LEAD_ID: range(1, 201),
            "ＩＴ部門": ["あり", "なし"] * 100,
            "IT部門": ["なし", "あり", "あり", "あり"] * 50,
            "役職?": ["部長", "課長"] * 100,
            "役職!": ["課長", "部長"] * 100,
        }
    )
    attributes, _ = infer_attributes(leads, ())
    names = [a.name for a in attributes]
    assert len(set(names)) == 4 and {"it部門", "役職"} <= set(names)
    assert [a.column for a in attributes] == ["ＩＴ部門", "IT部門", "役職?", "役職!"]


def test_an_inferred_japanese_spec_reads_back_from_its_yaml(inferred, tmp_path):
    path = tmp_path / "my_spec.yaml"
    dump_spec(inferred.spec, path)
    assert "役職" in path.read_text(encoding="utf-8")
    assert load_spec(path) == inferred.spec


def test_a_name_with_upper_case_or_punctuation_is_refused_with_the_name_to_write():
    with pytest.raises(ValueError, match="write 'it部門'"):
        parse_spec({"attributes": [{"name": "IT部門", "column": "IT部門"}]})


# ------------------------------------------------------------------ one level on both paths


def test_a_raw_value_reads_as_the_same_level_offline_and_online():
    """Batch scoring and the webhook must give the same level for the same typed value."""
    raw = ["部長", "部長 ", "部長\u3000", "ＩＴ部長", "IT部長", "ｶﾁｮｳ", "カチョウ",
           "ＳＴＲＡＳＳＥ", "Straße", "Ｎ／Ａ", "－", "関東・関西", "", None]  # fmt: skip
    spec = parse_spec(
        {"lead_age": False,
         "attributes": [{"name": "役職", "column": "役職", "aliases": {"ｶﾁｮｳ": "課長"}}]}
    )  # fmt: skip
    leads = pd.DataFrame(
        {schema.LEAD_ID: range(1, len(raw) + 1), "役職": pd.Series(raw, dtype=object)}
    )
    built = attribute_features(register(connect(), "leads", leads), spec).execute()
    offline = built.set_index(schema.LEAD_ID).loc[leads[schema.LEAD_ID], "役職"]
    online = [attribute_values({"役職": v}, spec)["役職"] for v in raw]
    assert [None if pd.isna(v) else v for v in offline] == online
    assert online == ["部長", "部長", "部長", "it部長", "it部長", "課長", "課長", "strasse",
                      "strasse", None, None, "関東・関西", None, None]  # fmt: skip


# ------------------------------------------------------------------------- what sales reads


@pytest.fixture(scope="module")
def scorer_and_rows(export, inferred, tmp_path_factory):  # type: ignore[no-untyped-def]
    leads, activities, outcomes = export
    con = connect()
    path, _ = build_training_set(
        con,
        register(con, "leads", leads),
        register(con, "activities", activities),
        register(con, "outcomes", outcomes),
        inferred.spec,
        tmp_path_factory.mktemp("japanese"),
        plan=SplitPlan(0.2, 0.2),
    )
    rows = pd.read_parquet(path)
    labelled = rows[rows[LABEL].notna()]
    rulebook = parse_rulebook(
        {"mql_threshold": 1e9, "grades": {"fit": {}, "engagement": {}}, "rules": []}
    )
    scorer = fit_scorer(
        labelled[labelled[SPLIT] == "train"],
        labelled[labelled[SPLIT] == "validation"],
        inferred.spec,
        rulebook,
    )
    return scorer, rows


def test_a_department_heads_reason_shows_the_column_and_title_as_written(scorer_and_rows):
    scorer, rows = scorer_and_rows
    heads = rows[rows["役職"] == "代表取締役"].head(30)
    for lang in ("ja", "en"):
        texts = [r["text"] for items in reasons(scorer, heads, lang=lang, top=5)
                 for r in items["positive"]]  # fmt: skip
        assert any(t in ("役職: 代表取締役", "役職：代表取締役") for t in texts), texts
        assert not any(t.startswith(("F:", "F：", "F ")) for t in texts), texts
    staff = rows[rows["役職"] == "担当者"].head(30)
    texts = [r["text"] for items in reasons(scorer, staff, lang="ja", top=5)
             for r in items["negative"]]  # fmt: skip
    assert "役職：担当者" in texts, texts


def test_a_reason_names_the_column_as_the_export_writes_it_not_as_the_feature(scorer_and_rows):
    """A header with a full-width letter or punctuation ('ＩＴ担当の役職（現職）') is folded for the
    model; the rep reads it as the export writes it."""
    scorer, rows = scorer_and_rows
    written = "ＩＴ担当の役職（現職）"
    attributes = tuple(
        a.model_copy(update={"column": written}) if a.name == "役職" else a
        for a in scorer.spec.attributes
    )
    renamed = replace(scorer, spec=scorer.spec.model_copy(update={"attributes": attributes}))
    heads = rows[rows["役職"] == "代表取締役"].head(30)
    texts = [r["text"] for items in reasons(renamed, heads, lang="en", top=5)
             for r in items["positive"]]  # fmt: skip
    assert f"{written}: 代表取締役" in texts, texts


def test_spec_infer_on_a_utf8_file_keeps_japanese_levels_and_headers(export, tmp_path):
    leads, activities, outcomes = export
    files = {"leads": leads, "activities": activities, "outcomes": outcomes}
    for name, frame in files.items():
        frame.to_csv(tmp_path / f"{name}.csv", index=False, encoding="utf-8")
    out = tmp_path / "my_spec.yaml"
    result = CliRunner().invoke(
        app, ["spec", "infer", "--leads", str(tmp_path / "leads.csv"),
              "--activities", str(tmp_path / "activities.csv"),
              "--outcomes", str(tmp_path / "outcomes.csv"), "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    spec = load_spec(out)
    title = next(a for a in spec.attributes if a.column == "役職")
    assert title.name == "役職" and title.kind == "categorical"
    assert levels_of(title, leads["役職"]) == JOB_LEVELS
    assert "tanaka" not in out.read_text(encoding="utf-8")

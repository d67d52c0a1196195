"""A Japanese team trains on the files their MA tool writes, and scores the next week's file.

The export is CP932 with CRLF line ends, every header in Japanese (the contract's own columns
too), Japanese levels and activity names, and times on Tokyo's clock without a zone
(:mod:`features.japanese`). Its English twin is the same world in English, UTF-8 and ISO 8601:
one command trains each, and they must reach the same model.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.features.japanese import column_options, write_files
from leadscore.features.reading import ExportFormat
from leadscore.features.spec import load_spec
from leadscore.features.synthetic import simulate
from leadscore.training.job.tracking import run_figures
from leadscore.training.model.artifact import load_model

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("japanese_export")]
runner = CliRunner()


def train(base: Path, language: str) -> tuple[Path, str]:
    paths = write_files(simulate(2500, seed=41), base / language / "export", language)
    mapped = [arg for option in column_options(language) for arg in ("--column", option)]
    result = runner.invoke(app, [
        "train", "--leads", str(paths["leads"]), "--activities", str(paths["activities"]),
        "--outcomes", str(paths["outcomes"]), "--out", str(base / language / "run"),
        "--timezone", "Asia/Tokyo", "--tracking-uri", f"sqlite:///{base / language / 'm.db'}",
        *mapped,
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    return base / language / "run", result.output


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    base = tmp_path_factory.mktemp("japanese")
    return {language: train(base, language) for language in ("ja", "en")}


def test_a_cp932_export_with_japanese_headers_trains_with_one_command(runs):
    run, output = runs["ja"]
    assert "decided: reading: files read with time_zone Asia/Tokyo" in output
    assert "left out 営業電話: sales-side activity" in output
    assert "left out 商談: sales-side activity" in output
    assert "left out メールアドレス: personal data" in output
    spec = load_spec(run / "model" / "spec.yaml")
    columns = {a.column for a in spec.attributes}
    assert {"役職", "地域", "流入元"} <= columns
    assert not {"メールアドレス", "電話番号", "姓", "名"} & columns


def test_japanese_levels_stay_apart_as_written(runs):
    spec = load_spec(runs["ja"][0] / "model" / "spec.yaml")
    level = next(a for a in spec.attributes if a.column == "役職")
    assert not level.aliases, "no two job levels may be merged"
    rows = pd.read_parquet(runs["ja"][0] / "training" / "training_set.parquet")
    assert {"役員", "部長", "課長", "担当者", "学生"} <= set(rows[level.name].dropna())


def test_the_japanese_export_and_its_english_twin_reach_the_same_model(runs):
    auc = {
        language: load_model(run / "model").metadata["test_metrics"]
        for language, (run, _) in runs.items()
    }
    for layer in ("rules", "logistic", "lightgbm", "combined"):
        assert auc["ja"][layer]["roc_auc"] == pytest.approx(auc["en"][layer]["roc_auc"], abs=0.002)
    rows = {
        language: pd.read_parquet(run / "training" / "training_set.parquet")
        for language, (run, _) in runs.items()
    }
    assert len(rows["ja"]) == len(rows["en"])
    assert rows["ja"]["label"].sum() == rows["en"]["label"].sum()


def test_the_model_remembers_how_to_read_the_next_file(runs, tmp_path):
    run, _ = runs["ja"]
    remembered = ExportFormat.load(run / "model" / ExportFormat.FILE_NAME)
    assert remembered.time_zone == "Asia/Tokyo" and remembered.columns["lead_id"] == "リードID"
    export = run.parent / "export"
    scored = score(run, export, tmp_path / "s.csv", "--lang", "ja")
    leads = pd.read_csv(export / "leads.csv", encoding="cp932")
    assert len(scored) == len(leads) and scored["lead_id"].tolist() == leads["リードID"].tolist()
    reasons = " ".join(scored["reasons_json"].dropna().head(200).map(json.loads).astype(str))
    assert "F:" not in reasons and "f_" not in reasons


def test_one_option_given_to_score_keeps_the_rest_of_what_the_model_remembers(runs, tmp_path):
    """The next week's file came as UTF-8: saying so must not forget Tokyo's clock or the
    Japanese headers the model learnt to read."""
    run, _ = runs["ja"]
    export = run.parent / "export"
    for name in ("leads", "activities"):
        frame = pd.read_csv(export / f"{name}.csv", encoding="cp932", dtype=str)
        frame.to_csv(tmp_path / f"{name}.csv", index=False, encoding="utf-8")
    told = score(run, tmp_path, tmp_path / "s.csv", "--encoding", "utf-8")
    pd.testing.assert_frame_equal(told, score(run, export, tmp_path / "r.csv"))


def score(run: Path, export: Path, output: Path, *options: str) -> pd.DataFrame:
    """`leadscore score` of an export's leads.csv and activities.csv with the run's model."""
    result = runner.invoke(app, [
        "score", "--model", str(run / "model"), "--leads", str(export / "leads.csv"),
        "--activities", str(export / "activities.csv"), "--output", str(output), *options,
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    return pd.read_csv(output)


def test_a_japanese_teams_sheet_reads_its_own_export_in_japanese(runs, tmp_path):
    # before: '+ 配信停止 recency days：144.8', 'Job title', 'no points', a UTC deadline
    run = runs["ja"][0]
    export = run.parent / "export"
    scorer = load_model(run / "model")
    rows = pd.read_parquet(run / "training" / "training_set.parquet")
    test = rows[rows["split"] == "test"]
    top = test.iloc[int(scorer.probability(test).argmax())]
    out = tmp_path / "sheet.json"
    result = runner.invoke(app, [
        "explain", "--model", str(run / "model"), "--lead-id", str(top["lead_id"]),
        "--leads", str(export / "leads.csv"), "--activities", str(export / "activities.csv"),
        "--as-of", top["cutoff_at"].isoformat(), "--lang", "ja", "--out", str(out),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    sheet = json.loads(out.read_text(encoding="utf-8"))
    assert sheet["time_zone"] == "Asia/Tokyo"  # the export's own clock
    assert sheet["company"]  # 会社名, beside the lead id
    texts = [r["text"] for side in sheet["reasons"].values() for r in side]
    assert texts and all(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", t) for t in texts)
    names = set(scorer.feature_names)
    for text in [*texts, sheet["rule_breakdown"]]:
        assert not any(name in text for name in names if "_" in name), text
        assert "recency" not in text and "count" not in text and "nknown" not in text
    assert all(item["when"] and item["activity"] for item in sheet["timeline"])
    assert ", " not in sheet["rule_breakdown"] and "no points" not in sheet["rule_breakdown"]


def test_the_runs_figures_draw_japanese_names_in_a_font_that_has_them(tmp_path):
    """The run's figures name features as the export does (流入元, 作成日時): they must draw
    as words, not boxes, and without a warning per missing glyph."""
    importance = pd.Series([3.0, 2.0, 1.0], index=["流入元: Web広告", "作成日時の曜日", "visits"])
    label = np.array([0, 1, 0, 1, 0, 0])
    probabilities = {"combined": np.array([0.1, 0.8, 0.3, 0.6, 0.2, 0.4])}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
        for name, figure in run_figures(probabilities, label, importance).items():
            figure.savefig(tmp_path / f"{name}.png")

"""A data scientist brings their own export: other columns, other activity names, one command.

The exports here are simulated worlds rewritten in Marketo's, HubSpot's and an own vocabulary
(:mod:`features.dialects`): nothing in them is called ``page_view``, ``demo_request`` or
``job_level``, so the default spec and rulebook do not fit and leadscore must find its own.
"""

from __future__ import annotations

import re
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.features.dialects import write_dialect
from leadscore.features.sources import from_files
from leadscore.features.spec import DEFAULT_SPEC, load_spec
from leadscore.features.synthetic import simulate, write_world
from leadscore.training.job.prepare import (
    DECISIONS_FILE,
    RULEBOOK_FILE,
    SPEC_FILE,
    ExportShape,
    fitting_rules,
    labelled_periods,
    prepare_training_set,
    recorded_learned_until,
    spec_misfit,
    starting_point,
)
from leadscore.training.job.suggest import empty_rulebook, signal_label, suggest
from leadscore.training.model.artifact import load_model
from leadscore.training.model.rulebook import DEFAULT_RULEBOOK, load_rulebook
from leadscore.training.model.rules import RuleScorer

runner = CliRunner()


def invoke(*args: object):  # type: ignore[no-untyped-def]
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def export_files(paths: dict[str, Path]) -> list[object]:
    return [
        "--leads", paths["leads"], "--activities", paths["activities"],
        "--outcomes", paths["outcomes"],
    ]  # fmt: skip


@pytest.fixture(scope="module")
def marketo(tmp_path_factory) -> tuple[Path, dict[str, Path], str]:
    """A Marketo-style export trained with one command and no spec or rulebook."""
    base = tmp_path_factory.mktemp("marketo")
    paths = write_dialect(simulate(3000, seed=31), "marketo", base / "export")
    uri = f"sqlite:///{base / 'mlflow.db'}"
    result = invoke("train", *export_files(paths), "--out", base / "run", "--tracking-uri", uri)
    return base, paths, result.output


def test_an_unseen_vocabulary_trains_with_one_command_and_says_what_it_decided(marketo):
    base, _, output = marketo
    assert "decided: spec: inferred from the export" in output
    assert "left out email: personal data" in output
    assert "left out Log Call: sales-side activity" in output
    assert "rulebook: suggested from history" in output
    spec = load_spec(base / "run" / "model" / "spec.yaml")
    columns = {a.column for a in spec.attributes}
    assert {"seniority", "job_function", "lead_source"} <= columns
    assert not {"email", "first_name", "phone"} & columns
    types = {t for s in spec.signals for t in s.activity_types}
    assert {"Visit Webpage", "Fill Out Form", "Open Email"} <= types
    assert not {"Log Call", "Log Meeting"} & types
    for name in (SPEC_FILE, RULEBOOK_FILE, DECISIONS_FILE):
        assert (base / "run" / "training" / name).exists()


def test_a_bootstrapped_rule_reads_in_the_exports_words_and_the_catalogs_japanese(marketo):
    base, _, _ = marketo
    book = load_rulebook(base / "run" / "training" / "rulebook_suggested.yaml")
    forms = [r for r in book.rules if r.activity and r.activity.type == "Fill Out Form"]
    assert forms, [r.name for r in book.rules]
    for rule in forms:  # Marketo's own words in English, the catalog's in Japanese
        assert rule.label["en"].startswith("Fill Out Form"), rule.label
        assert rule.label["ja"].startswith("フォームを送信"), rule.label


def test_what_the_run_decided_is_in_mlflow_beside_its_figures(marketo):
    base, _, _ = marketo
    client = MlflowClient(tracking_uri=f"sqlite:///{base / 'mlflow.db'}")
    version = client.get_model_version_by_alias("lead-scorer", "challenger")
    text = mlflow.artifacts.load_text(f"runs:/{version.run_id}/decisions.txt")
    assert "spec: inferred from the export" in text
    assert "rulebook: suggested from history" in text


def test_the_model_of_an_unseen_export_scores_that_export(marketo, tmp_path):
    base, paths, _ = marketo
    output = tmp_path / "scores.csv"
    invoke("score", "--model", base / "run" / "model", "--leads", paths["leads"],
           "--activities", paths["activities"], "--output", output)  # fmt: skip
    scores = pd.read_csv(output)
    leads = pd.read_parquet(paths["leads"])
    assert scores["lead_id"].tolist() == leads["lead_id"].tolist()
    assert scores["p_sql"].between(0, 1).all()


def test_later_commands_read_the_spec_and_rulebook_the_training_set_was_built_with(marketo):
    base, _, _ = marketo
    training_set = base / "run" / "training" / "training_set.parquet"
    result = invoke("rules", "evaluate", "--training-set", training_set)
    assert "rulebook.yaml" in result.output and "AUC of points" in result.output


def test_rules_evaluate_on_an_export_judges_the_rulebook_train_would_start_from(marketo):
    _, paths, _ = marketo
    result = invoke("rules", "evaluate", *export_files(paths))
    assert "rulebook: suggested from history" in result.output
    assert "AUC of points" in result.output
    # built in a temporary folder: no decision points at a file that is gone
    assert "/leadscore-" not in result.output
    assert "`leadscore features build --out DIR` keeps it" in " ".join(result.output.split())


def test_the_default_rulebook_keeps_only_the_rules_an_export_can_fire():
    spec = load_spec(DEFAULT_SPEC)
    shape = ExportShape(
        lead_columns=frozenset(a.column for a in spec.attributes),
        details={"page_view": ("/pricing", "/blog/x"), "demo_request": ("demo-request",)},
    )
    book, dropped = fitting_rules(load_rulebook(DEFAULT_RULEBOOK), spec, shape)
    kept = {r.name for r in book.rules} | {p.name for p in book.instant_pass}
    assert {"it_department_head", "website_visit", "pricing_page", "demo_request"} <= kept
    # no /faq or /careers page, no webinar, no download, no quote request in this export
    assert not {"faq_page", "careers_page", "seminar_attended", "quote_request"} & kept
    assert any(note.startswith("quote_request") for note in dropped)
    assert "activity 'webinar_attended'" in spec_misfit(spec, shape)


def test_features_build_on_an_unseen_export_needs_no_spec_and_writes_what_it_used(tmp_path):
    paths = write_dialect(simulate(1200, seed=32), "hubspot", tmp_path / "export")
    result = invoke("features", "build", *export_files(paths), "--out", tmp_path / "training")
    assert "decided: spec: inferred" in result.output
    spec = load_spec(tmp_path / "training" / SPEC_FILE)
    assert "hs_analytics_source" in {a.column for a in spec.attributes}
    assert "numberofemployees" in {a.column for a in spec.attributes if a.kind == "numeric"}


def test_rules_suggest_builds_a_rulebook_from_nothing_with_an_instant_pass_for_inquiries(
    tmp_path,
):
    paths = write_dialect(simulate(4000, seed=33), "ledger", tmp_path / "export")
    out = tmp_path / "suggested.yaml"
    result = invoke("rules", "suggest", *export_files(paths), "--from-scratch", "--out", out)
    book = load_rulebook(out)
    assert book.rules, result.output
    assert [p.activity.type for p in book.instant_pass] == ["inquiry"]
    assert book.mql_threshold < float("inf")
    # readable words from the export's own names, in both languages
    assert all(set(r.label) == {"en", "ja"} for r in book.rules), book.rules
    labels = {r.label["en"] for r in book.rules}
    assert any(label.startswith(("Level: ", "Role: ", "Channel: ", "Size: ")) for label in labels)
    # the run suggested once, from no rules: no rulebook from a temporary build came first
    assert "/leadscore-" not in result.output and "rulebook: suggested from history" not in (
        result.output
    )
    assert re.search(r"now, validation\W+0\W", result.output), result.output
    evidence = pd.read_csv(out.with_suffix(".evidence.csv"), index_col="rule")
    assert {"new", "new instant pass"} <= set(evidence["status"])
    assert evidence.loc["did_inquiry", "lift"] > 5


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):  # type: ignore[no-untyped-def]
    """The simulator's own vocabulary: the default spec and rulebook fit, and are used."""
    base = tmp_path_factory.mktemp("simulated")
    files = write_world(simulate(4000, seed=34), base / "export")
    source = from_files(files["leads"], files["activities"], files["outcomes"])
    start = starting_point(source)
    assert not start.bootstrap and start.decisions[0].startswith("spec: the default spec")
    return prepare_training_set(source, start, base / "training")


def test_suggest_from_no_rules_names_known_concepts_in_both_languages(simulated):
    parts = labelled_periods(simulated.training_set)
    result = suggest(empty_rulebook(), simulated.spec, parts["train"], parts["validation"])
    passes = {p.activity.type: p for p in result.rulebook.instant_pass}
    assert "demo_request" in passes
    assert passes["demo_request"].label["ja"] == "デモまたは見積もりを依頼"
    behaviour = [r for r in result.rulebook.rules if r.activity is not None]
    assert behaviour and all(set(r.label) == {"en", "ja"} for r in behaviour), behaviour
    pricing = next(s for s in simulated.spec.signals if s.name == "pricing_page")
    assert signal_label(pricing) == {"en": "Viewed the pricing page", "ja": "料金ページを閲覧"}


def test_a_rulebook_from_nothing_hands_off_a_stated_volume_never_nobody(simulated):
    parts = labelled_periods(simulated.training_set)
    result = suggest(
        empty_rulebook(), simulated.spec, parts["train"], parts["validation"], test=parts["test"]
    )
    assert result.rulebook.mql_threshold < float("inf")
    assert "top 10% of leads a week" in result.volume_rule  # the world's outcomes have mql_at,
    # but suggest() was not told the MQL history: the stated default applies
    validation = parts["validation"]
    handed = RuleScorer(result.rulebook, simulated.spec).fit(validation).predict(validation)
    leads = validation.loc[handed.astype(bool), "lead_id"].nunique()
    assert 0.05 < leads / validation["lead_id"].nunique() <= 0.11  # leads, not snapshot rows
    with_history = suggest(
        empty_rulebook(), simulated.spec, parts["train"], parts["validation"],
        historical_mql_per_week=simulated.historical_mql_per_week,
    )  # fmt: skip
    assert "historical MQL volume" in with_history.volume_rule
    assert simulated.historical_mql_per_week > 0


def test_the_creation_clock_is_the_teams_time_zone_and_a_wrong_zone_is_named(tmp_path):
    paths = write_dialect(simulate(300, seed=35), "ledger", tmp_path / "export")
    out = tmp_path / "spec.yaml"
    invoke("spec", "infer", "--leads", paths["leads"], "--time-zone", "Asia/Tokyo", "--out", out)
    clocks = {a.name: a.time_zone for a in load_spec(out).attributes if a.kind == "created"}
    assert clocks == {"created_weekday": "Asia/Tokyo", "created_hour": "Asia/Tokyo"}
    wrong = runner.invoke(
        app, ["spec", "infer", "--leads", str(paths["leads"]), "--time-zone", "Tokyo",
              "--out", str(out)],
    )  # fmt: skip
    assert wrong.exit_code == 2 and "Traceback" not in wrong.output
    assert "Tokyo" in wrong.output and "Asia/Tokyo" in wrong.output


def test_levels_in_any_script_get_rule_names_of_their_own():
    from leadscore.training.job.suggest import candidate_attribute_rules
    from leadscore.training.model.rulebook import parse_rulebook

    spec = parse_spec_for({"job_title": "categorical"})
    rows = pd.DataFrame({"job_title": ["部長"] * 40 + ["課長"] * 40 + ["担当"] * 20})
    rules = candidate_attribute_rules(spec, empty_rulebook(), rows)
    names = [r.name for r in rules]
    assert len(names) == len(set(names)) == 3
    assert set(names) == {"job_title_部長", "job_title_課長", "job_title_担当"}
    parse_rulebook(  # a rulebook holding them all reads back
        {"mql_threshold": 10, "grades": {"fit": {}, "engagement": {}},
         "rules": [r.model_dump(mode="json", by_alias=True, exclude_none=True) for r in rules]}
    )  # fmt: skip


def parse_spec_for(kinds: dict[str, str]):  # type: ignore[no-untyped-def]
    from leadscore.features.spec import parse_spec

    return parse_spec(
        {"attributes": [{"name": n, "column": n, "kind": k} for n, k in kinds.items()]}
    )


def test_a_threshold_never_hands_off_nobody_because_the_top_is_tied():
    from leadscore.training.job.rule_metrics import threshold_for_volume

    points = np.array([20.0] * 30 + [0.0] * 70)
    assert threshold_for_volume(points, np.zeros(100, bool), 10) == 20.0
    assert threshold_for_volume(np.zeros(100), np.zeros(100, bool), 10) == float("inf")


def test_hand_off_volumes_count_leads_not_snapshot_rows():
    from leadscore.training.job.suggest import threshold_for_leads

    rows = pd.DataFrame({"lead_id": [1, 1, 1, 2, 2, 3, 4], "cutoff_at": pd.Timestamp("2025-01-01")})
    points = np.array([5.0, 30.0, 30.0, 25.0, 25.0, 10.0, 1.0])
    # two leads: lead 1 (best row 30) and lead 2 (25); five rows, but two leads
    assert threshold_for_leads(rows, points, np.zeros(7, bool), 2) == 25.0


def test_a_bootstrapped_rulebook_never_saw_the_periods_that_judge_the_model(simulated, tmp_path):
    from leadscore.features.offline import LABEL
    from leadscore.features.training_set import SPLIT
    from leadscore.training.job.prepare import bootstrap_from

    rows = pd.read_parquet(simulated.training_set)
    later = rows[SPLIT].isin(["validation", "test"]) & rows[LABEL].notna()
    shuffled = rows.copy()
    shuffled.loc[later, LABEL] = rows.loc[later, LABEL].sample(frac=1, random_state=3).to_numpy()
    shuffled.to_parquet(tmp_path / "training_set.parquet")
    before = bootstrap_from(simulated.training_set, simulated.spec).rulebook
    after = bootstrap_from(tmp_path / "training_set.parquet", simulated.spec).rulebook
    assert before == after and before.rules


def test_event_mode_without_outcomes_or_a_training_set_says_what_is_missing(tmp_path):
    paths = write_dialect(simulate(200, seed=36), "ledger", tmp_path / "export")
    result = runner.invoke(
        app, ["train", "--leads", str(paths["leads"]), "--out", str(tmp_path / "run")]
    )
    said = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 2 and "--outcomes is needed" in said, said
    assert "Traceback" not in result.output
    missing = tmp_path / "nowhere" / "training_set.parquet"
    result = runner.invoke(
        app, ["train", "--training-set", str(missing), "--out", str(tmp_path / "run")]
    )
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and "no training set here" in said


def test_training_again_on_a_bootstrapped_set_judges_after_the_rows_its_rules_learnt_from(
    marketo, tmp_path
):
    """`train --training-set` on the set the one command built reads its bootstrapped rulebook
    beside it, and judges the layers after the same rows, as the one command did."""
    base, _, _ = marketo
    first = load_model(base / "run" / "model").metadata
    assert first["rules_learned_until"] is not None  # the Marketo export's rules were suggested
    training_set = base / "run" / "training" / "training_set.parquet"
    invoke("train", "--training-set", training_set, "--out", tmp_path / "again",
           "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}")  # fmt: skip
    again = load_model(tmp_path / "again" / "model").metadata
    assert str(again["rules_learned_until"]) == str(first["rules_learned_until"])
    assert str(recorded_learned_until(training_set, None)) == str(first["rules_learned_until"])
    assert recorded_learned_until(training_set, DEFAULT_RULEBOOK) is None  # another one named
    that_one = training_set.parent / RULEBOOK_FILE  # the bootstrapped one, named
    assert str(recorded_learned_until(training_set, that_one)) == str(first["rules_learned_until"])


def test_a_contacts_file_that_carries_its_outcome_serves_as_both_and_never_as_a_feature(
    tmp_path,
):
    """HubSpot's contacts export holds 'Became a Sales Qualified Lead Date' beside the
    attributes; the same file is then --leads and --outcomes. The outcome column must never
    become an attribute, whatever its values look like, and the run says it left it out."""
    from tests.worlds import hubspot_contacts

    contacts = hubspot_contacts(1500, seed=5)
    sql = "Became a Sales Qualified Lead Date"
    contacts[sql] = contacts[sql].str[:10]  # a date: repeated values, read as levels if kept
    rng = np.random.default_rng(5)
    ids = rng.choice(contacts["Record ID"], 9000)
    created = pd.to_datetime(contacts.set_index("Record ID")["Create Date"])
    when = created.loc[ids].to_numpy() + pd.to_timedelta(rng.uniform(0, 40, len(ids)), "D")
    events = pd.DataFrame({
        "Contact ID": ids, "Event date": pd.Series(when).dt.strftime("%Y-%m-%d %H:%M"),
        "Event type": rng.choice(["Page view", "Email open", "Form submission"], len(ids)),
    })  # fmt: skip
    contacts.to_csv(tmp_path / "contacts.csv", index=False)
    events.to_csv(tmp_path / "events.csv", index=False)
    result = invoke(
        "features", "build", "--leads", tmp_path / "contacts.csv", "--activities",
        tmp_path / "events.csv", "--outcomes", tmp_path / "contacts.csv",
        "--column", "lead_id=Record ID", "--column", "created_at=Create Date",
        "--column", "activities.lead_id=Contact ID", "--column", "occurred_at=Event date",
        "--column", "activity_type=Event type", "--column", f"sql_at={sql}",
        "--out", tmp_path / "training",
    )  # fmt: skip
    said = " ".join(result.output.split())
    assert f"left out {sql}: the outcome sql_at, never a feature" in said
    spec = load_spec(tmp_path / "training" / SPEC_FILE)
    assert sql not in {getattr(a, "column", None) for a in spec.attributes}


def test_a_suggestion_whose_rules_only_take_points_away_says_it_hands_off_no_one():
    """With no rule that raises a lead's points above zero, the suggested threshold is one no
    lead reaches: said in words, not as 'hand-off at inf points'."""
    from leadscore.training.job.suggest import Suggestion

    book = empty_rulebook()
    none = Suggestion(book.model_copy(update={"mql_threshold": float("inf")}), pd.DataFrame(),
                      pd.DataFrame(), "", "the top 10% of leads a week")  # fmt: skip
    assert none.handoff.startswith("hands off no one: no rule raises a lead's points")
    some = Suggestion(book.model_copy(update={"mql_threshold": 40.0}), pd.DataFrame(),
                      pd.DataFrame(), "", "the top 10% of leads a week")  # fmt: skip
    assert some.handoff == "hands off the top 10% of leads a week, at 40 points"

"""Training as a data scientist runs it: one command, an honest record, a model to promote."""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.features import schema
from leadscore.training.model.artifact import ModelDirectoryError, load_model

pytestmark = pytest.mark.xdist_group("trained_world")  # the shared world: one worker builds it

runner = CliRunner()


def invoke(*args: object):  # type: ignore[no-untyped-def]
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def trained(trained_world) -> tuple[Path, Path, str]:
    """(folder holding the export, run folder, MLflow store) of the shared trained world."""
    return trained_world.run.parent, trained_world.run, trained_world.tracking_uri


def test_training_registers_one_pyfunc_as_challenger_with_a_full_record(trained):
    _, run, uri = trained
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    version = client.get_model_version_by_alias("lead-scorer", "challenger")
    record = client.get_run(version.run_id).data
    for component in ("rules", "logistic", "lightgbm", "combined"):
        for metric in ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "sql_capture_top_10pct"):
            assert f"test_{component}_{metric}" in record.metrics
    assert {"spec_fingerprint", "rulebook_fingerprint", "train_window", "logistic.C"} <= set(
        record.params
    )
    children = client.search_runs(
        [client.get_run(version.run_id).info.experiment_id],
        f"tags.mlflow.parentRunId = '{version.run_id}'",
    )
    assert len(children) >= 4  # every hyperparameter candidate is a nested run
    artifacts = {a.path for a in client.list_artifacts(version.run_id, "plots")}
    assert {f"plots/{n}.png" for n in ("roc", "calibration", "cumulative_gain")} <= artifacts
    explanations = {a.path for a in client.list_artifacts(version.run_id, "explanations")}
    assert "explanations/shap_summary.png" in explanations
    assert "explanations/reasons_of_handed_off_leads.json" in explanations
    model = mlflow.pyfunc.load_model("models:/lead-scorer@challenger")
    rows = pd.read_parquet(run / "training" / "training_set.parquet").head(20)
    scorer = load_model(run / "model")
    scored = model.predict(rows[scorer.spec.feature_names()])
    # the registered model is the model directory: the same answer for each lead, to the digit
    pd.testing.assert_frame_equal(scored, scorer.score(rows).reset_index(drop=True))
    assert {"p_sql", "score", "tier", "decision"} <= set(scored.columns)


def test_combined_model_beats_the_rules_and_is_calibrated(trained):
    _, run, _ = trained
    metrics = load_model(run / "model").metadata["test_metrics"]
    assert metrics["combined"]["roc_auc"] > metrics["rules"]["roc_auc"] + 0.05
    assert metrics["combined"]["ece"] < 0.02


def test_promote_moves_champion_to_the_challenger(trained_world, tmp_path):
    store = tmp_path / "mlflow.db"  # promote on a copy: the shared store keeps its aliases
    shutil.copyfile(trained_world.tracking_uri.removeprefix("sqlite:///"), store)
    uri = f"sqlite:///{store}"
    invoke("promote", "--tracking-uri", uri)
    client = MlflowClient(tracking_uri=uri)
    champion = client.get_model_version_by_alias("lead-scorer", "champion")
    challenger = client.get_model_version_by_alias("lead-scorer", "challenger")
    assert champion.version == challenger.version


def test_batch_scoring_returns_every_lead_exactly_once_in_order(trained, tmp_path):
    base, run, _ = trained
    export = base / "export"
    output = tmp_path / "scores.parquet"
    invoke(
        "score", "--model", run / "model", "--leads", export / "leads.parquet", "--activities",
        export / "activities.parquet", "--as-of", "2026-03-01", "--output", output,
    )  # fmt: skip
    scores = pd.read_parquet(output)
    leads = pd.read_parquet(export / "leads.parquet")
    assert scores[schema.LEAD_ID].tolist() == leads[schema.LEAD_ID].tolist()
    existing = (leads[schema.CREATED_AT] <= pd.Timestamp("2026-03-01", tz="UTC")).to_numpy()
    assert set(scores["decision"][existing]) <= {"hand off", "nurture"}
    assert scores["p_sql"][existing].notna().all() and scores["error"][existing].isna().all()


def test_a_lead_created_after_the_scoring_time_is_listed_with_why_not_scored(trained, tmp_path):
    """A backtest as of March must not score April's leads from a negative age, nor drop them;
    the time may come in any zone and is reported in UTC."""
    base, run, _ = trained
    export = base / "export"
    output = tmp_path / "scores.csv"
    result = invoke(
        "score", "--model", run / "model", "--leads", export / "leads.parquet", "--activities",
        export / "activities.parquet", "--as-of", "2026-03-01T09:00:00+09:00", "--output", output,
    )  # fmt: skip
    scores = pd.read_csv(output)
    leads = pd.read_parquet(export / "leads.parquet")
    later = (leads[schema.CREATED_AT] > pd.Timestamp("2026-03-01", tz="UTC")).to_numpy()
    assert later.any() and not later.all()
    assert scores["p_sql"][later].isna().all() and scores["decision"][later].isna().all()
    assert scores["error"][later].str.contains("is after the scoring time 2026-03-01T00:00").all()
    assert scores["error"][~later].isna().all() and scores["p_sql"][~later].notna().all()
    assert f"{int(later.sum()):,} created after it are listed unscored" in result.output
    assert "as of 2026-03-01 00:00 UTC" in result.output


def test_scores_keep_one_file_schema_even_when_no_lead_existed_yet(trained, tmp_path):
    """Daily files are appended and loaded into typed tables: an empty row must not turn a
    score into a float, nor a run with no lead yet into a crash."""
    base, run, _ = trained
    export = base / "export"
    schemas = {}
    for as_of in ("2024-01-01", "2026-07-01"):  # before every lead; after every lead
        output = tmp_path / f"{as_of}.parquet"
        invoke(
            "score", "--model", run / "model", "--leads", export / "leads.parquet",
            "--activities", export / "activities.parquet", "--as-of", as_of, "--output", output,
        )  # fmt: skip
        schemas[as_of] = pq.read_schema(output).remove_metadata()
        scores = pd.read_parquet(output)
        assert scores["error"].notna().all() if as_of < "2025" else scores["error"].isna().all()
    assert schemas["2024-01-01"] == schemas["2026-07-01"]
    assert schemas["2024-01-01"].field("score").type == "int64"
    assert schemas["2024-01-01"].field("rule_points").type == "double"  # whole or not


def test_scoring_as_of_t_ignores_later_activities(trained, tmp_path):
    base, run, _ = trained
    export = base / "export"
    activities = pd.read_parquet(export / "activities.parquet")
    early = activities[activities[schema.OCCURRED_AT] <= pd.Timestamp("2026-03-01", tz="UTC")]
    early.to_parquet(tmp_path / "early.parquet")
    outputs = []
    for name, path in (
        ("all", export / "activities.parquet"),
        ("early", tmp_path / "early.parquet"),
    ):
        output = tmp_path / f"{name}.csv"
        invoke(
            "score", "--model", run / "model", "--leads", export / "leads.parquet",
            "--activities", path, "--as-of", "2026-03-01T00:00:00Z", "--output", output,
        )  # fmt: skip
        outputs.append(pd.read_csv(output))
    np.testing.assert_allclose(outputs[0]["p_sql"], outputs[1]["p_sql"], rtol=1e-12)


def test_a_missing_or_corrupt_model_directory_is_named(trained, tmp_path):
    _, run, _ = trained
    with pytest.raises(ModelDirectoryError, match="no model directory"):
        load_model(tmp_path / "nowhere")
    broken = tmp_path / "broken"
    broken.mkdir()
    for item in (run / "model").iterdir():
        if item.is_file():
            (broken / item.name).write_bytes(item.read_bytes())
    (broken / "scorer.joblib").write_bytes(b"not a model")
    with pytest.raises(ModelDirectoryError, match="corrupt model directory"):
        load_model(broken)


def test_flat_export_trains_with_an_inferred_spec_and_tests_on_its_newest_leads(tmp_path):
    """The file lists its newest leads first, as the X Education export does: the split must
    follow the lead number, so the test period is the newest leads, not the first rows."""
    rng = np.random.default_rng(3)
    n = 4000
    source = rng.choice(["Google", "Referral", "Olark Chat", "Select"], n)
    visits = rng.poisson(3, n).astype(float)
    visits[rng.random(n) < 0.05] = np.nan
    logit = -1.5 + 1.2 * (source == "Referral") + 0.25 * np.nan_to_num(visits)
    frame = pd.DataFrame(
        {
            "Prospect ID": [f"p{i:05d}" for i in range(n)],
            "Lead Number": 660737 - 7 * np.arange(n),  # newest first
            "Lead Source": source,
            "TotalVisits": visits,
            "Email": [f"x{i}@example.com" for i in range(n)],
            "Tags": np.where(rng.random(n) < 0.5, "Ringing", "Will revert"),
            "Converted": np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "Yes", "No"),
        }
    )
    path = tmp_path / "crm.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "flat"
    invoke(
        "train", "--leads", path, "--label", "Converted", "--id-column", "Prospect ID",
        "--order-column", "Lead Number", "--drop", "Tags", "--out", out,
        "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}",
    )  # fmt: skip
    scorer = load_model(out / "model")
    assert {a.column for a in scorer.spec.attributes} == {"Lead Source", "TotalVisits"}
    assert scorer.metadata["test_metrics"]["combined"]["roc_auc"] > 0.65
    rows = pd.read_parquet(out / "training" / "training_set.parquet")
    number = rows[schema.LEAD_ID].map(frame.set_index("Prospect ID")["Lead Number"])
    by_split = number.groupby(rows["split"])
    assert by_split.min()["test"] > by_split.max()["validation"]
    assert by_split.min()["validation"] > by_split.max()["train"]


def test_served_scores_use_the_very_models_that_were_evaluated_even_with_empty_levels(trained):
    """No training/serving skew: the fast path the service scores with must give the log-odds
    of the pipelines the test metrics were computed with, also for a lead whose categorical
    attributes are empty (most real exports have many), alone or in a batch."""
    _, run, _ = trained
    scorer = load_model(run / "model")
    rows = pd.read_parquet(run / "training" / "training_set.parquet").head(200).copy()
    categorical = scorer.spec.categorical_features()
    rows.loc[rows.index[::3], categorical] = None
    for batch in (rows, rows.iloc[[0]]):
        margins = scorer.component_logits(batch)
        inputs = scorer.model_inputs(batch)
        models = {"logistic_logit": scorer.logistic, "lightgbm_logit": scorer.lightgbm}
        for name, model in models.items():
            p = model.predict_proba(inputs)[:, 1]
            np.testing.assert_allclose(margins[name], np.log(p / (1 - p)), atol=1e-9, err_msg=name)


def test_a_value_far_outside_training_scores_as_the_largest_value_training_saw(trained):
    """Revenue typed in dollars where the export has millions, or a bot's page views: the
    logistic model would extrapolate such a lead to a certain conversion at the head of the
    sales queue. It scores as a lead with the largest value seen in training instead."""
    _, run, _ = trained
    scorer = load_model(run / "model")
    rows = pd.read_parquet(run / "training" / "training_set.parquet")
    train = rows[rows["split"] == "train"]
    leads = rows[rows["split"] == "test"].head(50)
    for column in ("annual_revenue_musd", "web_visit_count_7d"):
        largest = leads.assign(**{column: train[column].max()})
        typed_wrong = leads.assign(**{column: train[column].max() * 1e6})
        np.testing.assert_allclose(
            scorer.probability(typed_wrong), scorer.probability(largest), rtol=1e-12,
            err_msg=column,
        )  # fmt: skip


def test_an_instant_pass_is_always_handed_off_whatever_the_probability(trained):
    _, run, _ = trained
    scorer = load_model(run / "model")
    rows = pd.read_parquet(run / "training" / "training_set.parquet")
    passes = scorer.rules.instant_passes(rows).any(axis=1)
    scored = scorer.score(rows[passes])
    assert len(scored) > 0
    assert (scored["decision"] == "hand off").all()
    assert (scored["p_sql"] < scorer.policy.threshold).any()  # the guarantee is doing work


def test_a_training_run_starts_under_mlflow_run_whose_run_lives_in_another_store(
    tmp_path, monkeypatch
):
    """`mlflow run . -e main` sets MLFLOW_RUN_ID for its own store; training must still log."""
    from leadscore.training.job.tracking import training_run

    monkeypatch.setenv("MLFLOW_RUN_ID", "0123456789abcdef0123456789abcdef")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with training_run(uri, tmp_path / "mlartifacts", run_name="train") as run:
        mlflow.log_metric("x", 1.0)
    logged = MlflowClient(tracking_uri=uri).get_run(run.info.run_id)
    assert logged.data.metrics["x"] == 1.0
    assert logged.data.tags["leadscore.mlflow_project_run_id"] == "0123456789abcdef" * 2


@pytest.mark.parametrize(
    "old_root",
    [pytest.param("", id="before 0.2"), pytest.param("leadscore.", id="early 0.2")],
)
def test_a_model_directory_written_before_the_rooms_moved_still_loads(trained, tmp_path, old_root):
    """Before 0.2 the scorer was pickled as `training.scorer.LeadScorer`, in early 0.2 as
    `leadscore.training.scorer.LeadScorer`: such a directory, and the scores it gives, survive
    the move to `leadscore.training.model`."""
    import sys

    import joblib

    _, run, _ = trained
    old = tmp_path / "model"
    shutil.copytree(run / "model", old)
    joblib.dump(load_model(run / "model"), old / "scorer.joblib", protocol=2)  # names as text
    pickled = (old / "scorer.joblib").read_bytes()
    legacy = pickled
    for room in (b"training.model.", b"training.job."):
        legacy = legacy.replace(b"cleadscore." + room, b"c" + old_root.encode() + b"training.")
    if not old_root:
        for room in (b"features", b"serving"):
            legacy = legacy.replace(b"cleadscore." + room + b".", b"c" + room + b".")
    assert b"cleadscore.training.model" not in legacy
    assert f"c{old_root}training.scorer\nLeadScorer".encode() in legacy
    (old / "scorer.joblib").write_bytes(legacy)

    rows = pd.read_parquet(run / "training" / "training_set.parquet").head(50)
    loaded = load_model(old)
    pd.testing.assert_frame_equal(loaded.score(rows), load_model(run / "model").score(rows))
    assert "training" not in sys.modules and "training.scorer" not in sys.modules
    assert "leadscore.training.scorer" not in sys.modules


def test_a_trained_scorer_is_complete_and_judging_it_changes_nothing(trained):
    """A scorer comes out of training whole (every fitted part, a policy, a score scale) and
    stays as it was built: judging it on the test period reads it, and a new policy is a new
    scorer, never an edit of the one serving is using."""
    import dataclasses
    import pickle

    from leadscore.features.schema import SPLIT
    from leadscore.training.job.train import evaluate

    _, run, _ = trained
    scorer = load_model(run / "model")
    assert all(
        getattr(scorer, name) is not None
        for name in ("logistic", "lightgbm", "combiner", "policy", "logistic_means")
    )
    assert scorer.rules.calibration_ is not None  # the rule baseline's map, fitted in training
    rows = pd.read_parquet(run / "training" / "training_set.parquet")
    test = rows[(rows[SPLIT] == "test") & rows["label"].notna()]
    fitted = {name: pickle.dumps(getattr(scorer, name)) for name in ("rules", "combiner")}
    before = scorer.score(test)
    evaluate(scorer, test)
    assert {name: pickle.dumps(getattr(scorer, name)) for name in fitted} == fitted
    pd.testing.assert_frame_equal(scorer.score(test), before)
    with pytest.raises(dataclasses.FrozenInstanceError):
        scorer.policy = scorer.policy  # type: ignore[misc]

"""A few hundred leads: training says how sure it is and never ships a layer worse than the rules.

And a model trained without a usable rulebook still hands leads off, at a volume it names.
"""

from __future__ import annotations

import json
from pathlib import Path

import ibis
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.features import schema
from leadscore.features.dialects import write_dialect
from leadscore.features.infer import infer
from leadscore.features.offline import LABEL, connect, register
from leadscore.features.schema import CUTOFF_AT
from leadscore.features.spec import load_spec
from leadscore.features.synthetic import simulate, write_world
from leadscore.features.training_set import (
    SPLIT,
    TRAINING_SET_FILE,
    SplitPlan,
    assign_splits,
    build_training_set,
    first_judgeable,
    flat_training_set,
    judgeable_edges,
    periods_lacking,
    split_edges,
)
from leadscore.training.job.evaluation import bootstrap_auc_interval, probability_metrics
from leadscore.training.job.run import weekly_mql_volume
from leadscore.training.job.train import choose_layer, fit_scorer
from leadscore.training.model.artifact import SPEC_FILE, load_model
from leadscore.training.model.combiner import LogOddsBlend
from leadscore.training.model.explain import contributions
from leadscore.training.model.rulebook import compile_rules, load_rulebook, parse_rulebook

SPEC_PATH = Path(__file__).resolve().parents[2] / "features" / "default_spec.yaml"
EMPTY_RULEBOOK = {"mql_threshold": 1e9, "grades": {"fit": {}, "engagement": {}}, "rules": []}


@pytest.fixture(scope="module")
def small_export(tmp_path_factory) -> tuple[Path, str, str]:
    """(run directory, MLflow URI, console output) of `leadscore train` on 300 leads."""
    base = tmp_path_factory.mktemp("small")
    paths = write_world(simulate(300, seed=3), base / "export")
    uri = f"sqlite:///{base / 'mlflow.db'}"
    result = CliRunner().invoke(
        app, ["train", "--warehouse", str(paths["warehouse"]), "--out", str(base / "run"),
              "--tracking-uri", uri],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return base / "run", uri, " ".join(result.output.split())


def test_a_300_lead_export_trains_and_says_how_sure_it_is(small_export):
    run, uri, output = small_export
    assert "In brackets: 95%, bootstrap over test leads" in output and "Few SQLs" in output
    assert "Shipped layer:" in output and "tune-threshold --model" in output
    metrics = load_model(run / "model").metadata["test_metrics"]
    for figures in metrics.values():
        for figure in ("roc_auc", "mean_p_over_rate"):  # what the data can support, both
            low, high = figures[f"{figure}_low"], figures[f"{figure}_high"]
            assert low <= figures[figure] <= high
            assert f"[{low:.2f}-{high:.2f}]" in output
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    version = client.get_model_version_by_alias("lead-scorer", "challenger")
    record = client.get_run(version.run_id).data
    assert record.params["few_sqls"] == "True" and "shipped_layer" in record.params
    assert "test_combined_roc_auc_low" in record.metrics
    notes = mlflow.artifacts.load_text(f"runs:/{version.run_id}/notes.txt")
    assert "Few SQLs" in notes and "Hand-off volume" in notes


def test_the_shipped_layer_never_ranks_below_the_rules_where_it_was_judged(small_export):
    run, _, _ = small_export
    metadata = load_model(run / "model").metadata
    judged = metadata["judged_roc_auc"]
    shipped = metadata["shipped_layer"]
    assert shipped == "rules" or judged[shipped] >= judged["rule baseline"]
    assert "out-of-fold" in metadata["layer_judged_on"]  # validation alone holds a handful of SQLs


def test_a_shipped_simpler_layer_still_explains_each_score_exactly(small_export):
    run, _, _ = small_export
    scorer = load_model(run / "model")
    shipped = scorer.metadata["shipped_layer"]
    weights = dict(zip(("rules", "logistic", "lightgbm"), scorer.combiner.coef_[0], strict=True))
    if shipped != "combined":  # the other layers are switched off by weight 0, nothing else
        assert all(w == 0.0 for layer, w in weights.items() if layer != shipped)
    rows = pd.read_parquet(run / "training" / "training_set.parquet").sample(200, random_state=0)
    terms = contributions(scorer, rows)
    p = scorer.probability(rows)
    np.testing.assert_allclose(terms.sum(axis=1), np.log(p / (1 - p)), atol=1e-6)


def test_combined_below_the_rules_ships_the_best_simpler_layer():
    aucs = {"rules": 0.58, "logistic": 0.73, "lightgbm": 0.55, "combined": 0.28}
    assert choose_layer(aucs, rules_auc=0.58, few_sqls=False) == "logistic"
    assert choose_layer(aucs, rules_auc=0.58, few_sqls=True) == "logistic"
    close = {"rules": 0.58, "logistic": 0.725, "lightgbm": 0.70, "combined": 0.73}
    assert choose_layer(close, rules_auc=0.58, few_sqls=True) == "logistic"  # simpler, as good
    assert choose_layer(close, rules_auc=0.58, few_sqls=False) == "combined"


def test_a_layer_that_ranks_upside_down_is_not_turned_over_to_fit():
    rng = np.random.default_rng(0)
    label = (rng.random(2000) < 0.1).astype(int)
    margins = np.column_stack(
        [rng.normal(size=2000), -2.0 * label + rng.normal(size=2000), rng.normal(size=2000)]
    )
    for layer in ("logistic", "combined"):
        blend = LogOddsBlend(layer=layer).fit(margins, label)
        assert blend.coef_[0, 1] >= 0.0 and blend.coef_[0, 2] >= -1e-9


@pytest.fixture(scope="module")
def without_rules(tmp_path_factory):
    """(world, validation rows, scorer parts) of 1,000 leads with an empty rulebook."""
    world = simulate(1000, seed=5)
    rulebook = parse_rulebook(EMPTY_RULEBOOK)
    spec = compile_rules(rulebook, load_spec(SPEC_PATH))
    con = connect()
    path, _ = build_training_set(
        con, register(con, "leads", world.leads), register(con, "activities", world.activities),
        register(con, "outcomes", world.outcomes), spec, tmp_path_factory.mktemp("no_rules"),
    )  # fmt: skip
    rows = pd.read_parquet(path)
    part = {s: rows[(rows[SPLIT] == s) & rows[LABEL].notna()] for s in ("train", "validation")}
    return world, part, spec, rulebook


@pytest.mark.parametrize("with_mql_history", [False, True])
def test_without_a_usable_rulebook_the_model_still_hands_off_and_says_why(
    without_rules, with_mql_history
):
    world, part, spec, rulebook = without_rules
    mql_per_week = weekly_mql_volume(world.outcomes) if with_mql_history else None
    scorer = fit_scorer(
        part["train"], part["validation"], spec, rulebook, mql_per_week=mql_per_week
    )
    decisions = scorer.score(part["validation"])["decision"]
    assert (decisions == "hand off").sum() > 0
    assert scorer.policy.handoffs_per_week > 0
    expected = "historical MQL volume" if with_mql_history else "top 10% a week"
    assert scorer.policy.kind == expected
    if not with_mql_history:  # a tenth of the leads, not of each week's rows at the lowest cut
        validation = part["validation"]
        handed = validation.loc[decisions.to_numpy() == "hand off", "lead_id"].nunique()
        assert handed / validation["lead_id"].nunique() == pytest.approx(0.10, abs=0.02)


def test_weekly_mql_volume_counts_leads_with_an_mql_and_needs_mql_at():
    outcomes = pd.DataFrame(
        {
            "lead_id": [1, 2, 3, 4, 5],
            "sql_at": pd.NaT,
            "mql_at": pd.to_datetime(
                ["2025-01-01", "2025-01-08", "2025-01-15", "2025-01-29", None], utc=True
            ),
        }
    )
    assert weekly_mql_volume(outcomes) == pytest.approx(4 / 4)
    assert weekly_mql_volume(outcomes.drop(columns="mql_at")) is None
    assert weekly_mql_volume(outcomes.assign(mql_at=pd.NaT)) is None


def scored_leads(n_leads: int, seed: int, rows_per_lead: int = 1):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    lead_label = (rng.random(n_leads) < 0.1).astype(int)
    lead_score = rng.normal(size=n_leads) + lead_label
    leads = np.repeat(np.arange(n_leads), rows_per_lead)
    score = lead_score[leads] + rng.normal(scale=0.01, size=len(leads))
    return lead_label[leads], score, leads


def test_the_auc_interval_holds_the_point_and_narrows_with_more_leads():
    widths = []
    for n_leads in (300, 3000):
        label, score, leads = scored_leads(n_leads, seed=1)
        low, high = bootstrap_auc_interval(label, score, leads)
        assert low < roc_auc_score(label, score) < high
        widths.append(high - low)
    assert widths[1] < widths[0] / 2


def test_the_auc_interval_resamples_leads_so_repeated_snapshots_add_no_certainty():
    once = bootstrap_auc_interval(*scored_leads(400, seed=2))
    label, score, leads = scored_leads(400, seed=2, rows_per_lead=5)
    five_times = bootstrap_auc_interval(label, score, leads)
    rows_as_leads = bootstrap_auc_interval(label, score, np.arange(len(leads)))
    assert abs((five_times[1] - five_times[0]) - (once[1] - once[0])) < 0.03
    assert (rows_as_leads[1] - rows_as_leads[0]) < 0.6 * (once[1] - once[0])
    assert bootstrap_auc_interval(label, score, leads) == five_times  # seeded


def test_a_300_lead_export_whose_latest_fifth_holds_no_sql_widens_its_split_and_trains(tmp_path):
    """Seed 7's 300 leads in Marketo's words leave the default test period without an SQL: the
    run used to stop there. It now cuts the later periods wider, by the stated ladder, says so,
    and trains with intervals that say how little the test can tell."""
    paths = write_dialect(simulate(300, seed=7), "marketo", tmp_path / "export")
    result = CliRunner().invoke(
        app, ["train", "--leads", str(paths["leads"]), "--activities", str(paths["activities"]),
              "--outcomes", str(paths["outcomes"]), "--out", str(tmp_path / "run"),
              "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "the test period held no SQL row" in said and "test 30% instead" in said
    assert "In brackets: 95%, bootstrap over test leads" in said
    path = tmp_path / "run" / "training" / TRAINING_SET_FILE
    rows = pd.read_parquet(path)
    labelled = rows[rows[LABEL].notna()]
    assert periods_lacking(labelled.value_counts([SPLIT, LABEL]).rename("n").reset_index()) == {}
    # the default cut of the same rows really did leave a period without an SQL
    table, spec = connect().read_parquet(path), load_spec(path.parent / SPEC_FILE)
    default = assign_splits(
        table, spec, split_edges(table, spec, SplitPlan(), rows[CUTOFF_AT].max())
    )
    cut = default.filter(default[LABEL].notnull())
    counted = cut.group_by([SPLIT, LABEL]).aggregate(n=cut.count()).execute()
    assert periods_lacking(counted)["test"] == "no SQL row"


def test_a_flat_file_widens_its_split_only_when_a_period_would_judge_nothing(tmp_path):
    """By position, as a flat file is split: the latest fifth without a conversion is widened
    back, and `train --label` says so; a file with conversions throughout keeps its plan."""
    n = 200
    label = pd.Series(np.where(np.arange(n) % 10 == 0, 1, 0))
    leads = pd.DataFrame({schema.LEAD_ID: range(n), "source": ["web", "event"] * (n // 2)})
    spec = infer(leads, None, ()).spec
    path, note = flat_training_set(connect(), leads, label, spec, tmp_path / "steady")
    assert note == "" and pd.read_parquet(path)[SPLIT].value_counts()["test"] == 40
    quiet_end = label.where(np.arange(n) <= 140, 0)  # the last conversion is lead 140 of 200
    path, note = flat_training_set(connect(), leads, quiet_end, spec, tmp_path / "quiet")
    rows = pd.read_parquet(path)
    assert rows[SPLIT].value_counts()["test"] == 60  # the latest 30% begins at lead 140
    assert periods_lacking(rows.value_counts([SPLIT, LABEL]).rename("n").reset_index()) == {}
    assert "the test period held no SQL row" in note
    leads.assign(converted=quiet_end).to_csv(tmp_path / "leads.csv", index=False)
    result = CliRunner().invoke(
        app, ["train", "--leads", str(tmp_path / "leads.csv"), "--label", "converted",
              "--out", str(tmp_path / "run"), "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "split: with validation 20% and test 20%" in " ".join(result.output.split())
    # its spec and rulebook lie beside the set, so `rules suggest --training-set` reads them
    beside = tmp_path / "run" / "training"
    assert load_spec(beside / SPEC_FILE).attributes == spec.attributes
    assert load_rulebook(beside / "rulebook.yaml").rules == ()


def test_the_ladder_keeps_a_judgeable_split_and_never_widens_for_a_train_period_without_sqls():
    """An export with SQLs in every period keeps the edges it asked for, with no note; one
    whose SQLs all come late cannot be helped by moving rows out of train, so it is not."""
    cutoffs = pd.date_range("2025-01-01", periods=400, freq="D", tz="UTC")
    rows = pd.DataFrame({schema.LEAD_ID: range(400), CUTOFF_AT: cutoffs})
    spec = load_spec(SPEC_PATH)
    as_of = cutoffs.max() + pd.Timedelta(days=60)
    steady = ibis.memtable(rows.assign(**{LABEL: (np.arange(400) % 7 == 0).astype(float)}))
    kept = judgeable_edges(steady, spec, SplitPlan(), as_of)
    assert kept == split_edges(steady, spec, SplitPlan(), as_of) and kept.widened == ""
    late = ibis.memtable(rows.assign(**{LABEL: (np.arange(400) > 390).astype(float)}))
    assert judgeable_edges(late, spec, SplitPlan(), as_of).widened == ""
    assert first_judgeable(SplitPlan(), lambda plan: {"train": "no SQL row"}) == (SplitPlan(), "")


def test_a_training_set_no_cut_can_judge_stops_naming_where_the_sqls_are(tmp_path):
    """Every SQL in the train period: the run stops before fitting anything, and says which
    period lacks what and how many leads with an SQL each period holds."""
    rows = pd.DataFrame({
        schema.LEAD_ID: range(30),
        CUTOFF_AT: pd.date_range("2025-01-01", periods=30, freq="7D", tz="UTC"),
        LABEL: [1.0, 0.0] * 5 + [0.0] * 20,
        SPLIT: ["train"] * 18 + ["validation"] * 6 + ["test"] * 6,
    })  # fmt: skip
    rows.to_parquet(tmp_path / TRAINING_SET_FILE)
    result = CliRunner().invoke(
        app, ["train", "--training-set", str(tmp_path / TRAINING_SET_FILE),
              "--out", str(tmp_path / "run"), "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"],
    )  # fmt: skip
    said = " ".join(result.output.split())
    assert result.exit_code != 0 and "Traceback" not in said
    assert "the validation period has no SQL row; the test period has no SQL row" in said
    assert "SQL leads: train 5 of 18 leads, validation 0 of 6 leads, test 0 of 6 leads" in said


def test_the_level_interval_resamples_leads_so_a_lead_seen_weekly_is_one_piece_of_evidence():
    """Mean P(SQL) over the rate has an interval as wide as its SQLs allow: 40 SQLs leave
    room for chance that 4,000 do not, and five weekly snapshots of the same 400 leads are
    no more evidence than one snapshot each."""
    from leadscore.training.job.evaluation import bootstrap_level_interval

    rng = np.random.default_rng(0)

    def interval(leads: int, snapshots: int = 1) -> tuple[float, float]:
        """A model on the level: every tenth lead an SQL, P(SQL) averaging 0.1."""
        label = rng.permutation(np.arange(leads) % 10 == 0).astype(int)
        p = rng.permutation(np.linspace(0.02, 0.18, leads))
        expand = lambda values: np.repeat(values, snapshots)  # noqa: E731
        return bootstrap_level_interval(expand(label), expand(p), expand(np.arange(leads)))

    small, large = interval(400), interval(40_000)
    assert small[0] < 1 < small[1] and large[0] < 1 < large[1]
    assert small[1] - small[0] > 5 * (large[1] - large[0])
    weekly = interval(400, snapshots=5)
    assert weekly[1] - weekly[0] == pytest.approx(small[1] - small[0], rel=0.35)


def test_three_test_sqls_leave_the_level_unbounded_above_and_the_run_says_so():
    """Resamples of three SQL leads often hold none: the ratio's upper end is infinite, kept
    as null in the model's JSON metadata, and printed as inf, never dropped."""
    from leadscore.training.job.evaluation import bootstrap_level_interval, with_interval

    label = np.zeros(200, int)
    label[:3] = 1
    low, high = bootstrap_level_interval(label, np.full(200, 0.04), np.arange(200))
    assert 1 < low < 2.67 and high == np.inf  # 8 SQLs expected, 3 seen
    stored = json.loads(pd.DataFrame({"combined": {"mean_p_over_rate": 2.67,
                        "mean_p_over_rate_low": low, "mean_p_over_rate_high": high}}).T
                        .to_json(orient="index"))["combined"]  # fmt: skip
    assert with_interval(stored, "mean_p_over_rate", 2) == f"2.67 [{low:.2f}-inf]"


def test_the_test_figures_say_when_the_level_of_predictions_drifts_from_the_rate():
    """Calibration in the large, beside ECE: a model whose probabilities are all twice what
    happens reads 2.0, and one at the rate reads 1.0."""
    label = np.array([1, 0, 0, 0] * 25)
    on_rate = np.where(label == 1, 0.4, 0.2)  # mean 0.25, the rate
    assert probability_metrics(label, on_rate)["mean_p_over_rate"] == pytest.approx(1.0)
    assert probability_metrics(label, 2 * on_rate)["mean_p_over_rate"] == pytest.approx(2.0)

"""MLflow, fully used: one run per training, nested runs per candidate, one registered pyfunc.

The default tracking store is a SQLite database next to the run's outputs (``mlflow.db``), with
artifacts in ``mlartifacts/`` beside it, so ``make mlflow-ui`` shows the real MLflow UI on it.
The whole scorer - spec, rulebook, models, combiner, score scale, policy - is logged as ONE
pyfunc model (the model directory rides along as an artifact) and registered as
``lead-scorer`` with the alias ``challenger``; ``leadscore promote`` moves ``champion``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from sklearn.metrics import precision_recall_curve, roc_curve

from leadscore.training.job.evaluation import reliability_curve
from leadscore.training.job.figures import pyplot
from leadscore.training.job.train import Candidate
from leadscore.training.model.pyfunc import ENTRY
from leadscore.training.model.registry import CHALLENGER, CHAMPION, REGISTERED_MODEL_NAME

EXPERIMENT = "leadscore"


def default_tracking_uri(directory: Path) -> str:
    return f"sqlite:///{(Path(directory) / 'mlflow.db').resolve()}"


def use_tracking(uri: str, artifacts: Path) -> str:
    """Point MLflow at ``uri`` and make sure the experiment exists; returns its id."""
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return mlflow.create_experiment(EXPERIMENT, artifact_location=artifacts.resolve().as_uri())
    return experiment.experiment_id


@contextmanager
def training_run(uri: str, artifacts: Path, run_name: str):  # type: ignore[no-untyped-def]
    experiment_id = use_tracking(uri, artifacts)
    mlflow.set_experiment(experiment_id=experiment_id)  # nested runs land beside their parent
    # Under `mlflow run`, MLFLOW_RUN_ID names the project's run in *its* store; start_run would
    # look it up in ours and fail. Start our own run and keep the project run's id as a tag.
    project_run = os.environ.pop("MLFLOW_RUN_ID", None)
    tags = {"leadscore.mlflow_project_run_id": project_run} if project_run else None
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags) as run:
        yield run


def log_candidate(candidate: Candidate) -> None:
    """One hyperparameter candidate as a nested run with its validation figures."""
    with mlflow.start_run(run_name=f"{candidate.model} candidate", nested=True):
        mlflow.log_params({f"{candidate.model}.{k}": v for k, v in candidate.params.items()})
        mlflow.log_metrics({f"validation_{k}": float(v) for k, v in candidate.validation.items()})


def log_results(
    metrics: pd.DataFrame,
    probabilities: dict[str, np.ndarray],
    label: np.ndarray,
    importance: pd.Series,
) -> None:
    plt = pyplot()
    for component, row in metrics.iterrows():
        mlflow.log_metrics({f"test_{component}_{name}": float(v) for name, v in row.items()})
    for name, figure in run_figures(probabilities, label, importance).items():
        mlflow.log_figure(figure, f"plots/{name}.png")
        plt.close(figure)


def run_figures(
    probabilities: dict[str, np.ndarray], label: np.ndarray, importance: pd.Series
) -> dict:
    """The test period's figures by name: ROC, precision-recall, calibration, cumulative gain,
    score distribution and feature importance (whose names may be Japanese)."""
    plt = pyplot()
    figures = {}
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, p in probabilities.items():
        fpr, tpr, _ = roc_curve(label, p)
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, test period")
    ax.legend()
    figures["roc"] = fig
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, p in probabilities.items():
        precision, recall, _ = precision_recall_curve(label, p)
        ax.plot(recall, precision, label=name)
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall, test period")
    ax.legend()
    figures["precision_recall"] = fig
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, p in probabilities.items():
        predicted, observed = reliability_curve(label, p)
        ax.plot(predicted, observed, "o-", label=name)
    top = max(max(p.max() for p in probabilities.values()), 0.05)
    ax.plot([0, top], [0, top], ":", color="grey")
    ax.set(xlabel="predicted P(SQL)", ylabel="observed SQL rate", title="Calibration, test period")
    ax.legend()
    figures["calibration"] = fig
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, p in probabilities.items():
        order = np.argsort(-p)
        gained = np.cumsum(label[order]) / max(label.sum(), 1)
        ax.plot(np.arange(1, len(p) + 1) / len(p), gained, label=name)
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set(xlabel="share of leads contacted", ylabel="share of SQLs found", title="Cumulative gain")
    ax.legend()
    figures["cumulative_gain"] = fig
    fig, ax = plt.subplots(figsize=(6, 4))
    combined = probabilities["combined"]
    bins = np.linspace(0, np.quantile(combined, 0.995), 40)
    ax.hist(combined[label == 0], bins=bins, alpha=0.6, density=True, label="not SQL")
    ax.hist(combined[label == 1], bins=bins, alpha=0.6, density=True, label="SQL")
    ax.set(xlabel="P(SQL within H days)", ylabel="density", title="Score distribution, test period")
    ax.legend()
    figures["score_distribution"] = fig
    fig, ax = plt.subplots(figsize=(6, 6))
    top_features = importance.sort_values().tail(20)
    ax.barh(top_features.index, top_features.to_numpy())
    ax.set(xlabel="LightGBM gain", title="Feature importance")
    fig.tight_layout()
    figures["feature_importance"] = fig
    return figures


def log_global_explanations(scorer, rows: pd.DataFrame, sample: int = 2000) -> None:  # type: ignore[no-untyped-def]
    """SHAP summary, dependence plots of the top features, and the reasons of handed-off leads
    (Japanese feature names and levels draw in the fonts of :mod:`training.job.figures`)."""
    import shap

    from leadscore.training.model.explain import reasons

    plt = pyplot()
    rows = rows.sample(min(sample, len(rows)), random_state=0)
    inputs = scorer.model_inputs(rows)
    encode = scorer.lightgbm.named_steps["encode"]
    encoded = pd.DataFrame(encode.transform(inputs), columns=encode.get_feature_names_out())
    values = scorer.lightgbm.named_steps["model"].predict(encoded, pred_contrib=True)[:, :-1]
    # its own generator: without one, shap seeds NumPy's global one (a FutureWarning)
    shap.summary_plot(values, encoded, show=False, max_display=20, rng=np.random.default_rng(0))
    mlflow.log_figure(plt.gcf(), "explanations/shap_summary.png")
    plt.close("all")
    top = np.argsort(-np.abs(values).mean(axis=0))[:3]
    for j in top:
        shap.dependence_plot(int(j), values, encoded, show=False, interaction_index=None)
        mlflow.log_figure(plt.gcf(), f"explanations/dependence_{encoded.columns[j]}.png")
        plt.close("all")
    handed = rows[scorer.score(rows)["decision"].to_numpy() == "hand off"]
    if len(handed):
        counts = pd.Series(
            [r["concept"] for items in reasons(scorer, handed) for r in items["positive"]]
        ).value_counts()
        mlflow.log_dict(
            {"handed_off_rows": len(handed), "top_positive_reasons": counts.to_dict()},
            "explanations/reasons_of_handed_off_leads.json",
        )
        fig, ax = plt.subplots(figsize=(6, 4))
        counts.head(12).sort_values().plot.barh(ax=ax)
        ax.set(xlabel="times among the top 3 reasons", title="Why leads were handed off")
        fig.tight_layout()
        mlflow.log_figure(fig, "explanations/reasons_of_handed_off_leads.png")
        plt.close(fig)


def log_scorer(model_dir: Path, sample: pd.DataFrame, output: pd.DataFrame) -> tuple[str, str]:
    """Log the model directory as one pyfunc, register it, alias it ``challenger``."""
    with tempfile.TemporaryDirectory(prefix="leadscore-code-") as staging:
        return _log_scorer(model_dir, sample, output, _runtime_code(Path(staging)))


def _runtime_code(staging: Path) -> Path:
    """The ``leadscore`` package as the model needs it, for MLflow's ``code_paths``: ``features``
    and the runtime model room under one root, as they are installed (in the checkout they are
    top-level folders, so the package is staged rather than copied as it lies), with the
    progress seam (:mod:`leadscore.progress`) that ``features`` reports to. The training job
    stays behind: a registered model that needed it would not be one the service can run."""
    import leadscore
    import leadscore.features
    import leadscore.progress
    import leadscore.training
    import leadscore.training.model

    package = staging / "leadscore"
    (package / "training").mkdir(parents=True)
    for module, inside in (
        (leadscore, "__init__.py"),
        (leadscore.progress, "progress.py"),
        (leadscore.training, "training/__init__.py"),
    ):
        (package / inside).write_text(Path(module.__file__).read_text())
    for room, inside in (
        (leadscore.features, "features"),
        (leadscore.training.model, "training/model"),
    ):
        skip = shutil.ignore_patterns("__pycache__")
        shutil.copytree(Path(room.__file__).parent, package / inside, ignore=skip)
    return package


def _log_scorer(
    model_dir: Path, sample: pd.DataFrame, output: pd.DataFrame, code: Path
) -> tuple[str, str]:
    with _without_artifact_bars():
        info = mlflow.pyfunc.log_model(
            name=REGISTERED_MODEL_NAME,
            python_model=str(ENTRY),  # models from code: no pickle
            artifacts={"model_dir": str(model_dir)},
            code_paths=[str(code)],
            signature=infer_signature(sample, _declared(output)),
            input_example=sample.head(3),
            registered_model_name=REGISTERED_MODEL_NAME,
            pip_requirements=_requirements(),
        )
    version = str(info.registered_model_version)
    MlflowClient().set_registered_model_alias(REGISTERED_MODEL_NAME, CHALLENGER, version)
    return info.model_uri, version


@contextmanager
def _without_artifact_bars():  # type: ignore[no-untyped-def]
    """No tqdm bar of MLflow's own ("Downloading artifacts") while it checks the logged model:
    it would cut into the job's progress display and tells a user nothing to act on. Set for
    this call only (MLflow reads the variable each time); the caller's setting comes back."""
    name = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    before = os.environ.get(name)
    os.environ[name] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _declared(output: pd.DataFrame) -> pd.DataFrame:
    """Scores as the signature declares them: whole numbers as doubles, so MLflow's schema is
    stated (no integer-schema hint) and a caller's client never meets an int/float mismatch."""
    return output.astype({c: "float64" for c in output.select_dtypes("integer").columns})


def _requirements() -> list[str]:
    from importlib.metadata import version

    names = ("pandas", "numpy", "scikit-learn", "lightgbm", "pyarrow", "duckdb", "ibis-framework",
             "sqlglot", "pydantic", "PyYAML", "mlflow")  # fmt: skip
    return [f"{name}=={version(name)}" for name in names]


def promote(uri: str, version: str | None = None, alias: str = CHAMPION) -> str:
    """Point ``alias`` at a model version (default: the current challenger)."""
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    if version is None:
        version = client.get_model_version_by_alias(REGISTERED_MODEL_NAME, CHALLENGER).version
    client.set_registered_model_alias(REGISTERED_MODEL_NAME, alias, str(version))
    return str(version)

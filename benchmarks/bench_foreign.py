"""Your own export, one command (issue 17): leadscore on exports it was not written for.

    python benchmarks/bench_foreign.py [--leads 20000] [--seed 7]
        [--dialects marketo,hubspot,ledger] [--small 300,1000,3000]

One simulated world is rewritten in Marketo's, HubSpot's and an own vocabulary
(:mod:`features.dialects`); none shares the simulator's column or activity names. For each, one
``leadscore train`` command runs in a subprocess (wall time and peak memory measured around
it), with no spec and no rulebook. Then, in the same run and on the same rows:

* the out-of-time test ROC-AUC of each leadscore layer;
* plain logistic regression and default LightGBM fitted on the same training rows (the train
  period, which leadscore's models fit on) with the same feature columns;
* the AUC of the world's true probability (``true_p_sql``, the simulator's hidden truth) on the
  same test rows, and the combined model's gap to it;
* mean predicted probability against the realised positive rate of the test period.

``--small`` trains the first dialect at a few small sizes and prints each layer's AUC with its
bootstrap interval (when the training job reports one) and the layer that shipped.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))  # baselines.py, also when imported as a module

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from baselines import baseline_models  # noqa: E402  (benchmarks/baselines.py)
from sklearn.metrics import roc_auc_score  # noqa: E402

from leadscore.features import schema  # noqa: E402
from leadscore.features.dialects import write_dialect  # noqa: E402
from leadscore.features.schema import LABEL, SPLIT  # noqa: E402
from leadscore.features.synthetic import simulate  # noqa: E402
from leadscore.training.model.artifact import load_model  # noqa: E402

_MEASURED = """
import resource, subprocess, sys, time
started = time.perf_counter()
code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
seconds = time.perf_counter() - started
peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(code, seconds, peak_mb)
"""


def train_measured(paths: dict[str, Path], out: Path) -> tuple[float, float]:
    """One `leadscore train` in its own process: (wall seconds, peak resident MB)."""
    command = [
        sys.executable, "-c", "from leadscore.cli import app; app()", "train",
        "--leads", str(paths["leads"]), "--activities", str(paths["activities"]),
        "--outcomes", str(paths["outcomes"]), "--out", str(out),
        "--tracking-uri", f"sqlite:///{out / 'mlflow.db'}",
    ]  # fmt: skip
    measured = subprocess.run(
        [sys.executable, "-c", _MEASURED, *command], capture_output=True, text=True, check=True
    )
    code, seconds, peak = measured.stdout.split()
    if code != "0":
        log = subprocess.run(command, capture_output=True, text=True)
        said = [line for line in log.stdout.splitlines() if line.startswith("error:")]
        raise TrainRefused(" ".join(said) or log.stdout[-3000:])
    return float(seconds), float(peak)


class TrainRefused(RuntimeError):
    """`leadscore train` ended with its one-line error (the export cannot support a model)."""


def baselines(rows: pd.DataFrame, numeric: list[str], categorical: list[str]) -> dict[str, float]:
    """Plain logistic regression and default LightGBM on the train rows, judged on test."""
    train = rows[(rows[SPLIT] == "train") & rows[LABEL].notna()]
    test = rows[(rows[SPLIT] == "test") & rows[LABEL].notna()]
    columns = numeric + categorical
    results = {}
    for name, model in baseline_models(numeric, categorical).items():
        x_train = train[columns].astype({c: object for c in categorical})
        model.fit(x_train, train[LABEL].astype(int))
        x_test = test[columns].astype({c: object for c in categorical})
        results[name] = roc_auc_score(test[LABEL], model.predict_proba(x_test)[:, 1])
    return results


def judge(run: Path, truth: pd.DataFrame) -> dict[str, object]:
    """Figures of one trained run against the baselines and the world's truth."""
    scorer = load_model(run / "model")
    rows = pd.read_parquet(run / "training" / "training_set.parquet")
    test = rows[(rows[SPLIT] == "test") & rows[LABEL].notna()]
    numeric = [n for n in scorer.spec.numeric_features() if n in rows.columns]
    categorical = [n for n in scorer.spec.categorical_features() if n in rows.columns]
    metrics = scorer.metadata["test_metrics"]
    figures: dict[str, object] = {
        f"leadscore {layer}": metrics[layer]["roc_auc"] for layer in metrics if layer != "truth"
    }
    figures |= baselines(rows, numeric, categorical)
    true_p = truth.set_index(schema.LEAD_ID)["true_p_sql"].loc[test[schema.LEAD_ID]]
    figures["true_p_sql"] = roc_auc_score(test[LABEL], true_p.to_numpy())
    p = scorer.probability(test)
    figures["mean p / positive rate"] = float(np.mean(p) / test[LABEL].mean())
    figures["test rows"] = len(test)
    figures["test SQLs"] = int(test[LABEL].sum())
    figures["shipped"] = scorer.metadata.get("shipped_layer", "combined")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dialects", default="marketo,hubspot,ledger")
    parser.add_argument("--small", default="300,1000,3000", help="sizes; empty to skip")
    parser.add_argument("--small-dialect", default="marketo")
    args = parser.parse_args()
    dialects = [d for d in args.dialects.split(",") if d]
    pd.set_option("display.width", 180)
    world = simulate(args.leads, args.seed)
    table = {}
    with tempfile.TemporaryDirectory() as workdir:
        for dialect in dialects:
            paths = write_dialect(world, dialect, Path(workdir) / dialect / "export")
            run = Path(workdir) / dialect / "run"
            seconds, peak = train_measured(paths, run)
            table[dialect] = {**judge(run, world.truth), "train s": seconds, "peak MB": peak}
            print(f"{dialect}: {json.dumps(table[dialect], default=str)}", flush=True)
        small = {}
        for size in [int(s) for s in args.small.split(",") if s]:
            tiny = simulate(size, args.seed)
            where = Path(workdir) / f"small{size}"
            paths = write_dialect(tiny, args.small_dialect, where / "export")
            run = where / "run"
            try:
                seconds, _ = train_measured(paths, run)
            except TrainRefused as refusal:
                small[size] = {"refused": str(refusal)}
                continue
            scorer = load_model(run / "model")
            metrics = scorer.metadata["test_metrics"]
            row = {}
            for layer, m in metrics.items():
                interval = (
                    f" [{m['roc_auc_low']:.2f}, {m['roc_auc_high']:.2f}]"
                    if "roc_auc_low" in m else ""
                )  # fmt: skip
                row[layer] = f"{m['roc_auc']:.3f}{interval}"
            row["shipped"] = scorer.metadata.get("shipped_layer", "combined")
            row["train s"] = round(seconds)
            small[size] = row
    figures = pd.DataFrame(table)
    if table:
        print(f"\nOne `leadscore train` per export, {args.leads:,} leads (seed {args.seed}), "
              "out-of-time test ROC-AUC")  # fmt: skip
        print(figures.to_string(float_format=lambda v: f"{v:.4f}"))
        print()
    for dialect in dialects:
        f = table[dialect]
        best = max(f["plain logistic regression"], f["default LightGBM"])
        gap = f["true_p_sql"] - f["leadscore combined"]
        calibration = abs(f["mean p / positive rate"] - 1)
        print(
            f"  {dialect:<8} combined {f['leadscore combined']:.4f} vs best baseline {best:.4f}: "
            f"{'met ' if f['leadscore combined'] >= best else 'MISSED'};  gap to truth "
            f"{gap:+.4f}: {'met ' if gap <= 0.03 else 'MISSED'};  mean p within 10% of the "
            f"rate: {'met' if calibration <= 0.10 else 'MISSED'} ({calibration:.1%})"
        )
    if small:
        print(f"\nSmall exports ({args.small_dialect}), test ROC-AUC per layer [95% interval]")
        print(pd.DataFrame(small).to_string())


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"\nbenchmark wall time {time.perf_counter() - started:.0f} s")

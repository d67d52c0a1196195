"""Training figures on the synthetic world (issue 5): test metrics per layer, time, an oracle.

    python benchmarks/bench_training.py [--leads 20000]

Simulates the demo world, builds the training set, trains and prints the out-of-time test
metrics of rules, logistic, LightGBM and combined, the training time on this machine, and the
AUC of the simulator's sharpest oracle on the same test rows. That oracle knows each lead's
future (which hand-off path it takes and when it would become SQL), so it is an upper bound on
any model that sees only the export, not the best achievable AUC. It also prints the AUC of the
simulator's recorded true conversion probability (``true_p_sql``, per lead, latent state and
follow-up delay; no timing) on the same rows, the reference issue 5 names.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from features import schema  # noqa: E402
from features.offline import CUTOFF_AT, LABEL  # noqa: E402
from features.sources import from_warehouse  # noqa: E402
from features.spec import load_spec  # noqa: E402
from features.synthetic import simulate, write_world  # noqa: E402
from features.training_set import SPLIT, build_training_set, profile_training_set  # noqa: E402
from training.job import run_training  # noqa: E402
from training.rulebook import compile_rules, load_rulebook  # noqa: E402


def sharp_oracle(rows: pd.DataFrame, truth: pd.DataFrame, horizon_days: int) -> np.ndarray:
    """p_qualify of the path the lead takes, if its SQL would fall in (cutoff, cutoff + H]."""
    t = truth.set_index(schema.LEAD_ID).loc[rows[schema.LEAD_ID]]
    path_p = np.where(
        t["hand_raised"].to_numpy(),
        t["p_qualify_hand_raise"].to_numpy(),
        np.where(t["score_handoff"].to_numpy(), t["p_qualify_score"].to_numpy(), 0.0),
    )
    due = t["sql_due_at"].reset_index(drop=True)
    cutoff = rows[CUTOFF_AT].reset_index(drop=True)
    inside = ((due > cutoff) & (due <= cutoff + pd.Timedelta(days=horizon_days))).fillna(False)
    return path_p * inside.to_numpy(bool)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rulebook = load_rulebook()
    spec = compile_rules(rulebook, load_spec(ROOT / "features" / "default_spec.yaml"))
    with tempfile.TemporaryDirectory() as workdir:
        out = Path(workdir)
        world = simulate(args.leads, args.seed)
        paths = write_world(world, out / "export")
        source = from_warehouse(paths["warehouse"])
        started = time.perf_counter()
        path, edges = build_training_set(
            source.con, source.leads, source.activities, source.outcomes, spec, out / "training"
        )
        build_s = time.perf_counter() - started
        profile = profile_training_set(source.con, path, spec, edges)
        started = time.perf_counter()
        result = run_training(
            path, spec, rulebook, out, tracking_uri=f"sqlite:///{out / 'mlflow.db'}",
            profile=profile,
        )  # fmt: skip
        train_s = time.perf_counter() - started
        rows = pd.read_parquet(path)
        test = rows[(rows[SPLIT] == "test") & rows[LABEL].notna()]
        oracle = roc_auc_score(test[LABEL], sharp_oracle(test, world.truth, spec.sql_within_days))
        true_p = world.truth.set_index(schema.LEAD_ID)["true_p_sql"].loc[test[schema.LEAD_ID]]
        true_auc = roc_auc_score(test[LABEL], true_p.to_numpy())
    metrics = result["metrics"]
    pd.set_option("display.width", 160)
    print(f"\nSynthetic world, {args.leads:,} leads, out-of-time test ({len(test):,} rows)")
    print(metrics.round(4).to_string())
    print(f"\n  sharp oracle ROC-AUC (knows the future; an upper bound)  {oracle:.4f}")
    print(f"  combined minus oracle                                   "
          f"{metrics.loc['combined', 'roc_auc'] - oracle:+.4f}")  # fmt: skip
    print(f"  true_p_sql ROC-AUC (simulator's true probability)       {true_auc:.4f}")
    print(f"  combined minus true_p_sql                               "
          f"{metrics.loc['combined', 'roc_auc'] - true_auc:+.4f}")  # fmt: skip
    print(f"  training set build {build_s:.1f} s; training with MLflow logging {train_s:.1f} s;"
          f" model fit {result['fit_seconds']:.1f} s")  # fmt: skip
    print(json.dumps({"policy": result["policy"]}, default=str))


if __name__ == "__main__":
    main()

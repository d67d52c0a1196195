"""Reasons that never contradict the domain (issue 20), before and after, side by side.

    python benchmarks/bench_reasons.py [--leads 6000] [--seed 3] [--calls 300]

One simulated world, and the same world in Marketo's words (:func:`features.dialects.rewrite`,
spec from ``spec infer`` with its proposed directions, no rulebook). For each, in one run:

* **before**: the models trained with every direction free (today's constraints: hand raises
  only) and reasons shown raw; **after**: the spec's directions held by both models and the
  reason rules on;
* the share of the top-scored 10% of test-period rows showing at least one contradicting
  reason among the top 3 per side (an absence as a reason for, or an activity against its
  direction; judged on the directions of the spec, both ways);
* out-of-time (test period) ROC-AUC and log loss of each;
* p99 latency of one lead's score and reasons in-process (a one-row batch, warm).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import log_loss, roc_auc_score  # noqa: E402

from leadscore.features.dialects import rewrite  # noqa: E402
from leadscore.features.infer import infer  # noqa: E402
from leadscore.features.offline import connect, register  # noqa: E402
from leadscore.features.schema import LABEL, SPLIT  # noqa: E402
from leadscore.features.spec import FeatureSpec, NumericAttribute, load_spec  # noqa: E402
from leadscore.features.synthetic import SyntheticWorld, simulate  # noqa: E402
from leadscore.features.training_set import build_training_set  # noqa: E402
from leadscore.training.job.suggest import empty_rulebook  # noqa: E402
from leadscore.training.job.train import fit_scorer  # noqa: E402
from leadscore.training.model.explain import (  # noqa: E402
    reasons,
    scorer_catalog,
    shown_contradictions,
)
from leadscore.training.model.rulebook import Rulebook, compile_rules, load_rulebook  # noqa: E402
from leadscore.training.model.scorer import LeadScorer  # noqa: E402


def without_directions(spec: FeatureSpec) -> FeatureSpec:
    """The spec with every direction free: the models as they were before directions."""
    free = {"direction": "free", "direction_reason": None}
    return spec.model_copy(
        update={
            "signals": tuple(s.model_copy(update=free) for s in spec.signals),
            "attributes": tuple(
                a.model_copy(update=free) if isinstance(a, NumericAttribute) else a
                for a in spec.attributes
            ),
        }
    )


def training_rows(world: SyntheticWorld, spec: FeatureSpec, workdir: Path) -> pd.DataFrame:
    con = connect()
    path, _ = build_training_set(
        con, register(con, "l", world.leads), register(con, "a", world.activities),
        register(con, "o", world.outcomes), spec, workdir,
    )  # fmt: skip
    rows = pd.read_parquet(path)
    return rows[rows[LABEL].notna()]


def p99_ms(scorer: LeadScorer, rows: pd.DataFrame, honest: bool, calls: int) -> float:
    times = []
    for i in range(calls + 10):
        one = rows.iloc[[i % len(rows)]]
        started = time.perf_counter()
        scored = scorer.run(one)
        reasons(scorer, one, top=5, scored=scored, respect_directions=honest)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times[10:], 99))


def measure(
    name: str, world: SyntheticWorld, spec: FeatureSpec, rulebook: Rulebook, calls: int
) -> list[dict]:
    with tempfile.TemporaryDirectory() as workdir:
        rows = training_rows(world, spec, Path(workdir))
    train, valid = rows[rows[SPLIT] == "train"], rows[rows[SPLIT] == "validation"]
    test = rows[rows[SPLIT] == "test"]
    out = []
    for label, model_spec, honest in (("before", without_directions(spec), False),
                                      ("after", spec, True)):  # fmt: skip
        scorer = fit_scorer(train, valid, model_spec, rulebook)
        p = scorer.probability(test)
        top = test.iloc[np.argsort(-p)[: max(1, len(test) // 10)]]
        explained = reasons(scorer, top, respect_directions=honest)
        found = shown_contradictions(
            spec, top, explained, scorer_catalog(scorer).concepts, scorer.run(top).total_points
        )
        y = test[LABEL].to_numpy(int)
        out.append(
            {
                "world": name,
                "run": label,
                "contradicting_top10": float((found > 0).mean()),
                "roc_auc": float(roc_auc_score(y, p)),
                "log_loss": float(log_loss(y, p)),
                "p99_ms": p99_ms(scorer, test, honest, calls),
                "layer": scorer.metadata["shipped_layer"],
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    world = simulate(args.leads, args.seed)
    rulebook = load_rulebook()
    results = measure(
        "simulated",
        world,
        compile_rules(rulebook, load_spec(ROOT / "features" / "default_spec.yaml")),
        rulebook,
        args.calls,
    )
    foreign = rewrite(world, "marketo")
    inferred = infer(foreign.leads, foreign.activities, (), outcomes=foreign.outcomes).spec
    results += measure("marketo", foreign, inferred, empty_rulebook(), args.calls)
    table = pd.DataFrame(results).set_index(["world", "run"])
    with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 120):
        print(f"\nReasons and directions, {args.leads:,} leads, seed {args.seed}")
        print(table)
        auc = table["roc_auc"].unstack("run")
        print("\nAUC cost of the constraints (before - after):")
        print((auc["before"] - auc["after"]).to_string())


if __name__ == "__main__":
    main()

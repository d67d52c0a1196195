"""Reasons that never contradict the domain (issue 20), before and after, side by side.

    python benchmarks/bench_reasons.py [--leads 6000] [--seed 3] [--calls 300]
        [--xeducation-csv ../shared/data/x-education/Leads.csv] [--skip-xeducation]

Four worlds in one run. One simulated world (default spec and rulebook); the same world in
Marketo's words and in a Japanese MA tool's words (:func:`features.dialects.rewrite`; Japanese
activity names and levels, creation hours on Tokyo's clock), each with the spec ``spec infer``
proposes (its directions from names and history, personal data left out as the product reads
it, no rulebook); and X Education, a real flat export with no activity events. For each:

* **before**: the models trained with every direction free (today's constraints: hand raises
  only) and reasons shown raw; **after**: the spec's directions held by both models and the
  reason rules on;
* the share of the top-scored 10% of test-period rows showing at least one contradicting
  reason among the top 3 per side (an absence as a reason for, or an activity against its
  direction; judged on the directions of the spec, both ways);
* out-of-time (test period) ROC-AUC and log loss of each;
* median and p99 latency of one lead's score and reasons in-process (one lead as the
  service holds it; before and after interleaved, warm).

X Education is trained the way ``leadscore train --label`` trains a flat file
(:func:`training.job.flat.prepare_flat_training`): ``Lead Number`` orders the leads, the oldest
80% train and validate, the newest 20% are the test period (the split of
``bench_xeducation.py``), and the columns sales filled in after contact are dropped, as are the
debatable third-party scores. Its directions are the ones ``spec infer`` proposes for a flat
export's numbers from their names (``up`` on visits, time and pages on the site; revenue-like
numbers stay free), listed in the output. Its contradiction share is judged on those numbers
(a number with a direction that the lead has is never shown against it); latency is the
simulated worlds' question.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))  # bench_xeducation.py, also when imported

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from bench_xeducation import (  # noqa: E402  (benchmarks/bench_xeducation.py)
    AFTER_CONTACT,
    DEBATABLE,
    DEFAULT_CSV,
    ID_COLUMN,
    LABEL_COLUMN,
    ORDER_COLUMN,
)
from sklearn.metrics import log_loss, roc_auc_score  # noqa: E402

from leadscore.features import schema  # noqa: E402
from leadscore.features.dialects import rewrite  # noqa: E402
from leadscore.features.infer import infer  # noqa: E402
from leadscore.features.japanese import JAPANESE_FILES, dialect  # noqa: E402
from leadscore.features.offline import connect, register  # noqa: E402
from leadscore.features.personal_data import personal_data_columns  # noqa: E402
from leadscore.features.schema import LABEL, SPLIT  # noqa: E402
from leadscore.features.spec import FeatureSpec, NumericAttribute, load_spec  # noqa: E402
from leadscore.features.synthetic import SyntheticWorld, simulate  # noqa: E402
from leadscore.features.training_set import build_training_set  # noqa: E402
from leadscore.training.job.flat import prepare_flat_training  # noqa: E402
from leadscore.training.job.suggest import empty_rulebook  # noqa: E402
from leadscore.training.job.train import fit_scorer  # noqa: E402
from leadscore.training.model.explain import (  # noqa: E402
    reasons,
    scorer_catalog,
    shown_contradictions,
)
from leadscore.training.model.rows import FeatureRows  # noqa: E402
from leadscore.training.model.rulebook import Rulebook, compile_rules, load_rulebook  # noqa: E402
from leadscore.training.model.scorer import LeadScorer  # noqa: E402

XEDUCATION = "x-education"
RAW = "after, raw reasons"


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


def inferred_spec(world: SyntheticWorld, time_zone: str = "UTC") -> FeatureSpec:
    """The spec ``spec infer`` proposes for a world in an export's words: personal data left
    out as the export reader finds it, outcomes letting details and directions speak, creation
    hours on ``time_zone``'s clock (the export's own)."""
    personal = personal_data_columns(world.leads.drop(columns=[schema.CREATED_AT]))
    return infer(
        world.leads, world.activities, tuple(personal), outcomes=world.outcomes,
        time_zone=time_zone,
    ).spec  # fmt: skip


def labelled(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[rows[LABEL].notna()]


def training_rows(world: SyntheticWorld, spec: FeatureSpec, workdir: Path) -> pd.DataFrame:
    con = connect()
    path, _ = build_training_set(
        con, register(con, "l", world.leads), register(con, "a", world.activities),
        register(con, "o", world.outcomes), spec, workdir,
    )  # fmt: skip
    return labelled(pd.read_parquet(path))


def xeducation_rows(csv: Path, workdir: Path) -> tuple[pd.DataFrame, FeatureSpec, Rulebook]:
    """X Education's labelled rows, its inferred spec (engagement numbers up by name), and its
    (empty) rulebook, as ``leadscore train --label`` builds them: split by ``Lead Number``, with the
    after-contact and debatable columns dropped. The file is read in place."""
    flat = prepare_flat_training(
        csv, LABEL_COLUMN, workdir, id_column=ID_COLUMN, order_column=ORDER_COLUMN,
        drop=[*AFTER_CONTACT, *DEBATABLE],
    )  # fmt: skip
    rows = labelled(pd.read_parquet(flat.training_set))
    return rows, flat.spec, flat.rulebook


def latencies(
    runs: dict[str, tuple[LeadScorer, bool]], rows: pd.DataFrame, calls: int
) -> dict[str, tuple[float, float]]:
    """Per run, the median and p99 ms of one lead's score and reasons in-process.

    One lead as the service holds it (a one-row block, :meth:`FeatureRows.from_block`), the
    runs' calls interleaved lead by lead, so that a noisy moment on the machine falls on both
    alike; the first 10 calls of each warm up and are not counted.
    """
    leads = [
        FeatureRows.from_block(rows.iloc[[i]].to_numpy(object), list(rows.columns))
        for i in range(min(len(rows), calls))
    ]
    times: dict[str, list[float]] = {name: [] for name in runs}
    for i in range(calls + 10):
        one = leads[i % len(leads)]
        for name, (scorer, honest) in runs.items():
            started = time.perf_counter()
            scored = scorer.run(one)
            reasons(scorer, one, top=5, scored=scored, respect_directions=honest)
            if i >= 10:
                times[name].append((time.perf_counter() - started) * 1000)
    return {n: (float(np.median(t)), float(np.percentile(t, 99))) for n, t in times.items()}


def contradicting_share(
    scorer: LeadScorer, spec: FeatureSpec, test: pd.DataFrame, p: np.ndarray, honest: bool
) -> float:
    """Share of the top-scored 10% of ``test`` with a shown reason against ``spec``."""
    top = test.iloc[np.argsort(-p)[: max(1, len(test) // 10)]]
    explained = reasons(scorer, top, respect_directions=honest)
    found = shown_contradictions(
        spec, top, explained, scorer_catalog(scorer).concepts, scorer.run(top)
    )
    return float((found > 0).mean())


def measure(
    name: str,
    rows: pd.DataFrame,
    spec: FeatureSpec,
    rulebook: Rulebook,
    calls: int,
) -> list[dict]:
    """Before and after on ``rows`` (labelled, split): the figures of one world's two lines.
    With no ``calls``, no latency."""
    train, valid = rows[rows[SPLIT] == "train"], rows[rows[SPLIT] == "validation"]
    test = rows[rows[SPLIT] == "test"]
    y = test[LABEL].to_numpy(int)
    out, runs = [], {}
    for label, model_spec, honest in (("before", without_directions(spec), False),
                                      ("after", spec, True)):  # fmt: skip
        scorer = fit_scorer(train, valid, model_spec, rulebook)
        runs[label] = (scorer, honest)
        p = scorer.probability(test)
        out.append(
            {
                "world": name,
                "run": label,
                "contradicting_top10": contradicting_share(scorer, spec, test, p, honest),
                "roc_auc": float(roc_auc_score(y, p)),
                "log_loss": float(log_loss(y, p)),
                "layer": scorer.metadata["shipped_layer"],
            }
        )
    # the after model with raw reasons: what the reason rules alone cost, on the same trees
    runs[RAW] = (runs["after"][0], False)
    timed = latencies(runs, test, calls) if calls else {}
    for line in out:
        line["median_ms"], line["p99_ms"] = timed.get(line["run"], (np.nan, np.nan))
        if line["run"] == "after":
            line["rules_only_p99"] = timed[RAW][1] if timed else np.nan
    return out


def measure_world(
    name: str, world: SyntheticWorld, spec: FeatureSpec, rulebook: Rulebook, calls: int
) -> list[dict]:
    with tempfile.TemporaryDirectory() as workdir:
        rows = training_rows(world, spec, Path(workdir))
    return measure(name, rows, spec, rulebook, calls)


def measure_xeducation(csv: Path) -> tuple[list[dict], list[str]]:
    """X Education's two lines and the notes that say how they were made; no lines, and a
    note, when the file is not there (the export is optional)."""
    if not csv.exists():
        return [], [f"{XEDUCATION}: skipped, {csv} not found (the export is optional)"]
    with tempfile.TemporaryDirectory() as workdir:
        rows, spec, rulebook = xeducation_rows(csv, Path(workdir))
    sizes = rows[SPLIT].value_counts()
    notes = [
        f"{XEDUCATION}: flat export split by {ORDER_COLUMN} (train {sizes.get('train', 0):,}, "
        f"validation {sizes.get('validation', 0):,}, test {sizes.get('test', 0):,} leads, the "
        f"test the newest); dropped as filled after contact: {', '.join(AFTER_CONTACT)}; as "
        "debatable: the 4 Asymmetrique columns",
        f"{XEDUCATION}: directions proposed by spec infer: "
        + "; ".join(
            f"{a.column} {a.direction}"
            for a in spec.attributes
            if isinstance(a, NumericAttribute) and a.direction != "free"
        ),
        f"{XEDUCATION}: contradictions judged on its numbers with a direction; latency not "
        "measured (the simulated worlds' question)",
    ]
    return measure(XEDUCATION, rows, spec, rulebook, 0), notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument(
        "--xeducation-csv", type=Path, default=DEFAULT_CSV, help="X Education's Leads.csv"
    )
    parser.add_argument(
        "--skip-xeducation", action="store_true", help="leave the real flat export out"
    )
    args = parser.parse_args()
    world = simulate(args.leads, args.seed)
    rulebook = load_rulebook()
    default_spec = compile_rules(rulebook, load_spec(ROOT / "features" / "default_spec.yaml"))
    results = measure_world("simulated", world, default_spec, rulebook, args.calls)
    marketo = rewrite(world, "marketo")
    results += measure_world(
        "marketo", marketo, inferred_spec(marketo), empty_rulebook(), args.calls
    )
    japanese = rewrite(world, dialect("ja"))
    results += measure_world(
        "japanese", japanese, inferred_spec(japanese, JAPANESE_FILES.time_zone),
        empty_rulebook(), args.calls,
    )  # fmt: skip
    notes = [f"{XEDUCATION}: skipped (--skip-xeducation)"]
    if not args.skip_xeducation:
        lines, notes = measure_xeducation(args.xeducation_csv)
        results += lines
    table = pd.DataFrame(results).set_index(["world", "run"])
    print(f"\nReasons and directions, {args.leads:,} simulated leads, seed {args.seed}")
    print(table.to_string(float_format="{:.4f}".format, na_rep="n/a"))
    for note in notes:
        print(f"  {note}")
    auc = table["roc_auc"].unstack("run").reindex(table.index.unique("world"))
    print("\nAUC cost of the constraints (before - after):")
    print((auc["before"] - auc["after"]).to_string(float_format="{:+.4f}".format))
    timed = table[["median_ms", "p99_ms"]].dropna()
    if len(timed):
        ratio = timed.unstack("run")
        after = table.xs("after", level="run")
        print("\nReason latency (same leads, calls interleaved): after / before, and the reason")
        print("rules alone: the after model with them / without them (p99)")
        print(
            pd.DataFrame({
                "median": ratio[("median_ms", "after")] / ratio[("median_ms", "before")],
                "p99": ratio[("p99_ms", "after")] / ratio[("p99_ms", "before")],
                "rules alone p99": after["p99_ms"] / after["rules_only_p99"],
            }).dropna().to_string(float_format="{:.2f}x".format)
        )  # fmt: skip


if __name__ == "__main__":
    main()

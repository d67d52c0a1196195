"""Score plus reasons at volume and for one lead (issue 6), side by side with a naive loop.

    python benchmarks/bench_explain.py [--leads 100000] [--naive-sample 200]

1. Batch: score and top-5 reasons for every lead of a world (features already built), leads/s,
   against a naive loop on a sample in the same run: one pandas row at a time through the
   scorer's probability and a shap.TreeExplainer per row. The ratio is printed.
2. One lead in-process, as the service does it: online features from its posted activities,
   score and reasons in one pass (:func:`serving.scoring.score_features`); median and p99
   latency, and the same lead as a one-row DataFrame (how a file's rows reach the scorer)
   side by side, with the ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import shap  # noqa: E402

from leadscore.features import schema  # noqa: E402
from leadscore.features.offline import connect, feature_table, register  # noqa: E402
from leadscore.features.schema import (  # noqa: E402
    CUTOFF_AT,
    LABEL,
    SPLIT,
)
from leadscore.features.spec import load_spec  # noqa: E402
from leadscore.features.synthetic import simulate  # noqa: E402
from leadscore.features.training_set import build_training_set  # noqa: E402
from leadscore.serving.scoring import online_rows, score_features  # noqa: E402
from leadscore.training.job.train import fit_scorer  # noqa: E402
from leadscore.training.model.explain import reasons  # noqa: E402
from leadscore.training.model.rulebook import compile_rules, load_rulebook  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--naive-sample", type=int, default=200)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    rulebook = load_rulebook()
    spec = compile_rules(rulebook, load_spec(ROOT / "features" / "default_spec.yaml"))
    train_world = simulate(10_000, 3)
    con = connect()
    with tempfile.TemporaryDirectory() as workdir:
        path, _ = build_training_set(
            con, register(con, "l", train_world.leads), register(con, "a", train_world.activities),
            register(con, "o", train_world.outcomes), spec, Path(workdir),
        )  # fmt: skip
        rows = pd.read_parquet(path)
    rows = rows[rows[LABEL].notna()]
    scorer = fit_scorer(
        rows[rows[SPLIT] == "train"], rows[rows[SPLIT] == "validation"], spec, rulebook
    )

    world = simulate(args.leads, 11)
    leads = register(con, "leads", world.leads)
    cutoffs = leads.select(
        schema.LEAD_ID, **{CUTOFF_AT: leads.created_at + __import__("ibis").interval(days=30)}
    )
    features = con.to_pyarrow(
        feature_table(cutoffs, leads, register(con, "activities", world.activities), spec)
    ).to_pandas()

    started = time.perf_counter()
    one_pass = scorer.run(features)
    scored = scorer.score(features, one_pass)
    explained = reasons(scorer, features, top=5, scored=one_pass)
    batch_s = time.perf_counter() - started
    assert len(scored) == len(explained) == len(features)

    sample = features.sample(args.naive_sample, random_state=0)
    explainer = shap.TreeExplainer(scorer.lightgbm.named_steps["model"])
    encode = scorer.lightgbm.named_steps["encode"]
    started = time.perf_counter()
    for index in sample.index:
        row = sample.loc[[index]]
        scorer.probability(row)
        explainer.shap_values(encode.transform(scorer.model_inputs(row)))
    naive_s = time.perf_counter() - started

    print(f"\nScore + top-5 reasons, {len(features):,} leads")
    print(
        f"  leadscore batch           {len(features) / batch_s:>12,.0f} leads/s ({batch_s:.1f} s)"
    )
    print(
        f"  naive per-row loop        {len(sample) / naive_s:>12,.0f} leads/s "
        f"(sample of {len(sample)})"
    )
    print(
        f"  ratio                     {len(features) / batch_s / (len(sample) / naive_s):>12,.1f}x"
    )

    by_lead = dict(tuple(world.activities.groupby(schema.LEAD_ID)))
    people = world.leads.set_index(schema.LEAD_ID)
    chosen = list(by_lead)[: args.calls]
    samples: dict[str, list[float]] = {"posted block": [], "one-row DataFrame": []}
    for lead_id in chosen:
        history = by_lead[lead_id]
        posted = [
            {schema.OCCURRED_AT: t.isoformat(), schema.ACTIVITY_TYPE: str(a), schema.DETAIL: d}
            for t, a, d in zip(history[schema.OCCURRED_AT], history[schema.ACTIVITY_TYPE],
                               history[schema.DETAIL].astype(object), strict=True)
        ]  # fmt: skip
        lead = {
            **people.loc[lead_id].to_dict(),
            schema.CREATED_AT: people.loc[lead_id, schema.CREATED_AT],
        }
        as_of = history[schema.OCCURRED_AT].max()
        started = time.perf_counter()
        rows = online_rows(scorer, [lead], [posted], [as_of])
        score_features(scorer, rows, top=5)
        samples["posted block"].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        rows = online_rows(scorer, [lead], [posted], [as_of])
        score_features(scorer, rows.frame, top=5)
        samples["one-row DataFrame"].append((time.perf_counter() - started) * 1000)
    medians = {}
    print(
        f"\nOne lead in-process (online features + score + top-5 reasons), {len(chosen) - 10} calls"
    )
    for name, times in samples.items():
        times = times[10:]  # warm-up
        medians[name] = float(np.median(times))
        print(f"  {name:<20} median {medians[name]:.2f} ms, p99 {np.percentile(times, 99):.2f} ms")
    ratio = medians["one-row DataFrame"] / medians["posted block"]
    print(f"  {'ratio':<20} {ratio:.1f}x")


if __name__ == "__main__":
    main()

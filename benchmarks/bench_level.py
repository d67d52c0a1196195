"""The combiner's level (training/job/level.py): four ways side by side on simulated worlds.

    python benchmarks/bench_level.py [--worlds drift3000x3,default3000x2,default10000x1,
        default20000x3]

Issue 17 asks for a mean predicted probability within 10% of the realised rate on each test
period. For each world the judged scorer (fitted on the train period, combiner on validation)
and the refit (on train + validation, as the shipped model is on every period) are fitted
once, with the test period kept unseen by both; each prints its mean P(SQL) over the test
period's rate four ways:

* **as fitted**: the combiner's intercept as the one period it was fitted on set it;
* **local level**: the level read across periods by the local-level model always (no test of
  one level first; judged model only);
* **the rule** (what ships): pooled unless Cochran's Q says the periods differ;
* **untimed rule**: what the rule would read were the world's times missing, as in a flat file
  without creation times (the same rows, their times replaced by stand-ins in time order):
  random effects over slices (judged model only). The rule alone changes: the slices are the
  same rows in time order, the best case for a file's lead order.

Beside them, each model's band for the next period (``Level.band``: how low and how high its
mean P(SQL) over the rate may be, for a period as large as the latest read) and whether the
test period's ratio fell inside it.

Worlds: the default world (``default``) and the drifting channel mix
(``DRIFTING_CHANNEL_MIX``, ``drift``; split 40/30/30 as in ``tests/model/test_refit.py``) at
several sizes, seeds 1, 2, ... Each training set is built with the default spec and rulebook.
The closing lines summarise each way: range, mean distance from 1, and how many worlds of
20,000 leads or more land within 10%. The Marketo-worded world's figure is
``benchmarks/bench_foreign.py``'s ``mean p / rate (judged, test unseen)``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from leadscore.features.offline import connect, register
from leadscore.features.schema import CUTOFF_AT, LABEL, SPLIT
from leadscore.features.spec import DEFAULT_SPEC, load_spec
from leadscore.features.synthetic import DRIFTING_CHANNEL_MIX, SimulationConfig, simulate
from leadscore.features.training_set import SplitPlan, build_training_set, stand_in_times
from leadscore.training.job.level import SAME_LEVEL_P
from leadscore.training.job.train import (
    LEVEL_PERIODS,
    LIGHTGBM_GRID,
    LOGISTIC_GRID,
    fit_scorer,
    refit_scorer,
    shift_level,
)
from leadscore.training.model.rulebook import compile_rules, load_rulebook
from leadscore.training.model.scorer import LeadScorer

WORLDS = {
    "default": (SimulationConfig(), SplitPlan()),
    "drift": (DRIFTING_CHANNEL_MIX, SplitPlan(0.4, 0.3)),
}
ALWAYS_MOVING = 2.0  # a significance above 1: the local level, never the test of one level
LARGE = 20_000  # worlds this big have enough test SQLs for a 10% figure to mean something


def training_parts(
    world: str, leads: int, seed: int, out: Path
) -> tuple[dict[str, pd.DataFrame], object, object]:
    """The world's labelled train, validation and test rows, its spec and rulebook."""
    config, plan = WORLDS[world]
    simulated = simulate(leads, seed, config)
    rulebook = load_rulebook()
    spec = compile_rules(rulebook, load_spec(DEFAULT_SPEC))
    con = connect()
    tables = {name: register(con, name, getattr(simulated, name))
              for name in ("leads", "activities", "outcomes")}  # fmt: skip
    path, _ = build_training_set(
        con, tables["leads"], tables["activities"], tables["outcomes"], spec, out, plan=plan
    )
    rows = pd.read_parquet(path)
    rows = rows[rows[LABEL].notna()]
    return (
        {name: rows[rows[SPLIT] == name] for name in ("train", "validation", "test")},
        spec,
        rulebook,
    )


def as_fitted(scorer: LeadScorer, rows: pd.DataFrame) -> np.ndarray:
    """P(SQL) with the level's intercept shift taken back out."""
    return expit(logit(scorer.probability(rows)) - scorer.metadata["level"]["intercept_shift"])


def reread(
    scorer: LeadScorer,
    parts: dict[str, pd.DataFrame],
    margins: dict[str, np.ndarray],
    significance: float = SAME_LEVEL_P,
) -> np.ndarray:
    """The judged scorer's test P(SQL) with its level read again from ``parts`` (train and
    validation as the judged model reads them, with their component ``margins``, which their
    times do not change) at ``significance``."""
    fitted = scorer.combiner.with_level(-scorer.metadata["level"]["intercept_shift"])
    moved, _ = shift_level(
        fitted,
        [(parts["train"], margins["train"], LEVEL_PERIODS),
         (parts["validation"], margins["validation"], 1)],
        reference=margins["validation"],
        significance=significance,
    )  # fmt: skip
    return expit(moved.decision_function(margins["test"]))


def without_times(parts: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """``parts`` as a flat file without creation times would give them: every row's time a
    stand-in (:func:`stand_in_times` of its place in time order)."""
    rows = pd.concat(parts, names=["part", "row"]).sort_values(CUTOFF_AT, kind="stable")
    rows[CUTOFF_AT] = stand_in_times(np.arange(len(rows))).as_unit(rows[CUTOFF_AT].dt.unit)
    return {name: rows.xs(name, level="part").sort_index() for name in parts}


def judge_world(world: str, leads: int, seed: int) -> dict[str, object]:
    """One world's mean P(SQL) over the test rate, each way, and how the rule read the level."""
    with tempfile.TemporaryDirectory() as out:
        parts, spec, rulebook = training_parts(world, leads, seed, Path(out))
    grids = {} if leads >= LARGE else {"logistic_grid": LOGISTIC_GRID[1:2],
                                       "lightgbm_grid": LIGHTGBM_GRID[:1]}  # fmt: skip
    judged = fit_scorer(parts["train"], parts["validation"], spec, rulebook, **grids)
    refit = refit_scorer(judged, pd.concat([parts["train"], parts["validation"]]))
    test = parts["test"]
    rate = test[LABEL].mean()
    margins = {name: judged.component_logits(rows).to_numpy() for name, rows in parts.items()}
    return {
        "world": f"{world} {leads:,} seed {seed}",
        "leads": leads,
        "test SQL rows": int(test[LABEL].sum()),
        "judged as fitted": as_fitted(judged, test).mean() / rate,
        "judged local level": reread(judged, parts, margins, ALWAYS_MOVING).mean() / rate,
        "judged the rule": judged.probability(test).mean() / rate,
        "judged untimed rule": reread(judged, without_times(parts), margins).mean() / rate,
        "rule's reading": f"{judged.metadata['level']['method']} "
        f"(p {judged.metadata['level']['same_level_p']:.2f})",
        "refit as fitted": as_fitted(refit, test).mean() / rate,
        "refit the rule": refit.probability(test).mean() / rate,
        "judged band holds": band_holds(judged, test),
        "refit band holds": band_holds(refit, test),
    }


def band_holds(scorer: LeadScorer, test: pd.DataFrame) -> str:
    """The level's band for the next period (mean P(SQL) over its rate, ``BAND_LEVEL``) and
    whether the test period's ratio falls inside it: the band is a claim, this checks it."""
    low, high = scorer.metadata["level"]["band"]
    ratio = scorer.probability(test).mean() / test[LABEL].mean()
    return f"{low:.2f}-{high:.2f} {'yes' if low <= ratio <= high else 'NO'}"


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per way: range, mean |ratio - 1|, and the large worlds within 10%."""
    large = table["leads"] >= LARGE
    rows = {}
    ratios = [c for c in table.columns if c.startswith(("judged ", "refit "))]
    for way in [c for c in ratios if not c.endswith("band holds")]:
        ratio = table[way].astype(float)
        rows[way] = {
            "lowest": ratio.min(),
            "highest": ratio.max(),
            "mean |ratio - 1|": (ratio - 1).abs().mean(),
            f"within 10% ({LARGE:,}+ leads)": f"{int(((ratio - 1).abs() <= 0.1)[large].sum())} "
            f"of {int(large.sum())}",
        }
    return pd.DataFrame(rows).T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--worlds", default="drift3000x3,default3000x2,default10000x1,default20000x3",
        help="comma-separated <world><leads>x<seeds>; worlds: " + ", ".join(WORLDS),
    )  # fmt: skip
    args = parser.parse_args()
    figures = []
    for item in args.worlds.split(","):
        name = item.rstrip("0123456789x")
        leads, seeds = item[len(name) :].split("x")
        for seed in range(1, int(seeds) + 1):
            figures.append(judge_world(name, int(leads), seed))
            said = {k: round(float(v), 3) if isinstance(v, float) else v
                    for k, v in figures[-1].items()}  # fmt: skip
            print(said, flush=True)
    table = pd.DataFrame(figures).set_index("world")
    pd.set_option("display.width", 200)
    print("\nMean P(SQL) over the test period's realised rate (1.00 = calibrated in the large)")
    print(table.drop(columns="leads").to_string(float_format=lambda v: f"{v:.3f}"))
    print()
    print(summary(table).to_string(float_format=lambda v: f"{v:.3f}"))
    for name in ("judged", "refit"):
        held = table[f"{name} band holds"].str.endswith("yes")
        print(f"{name}: the test ratio fell inside the level's band on {held.sum()} of "
              f"{len(held)} worlds")  # fmt: skip


if __name__ == "__main__":
    main()

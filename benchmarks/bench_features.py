"""Feature pipeline figures (issue 3): scale, a side-by-side against plain pandas, online latency.

    python benchmarks/bench_features.py                 # 1M leads, 1/20 slice, online
    python benchmarks/bench_features.py --leads 200000  # a quicker look

1. Full scale: simulate ``--leads`` leads into a DuckDB warehouse, then build the training set
   in a child process (so its peak RSS is the builder's own): wall time, rows, activities/s.
2. Side by side on a 1/20 slice: this builder against a straightforward pandas implementation
   of the same spec (merge, filter, groupby), every feature column checked equal, speed ratio
   printed. Each side is timed from the loaded tables and cutoffs to the training set's
   features written to a Parquet file, as the build delivers them.
3. Floors on the same slice, in raw DuckDB: the range join alone, then with the spec's number
   of sums and maxima over dummy inputs, next to the real query at 1 and 2 threads and the
   Ibis compile; they show what a 10x ratio leaves room for on this machine.
4. Online features for one lead with 200 activities, posted as JSON records and as the
   service's parsed columns: median and p99 wall-clock latency, and p99 CPU time (on a busy
   machine the wall-clock tail is other processes preempting the call, not the call's work).

The machine is noisy: read medians and ratios, not single timings.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from leadscore.features import schema  # noqa: E402
from leadscore.features.offline import (  # noqa: E402
    CUTOFF_AT,
    _packed_sums,  # how many sums the counts take: the floor's aggregate count
    connect,
    feature_table,
    field_bits,
    register,
    training_cutoffs,
)
from leadscore.features.online import ActivityColumns, online_features  # noqa: E402
from leadscore.features.spec import (  # noqa: E402
    MISSING_MARKERS,
    CategoricalAttribute,
    FeatureSpec,
    glob_to_regex,
    load_spec,
    types_of,
)
from leadscore.features.synthetic import SyntheticWorld, simulate, write_world  # noqa: E402

DEFAULT_SPEC = ROOT / "features" / "default_spec.yaml"


def full_scale(leads: int, seed: int, workdir: Path) -> dict:
    started = time.perf_counter()
    paths = write_world(simulate(leads, seed), workdir / "world")
    simulated = time.perf_counter() - started
    code = (
        "import json, resource, sys, time\n"
        "from pathlib import Path\n"
        "from leadscore.features.sources import from_warehouse\n"
        "from leadscore.features.spec import load_spec\n"
        "from leadscore.features.training_set import build_training_set\n"
        "import duckdb\n"
        "t = time.perf_counter()\n"
        f"source = from_warehouse(Path({str(paths['warehouse'])!r}), memory_limit='6GB')\n"
        f"path, _ = build_training_set(source.con, source.leads, source.activities, "
        f"source.outcomes, load_spec({str(DEFAULT_SPEC)!r}), Path({str(workdir / 'ts')!r}))\n"
        "wall = time.perf_counter() - t\n"
        "rows = duckdb.sql(f\"select count(*) from read_parquet('{path}')\").fetchone()[0]\n"
        "acts = source.activities.count().execute()\n"
        "print(json.dumps({'wall_s': wall, 'rows': rows, 'activities': int(acts)}))\n"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    peak_mb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures.update(simulate_and_write_s=simulated, peak_rss_mb=peak_mb, leads=leads)
    figures["activities_per_s"] = figures["activities"] / figures["wall_s"]
    return figures


def pandas_features(
    cutoffs: pd.DataFrame, leads: pd.DataFrame, activities: pd.DataFrame, spec: FeatureSpec
) -> pd.DataFrame:
    """The same spec the straightforward way: merge, filter, groupby (the baseline)."""
    out = _pandas_activity_features(cutoffs, activities, spec)
    out = out.merge(_pandas_attributes(leads, spec), on=schema.LEAD_ID)
    if spec.lead_age:
        out["lead_age_days"] = (out[CUTOFF_AT] - out[schema.CREATED_AT]) / pd.Timedelta(days=1)
    for ratio in spec.ratios:
        denominator = out[ratio.denominator].astype(float)
        out[ratio.name] = (out[ratio.numerator] / denominator).where(denominator != 0)
    return out[[schema.LEAD_ID, CUTOFF_AT, *spec.feature_names()]]


def _pandas_attributes(leads: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Levels normalised with pandas' string methods: the baseline shares no code with ours,
    so the equality check below tests both (features.spec.normalise_level is the reference)."""
    out = leads[[schema.LEAD_ID, schema.CREATED_AT]].copy()
    for attribute in spec.attributes:
        value = leads[attribute.column]
        if isinstance(attribute, CategoricalAttribute):
            text = value.astype("string").str.normalize("NFKC").str.casefold()
            text = text.str.normalize("NFKC").str.replace(r"\s+", " ", regex=True).str.strip(" ")
            text = text.mask(text.isin(MISSING_MARKERS))
            out[attribute.name] = text.replace(attribute.aliases) if attribute.aliases else text
        else:
            out[attribute.name] = pd.to_numeric(value, errors="coerce").astype(float)
    return out


def _pandas_activity_features(
    cutoffs: pd.DataFrame, activities: pd.DataFrame, spec: FeatureSpec
) -> pd.DataFrame:
    events = activities[~activities[schema.ACTIVITY_TYPE].isin(spec.exclude_activity_types)]
    joined = cutoffs.merge(events, on=schema.LEAD_ID)
    joined = joined[joined[schema.OCCURRED_AT] <= joined[CUTOFF_AT]].copy()
    joined["age_days"] = (joined[CUTOFF_AT] - joined[schema.OCCURRED_AT]) / pd.Timedelta(days=1)
    joined["day"] = joined[schema.OCCURRED_AT].dt.floor("D")
    keys = [schema.LEAD_ID, CUTOFF_AT]
    out = cutoffs.set_index(keys)
    fired = {}
    detail = joined[schema.DETAIL].astype("string")
    for signal in spec.signals:
        types = types_of(signal, spec)
        mask = joined[schema.ACTIVITY_TYPE].isin(types) if types else pd.Series(True, joined.index)
        if signal.detail:
            mask &= detail.str.match(glob_to_regex(signal.detail)).fillna(False).astype(bool)
        fired[signal.name] = mask
        for window in spec.signal_windows(signal):
            inside = mask & (
                joined[schema.OCCURRED_AT] > joined[CUTOFF_AT] - pd.Timedelta(days=window)
            )
            grouped = joined[inside].groupby(keys)
            if "count" in signal.stats:
                out[f"{signal.name}_count_{window}d"] = grouped.size()
            if "days" in signal.stats:
                out[f"{signal.name}_days_{window}d"] = grouped["day"].nunique()
        if "recency" in signal.stats:
            out[f"{signal.name}_recency_days"] = joined[mask].groupby(keys)["age_days"].min()
        if "first" in signal.stats:
            out[f"{signal.name}_first_days"] = joined[mask].groupby(keys)["age_days"].max()
    for score in spec.engagement:
        weight = sum(np.where(fired[name], points, 0.0) for name, points in score.weights.items())
        joined["_w"] = weight * np.power(0.5, joined["age_days"] / score.half_life_days)
        out[f"engagement_{score.name}"] = joined.groupby(keys)["_w"].sum()
    out = out.reset_index()
    for name in spec.activity_feature_names():
        if not name.endswith(("_recency_days", "_first_days")):
            out[name] = out[name].fillna(0)
    return out


@dataclass
class Slice:
    """The 1/20 slice in an embedded DuckDB: tables ``leads``, ``activities``, ``cutoffs``."""

    world: SyntheticWorld
    spec: FeatureSpec
    con: ibis.BaseBackend
    leads: ir.Table
    activities: ir.Table
    cutoffs: ir.Table
    cutoff_frame: pd.DataFrame


def make_slice(leads: int, seed: int) -> Slice:
    world = simulate(leads, seed)
    spec = load_spec(DEFAULT_SPEC)
    con = connect()
    lead_table = register(con, "leads", world.leads)
    activity_table = register(con, "activities", world.activities)
    outcome_table = register(con, "outcomes", world.outcomes)
    cutoffs = training_cutoffs(lead_table, activity_table, outcome_table, spec, world.export_at)
    cutoff_frame = cutoffs.execute()
    cutoff_table = register(con, "cutoffs", cutoff_frame)
    return Slice(world, spec, con, lead_table, activity_table, cutoff_table, cutoff_frame)


def side_by_side(part: Slice, repeats: int) -> dict:
    world, spec, con = part.world, part.spec, part.con
    lead_table, activity_table = part.leads, part.activities
    cutoff_table, cutoff_frame = part.cutoffs, part.cutoff_frame
    leads = len(world.leads)
    activities = world.activities.assign(
        **{schema.ACTIVITY_TYPE: world.activities[schema.ACTIVITY_TYPE].astype(str)}
    )

    timings = {"leadscore (Ibis/DuckDB)": [], "pandas merge/filter/groupby": []}
    keys = [schema.LEAD_ID, CUTOFF_AT]
    with tempfile.TemporaryDirectory() as workdir:
        written = {"ours": Path(workdir) / "ours.parquet", "theirs": Path(workdir) / "theirs.pq"}

        def ours() -> None:
            table = feature_table(cutoff_table, lead_table, activity_table, spec)
            con.to_parquet(table, written["ours"])

        def theirs() -> None:
            frame = pandas_features(cutoff_frame, world.leads, activities, spec)
            frame.to_parquet(written["theirs"], index=False)

        for _ in range(repeats):
            for name, run in (
                ("leadscore (Ibis/DuckDB)", ours),
                ("pandas merge/filter/groupby", theirs),
            ):
                started = time.perf_counter()
                run()
                timings[name].append(time.perf_counter() - started)
        fast, baseline = (
            pd.read_parquet(written[side]).sort_values(keys).reset_index(drop=True)
            for side in ("ours", "theirs")
        )
    assert len(fast) == len(baseline) == len(cutoff_frame)

    def levels(column: pd.Series) -> list:
        return column.astype(object).where(column.notna(), None).tolist()

    for name in spec.feature_names():
        if name in spec.categorical_features():
            assert levels(fast[name]) == levels(baseline[name]), name
            continue
        np.testing.assert_allclose(
            fast[name].astype(float),
            baseline[name].astype(float),
            rtol=1e-9,
            atol=1e-9,
            err_msg=name,
        )
    medians = {k: float(np.median(v)) for k, v in timings.items()}
    return {
        "leads": leads,
        "cutoff_rows": len(cutoff_frame),
        "activities": len(world.activities),
        **{f"median_s {k}": v for k, v in medians.items()},
        "ratio": medians["pandas merge/filter/groupby"] / medians["leadscore (Ibis/DuckDB)"],
    }


_FLOOR = """
with seen as (
  select a.lead_id, epoch_us(a.occurred_at) as _t, hash(a.activity_type, a.detail) % 200 as _kind
  from activities a
  join (select lead_id, max(cutoff_at) as _last, min(cutoff_at) - interval {lookback} day as _from
        from cutoffs group by 1) r
    on a.lead_id = r.lead_id and a.occurred_at > r._from and a.occurred_at <= r._last
  where a.activity_type not in ({excluded})
), cut as (select distinct lead_id, cutoff_at, epoch_us(cutoff_at) as _cut from cutoffs)
select cut.lead_id, cut.cutoff_at, count(seen._t) as n{aggregates}
from cut left join seen
  on cut.lead_id = seen.lead_id and seen._t <= cut._cut
  and seen._t > cut._cut - {lookback}::bigint * 86400000000
group by all
"""


def floors(part: Slice, repeats: int) -> dict:
    """What a 10x slice ratio leaves room for, in raw DuckDB on the same tables.

    The range join and the default spec's number of aggregates (its packed count sums, one
    sum per engagement score, one maximum per recency or first-seen feature) over dummy
    inputs, next to the real query (compiled once, run without writing Parquet) at 1 and 2
    threads, and the Ibis build and compile the real query needs each build. Medians.
    """
    spec, con = part.spec, part.con
    bits = field_bits(part.activities, spec)
    sums = len(_packed_sums(spec, bits)) + len(spec.engagement)
    maxima = sum(len({"recency", "first"} & set(s.stats)) for s in spec.signals)
    excluded = ", ".join(f"'{t}'" for t in spec.exclude_activity_types) or "''"

    def floor(n_sums: int, n_max: int) -> str:
        aggregates = "".join(f", sum(((seen._kind + {i}) % 7)::double)" for i in range(n_sums))
        aggregates += "".join(
            f", max(case when (seen._kind + {i}) % 5 = 0 then seen._t end)" for i in range(n_max)
        )
        return _FLOOR.format(lookback=spec.lookback_days, excluded=excluded, aggregates=aggregates)

    def compile_real() -> str:
        return ibis.to_sql(feature_table(part.cutoffs, part.leads, part.activities, spec))

    raw = con.con
    queries = {
        "range join + count": floor(0, 0),
        f"  + {sums} sums": floor(sums, 0),
        f"  + {sums} sums + {maxima} maxima (the spec's count)": floor(sums, maxima),
        "the real query": compile_real(),
    }
    timings: dict[str, list[float]] = {}
    for threads in (2, 1):
        raw.execute(f"SET threads = {threads}")
        for _ in range(repeats):
            for name, sql in queries.items():
                if threads == 1 and name != "the real query":
                    continue
                key = f"{name}, {threads} thread{'s' if threads > 1 else ''}"
                started = time.perf_counter()
                raw.execute(sql).to_arrow_table()
                timings.setdefault(key, []).append(time.perf_counter() - started)
    raw.execute("SET threads = 2")
    for _ in range(repeats):
        started = time.perf_counter()
        compile_real()
        timings.setdefault("Ibis build (and its field-width query) + compile", []).append(
            time.perf_counter() - started
        )
    return {f"median_s {k}": float(np.median(v)) for k, v in timings.items()}


def online_latency(seed: int, calls: int) -> dict:
    spec = load_spec(DEFAULT_SPEC)
    world = simulate(2000, seed)
    counts = world.activities[schema.LEAD_ID].value_counts()
    lead_id = int((counts - 200).abs().idxmin())
    history = world.activities[world.activities[schema.LEAD_ID] == lead_id].head(200)
    lead = world.leads.set_index(schema.LEAD_ID).loc[lead_id].to_dict()
    lead[schema.CREATED_AT] = world.leads.set_index(schema.LEAD_ID).loc[lead_id, schema.CREATED_AT]
    posted = [  # as an MA system posts it: a list of JSON-like records
        {schema.OCCURRED_AT: t.isoformat(), schema.ACTIVITY_TYPE: str(a), schema.DETAIL: d}
        for t, a, d in zip(history[schema.OCCURRED_AT], history[schema.ACTIVITY_TYPE],
                           history[schema.DETAIL].astype(object), strict=True)
    ]  # fmt: skip
    as_of = history[schema.OCCURRED_AT].max()
    # as the service passes them: times already parsed by the request's validation
    parsed = ActivityColumns(
        [datetime.fromisoformat(a[schema.OCCURRED_AT]) for a in posted],
        [a[schema.ACTIVITY_TYPE] for a in posted],
        [a[schema.DETAIL] for a in posted],
    )
    forms = {"posted JSON records": posted, "service's parsed columns": parsed}
    wall: dict[str, list[float]] = {name: [] for name in forms}
    cpu: dict[str, list[float]] = {name: [] for name in forms}
    for _ in range(50):
        for history_form in forms.values():
            online_features(lead, history_form, as_of, spec)
    for _ in range(calls):  # interleaved, so both forms see the same machine load
        for name, history_form in forms.items():
            started, started_cpu = time.perf_counter(), time.thread_time()
            online_features(lead, history_form, as_of, spec)
            wall[name].append((time.perf_counter() - started) * 1000)
            cpu[name].append((time.thread_time() - started_cpu) * 1000)
    # wall p99 minus CPU p99 is time the OS gave other processes (a busy machine's share)
    figures: dict = {"activities": len(posted), "calls": calls}
    for name in forms:
        figures[f"median_ms {name}"] = float(np.median(wall[name]))
        figures[f"p99_ms {name}"] = float(np.percentile(wall[name], 99))
        figures[f"p99_cpu_ms {name}"] = float(np.percentile(cpu[name], 99))
    return figures


def show(title: str, figures: dict) -> None:
    print(f"\n{title}")
    for key, value in figures.items():
        text = f"{value:,.3f}" if isinstance(value, float) else f"{value:,}"
        print(f"  {key:<40} {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-full", action="store_true", help="only slice and online")
    parser.add_argument("--skip-slice", action="store_true", help="only online and full scale")
    args = parser.parse_args()
    show("Online features, one lead", online_latency(args.seed, 2000))
    if not args.skip_slice:
        part = make_slice(args.leads // 20, args.seed)
        slice_figures = side_by_side(part, args.repeats)
        show(f"Side by side on a 1/20 slice ({args.leads // 20:,} leads)", slice_figures)
        budget = slice_figures["median_s pandas merge/filter/groupby"] / 10
        show(
            f"Floors on the same slice (raw DuckDB; a 10x ratio leaves {budget:.3f} s for "
            "compile, query and Parquet write)",
            floors(part, max(args.repeats, 5)),
        )
    if not args.skip_full:
        with tempfile.TemporaryDirectory() as workdir:
            show(
                f"Full scale ({args.leads:,} leads)",
                full_scale(args.leads, args.seed, Path(workdir)),
            )


if __name__ == "__main__":
    main()

"""The training set: features and labels at every cutoff, split out of time, with its profile.

Split rule (why it looks the way it does): rows are ordered by cutoff time and cut at two
moments T1 < T2 chosen so that validation and test hold the requested shares of labelled rows.
A training row's label window must close by T1 and a validation row's by T2, so no label
window of an earlier split overlaps a later split (a gap of H days). A lead belongs to the split
of its first labelled cutoff; its rows in other periods are marked ``gap`` and not used, so a
lead never straddles two splits. Rows whose label window is still open are ``unlabeled``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from leadscore.features import schema
from leadscore.features.offline import (
    PreparedActivities,
    activity_kinds,
    feature_table,
    field_bits,
    label_table,
    prepare_activities,
    training_cutoffs,
)
from leadscore.features.schema import CUTOFF_AT, LABEL, SPLIT, SPLITS
from leadscore.features.spec import CreatedAttribute, FeatureSpec, SpecError
from leadscore.progress import stages as progress_stages

TRAINING_SET_FILE = "training_set.parquet"
PROFILE_FILE = "profile.json"  # what the build saw: rows, labels, split edges, decisions
_TOP_CATEGORIES = 5


@dataclass(frozen=True)
class SplitPlan:
    """Shares of labelled rows for validation and test; train gets the rest (earliest)."""

    validation_share: float = 0.2
    test_share: float = 0.2

    def __post_init__(self) -> None:
        if not (self.validation_share > 0 and self.test_share > 0) or (
            self.validation_share + self.test_share >= 0.9
        ):
            raise ValueError(
                "validation_share and test_share must be positive and leave at least 10% "
                f"for training (got {self.validation_share} and {self.test_share})"
            )


@dataclass(frozen=True)
class SplitEdges:
    """The two moments that cut the timeline, stored with the training set and the model, and
    the shares of labelled rows they were cut at (wider than asked when :func:`judgeable_edges`
    had to widen them, ``widened`` then saying why in words)."""

    validation_from: pd.Timestamp
    test_from: pd.Timestamp
    as_of: pd.Timestamp
    validation_share: float = SplitPlan.validation_share
    test_share: float = SplitPlan.test_share
    widened: str = ""


# Why these steps: each moves the later periods back a little, test first (the figures a user
# reads come from it), and the last still leaves 30% of labelled rows to fit on.
WIDER_PLANS: tuple[SplitPlan, ...] = (
    SplitPlan(0.2, 0.3),
    SplitPlan(0.25, 0.35),
    SplitPlan(0.3, 0.4),
)


def periods_lacking(counts: pd.DataFrame) -> dict[str, str]:
    """What each period (train, validation, test) lacks, from rows counted per (``SPLIT``,
    ``LABEL``) in column ``n``: a period without an SQL row or without a non-SQL row cannot
    rank anybody against anybody, so it fits or judges nothing. Empty when none lacks."""
    counts = counts[counts[SPLIT].isin(SPLITS)]
    held = counts.groupby([SPLIT, counts[LABEL].astype(int)])["n"].sum()
    lacking = {}
    for name in SPLITS:
        missing = [
            what for value, what in ((1, "SQL"), (0, "non-SQL")) if held.get((name, value), 0) == 0
        ]
        if missing:
            lacking[name] = " or ".join(f"no {what} row" for what in missing)
    return lacking


def first_judgeable(
    plan: SplitPlan, lacking: Callable[[SplitPlan], dict[str, str]]
) -> tuple[SplitPlan, str]:
    """The ladder, for both builders: ``plan`` when no period lacks anything under it, else
    the first of ``WIDER_PLANS`` that widens both later periods and leaves none lacking, with
    the note that says why (``""`` when ``plan`` is kept).

    Widening moves rows from train to the later periods, so it is tried only when what lacks
    is validation or test; when nothing works, ``plan`` comes back and the training job names
    what each period lacks.
    """
    asked = lacking(plan)
    if not asked or "train" in asked:
        return plan, ""
    wider = [
        p for p in WIDER_PLANS
        if p.test_share > plan.test_share and p.validation_share >= plan.validation_share
    ]  # fmt: skip
    for candidate in wider:
        found = lacking(candidate)
        if not found:
            what = "; ".join(f"the {name} period held {held}" for name, held in asked.items())
            return candidate, (
                f"with validation {plan.validation_share:.0%} and test {plan.test_share:.0%} of "
                f"labelled rows, {what}, so it could judge nothing; cut at validation "
                f"{candidate.validation_share:.0%} and test {candidate.test_share:.0%} instead, "
                "still out of time. The later periods hold few SQLs: read each figure's interval."
            )
        if "train" in found:
            break
    return plan, ""


def judgeable_edges(
    rows: ir.Table, spec: FeatureSpec, plan: SplitPlan, as_of: pd.Timestamp
) -> SplitEdges:
    """The split edges of ``plan``, or of the first wider plan under which every period holds
    both SQL and non-SQL rows (:func:`first_judgeable`).

    Why: a small export can leave its latest 20% without a single SQL (300 leads, a dozen
    SQLs), and then the test period judges nothing and the run would stop. Widening the later
    periods back by a stated ladder keeps the out-of-time design and lets the figures say how
    sure they are (their bootstrap intervals are wide, as they should be). The rows are
    counted per period in the backend, a handful of numbers back, however large the export.
    """
    labelled = rows.filter(rows[LABEL].notnull())
    edges: dict[SplitPlan, SplitEdges] = {}

    def lacking(candidate: SplitPlan) -> dict[str, str]:
        edges[candidate] = split_edges(rows, spec, candidate, as_of)
        cut = assign_splits(labelled, spec, edges[candidate])
        return periods_lacking(cut.group_by([SPLIT, LABEL]).aggregate(n=cut.count()).execute())

    used, note = first_judgeable(plan, lacking)
    return replace(edges[used], widened=note)


def data_end(leads: ir.Table, activities: ir.Table, outcomes: ir.Table) -> pd.Timestamp:
    """The export's as-of moment when none is given: the latest timestamp it holds."""
    latest = [
        leads[schema.CREATED_AT].max().execute(),
        activities[schema.OCCURRED_AT].max().execute(),
        outcomes[schema.SQL_AT].max().execute(),
    ]
    return max(schema.utc_timestamp(s) for s in latest if s is not None and not pd.isna(s))


def labelled_rows(
    leads: ir.Table,
    activities: ir.Table | PreparedActivities,
    outcomes: ir.Table,
    spec: FeatureSpec,
    as_of: pd.Timestamp,
    cutoffs: ir.Table | None = None,
) -> ir.Table:
    """(lead_id, cutoff_at, features..., label) for every cutoff of the spec's policy.

    ``cutoffs`` may be given when already computed (the builder computes them once for the
    whole export); otherwise they come from the spec's policy here.
    """
    if cutoffs is None:
        if isinstance(activities, PreparedActivities):
            raise TypeError("prepared activities need their cutoffs")
        cutoffs = training_cutoffs(leads, activities, outcomes, spec, as_of)
    features = feature_table(cutoffs, leads, activities, spec)
    labels = label_table(cutoffs, outcomes, spec, as_of)
    return features.join(labels, [schema.LEAD_ID, CUTOFF_AT])


def split_edges(
    rows: ir.Table, spec: FeatureSpec, plan: SplitPlan, as_of: pd.Timestamp
) -> SplitEdges:
    """T1 and T2 from the time quantiles of the labelled cutoffs."""
    labelled = rows.filter(rows[LABEL].notnull())
    seconds = labelled[CUTOFF_AT].epoch_seconds()
    edges = labelled.aggregate(
        t1=seconds.quantile(1 - plan.validation_share - plan.test_share),
        t2=seconds.quantile(1 - plan.test_share),
        n=labelled.count(),
    ).execute()
    if int(edges["n"].iloc[0]) == 0:
        raise ValueError(
            f"no cutoff has a complete {spec.sql_within_days}-day label window before "
            f"{as_of:%Y-%m-%d}: the export is too short for this horizon"
        )
    as_stamp = lambda s: pd.Timestamp(float(s), unit="s", tz="UTC").floor("s")  # noqa: E731
    return SplitEdges(
        as_stamp(edges["t1"].iloc[0]), as_stamp(edges["t2"].iloc[0]), as_of,
        plan.validation_share, plan.test_share,
    )  # fmt: skip


def assign_splits(rows: ir.Table, spec: FeatureSpec, edges: SplitEdges) -> ir.Table:
    """Add the ``split`` column (train / validation / test / gap / unlabeled)."""
    t1 = ibis.literal(edges.validation_from, type="timestamp('UTC')")
    t2 = ibis.literal(edges.test_from, type="timestamp('UTC')")
    window_end = rows[CUTOFF_AT] + ibis.interval(days=spec.sql_within_days)
    labelled = rows[LABEL].notnull()
    period = (
        ibis.cases(
            (labelled & (window_end <= t1), 1),
            (labelled & (rows[CUTOFF_AT] > t1) & (window_end <= t2), 2),
            (labelled & (rows[CUTOFF_AT] > t2), 3),
            else_=ibis.null("int8"),
        )
    ).cast("int8")
    with_period = rows.mutate(_period=period)
    # a grouped minimum joined back, not a window: a window would sort every wide row by lead
    # before the final sort by time sorts them all again
    lead_period = with_period.group_by(schema.LEAD_ID).aggregate(
        _lead_period=with_period._period.min()
    )
    with_period = with_period.left_join(lead_period, schema.LEAD_ID).drop(f"{schema.LEAD_ID}_right")
    split = ibis.cases(
        (~labelled, "unlabeled"),
        (
            with_period._period == with_period._lead_period,
            with_period._period.cases((1, SPLITS[0]), (2, SPLITS[1]), (3, SPLITS[2])),
        ),
        else_="gap",
    )
    return with_period.mutate(**{SPLIT: split}).drop("_period", "_lead_period")


def lead_batches(leads: ir.Table, rows_per_batch: int = 100_000) -> int:
    """How many lead batches keep one batch's cutoff-activity join within memory."""
    return max(1, -(-int(leads.count().execute()) // rows_per_batch))


BATCH = "_batch"


def with_batch(table: ir.Table, batches: int) -> ir.Table:
    """``table`` with a ``_batch`` column: its lead's batch of ``batches`` (by hash of lead_id)."""
    bucket = ((table[schema.LEAD_ID].hash() % batches) + batches) % batches
    return table.mutate(**{BATCH: bucket.cast("int32")})


def in_batch(table: ir.Table, batch: int, batches: int) -> ir.Table:
    """The rows of ``table`` whose lead falls in ``batch`` of ``batches``."""
    if batches == 1:
        return table
    if BATCH in table.columns:
        return table.filter(table[BATCH] == batch).drop(BATCH)
    return with_batch(table, batches).filter(lambda t: t[BATCH] == batch).drop(BATCH)


def _stage(con: ibis.BaseBackend, name: str, table: ir.Table, batches: int) -> ir.Table:
    """Materialise ``table`` once, sorted by lead batch so each batch reads a narrow slice."""
    if batches > 1:
        table = with_batch(table, batches).order_by(BATCH)
    return con.create_table(name, table, overwrite=True, temp=True)


def _show_batch(
    con: ibis.BaseBackend, sources: dict[str, ir.Table], batch: int, batches: int
) -> None:
    """Point each temporary view at ``batch``'s rows of its source table."""
    for name, table in sources.items():
        sql = con.compile(in_batch(table, batch, batches))
        con.raw_sql(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")


def build_training_set(
    con: ibis.BaseBackend,
    leads: ir.Table,
    activities: ir.Table,
    outcomes: ir.Table,
    spec: FeatureSpec,
    out: Path,
    *,
    as_of: pd.Timestamp | None = None,
    plan: SplitPlan = SplitPlan(),
    batches: int | None = None,
) -> tuple[Path, SplitEdges]:
    """Write ``training_set.parquet`` under ``out`` and return its path and split edges.

    The export is read once: cutoffs are computed for every lead, and the activities any
    cutoff can see are staged with their kind (a fraction of the export). Features are then
    built in ``batches`` of leads (by default one per 100,000) so that the cutoff-activity join
    stays within memory as the export grows: a lead's cutoffs only ever meet its own
    activities, so batches by lead are independent. Each stage (cutoffs, each batch, the
    split, the file) is reported to :mod:`leadscore.progress`.
    """
    out.mkdir(parents=True, exist_ok=True)
    as_of = as_of if as_of is not None else data_end(leads, activities, outcomes)
    batches = batches or lead_batches(leads)
    names = [
        "cutoffs and the activities they can see",
        *[f"features, batch {batch + 1}/{batches}" for batch in range(batches)],
        "out-of-time split",
        "writing Parquet",
    ]
    with progress_stages("Building the training set", names) as step:
        step("cutoffs and the activities they can see")
        cutoffs = _stage(
            con, "_cutoffs", training_cutoffs(leads, activities, outcomes, spec, as_of), batches
        )
        kinds = con.create_table(
            "_kinds", activity_kinds(activities, spec), overwrite=True, temp=True
        )
        prepared = prepare_activities(cutoffs, activities, spec, kinds=kinds)
        events = _stage(con, "_events", prepared.events, batches)
        parts = out / "_batches"
        shutil.rmtree(parts, ignore_errors=True)
        parts.mkdir()
        # one query for every batch: it reads views that each batch points at its own leads, so
        # Ibis compiles it once (about half a second a batch) and the count fields are sized once
        sources = {"_batch_leads": leads, "_batch_events": events, "_batch_outcomes": outcomes,
                   "_batch_cutoffs": cutoffs}  # fmt: skip
        _show_batch(con, sources, 0, batches)
        view = {name: con.table(name) for name in sources}
        rows = labelled_rows(
            view["_batch_leads"],
            PreparedActivities(view["_batch_events"], prepared.kinds, field_bits(events, spec)),
            view["_batch_outcomes"],
            spec,
            as_of,
            cutoffs=view["_batch_cutoffs"],
        )
        query = con.compile(rows)
        for batch in range(batches):
            step(f"features, batch {batch + 1}/{batches}")
            _show_batch(con, sources, batch, batches)
            # each batch goes to disk, compressed: held in memory, millions of wide rows would
            # crowd out the final sort and make every later batch slower than the one before
            target = str(parts / f"batch-{batch:05d}.parquet").replace("'", "''")
            con.raw_sql(f"COPY ({query}) TO '{target}' (FORMAT parquet)")
        for name in sources:
            con.raw_sql(f"DROP VIEW IF EXISTS {name}")
        for name in ("_cutoffs", "_kinds", "_events"):
            con.drop_table(name, force=True)
        staged = con.read_parquet(parts / "*.parquet")
        step("out-of-time split")
        edges = judgeable_edges(staged, spec, plan, as_of)
        path = out / TRAINING_SET_FILE
        step("writing Parquet")
        con.to_parquet(
            assign_splits(staged, spec, edges).order_by([CUTOFF_AT, schema.LEAD_ID]), path
        )
        shutil.rmtree(parts)
        return path, edges


def profile_training_set(
    con: ibis.BaseBackend, path: Path, spec: FeatureSpec, edges: SplitEdges
) -> dict:
    """Rows and label rate per split, null rates and top categories, for MLflow and people."""
    table = con.read_parquet(path)
    per_split = (
        table.group_by(SPLIT)
        .aggregate(
            rows=table.count(),
            leads=table[schema.LEAD_ID].nunique(),
            label_rate=table[LABEL].mean(),
            first_cutoff=table[CUTOFF_AT].min(),
            last_cutoff=table[CUTOFF_AT].max(),
        )
        .execute()
    )
    names = spec.feature_names()
    nulls = (
        table.aggregate(**{name: table[name].isnull().mean() for name in names}).execute().iloc[0]
    )
    top = {}
    for name in spec.categorical_features():
        counts = (
            table.group_by(name).aggregate(rows=table.count()).order_by(ibis.desc("rows"))
            .limit(_TOP_CATEGORIES).execute()
        )  # fmt: skip
        total = int(per_split["rows"].sum())
        top[name] = {
            str(level) if level is not None else "(empty)": round(int(n) / total, 4)
            for level, n in zip(counts[name], counts["rows"], strict=True)
        }
    splits = {
        str(r[SPLIT]): {
            "rows": int(r["rows"]),
            "leads": int(r["leads"]),
            "label_rate": None if pd.isna(r["label_rate"]) else round(float(r["label_rate"]), 5),
            "first_cutoff": str(r["first_cutoff"]),
            "last_cutoff": str(r["last_cutoff"]),
        }
        for _, r in per_split.iterrows()
    }
    return {
        "spec_fingerprint": spec.fingerprint(),
        "sql_within_days": spec.sql_within_days,
        "edges": {k: str(v) for k, v in asdict(edges).items()},
        "splits": splits,
        "null_rates": {name: round(float(nulls[name]), 5) for name in names},
        "top_categories": top,
    }


def write_profile(profile: dict, out: Path) -> Path:
    path = out / PROFILE_FILE
    path.write_text(json.dumps(profile, indent=2, ensure_ascii=False))
    return path


# a flat file without created_at: its leads' stand-in times, a second apart in lead order
STAND_IN_START = pd.Timestamp("2000-01-01", tz="UTC")


def stand_in_times(places: np.ndarray) -> pd.DatetimeIndex:
    """A flat file's stand-in times for leads at ``places`` (0, 1, ... in lead order): a
    second apart from :data:`STAND_IN_START`, which :func:`is_stand_in` recognises."""
    return STAND_IN_START + pd.to_timedelta(places, unit="s")


def is_stand_in(cutoffs: pd.Series) -> bool:
    """Whether ``cutoffs`` are a flat file's stand-in times (:data:`STAND_IN_START`, a second
    apart in lead order): places, not moments, so nothing a week long can be counted in them."""
    first, last = cutoffs.min(), cutoffs.max()
    return bool(first >= STAND_IN_START and last < STAND_IN_START + pd.Timedelta(days=365))


def time_window(cutoffs: pd.Series) -> str:
    """The span of ``cutoffs`` in words: first .. last, or for a flat file's stand-in times
    the leads' places in their order (the order column, else the file's), which is all those
    times mean."""
    first, last = cutoffs.min(), cutoffs.max()
    if is_stand_in(cutoffs):
        places = (cutoffs - STAND_IN_START).dt.total_seconds()
        return f"leads {int(places.min()) + 1:,} to {int(places.max()) + 1:,} in lead order"
    return f"{first} .. {last}"


def flat_training_set(
    con: ibis.BaseBackend,
    leads: pd.DataFrame,
    label: pd.Series,
    spec: FeatureSpec,
    out: Path,
    *,
    plan: SplitPlan = SplitPlan(),
    order: pd.Series | None = None,
) -> tuple[Path, str]:
    """A training set from a flat export: one row per lead, split by time (or by its order);
    its path and, when a period of ``plan`` would hold no SQL or no non-SQL lead and the split
    was widened (:func:`first_judgeable`, by position here), why, else ``""``.

    With ``created_at`` the split is out of time. Without it, ``order`` (a sequential lead
    number, say, aligned with ``leads``) stands in for time, or else the file's row order
    does (many CRM exports list leads in creation order), so the test rows are the latest.
    The shares are of the labelled leads; a lead without a label (too recent to judge, see
    :func:`features.contract.load_flat`) is ``unlabeled``.
    """
    from leadscore.features.offline import flat_feature_rows

    frame = leads.copy()
    if schema.CREATED_AT not in frame.columns:
        created = [a.name for a in spec.attributes if isinstance(a, CreatedAttribute)]
        if created:  # the stand-in times below would read as real creation times
            raise SpecError(
                f"attributes.{created[0]}: the file has no '{schema.CREATED_AT}', so there is "
                "no creation weekday or hour; remove the created attributes from the spec"
            )
        # ties keep file order; the stand-in times only need to sort like the leads' creation
        if order is None:
            place = np.arange(len(frame))
        else:  # matched on the index: the caller may have filtered or reordered its leads
            aligned = order.reindex(frame.index)
            if aligned.isna().any():
                raise ValueError("order has no value for some leads: align it with leads")
            place = aligned.rank(method="first").to_numpy() - 1
        frame[schema.CREATED_AT] = np.asarray(stand_in_times(place))
    rows = flat_feature_rows(con, frame, spec)
    rows.insert(1, CUTOFF_AT, frame[schema.CREATED_AT].to_numpy())
    rows[LABEL] = label.to_numpy()
    labelled = rows[LABEL].notna()
    # shares of the labelled leads: a lead too recent to judge (a dated label) is "unlabeled"
    position = rows[CUTOFF_AT].where(labelled).rank(method="first", pct=True)

    def cut(candidate: SplitPlan) -> pd.Series:
        later, test = candidate.validation_share + candidate.test_share, candidate.test_share
        periods = pd.cut(position, [0, 1 - later, 1 - test, 1], labels=list(SPLITS))
        return periods.astype(str).where(labelled, "unlabeled")

    def lacking(candidate: SplitPlan) -> dict[str, str]:
        counted = pd.DataFrame({SPLIT: cut(candidate), LABEL: rows[LABEL]})
        return periods_lacking(counted.value_counts().rename("n").reset_index())

    used, note = first_judgeable(plan, lacking)
    rows[SPLIT] = cut(used)
    out.mkdir(parents=True, exist_ok=True)
    path = out / TRAINING_SET_FILE
    rows.to_parquet(path, index=False)
    return path, note

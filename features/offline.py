"""Offline features: the spec compiled to Ibis expressions, run by DuckDB (or any Ibis backend).

Everything here is a lazy Ibis table until a caller executes or writes it, so one expression
runs on the embedded DuckDB by default and on a warehouse or Spark backend unchanged; the one
query run while building, the busiest lead's activity count, picks how counts are summed
(:func:`activity_features`). There are no Python loops over leads: cutoffs come from a range
unnest, features from one bounded range join of cutoffs to activities and one grouped
aggregate.

Point-in-time correctness is by construction: an activity reaches a cutoff's features only
when ``cutoff_at - lookback < occurred_at <= cutoff_at``; labels read ``sql_at`` only up to
``cutoff_at + H`` and only where that moment is inside the export.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd
from duckdb.sqltypes import VARCHAR

from leadscore.features import schema
from leadscore.features.schema import CUTOFF_AT, LABEL
from leadscore.features.spec import (
    WEEKDAYS,
    CategoricalAttribute,
    CreatedAttribute,
    FeatureSpec,
    Signal,
    SpecError,
    glob_to_regex,
    normalise_level,
    types_of,
)

DAY_SECONDS = 86_400.0
_US_PER_DAY = int(DAY_SECONDS) * 1_000_000
LEVEL_FUNCTION = "leadscore_level"


def connect(
    database: str | Path | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> ibis.BaseBackend:
    """A DuckDB connection in UTC, so calendar days and timestamps mean the same everywhere.

    Insertion order is not preserved: every result here is sorted or keyed explicitly, and
    DuckDB needs much less memory to write large results without it. The connection knows
    ``leadscore_level`` (:func:`normalise_expr`), so queries compiled to SQL text and run
    later find it too.
    """
    con = ibis.duckdb.connect(str(database) if database else ":memory:")
    _know_levels(con)
    con.raw_sql("SET TimeZone = 'UTC'")
    con.raw_sql("SET preserve_insertion_order = false")
    if threads:
        con.raw_sql(f"SET threads = {int(threads)}")
    if memory_limit:
        con.raw_sql(f"SET memory_limit = '{memory_limit}'")
    return con


def register(con: ibis.BaseBackend, name: str, frame: pd.DataFrame) -> ir.Table:
    """Load a validated frame into the backend as a table (timestamps in microseconds, UTC)."""
    frame = frame.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.floor("us").astype("datetime64[us, UTC]")
        elif frame[column].dtype == object and frame[column].isna().all():
            frame[column] = frame[column].astype("string")  # no values, still a typed column
    return con.create_table(name, frame, overwrite=True)


def _level(text: str | None) -> str | None:
    return normalise_level(text, {})


def _know_levels(con: ibis.BaseBackend) -> None:
    """Teach a DuckDB connection ``leadscore_level``, once.

    Taught already: this connection (NotImplementedException), or another connection of this
    process to the same database file, which DuckDB shares (CatalogException).
    """
    with contextlib.suppress(duckdb.NotImplementedException, duckdb.CatalogException):
        con.con.create_function(  # type: ignore[attr-defined]
            LEVEL_FUNCTION, _level, [VARCHAR], VARCHAR, null_handling="special"
        )


@ibis.udf.scalar.builtin(name=LEVEL_FUNCTION)
def _duckdb_level(text: str) -> str:  # type: ignore[empty-body]
    """:func:`features.spec.normalise_level` without aliases, as the connection's function."""


@ibis.udf.scalar.python
def _python_level(text: str) -> str:
    """The same, for a backend that runs Python functions in its queries."""
    return _level(text)  # type: ignore[return-value]


def normalise_expr(column: ir.Value, aliases: dict[str, str]) -> ir.StringValue:
    """Twin of :func:`features.spec.normalise_level`: the very function, run by the backend.

    Why not in SQL: levels are folded with Unicode NFKC and case folding (full-width ``ＩＴ``
    is ``it``), which SQL engines lack (DuckDB has NFC only), and a SQL imitation would
    drift from the online path. Applied to a column's distinct spellings
    (:func:`attribute_features`), it runs a few dozen times per column, not once per lead.
    """
    text = column.cast("string")
    backend = ibis.get_backend(column)
    if backend.name != "duckdb":
        level = _python_level(text)
    else:  # a connection opened elsewhere than :func:`connect` learns the function here
        _know_levels(backend)
        level = _duckdb_level(text)
    return level.substitute(aliases) if aliases else level


def _days_between(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.FloatingValue:
    # the column names the backend: a literal alone would name the default one
    return (epoch_us(later, on=earlier) - epoch_us(earlier)).cast("float64") / _US_PER_DAY


@ibis.udf.scalar.builtin(name="epoch_us")
def _duckdb_epoch_us(moment) -> dt.int64:  # type: ignore[no-untyped-def,empty-body]
    """DuckDB's own microseconds since 1970: the stored integer, no calendar involved."""


_EPOCH = ibis.literal(pd.Timestamp("1970-01-01", tz="UTC"), type="timestamp('UTC')")


def epoch_us(moment: ir.TimestampValue, on: ir.Expr | None = None) -> ir.IntegerValue:
    """Whole microseconds since 1970-01-01 UTC, the one clock of all window arithmetic.

    Why integers: windows, ages and dates become exact integer arithmetic, and DuckDB reads
    a zone-aware timestamp's integer directly, where converting it to a plain timestamp
    goes through ICU calendars at about 100 ns a row. Other backends take the portable
    difference from the epoch. ``on``: an expression of the backend it will run on, when
    ``moment`` is a literal.
    """
    backend = ibis.get_backend(on if on is not None else moment)
    if backend is not None and backend.name == "duckdb":
        return _duckdb_epoch_us(moment)
    return portable_epoch_us(moment)


def portable_epoch_us(moment: ir.TimestampValue) -> ir.IntegerValue:
    """:func:`epoch_us` in portable Ibis, for backends without DuckDB's function."""
    return moment.delta(_EPOCH, unit="microsecond")


@ibis.udf.scalar.builtin(name="timezone")
def _wall_clock(zone: str, moment: dt.timestamp) -> dt.timestamp:  # type: ignore[empty-body]
    """DuckDB's (and PostgreSQL's) ``timezone(zone, moment)``: the local wall-clock time."""


def created_expr(created_at: ir.TimestampValue, attribute: CreatedAttribute) -> ir.StringValue:
    """SQL twin of :meth:`features.spec.CreatedAttribute.level`: the creation weekday or hour
    on the attribute's time zone's clocks; NULL when there is no creation time.

    A creation time without a zone is UTC (the data contract), so it is read as one first:
    ``timezone()`` would read a plain timestamp as the zone's own wall-clock time.
    """
    if not created_at.type().is_timestamp() or created_at.type().timezone is None:
        created_at = created_at.cast(dt.Timestamp(timezone="UTC"))
    local = _wall_clock(attribute.time_zone, created_at)
    if attribute.part == "weekday":
        return local.day_of_week.index().cases(*enumerate(WEEKDAYS))
    return local.hour().cast("string").lpad(2, "0")


def _require_columns(table: ir.Table, spec: FeatureSpec) -> None:
    for attribute in spec.attributes:
        if isinstance(attribute, CreatedAttribute) and attribute.column not in table.columns:
            raise SpecError(
                f"attributes.{attribute.name}: the creation {attribute.part} needs the leads' "
                f"'{attribute.column}', which this table lacks (columns: "
                f"{', '.join(table.columns)}); remove the attribute from the spec for an export "
                "without creation times"
            )
        if attribute.column not in table.columns:
            raise SpecError(
                f"attributes.{attribute.name}: column '{attribute.column}' is not in the leads "
                f"table (columns: {', '.join(table.columns)})"
            )


def _finite_number(value: ir.Value) -> ir.FloatingValue:
    """A numeric attribute as float64: numbers and true/false as they are, text parsed, and
    anything that is not a finite number empty (:func:`features.online._numeric`'s twin)."""
    if value.type().is_numeric() or value.type().is_boolean():
        number = value.cast("float64")
    else:
        number = value.cast("string").strip().try_cast("float64")
    return ibis.ifelse(number.isinf() | number.isnan(), ibis.null("float64"), number)


def attribute_features(leads: ir.Table, spec: FeatureSpec) -> ir.Table:
    """lead_id, created_at and one column per spec attribute, normalised.

    Categorical levels are normalised once per distinct raw value and joined back: an
    export has a few dozen spellings per column and many thousand leads, and the
    normalisation (a regular expression, a trim, the missing markers, the aliases) is the
    expensive part. A ``created`` attribute is read from ``created_at`` (:func:`created_expr`).
    """
    _require_columns(leads, spec)
    joined = leads
    levels: dict[str, str] = {}
    for index, attribute in enumerate(spec.attributes):
        if not isinstance(attribute, CategoricalAttribute):
            continue
        raw, level = f"_raw_{index}", f"_level_{index}"
        spellings = leads.select(**{raw: leads[attribute.column]}).distinct()
        spellings = spellings.mutate(**{level: normalise_expr(spellings[raw], attribute.aliases)})
        spellings = spellings.view()
        joined = joined.left_join(spellings, leads[attribute.column].identical_to(spellings[raw]))
        levels[attribute.name] = level
    columns: dict[str, ir.Value] = {schema.LEAD_ID: joined[schema.LEAD_ID]}
    if schema.CREATED_AT in leads.columns:  # flat exports may have no creation time
        columns[schema.CREATED_AT] = joined[schema.CREATED_AT]
    for attribute in spec.attributes:
        value = joined[attribute.column]
        if attribute.name in levels:
            columns[attribute.name] = joined[levels[attribute.name]]
        elif isinstance(attribute, CreatedAttribute):
            columns[attribute.name] = created_expr(value, attribute)
        else:
            columns[attribute.name] = _finite_number(value)
    return joined.select(**columns)


def flat_feature_rows(
    con: ibis.BaseBackend, leads: pd.DataFrame, spec: FeatureSpec
) -> pd.DataFrame:
    """lead_id and the spec's features of a flat export's leads, one row each, in their order.

    A flat export has no activities and nothing after creation, so each lead is seen as at its
    creation: its attributes, ``lead_age_days`` 0. The flat training set and flat scoring both
    build their rows here, so a model reads the next file exactly as it learnt from the last.
    """
    table = attribute_features(register(con, "flat_leads", leads), spec)
    rows = con.to_pyarrow(table.drop(schema.CREATED_AT) if schema.CREATED_AT in table.columns
                          else table).to_pandas()  # fmt: skip
    rows = rows.set_index(schema.LEAD_ID).loc[leads[schema.LEAD_ID]].reset_index()
    if spec.lead_age:
        rows["lead_age_days"] = 0.0
    return rows


def snapshot_cutoffs(
    leads: ir.Table, outcomes: ir.Table, spec: FeatureSpec, as_of: pd.Timestamp
) -> ir.Table:
    """(lead_id, cutoff_at) every ``every_days`` from creation while the lead is still open."""
    policy = spec.cutoffs
    as_of_lit = ibis.literal(as_of, type="timestamp('UTC')")
    lead = leads.select(schema.LEAD_ID, schema.CREATED_AT).left_join(
        outcomes.select(schema.LEAD_ID, schema.SQL_AT), schema.LEAD_ID
    )
    span = _days_between(as_of_lit, lead[schema.CREATED_AT])
    count = ((ibis.least(span, policy.max_lead_age_days) / policy.every_days).floor() + 1).cast(
        "int64"
    )
    steps = lead.select(
        schema.LEAD_ID,
        schema.CREATED_AT,
        schema.SQL_AT,
        step=ibis.range(0, ibis.greatest(count, 0)),
    ).unnest("step")
    seconds = (steps.step * (policy.every_days * DAY_SECONDS)).cast("int64")
    cutoffs = steps.mutate(**{CUTOFF_AT: steps[schema.CREATED_AT] + seconds.as_interval("s")})
    return _open_at_cutoff(cutoffs, spec, as_of_lit).select(schema.LEAD_ID, CUTOFF_AT)


def event_cutoffs(
    leads: ir.Table,
    activities: ir.Table,
    outcomes: ir.Table,
    spec: FeatureSpec,
    as_of: pd.Timestamp,
) -> ir.Table:
    """(lead_id, cutoff_at) at each activity of the policy's types while the lead is open."""
    wanted = spec.cutoffs.at_activity_types
    events = _countable(activities, spec)
    if "*" not in wanted:
        events = events.filter(events[schema.ACTIVITY_TYPE].isin(wanted))
    lead = leads.select(schema.LEAD_ID, schema.CREATED_AT).left_join(
        outcomes.select(schema.LEAD_ID, schema.SQL_AT), schema.LEAD_ID
    )
    joined = events.select(schema.LEAD_ID, **{CUTOFF_AT: events[schema.OCCURRED_AT]}).join(
        lead, schema.LEAD_ID
    )
    joined = joined.filter(joined[CUTOFF_AT] >= joined[schema.CREATED_AT])
    as_of_lit = ibis.literal(as_of, type="timestamp('UTC')")
    return _open_at_cutoff(joined, spec, as_of_lit).select(schema.LEAD_ID, CUTOFF_AT).distinct()


def _open_at_cutoff(table: ir.Table, spec: FeatureSpec, as_of: ir.Value) -> ir.Table:
    cutoff = table[CUTOFF_AT]
    oldest = table[schema.CREATED_AT] + ibis.interval(
        seconds=int(spec.cutoffs.max_lead_age_days * DAY_SECONDS)
    )
    return table.filter(
        cutoff <= as_of,
        cutoff <= oldest,
        table[schema.SQL_AT].isnull() | (cutoff < table[schema.SQL_AT]),
    )


def training_cutoffs(
    leads: ir.Table,
    activities: ir.Table,
    outcomes: ir.Table,
    spec: FeatureSpec,
    as_of: pd.Timestamp,
) -> ir.Table:
    """All cutoffs of the spec's policy: snapshots, plus activity events when asked for."""
    cutoffs = snapshot_cutoffs(leads, outcomes, spec, as_of)
    if spec.cutoffs.at_activity_types:
        events = event_cutoffs(leads, activities, outcomes, spec, as_of)
        cutoffs = cutoffs.union(events, distinct=True)
    return cutoffs


def _signal_condition(events: ir.Table, signal: Signal, spec: FeatureSpec) -> ir.BooleanValue:
    types = types_of(signal, spec)
    condition = (
        events[schema.ACTIVITY_TYPE].isin(types) if types is not None else ibis.literal(True)
    )
    if signal.detail is not None:
        pattern = glob_to_regex(signal.detail)
        condition &= events[schema.DETAIL].re_search(pattern).fill_null(False)
    return condition


def _flag_kinds(events: ir.Table, spec: FeatureSpec) -> ir.Table:
    """``_kind`` id, signal flags and engagement weights per distinct (activity_type, detail).

    Detail patterns are regular expressions, the most expensive thing in the query; evaluating
    them on the few hundred distinct kinds instead of on every cutoff-activity pair keeps them
    out of the hot loop.
    """
    kinds = events.select(schema.ACTIVITY_TYPE, schema.DETAIL).distinct()
    # flags are 0.0/1.0: DuckDB sums doubles several times faster than integers (which it
    # accumulates as 128-bit), and the sums stay exact far beyond any count of activities
    flags = {
        f"_s_{s.name}": _signal_condition(kinds, s, spec).cast("float64") for s in spec.signals
    }
    for score in spec.engagement:
        weight = ibis.literal(0.0)
        for signal_name, points in score.weights.items():
            weight = weight + flags[f"_s_{signal_name}"] * points
        flags[f"_w_{score.name}"] = weight
    # numbered in a fixed order: the ids must come out the same however often this is run
    number = ibis.row_number().over(order_by=[kinds[schema.ACTIVITY_TYPE], kinds[schema.DETAIL]])
    return kinds.mutate(_kind=number.cast("int32"), **flags)


@dataclass(frozen=True)
class PreparedActivities:
    """Activities reduced to what features read, so a large export is scanned once.

    ``events``: lead_id, ``_t`` (its moment, :func:`epoch_us`) and ``_kind`` of every activity
    some cutoff can see; ``kinds``: one row per ``_kind`` with its signal flags and weights;
    ``bits``: the count fields' width (:func:`field_bits`) when the caller has measured it
    over all of these events, so that a part of them (a lead batch) needs no query.
    """

    events: ir.Table
    kinds: ir.Table
    bits: int | None = None


def prepare_activities(
    cutoffs: ir.Table,
    activities: ir.Table,
    spec: FeatureSpec,
    kinds: ir.Table | None = None,
) -> PreparedActivities:
    """The activities some cutoff of their lead can see, each with its kind.

    Seen means after the lead's first cutoff's lookback began and not after its last cutoff.
    Most of an export's activity comes after the cutoffs that get scored (later nurture, the
    weeks after a lead went SQL, leads past their scoring age), so dropping it before the range
    join shrinks the candidate pairs several times over; no feature can tell the difference.
    ``kinds`` is :func:`activity_kinds` of these activities when the caller has already
    stored it; events and kinds must come from the same table to agree on the ids.
    """
    events = _countable(activities, spec).select(
        schema.LEAD_ID, schema.ACTIVITY_TYPE, schema.DETAIL, schema.OCCURRED_AT
    )
    kinds = kinds if kinds is not None else activity_kinds(activities, spec)
    reach = cutoffs.group_by(schema.LEAD_ID).aggregate(
        _last=cutoffs[CUTOFF_AT].max(),
        _from=cutoffs[CUTOFF_AT].min() - ibis.interval(days=spec.lookback_days),
    )
    joined = events.join(reach, events[schema.LEAD_ID] == reach[schema.LEAD_ID])
    joined = joined.filter(
        joined[schema.OCCURRED_AT] > joined._from, joined[schema.OCCURRED_AT] <= joined._last
    )
    joined = joined.join(
        kinds,
        [
            joined[schema.ACTIVITY_TYPE] == kinds[schema.ACTIVITY_TYPE],
            joined[schema.DETAIL].identical_to(kinds[schema.DETAIL]),
        ],
    )
    seen = joined.select(
        joined[schema.LEAD_ID], kinds._kind, _t=epoch_us(joined[schema.OCCURRED_AT])
    )
    return PreparedActivities(
        events=seen,
        kinds=kinds.select("_kind", *[c for c in kinds.columns if c.startswith(("_s_", "_w_"))]),
    )


def activity_kinds(activities: ir.Table, spec: FeatureSpec) -> ir.Table:
    """The distinct (activity_type, detail) of the export's activities, numbered and flagged."""
    return _flag_kinds(
        _countable(activities, spec).select(schema.ACTIVITY_TYPE, schema.DETAIL), spec
    )


def _countable(activities: ir.Table, spec: FeatureSpec) -> ir.Table:
    """The activities features may count: all but the spec's excluded types (sales' own log)."""
    if not spec.exclude_activity_types:
        return activities
    return activities.filter(~activities[schema.ACTIVITY_TYPE].isin(spec.exclude_activity_types))


def _same_day_predecessors(seen: ir.Table, spec: FeatureSpec) -> ir.Table:
    """Per signal counted in distinct days, the time of its previous event on the same UTC date.

    Why: a window's distinct dates are then a plain sum - an event starts a new date in the
    window unless its same-date predecessor is inside the window too - where a distinct count
    over the cutoff-activity pairs costs a hash set per cutoff. The predecessor is a ``lag``
    over the lead's events of that signal, one sort; a running maximum over the lead would
    give the same times through a segment tree, several times the work.
    """
    moment = seen._t
    previous = {}
    for signal in spec.signals:
        if "days" not in signal.stats:
            continue
        fired = seen[f"_s_{signal.name}"] == 1.0
        before = moment.lag().over(group_by=[seen[schema.LEAD_ID], fired], order_by=moment)
        same_date = fired & (before // _US_PER_DAY == moment // _US_PER_DAY)
        previous[f"_p_{signal.name}"] = ibis.ifelse(same_date, before, ibis.null("int64"))
    return seen.mutate(**previous)


def _age_bounds(spec: FeatureSpec) -> list[int]:
    """Ascending window lengths in days, the lookback last: the edges of a pair's age band."""
    windows = {w for s in spec.signals for w in spec.signal_windows(s)}
    windows |= {e.window_days for e in spec.engagement if e.window_days}
    return sorted(windows | {spec.lookback_days})


# Window counts and distinct-date counts share float64 sums, a bit field of ``bits`` bits per
# count. A sum of whole numbers below 2**53 is exact; a pair adds at most +-1 to each field and a
# cutoff has fewer than 2**bits pairs, so the partial sums stay below 2**(bits * fields + 1).
_EXACT_BITS = 52


@dataclass(frozen=True)
class _Field:
    """One count carried in a packed sum: which feature, and where its bits start."""

    feature: str
    signal: str
    window: int
    stat: str  # "count" or "days"
    shift: int


def field_bits(activities: ir.Table, spec: FeatureSpec) -> int:
    """Bits a count field needs: enough for the busiest lead's whole activity count.

    One small query when the features are built, so a lead with a bot's volume of activity
    widens the fields (fewer per sum, a slower aggregate) and never overflows a count. A spec
    with at most one count has nothing to share a sum with and needs no query.
    """
    if len(_packed_sums(spec, _EXACT_BITS)) <= 1:  # one field per sum: a sum per count
        return _EXACT_BITS
    per_lead = activities.group_by(schema.LEAD_ID).aggregate(n=activities.count())
    most = per_lead.n.max().execute()
    return max(1, int(0 if most is None or pd.isna(most) else most).bit_length())


def _packed_sums(spec: FeatureSpec, bits: int) -> dict[str, list[_Field]]:
    """Each packed sum's column and the window and distinct-date counts it carries.

    Why pack: the grouped aggregate is the hot loop and its cost grows with its number of
    sums, not with what a sum holds; the default spec's 57 counts take 15 sums at 12 bits.
    """
    per_sum = max(1, _EXACT_BITS // bits)
    fields = [
        (f"{signal.name}_{stat}_{window}d", signal.name, window, stat)
        for signal in spec.signals
        for window in spec.signal_windows(signal)
        for stat in ("count", "days")
        if stat in signal.stats
    ]
    return {
        f"_c_{start // per_sum}": [
            _Field(*field, shift=bits * i)
            for i, field in enumerate(fields[start : start + per_sum])
        ]
        for start in range(0, len(fields), per_sum)
    }


def _band_key(kind: ir.IntegerValue, band: ir.IntegerValue, bounds: list[int]) -> ir.IntegerValue:
    """The one integer that names a (kind, age band) pair, for the lookup join."""
    return kind.cast("int64") * len(bounds) + band.cast("int64")


def _band_kinds(kinds: ir.Table, spec: FeatureSpec, bits: int) -> ir.Table:
    """What a pair of each (kind, age band) adds to its cutoff's sums, keyed by ``_key``.

    Why a table: a pair's contribution to counts follows from its kind and age band, so the
    pairs look it up with one join instead of computing a product per signal and window.
    A distinct-date count takes its part here too: a firing pair starts a date in window W
    when its age is under W and its same-date predecessor's is not, and as the predecessor
    is never younger, that is ``[predecessor age >= W] - [age >= W]``; the second term is
    this table's, the first the pair's own (:func:`_pair_metrics`).
    """
    bounds = _age_bounds(spec)
    bands = ibis.range(len(bounds)).unnest().name("_band").as_table()
    table = kinds.cross_join(bands)
    band = table._band
    columns: dict[str, ir.Value] = {"_key": _band_key(table._kind, band, bounds)}
    for name, fields in _packed_sums(spec, bits).items():
        value = ibis.literal(0.0)
        for field in fields:
            edge = bounds.index(field.window)
            # a count adds pairs younger than the window; a date takes off those older
            inside = band <= edge if field.stat == "count" else band > edge
            sign = 1.0 if field.stat == "count" else -1.0
            weight = sign * float(2**field.shift)
            value = value + table[f"_s_{field.signal}"] * inside.cast("float64") * weight
        columns[name] = value
    for score in spec.engagement:
        weight = table[f"_w_{score.name}"]
        if score.window_days:
            weight = weight * (band <= bounds.index(score.window_days)).cast("float64")
        columns[f"_w_{score.name}"] = weight
    return table.select(**columns)


def _cutoff_activity_pairs(
    keyed: ir.Table, prepared: PreparedActivities, spec: FeatureSpec, bits: int
) -> ir.Table:
    """(cutoff, age, what the activity adds) for each activity in ``(cutoff - lookback, cutoff]``.

    A left join, so a cutoff without activity in its lookback keeps one row (with empty
    activity columns) and the aggregate gives it its zero counts without a join back.
    Ages are whole microseconds (``_age``; ``_pa_<signal>`` for the same-date predecessor),
    so every window test downstream is exact integer arithmetic.
    """
    events, kinds = prepared.events, prepared.kinds
    # per activity, before the pairs multiply it: same-date predecessors (on narrow rows, as
    # a window sorts whole rows) and, per timed signal, its moment if it fires the signal
    dated = [f"_s_{s.name}" for s in spec.signals if "days" in s.stats]
    seen = _same_day_predecessors(events.join(kinds.select("_kind", *dated), "_kind"), spec)
    timed = [s.name for s in spec.signals if {"recency", "first"} & set(s.stats)]
    fires = kinds.select("_kind", **{f"_f_{name}": kinds[f"_s_{name}"] for name in timed})
    seen = seen.join(fires, "_kind")
    seen = seen.select(
        *[c for c in seen.columns if not c.startswith("_f_")],
        **{
            f"_t_{name}": ibis.ifelse(seen[f"_f_{name}"] == 1.0, seen._t, ibis.null("int64"))
            for name in timed
        },
    )
    lookback = spec.lookback_days * _US_PER_DAY
    joined = keyed.left_join(
        seen,
        [
            keyed[schema.LEAD_ID] == seen[schema.LEAD_ID],
            seen._t <= keyed._cut,
            seen._t > keyed._cut - lookback,
        ],
    )
    age = joined._cut - joined._t
    bounds = _age_bounds(spec)
    band = sum(((age >= w * _US_PER_DAY).cast("int32") for w in bounds[:-1]), ibis.literal(0))
    pairs = joined.select(
        keyed[schema.LEAD_ID],
        keyed[CUTOFF_AT],
        _age=age,
        _key=_band_key(joined._kind, band, bounds),
        **{
            f"_pa_{name[3:]}": joined._cut - joined[name]
            for name in seen.columns
            if name.startswith("_p_")
        },
        **{name: joined[name] for name in seen.columns if name.startswith(("_t_", "_s_"))},
    )
    banded = _band_kinds(kinds, spec, bits).view()
    pairs = pairs.view()  # a relation of its own, not one more link of the join above
    return pairs.left_join(banded, "_key").drop("_key")


def _pair_metrics(pairs: ir.Table, spec: FeatureSpec, bits: int) -> dict[str, ir.Scalar]:
    """The per-cutoff sums, minima and maxima that :func:`_features_of` turns into features.

    Window and distinct-date counts come packed; recency and first-seen are the latest and
    earliest firing moment; all are finished once per cutoff instead of once per pair.
    """
    metrics: dict[str, ir.Scalar] = {}
    for name, fields in _packed_sums(spec, bits).items():
        value = pairs[name]
        for field in fields:
            if field.stat == "days":  # the pair's own term: its predecessor is outside W
                outside = ibis.ifelse(
                    pairs[f"_pa_{field.signal}"] < field.window * _US_PER_DAY,
                    0.0,
                    float(2**field.shift),
                )  # no predecessor (NULL) is outside every window
                value = value + pairs[f"_s_{field.signal}"] * outside
        metrics[name] = value.sum()
    for signal in spec.signals:
        if "recency" in signal.stats:
            metrics[f"{signal.name}_recency_days"] = pairs[f"_t_{signal.name}"].max()
        if "first" in signal.stats:
            metrics[f"{signal.name}_first_days"] = pairs[f"_t_{signal.name}"].min()
    age_days = pairs._age.cast("float64") / _US_PER_DAY
    for score in spec.engagement:
        decay = ibis.literal(0.5) ** (age_days / score.half_life_days)
        metrics[f"engagement_{score.name}"] = (pairs[f"_w_{score.name}"] * decay).sum()
    return metrics


def _features_of(per_cutoff: ir.Table, spec: FeatureSpec, bits: int) -> ir.Table:
    """Per-cutoff aggregates made features: counts unpacked, ages in days, empties zero."""
    features: dict[str, ir.Value] = {}
    cut = epoch_us(per_cutoff[CUTOFF_AT])
    for name, fields in _packed_sums(spec, bits).items():
        total = per_cutoff[name].fill_null(0.0).cast("int64")  # whole numbers below 2**53
        for field in fields:
            count = total
            if len(fields) > 1:  # integer shifts: a float modulo per field costs far more
                count = (total >> field.shift) & (2**bits - 1)
            features[field.feature] = count
    for signal in spec.signals:
        for stat in ("recency", "first"):
            if stat in signal.stats:
                name = f"{signal.name}_{stat}_days"
                age = cut - per_cutoff[name]
                features[name] = age.cast("float64") / _US_PER_DAY
    for score in spec.engagement:
        features[f"engagement_{score.name}"] = per_cutoff[f"engagement_{score.name}"].fill_null(0.0)
    names = spec.activity_feature_names()
    return per_cutoff.select(schema.LEAD_ID, CUTOFF_AT, **{n: features[n] for n in names})


def activity_features(
    cutoffs: ir.Table, activities: ir.Table | PreparedActivities, spec: FeatureSpec
) -> ir.Table:
    """One row per (lead_id, cutoff_at) with every activity feature of the spec.

    A bounded range join: each cutoff meets its lead's activities in ``(cutoff - lookback,
    cutoff]``, and one grouped aggregate of plain sums, minima and maxima turns the pairs
    into features. ``activities`` is the export's table, or what :func:`prepare_activities`
    made of it for (a superset of) these cutoffs. Building the expression runs one small
    query, the busiest lead's activity count, to choose how counts are summed.
    """
    # one row per cutoff, whatever the caller passed: a repeated cutoff would count twice
    distinct = cutoffs.filter(cutoffs[CUTOFF_AT].notnull()).select(schema.LEAD_ID, CUTOFF_AT)
    distinct = distinct.distinct()
    if not spec.activity_feature_names():
        return distinct
    if not isinstance(activities, PreparedActivities):
        bits = field_bits(_countable(activities, spec), spec)
        activities = prepare_activities(cutoffs, activities, spec)
    else:
        bits = activities.bits or field_bits(activities.events, spec)
    keyed = distinct.mutate(_cut=epoch_us(distinct[CUTOFF_AT]))
    pairs = _cutoff_activity_pairs(keyed, activities, spec, bits)
    metrics = _pair_metrics(pairs, spec, bits)
    per_cutoff = pairs.group_by([schema.LEAD_ID, CUTOFF_AT]).aggregate(**metrics)
    return _features_of(per_cutoff, spec, bits)


def feature_table(
    cutoffs: ir.Table,
    leads: ir.Table,
    activities: ir.Table | PreparedActivities,
    spec: FeatureSpec,
) -> ir.Table:
    """(lead_id, cutoff_at, every feature of the spec) for each cutoff, in spec order."""
    attributes = attribute_features(leads, spec)
    table = activity_features(cutoffs, activities, spec)  # one row per cutoff
    table = table.join(attributes, schema.LEAD_ID)
    columns: dict[str, ir.Value] = {a.name: table[a.name] for a in spec.attributes}
    if spec.lead_age:
        columns["lead_age_days"] = _days_between(table[CUTOFF_AT], table[schema.CREATED_AT])
    for name in spec.activity_feature_names():
        columns[name] = table[name]
    for ratio in spec.ratios:
        numerator = columns[ratio.numerator].cast("float64")
        denominator = columns[ratio.denominator].cast("float64")
        columns[ratio.name] = ibis.ifelse(
            denominator == 0, ibis.null("float64"), numerator / denominator
        )
    return table.select(schema.LEAD_ID, CUTOFF_AT, **columns)


def label_table(
    cutoffs: ir.Table, outcomes: ir.Table, spec: FeatureSpec, as_of: pd.Timestamp
) -> ir.Table:
    """(lead_id, cutoff_at, label): SQL within H days after the cutoff; NULL if not yet known."""
    horizon_end = cutoffs[CUTOFF_AT] + ibis.interval(days=spec.sql_within_days)
    joined = cutoffs.mutate(horizon_end=horizon_end).left_join(
        outcomes.select(schema.LEAD_ID, schema.SQL_AT), schema.LEAD_ID
    )
    known = joined.horizon_end <= ibis.literal(as_of, type="timestamp('UTC')")
    converted = joined[schema.SQL_AT].notnull() & (joined[schema.SQL_AT] <= joined.horizon_end)
    label = ibis.ifelse(known, converted.cast("int8"), ibis.null("int8"))
    return joined.select(schema.LEAD_ID, CUTOFF_AT, **{LABEL: label})

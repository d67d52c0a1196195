"""Follow-up deadlines and the sales queue in working hours, beside the wall clock, in one run.

    python benchmarks/bench_deadlines.py [--leads 2000] [--handoffs 100000] [--years 3]

A policy with working hours (``Mon-Fri 09:00-18:00`` on Asia/Tokyo, Japan's public holidays
off; training/model/working_hours.py) counts every deadline the service answers and every wait
the capacity backtest replays on that clock. Printed, each a median of five runs (the day table
kept after the first) beside the wall clock's, and the first run alone:

1. one deadline per lead, as the service counts one per scored lead (``--leads`` moments
   spread over a year): microseconds a lead, and the ratio;
2. the backtest's queue over ``--handoffs`` hand-offs spread over ``--years`` years
   (``queue_waits`` against ``working_queue_waits``): milliseconds, and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

from leadscore.serving.team_clock import follow_up_deadline
from leadscore.training.job.response_delay import queue_waits, working_queue_waits
from leadscore.training.model.policy import Policy
from leadscore.training.model.working_hours import _table  # its cache, cleared for a first run

RUNS = 5


def first_seconds(work) -> float:  # type: ignore[no-untyped-def]
    """Wall time of ``work()`` with no working-hours day table kept yet: a service's first
    lead after a start, or a backtest's first replay."""
    _table.cache_clear()
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def median_seconds(work, runs: int = RUNS) -> float:  # type: ignore[no-untyped-def]
    """Median wall time of ``work()`` over ``runs`` calls (after one warm-up call)."""
    work()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def moments(count: int, days: int, seed: int) -> pd.Series:
    """``count`` UTC moments spread at random over ``days`` days from 2026-01-01, in order."""
    rng = np.random.default_rng(seed)
    offsets = np.sort(rng.uniform(0, days * 86_400, count))
    start = pd.Timestamp("2026-01-01", tz="UTC")
    return pd.Series(start + pd.to_timedelta(offsets.round(), unit="s"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=2_000)
    parser.add_argument("--handoffs", type=int, default=100_000)
    parser.add_argument("--years", type=int, default=3)
    args = parser.parse_args()

    wall = Policy(version=1, kind="capacity", threshold=0.3, sla_hours=8)
    working = wall.amended(
        time_zone="Asia/Tokyo", working_hours="Mon-Fri 09:00-18:00", holidays="JP"
    )
    scored = [m.to_pydatetime() for m in moments(args.leads, 365, seed=1)]
    first = first_seconds(lambda: follow_up_deadline(scored[0], "hand off", working))
    per_lead = {
        name: median_seconds(
            lambda p=policy: [follow_up_deadline(m, "hand off", p) for m in scored]
        )
        / len(scored)
        for name, policy in (("wall clock", wall), ("working hours", working))
    }
    print(f"One deadline per lead ({args.leads:,} leads over a year), median of {RUNS} runs")
    for name, seconds in per_lead.items():
        print(f"  {name:<14} {seconds * 1e6:8.1f} us a lead")
    print(
        f"  working hours / wall clock: {per_lead['working hours'] / per_lead['wall clock']:.1f}x"
    )
    print(f"  working hours, the first lead (its day table built): {first * 1e3:.1f} ms")

    handed_at = moments(args.handoffs, 365 * args.years, seed=2)
    per_week = args.handoffs / (52 * args.years) * 0.9  # a queue that builds in busy weeks
    clock = working.working_clock()
    first = first_seconds(lambda: working_queue_waits(handed_at, per_week, clock))
    queue = {
        "wall clock": median_seconds(lambda: queue_waits(handed_at, per_week)),
        "working hours": median_seconds(lambda: working_queue_waits(handed_at, per_week, clock)),
    }
    print(
        f"\nThe backtest's queue, {args.handoffs:,} hand-offs over {args.years} years at "
        f"{per_week:,.0f} a week, median of {RUNS} runs"
    )
    for name, seconds in queue.items():
        print(f"  {name:<14} {seconds * 1e3:8.1f} ms")
    print(f"  working hours / wall clock: {queue['working hours'] / queue['wall clock']:.1f}x")
    print(f"  working hours, the first replay (its day table built): {first * 1e3:.1f} ms")


if __name__ == "__main__":
    main()

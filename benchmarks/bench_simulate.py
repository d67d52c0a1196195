"""How long the synthetic MA world takes to make and write, and how much memory it needs.

    python benchmarks/bench_simulate.py                  # 1M leads, about 50M activities
    python benchmarks/bench_simulate.py --leads 100000   # a quicker look

Prints one small table: leads, activities, simulate and write wall seconds, activities per second
(simulate + write) and peak RSS of this process. Files go to --out, or to a temporary folder
that is removed afterwards.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from leadscore.features.synthetic import simulate, write_world  # noqa: E402


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(leads: int, seed: int, out: Path) -> dict[str, float]:
    started = time.perf_counter()
    world = simulate(leads, seed)
    simulated = time.perf_counter() - started
    started = time.perf_counter()
    write_world(world, out)
    written = time.perf_counter() - started
    activities = len(world.activities)
    return {
        "leads": leads,
        "activities": activities,
        "simulate_s": simulated,
        "write_s": written,
        "activities_per_s": activities / (simulated + written),
        "peak_rss_mb": peak_rss_mb(),
        "sql_rate": float(world.outcomes["sql_at"].notna().mean()),
    }


def print_table(figures: dict[str, float]) -> None:
    rows = [
        ("leads", f"{figures['leads']:,}"),
        ("activities", f"{figures['activities']:,}"),
        ("simulate wall s", f"{figures['simulate_s']:.1f}"),
        ("write wall s", f"{figures['write_s']:.1f}"),
        ("activities/s", f"{figures['activities_per_s']:,.0f}"),
        ("peak RSS MB", f"{figures['peak_rss_mb']:,.0f}"),
        ("SQL rate", f"{figures['sql_rate']:.3f}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value:>14}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000, help="leads to simulate")
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    parser.add_argument("--out", type=Path, default=None, help="folder for the files (kept)")
    args = parser.parse_args()
    if args.out is not None:
        print_table(run(args.leads, args.seed, args.out))
        return
    with tempfile.TemporaryDirectory(prefix="bench_simulate_") as tmp:
        print_table(run(args.leads, args.seed, Path(tmp)))


if __name__ == "__main__":
    main()

"""A Japanese export and its English twin (issue 18): same world, same model, and load speed.

    python benchmarks/bench_japanese.py [--leads 10000] [--seed 7] [--load-leads 100000]

One simulated world is written twice (:mod:`features.japanese`): as a Japanese MA tool writes
it (CP932, CRLF, Japanese headers for every column, the contract's included, Japanese levels
and activity names, Tokyo times as ``2026/04/06 09:29:00`` without a zone) and as its English
twin (UTF-8, ISO 8601 UTC). Each trains with one ``leadscore train`` command in a subprocess
(the Japanese one with ``--timezone Asia/Tokyo`` and ``--column`` for the contract's headers;
the twin with ``--timezone Asia/Tokyo`` too, so both read creation hours on the same clock). It
prints both runs' out-of-time test AUC per layer side by side (they should be equal) and each
run's wall time.

Then the load time of the contract (read, decode, parse times, validate) per million rows,
median of three, for a larger world written both ways: the cost of detecting the encoding and
reading slash dates, as a ratio to the English twin.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from leadscore.features.contract import load_export
from leadscore.features.japanese import JAPANESE_FILES, column_options, write_files
from leadscore.features.reading import ExportFormat
from leadscore.features.synthetic import simulate
from leadscore.training.model.artifact import load_model

LEADSCORE = str(Path(sys.executable).with_name("leadscore"))
LANGUAGES = ("ja", "en")


def train(paths: dict[str, Path], out: Path, language: str) -> float:
    """One `leadscore train` on the files as written; wall seconds."""
    command = [
        LEADSCORE, "train", "--leads", str(paths["leads"]),
        "--activities", str(paths["activities"]), "--outcomes", str(paths["outcomes"]),
        "--out", str(out), "--timezone", "Asia/Tokyo",
    ]  # fmt: skip
    for option in column_options(language):
        command += ["--column", option]
    started = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        raise SystemExit(f"leadscore train ({language}) failed:\n{run.stdout}\n{run.stderr}")
    return seconds


def load_seconds_per_million(paths: dict[str, Path], language: str, repeats: int = 3) -> float:
    """Median seconds to load the export through the contract, per million rows read."""
    fmt = ExportFormat(
        time_zone=JAPANESE_FILES.time_zone if language == "ja" else "UTC",
        columns=dict(option.split("=", 1) for option in column_options(language)),
    )
    times, rows = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        export = load_export(paths["leads"], paths["activities"], paths["outcomes"], fmt)
        times.append(time.perf_counter() - started)
        rows = len(export.leads) + len(export.activities) + len(export.outcomes)
    return statistics.median(times) / rows * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--load-leads", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-japanese-") as tmp:
        root = Path(tmp)
        world = simulate(args.leads, args.seed)
        figures = {}
        for language in LANGUAGES:
            paths = write_files(world, root / language / "export", language)
            seconds = train(paths, root / language / "run", language)
            metrics = load_model(root / language / "run" / "model").metadata["test_metrics"]
            figures[language] = {
                **{f"auc_{layer}": m["roc_auc"] for layer, m in metrics.items()},
                "train_seconds": seconds,
            }
        table = pd.DataFrame(figures)
        table["ja - en"] = table["ja"] - table["en"]
        print(f"\nOne world of {args.leads:,} leads, seed {args.seed}: out-of-time test AUC")
        print(table.to_string(float_format=lambda v: f"{v:.4f}"))

        big = simulate(args.load_leads, args.seed + 1)
        loads = {}
        for language in LANGUAGES:
            paths = write_files(big, root / f"load-{language}", language)
            loads[language] = load_seconds_per_million(paths, language)
        print(
            f"\nLoad through the contract, {args.load_leads:,} leads with their activities "
            "(median of 3, seconds per million rows):"
        )
        for language in LANGUAGES:
            print(f"  {language}: {loads[language]:.2f} s")
        print(f"  ratio ja / en: {loads['ja'] / loads['en']:.2f}")


if __name__ == "__main__":
    main()

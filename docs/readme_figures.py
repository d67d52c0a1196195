"""Regenerate the README's tour and every example output in it, from one fresh run.

Why a script: figures copied into a README by hand drift from what a fresh run prints (the
README once showed rules AUC 0.6597 and a curl answer of p 0.362 where a fresh run gave 0.6090
and 0.077). Here the five-minute tour is one list of commands (:data:`TOUR`); ``make
docs-figures`` runs exactly those commands under ``tour/`` (ignored by git), then rewrites each
README block fenced by ``<!-- figure: NAME -->`` ... ``<!-- /figure -->`` with what the run
printed. The tour's ``explain`` step names the hottest lead of the run's own scores, so the
tour starts from a lead that is actually hot.

    python docs/readme_figures.py            # run the tour, rewrite README.md
    python docs/readme_figures.py --check    # only say which blocks would change (exit 1 if any)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TOUR_DIR = "tour"  # every file the tour writes is under this folder; .gitignore covers it
HOT_LEAD = "{hot_lead}"  # the tour's explain step: filled in with the run's hottest lead
WIDTH = "110"  # the terminal width the tables are printed at
PORT = 3123

# The tour, as the README shows it and as this script runs it (``leadscore`` is the venv's).
TOUR: tuple[str, ...] = (
    f"simulate --out {TOUR_DIR}/world --leads 20000 --seed 7",
    f"validate --leads {TOUR_DIR}/world/leads.parquet --activities {TOUR_DIR}/world/activities.parquet --outcomes {TOUR_DIR}/world/outcomes.parquet",
    f"spec infer --leads {TOUR_DIR}/world/leads.parquet --activities {TOUR_DIR}/world/activities.parquet --out {TOUR_DIR}/my_spec.yaml",
    f"features build --warehouse {TOUR_DIR}/world/world.duckdb --out {TOUR_DIR}/training",
    f"features build --warehouse {TOUR_DIR}/world/world.duckdb --spec {TOUR_DIR}/my_spec.yaml --out {TOUR_DIR}/training_mine",
    f"rules evaluate --training-set {TOUR_DIR}/training/training_set.parquet",
    f"rules suggest --training-set {TOUR_DIR}/training/training_set.parquet --out {TOUR_DIR}/suggested.yaml",
    f"train --training-set {TOUR_DIR}/training/training_set.parquet --out {TOUR_DIR}/run",
    f"score --model {TOUR_DIR}/run/model --leads {TOUR_DIR}/world/leads.parquet --activities {TOUR_DIR}/world/activities.parquet --output {TOUR_DIR}/scores.csv",
    f"promote --tracking-uri sqlite:///{TOUR_DIR}/run/mlflow.db",
    f"explain --model {TOUR_DIR}/run/model --lead-id {HOT_LEAD} --leads {TOUR_DIR}/world/leads.parquet --activities {TOUR_DIR}/world/activities.parquet --lang ja --out {TOUR_DIR}/sheet.html",
    f"tune-threshold --model {TOUR_DIR}/run/model --capacity 200/week",
    f"serve --model {TOUR_DIR}/run/model --port 3000",
)  # fmt: skip
DEMO = f"demo --out {TOUR_DIR}/demo --leads 3000 --port {PORT + 1}"
BLOCK = re.compile(r"(<!-- figure: (?P<name>[\w-]+) -->\n```(?P<lang>\w*)\n)(?P<body>.*?)(```\n<!-- /figure -->)", re.S)  # fmt: skip


def tour_block(hot_lead: str) -> str:
    """The tour as README shows it: one ``.venv/bin/leadscore`` line per step."""
    return "".join(f".venv/bin/leadscore {step.replace(HOT_LEAD, hot_lead)}\n" for step in TOUR)


def written_paths(step: str) -> list[str]:
    """What a tour step writes (its --out/--output), so a test can hold them under the folder."""
    words = shlex.split(step)
    return [words[i + 1] for i, word in enumerate(words[:-1]) if word in ("--out", "--output")]


def table_titled(output: str, title: str) -> str:
    """The rich table whose title line holds ``title``, from its title to its bottom border and
    its caption (the centred lines under the border; what the command prints next starts at
    the margin)."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if title in line)
    end = next(i for i in range(start, len(lines)) if lines[i].lstrip().startswith("└"))
    tail = end + 1
    while tail < len(lines) and lines[tail].startswith(" ") and lines[tail].strip():
        tail += 1
    return "\n".join(line.rstrip() for line in lines[start:tail]) + "\n"


def top_leads_table(output: str, rows: int = 5) -> str:
    """The demo's closing table of leads to call first: its header and the first lead's lines."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "┃ lead_id" in line) - 1
    body, leads = [], 0
    for line in lines[start:]:
        if line.startswith("│") and line[1:].strip()[:1].isdigit():
            leads += 1
            if leads > 1:
                break
        if line.startswith("└"):
            break
        body.append(line.rstrip())
    return "\n".join(body[: 3 + rows]) + "\n"


def abridged(answer: dict) -> str:
    """A /score answer as README shows it: every field, lists cut to their first entries."""

    def show(value: object) -> str:
        return json.dumps(_rounded(value), ensure_ascii=False)

    def first(items: list, n: int, indent: int) -> str:
        shown = (",\n" + " " * indent).join(show(item) for item in items[:n])
        return f"[{shown}{', ...' if len(items) > n else ''}]"

    head = ["lead_id", "as_of", "p_sql", "score"]
    mid = ["tier", "tier_meaning", "grade", "decision", "instant_pass"]
    tail = ["threshold", "policy_version", "rule_points"]
    clock = ["follow_up_by", "follow_up_by_text", "time_zone"]
    text = answer["reasons_text"].split(" / ")
    return (
        "{" + ", ".join(f'"{k}": {show(answer[k])}' for k in head) + ",\n "
        + ", ".join(f'"{k}": {show(answer[k])}' for k in mid) + ",\n "
        + ", ".join(f'"{k}": {show(answer[k])}' for k in tail) + ",\n "
        + f'"rule_breakdown": {first(answer["rule_breakdown"], 2, 20)},\n '
        + f'"reasons": {{"positive": {first(answer["reasons"]["positive"], 2, 26)},\n'
        + f'             "negative": {first(answer["reasons"]["negative"], 1, 26)}}},\n '
        + f'"reasons_text": {show(" / ".join(text[:2]) + (" / ..." if len(text) > 2 else ""))},\n '
        + ", ".join(f'"{k}": {show(answer[k])}' for k in clock) + ",\n "
        + f'"lang": {show(answer["lang"])}, "model_version": {show(answer["model_version"])}}}\n'
    )  # fmt: skip


def _rounded(value: object) -> object:
    """Floats as a reader takes them in: four significant digits."""
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return value


def leadscore(step: str) -> str:
    """Run one CLI step from the repository root; its output, or stop with it."""
    command = [str(Path(sys.executable).with_name("leadscore")), *shlex.split(step)]
    print(f"$ leadscore {step}", flush=True)
    env = {**os.environ, "COLUMNS": WIDTH, "NO_COLOR": "1", "TERM": "dumb"}
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"`leadscore {step}` failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def hottest_lead(scores: Path) -> str:
    import pandas as pd

    table = pd.read_csv(scores).dropna(subset=["p_sql"])
    return str(table.sort_values(["p_sql"], ascending=False)["lead_id"].iloc[0])


def curl_answer(readme: str) -> str:
    """Serve the tour's model and post the README's own curl body to it."""
    call = re.search(r"curl -s http://127.0.0.1:3000/score -H 'content-type: application/json' -d '(.*?)'\n", readme, re.S)  # fmt: skip
    if call is None:
        sys.exit("README.md: the curl example of /score is not where it was")
    body = call.group(1).encode()
    command = [str(Path(sys.executable).with_name("leadscore")), "serve",
               "--model", f"{TOUR_DIR}/run/model", "--port", str(PORT)]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/readyz", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit("the tour's model did not serve")
                time.sleep(1)
        request = urllib.request.Request(
            f"http://127.0.0.1:{PORT}/score", body, {"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return abridged(json.load(response))
    finally:
        server.terminate()
        server.wait(timeout=60)


def figures() -> dict[str, Callable[[str], str]]:
    """Run the tour and the 3,000-lead demo; each README block's new text, by block name.

    The tour folder is emptied first, as a fresh checkout has none: a tour run before would
    leave its MLflow registry behind, and each run would print the next model version."""
    shutil.rmtree(ROOT / TOUR_DIR, ignore_errors=True)
    printed: dict[str, str] = {}
    hot = ""
    for step in TOUR:
        if step.startswith("serve"):
            continue  # the curl figure serves the same model in the background
        if HOT_LEAD in step:
            hot = hottest_lead(ROOT / TOUR_DIR / "scores.csv")
        printed.setdefault(step.split(" --")[0], leadscore(step.replace(HOT_LEAD, hot)))
    demo = leadscore(DEMO)
    return {
        "tour": lambda _: tour_block(hot),
        "train-test-table": lambda _: table_titled(printed["train"], "Out-of-time test period"),
        "features-profile": lambda _: table_titled(printed["features build"], "Training set"),
        "demo-top-leads": lambda _: top_leads_table(demo),
        "score-answer": curl_answer,
    }


def rewrite(readme: str, made: dict[str, Callable[[str], str]]) -> tuple[str, list[str]]:
    """README with every known block replaced; the names of the blocks that changed."""
    changed: list[str] = []
    names = [m.group("name") for m in BLOCK.finditer(readme)]
    unknown = sorted(set(names) - set(made))
    if unknown:
        sys.exit(f"README.md: no figure called {', '.join(unknown)} (known: {', '.join(made)})")

    def replace(match: re.Match[str]) -> str:
        body = made[match.group("name")](readme)
        if body != match.group("body"):
            changed.append(match.group("name"))
        return match.group(1) + body + match.group(5)

    return BLOCK.sub(replace, readme), changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report changes, write nothing")
    args = parser.parse_args()
    made = figures()  # long: the README is read after, so edits made meanwhile are kept
    text, changed = rewrite(README.read_text(encoding="utf-8"), made)
    print("changed: " + (", ".join(changed) or "nothing"))
    if args.check:
        sys.exit(1 if changed else 0)
    README.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

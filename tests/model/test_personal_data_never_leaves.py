"""A Japanese company's export with names, phones, addresses and emails in every form trains,
scores and explains, and not one personal value is written anywhere.

The export is a UTF-8 CSV as a web form and a CRM write it: ``氏名`` and ``フリガナ``,
``電話番号`` with dashes, ``tel_no`` as bare digits, ``代表電話`` as Excel saves a phone (a
number without its leading 0), ``携帯``, ``住所``, ``郵便番号``, an English
``email`` and an email hidden in a column called ``contact``. After the one-command train, a
score and a hand-off sheet, every file the run wrote (training set, model directory, MLflow
store and artifacts, scores, sheet) and everything printed is searched byte by byte for each
of those values, in every form a program could have written it.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from leadscore.features.dialects import rewrite
from leadscore.features.synthetic import simulate

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("personal_data")]

ROOT = Path(__file__).resolve().parents[2]
SURNAMES = [("山田", "ヤマダ"), ("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"),
            ("田中", "タナカ"), ("伊藤", "イトウ"), ("渡辺", "ワタナベ")]  # fmt: skip
GIVEN = [("太郎", "タロウ"), ("花子", "ハナコ"), ("健一", "ケンイチ"), ("美咲", "ミサキ"),
         ("翔太", "ショウタ"), ("陽子", "ヨウコ"), ("大輔", "ダイスケ")]  # fmt: skip
WARDS = ["千代田区丸の内", "港区六本木", "新宿区西新宿", "渋谷区道玄坂"]
# columns of the simulated world that are personal data, beside the Japanese ones added here;
# its first and last names are drawn from short lists in its source ("Ann", "Wei"), too common
# as text to search for, so the names searched for are the Japanese ones, each unique
WORLD_PERSONAL = ("email", "phone")
WORLD_NAMES = ("first_name", "last_name")


def personal_columns(accounts: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    """One person per lead, in the forms Japanese forms and CRMs use. The office's main line,
    address and postcode are shared by the leads of one account, as in a real export: a value
    that repeats is not unique per lead, so only its recognition as personal data keeps it
    out of the features."""
    n = len(accounts)
    office = pd.factorize(accounts)[0]
    names = [(SURNAMES[s], GIVEN[g]) for s, g in rng.integers(0, 7, (n, 2))]
    line = rng.integers(1000, 10000, n)
    return pd.DataFrame(
        {
            "氏名": [f"{s[0]} {g[0]}{i}" for i, (s, g) in enumerate(names)],
            "フリガナ": [f"{s[1]} {g[1]}{i}" for i, (s, g) in enumerate(names)],
            "電話番号": [f"03-{5000 + o:04d}-{1000 + o % 9000}" for o in office],
            # the main line as Excel saved it: a number, its leading 0 gone
            "代表電話": [f"6{5000 + o:04d}{2000 + o % 8000}" for o in office],
            "tel_no": [f"06{6000 + i:04d}{x}" for i, x in enumerate(line)],
            "携帯": [f"090{7000 + i:04d}{x}" for i, x in enumerate(line)],
            "住所": [f"東京都{WARDS[o % 4]}{o % 9 + 1}-{o}-{o % 50}" for o in office],
            "郵便番号": [f"{100 + o % 800:03d}-{1000 + o:04d}" for o in office],
            "contact": [f"k.tanaka{i}.{x}@mail.example.jp" for i, x in enumerate(line)],
        }
    )


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> tuple[Path, dict[str, Path], dict[str, list[str]]]:
    """(folder, CSV paths, personal values by column) of a 1,200-lead event-mode export."""
    base = tmp_path_factory.mktemp("personal")
    # in a vocabulary of its own, so training infers the spec from the export's columns
    world = rewrite(simulate(1200, seed=41), "ledger")
    people = personal_columns(world.leads["account_id"], np.random.default_rng(41))
    leads = pd.concat([world.leads.reset_index(drop=True), people], axis=1)
    folder = base / "export"
    folder.mkdir()
    paths = {name: folder / f"{name}.csv" for name in ("leads", "activities", "outcomes")}
    leads.to_csv(paths["leads"], index=False, encoding="utf-8")
    world.activities.to_csv(paths["activities"], index=False, encoding="utf-8")
    world.outcomes.to_csv(paths["outcomes"], index=False, encoding="utf-8")
    columns = [*WORLD_PERSONAL, *people.columns]
    values = {c: sorted(set(leads[c].dropna().astype(str))) for c in columns}
    return base, paths, values


def leadscore(*args: object, cwd: Path) -> str:
    """Run the CLI as a user does; its stdout and stderr together."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8", "COLUMNS": "200"}
    run = subprocess.run(
        [sys.executable, "-m", "leadscore.cli", *map(str, args)],
        capture_output=True, cwd=cwd, env=env, timeout=1200,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 0, output.decode("utf-8", "replace")[-3000:]
    return output.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def everything_written(export) -> tuple[Path, dict[str, str]]:
    """(folder with all the run wrote, what each command printed) after train, validate,
    score and explain."""
    base, paths, _ = export
    work = base / "work"  # the working directory too: nothing may land beside the user
    work.mkdir()
    run = work / "run"
    files = ["--leads", paths["leads"], "--activities", paths["activities"]]
    printed = {}
    printed["train"] = leadscore("train", *files, "--outcomes", paths["outcomes"], "--out", run,
                        "--tracking-uri", f"sqlite:///{run / 'mlflow.db'}", cwd=work)  # fmt: skip
    printed["validate"] = leadscore("validate", *files, "--outcomes", paths["outcomes"], cwd=work)
    printed["score"] = leadscore("score", "--model", run / "model", *files, "--output",
                         work / "scores.csv", cwd=work)  # fmt: skip
    lead_id = pd.read_csv(paths["leads"], usecols=["lead_id"], nrows=1)["lead_id"].iloc[0]
    printed["explain"] = leadscore("explain", "--model", run / "model", "--lead-id", lead_id,
                                   *files, "--out", work / "sheet.json", cwd=work)  # fmt: skip
    return work, printed


def written_forms(column: str, value: str) -> list[bytes]:
    """Every way a program could have written `value`: as UTF-8, as JSON escapes it, and for a
    phone its digits, as text, as an integer and as a float (a CRM's phone typed as a number
    loses its leading 0)."""
    forms = [value.encode(), json.dumps(value)[1:-1].encode()]
    digits = re.sub(r"\D", "", value)
    if column in ("電話番号", "代表電話", "tel_no", "携帯", "phone") and digits:
        number = int(digits)
        forms += [digits.encode(), str(number).encode(), f"{float(number)!r}".encode(),
                  struct.pack("<q", number), struct.pack("<d", float(number))]  # fmt: skip
    return list(dict.fromkeys(forms))


def _trie(needles: list[bytes]) -> bytes:
    """One regular expression for many needles, shaped as their prefix tree: searching a file
    for thousands of values then costs about one pass."""
    tree: dict = {}
    for needle in needles:
        node = tree
        for byte in needle:
            node = node.setdefault(byte, {})
        node[None] = {}

    def pattern(node: dict) -> bytes:
        branches = [
            re.escape(bytes([b])) + pattern(child) for b, child in node.items() if b is not None
        ]
        if not branches:
            return b""
        body = branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"
        if None in node:
            return b"(?:" + body + b")?"
        return body

    return pattern(tree)


def finder(values: dict[str, list[str]]) -> tuple[re.Pattern, re.Pattern, dict[bytes, str]]:
    """Patterns for digit forms (not part of a longer number) and for the other forms, and
    the column each form comes from; a finding names the column, never the value."""
    column_of: dict[bytes, str] = {}
    for column, column_values in values.items():
        for value in column_values:
            for form in written_forms(column, value):
                column_of.setdefault(form, column)
    digits = [f for f in column_of if f.isdigit() or re.fullmatch(rb"\d+\.\d+", f)]
    others = [f for f in column_of if f not in set(digits)]
    return (
        re.compile(rb"(?<![0-9])" + _trie(digits) + rb"(?![0-9])"),
        re.compile(_trie(others), re.DOTALL),
        column_of,
    )


def readable_copies(path: Path) -> list[bytes]:
    """A file's bytes, and for Parquet (compressed pages) its decoded rows and metadata."""
    raw = path.read_bytes()
    copies = [raw]
    if raw[:4] == b"PAR1":
        table = pq.read_table(path)
        copies.append(table.to_pandas().to_csv().encode())
        copies.append(str(table.schema.metadata).encode())
    return copies


def leaks(text: bytes, patterns: tuple[re.Pattern, re.Pattern, dict[bytes, str]]) -> set[str]:
    digits, others, column_of = patterns
    return {column_of[m.group()] for p in (digits, others) for m in p.finditer(text)}


def test_the_export_carries_personal_data_in_every_form_the_test_searches_for(export):
    """The search itself: it finds each column's values in the export it was given."""
    _, paths, values = export
    patterns = finder(values)
    assert leaks(paths["leads"].read_bytes(), patterns) == set(values)
    as_numbers = pd.DataFrame({"tel_no": [int(values["tel_no"][0])]})  # a CRM's typed phone
    assert leaks(as_numbers.to_json().encode(), patterns) == {"tel_no"}


def test_no_personal_value_is_written_to_any_file_or_printed(export, everything_written):
    _, _, values = export
    work, printed = everything_written
    patterns = finder(values)
    files = [p for p in sorted(work.rglob("*")) if p.is_file()]
    assert {"mlflow.db", "scorer.joblib", "training_set.parquet", "scores.csv"} <= {
        p.name for p in files
    }
    assert any("mlartifacts" in p.parts for p in files)
    found = {
        str(path.relative_to(work)): sorted(columns)
        for path in files
        if (columns := set().union(*(leaks(copy, patterns) for copy in readable_copies(path))))
    }
    assert found == {}, f"personal data written (file: columns): {found}"
    said = {command: leaks(text.encode(), patterns) for command, text in printed.items()}
    assert said == {command: set() for command in printed}, "personal data printed"


def test_the_run_said_which_columns_it_left_out_as_personal_data(export, everything_written):
    _, _, values = export
    _, printed = everything_written
    said = " ".join(printed["validate"].split())
    named = re.search(r"personal data \(never used as features\): (.*?)(?: note:|$)", said)
    assert named is not None, "validate names the personal data columns"
    assert set(named.group(1).split(", ")) == {*values, *WORLD_NAMES}

"""The command line as a data scientist meets it: help first, then their own export."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.features.spec import load_spec

runner = CliRunner()


def command_paths() -> list[list[str]]:
    """Every command and sub-command the CLI registers, found from the app itself."""
    import typer.main

    def walk(group, prefix: list[str]) -> list[list[str]]:  # type: ignore[no-untyped-def]
        paths = [prefix]
        for name, command in getattr(group, "commands", {}).items():
            paths += walk(command, [*prefix, name])
        return paths

    return walk(typer.main.get_command(app), [])


COMMANDS = command_paths()


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, [str(a) for a in args])


def as_read(text: str) -> str:
    """Help text as a reader takes it in: no panel borders, no code ticks, lines rejoined."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text.replace("`", "")).split())


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "leadscore")
def test_every_command_explains_itself(command):
    """`--help` shows what the command is for, every option with its own words, and every
    sub-command: an option added without help, or help that no longer prints, fails here."""
    import click
    import typer.main

    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert result.output.lstrip().startswith(f"Usage: leadscore {' '.join(command)}".rstrip())
    shown = as_read(result.output)
    found = typer.main.get_command(app)
    for name in command:
        found = found.commands[name]
    purpose = as_read((found.help or "").split("\n\n")[0])
    assert purpose and purpose in shown, f"the help does not say what it is for: {purpose!r}"
    for option in found.params:
        if isinstance(option, click.Option) and not option.hidden:
            assert option.help, f"{option.opts[-1]} has no help text"
            assert as_read(option.help) in shown, f"{option.opts[-1]}'s help is not shown"
            assert any(name in shown for name in option.opts), option.opts
    for name in getattr(found, "commands", {}):
        assert name in shown, f"sub-command {name} is not listed"


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export")
    result = invoke("simulate", "--out", out, "--leads", 1500, "--seed", 11)
    assert result.exit_code == 0, result.output
    return out


def test_simulate_writes_parquet_and_a_duckdb_warehouse(export):
    for name in ("leads", "activities", "outcomes", "truth"):
        assert (export / f"{name}.parquet").exists()
    assert (export / "world.duckdb").exists()
    assert len(pd.read_parquet(export / "leads.parquet")) == 1500


def test_validate_summarises_a_good_export_and_names_personal_data(export):
    result = invoke(
        "validate", "--leads", export / "leads.parquet", "--activities",
        export / "activities.parquet", "--outcomes", export / "outcomes.parquet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1,500" in result.output
    assert "email, first_name, last_name, phone" in result.output
    assert "@example.com" not in result.output


def test_a_bad_export_gets_one_clear_line_not_a_traceback(tmp_path):
    leads = tmp_path / "leads.csv"
    leads.write_text("lead_id,created_at\n1,2025-01-01\n1,2025-01-02\n")
    result = invoke("validate", "--leads", leads)
    assert result.exit_code == 2
    assert "duplicate lead_id" in result.output
    assert "Traceback" not in result.output


def test_a_flat_mode_option_without_label_is_refused_not_ignored(tmp_path):
    """An order column given in event mode would silently leave the split to file order."""
    leads = tmp_path / "crm.csv"
    leads.write_text("id,n,Converted\na,2,1\nb,1,0\n")
    for command in (["validate"], ["spec", "infer", "--out", str(tmp_path / "s.yaml")]):
        result = invoke(*command, "--leads", leads, "--order-column", "n")
        assert result.exit_code == 2, result.output
        assert "flat mode only" in result.output and "Traceback" not in result.output
    result = invoke("validate", "--leads", leads, "--label", "Converted", "--order-column", "n")
    assert result.exit_code == 0 and "'n' orders the leads in time" in result.output


def test_features_build_from_the_warehouse_writes_training_set_and_profile(export, tmp_path):
    result = invoke("features", "build", "--warehouse", export / "world.duckdb", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    rows = pd.read_parquet(tmp_path / "training_set.parquet")
    profile = json.loads((tmp_path / "profile.json").read_text())
    assert set(profile["splits"]) >= {"train", "validation", "test"}
    assert sum(s["rows"] for s in profile["splits"].values()) == len(rows)
    assert "department" in profile["top_categories"]
    assert "email" not in rows.columns and "company" not in rows.columns


def test_files_and_warehouse_give_the_same_training_set(export, tmp_path):
    from_files = tmp_path / "files"
    result = invoke(
        "features", "build", "--leads", export / "leads.parquet", "--activities",
        export / "activities.parquet", "--outcomes", export / "outcomes.parquet",
        "--out", from_files,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    from_warehouse = tmp_path / "warehouse"
    invoke("features", "build", "--warehouse", export / "world.duckdb", "--out", from_warehouse)
    pd.testing.assert_frame_equal(
        pd.read_parquet(from_files / "training_set.parquet"),
        pd.read_parquet(from_warehouse / "training_set.parquet"),
        check_dtype=False,
    )


def test_an_inferred_spec_is_readable_leaves_out_personal_data_and_builds(export, tmp_path):
    spec_path = tmp_path / "spec.yaml"
    result = invoke(
        "spec", "infer", "--leads", export / "leads.parquet", "--activities",
        export / "activities.parquet", "--out", spec_path,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = spec_path.read_text()
    assert "email: personal data" in text
    assert "account_id: an identifier" in text
    assert "sales_call: sales-side activity" in text
    spec = load_spec(spec_path)
    columns = {a.column for a in spec.attributes}
    assert {"department", "job_level", "source"} <= columns
    assert not columns & {"email", "first_name", "last_name", "phone", "company", "account_id"}
    department = next(a for a in spec.attributes if a.column == "department")
    assert department.aliases.get("i.t.") == "it"
    assert any(s.detail == "/pricing*" for s in spec.signals)
    result = invoke(
        "features", "build", "--warehouse", export / "world.duckdb", "--spec", spec_path,
        "--out", tmp_path / "built",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_a_spec_with_a_mistake_names_the_field(export, tmp_path):
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text("windows: [7, 30]\nsignals:\n  - {name: Pricing, activity_types: []}\n")
    result = invoke(
        "features", "build", "--warehouse", export / "world.duckdb", "--spec", spec_path,
        "--out", tmp_path / "built",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "signals.0.activity_types" in result.output
    assert "Traceback" not in result.output


def test_rules_that_match_nothing_are_warned_about_by_evaluate_and_suggest(export, tmp_path):
    """A rule for an activity this export lacks is said out loud, never silently ignored."""
    import yaml

    from leadscore.cli import DEFAULT_RULEBOOK

    raw = yaml.safe_load(DEFAULT_RULEBOOK.read_text())
    raw["rules"].append(
        {"name": "podcast_listened", "activity": {"type": "podcast_play"}, "points": 10}
    )
    rulebook = tmp_path / "rulebook.yaml"
    rulebook.write_text(yaml.safe_dump(raw, allow_unicode=True))
    built = invoke("features", "build", "--warehouse", export / "world.duckdb",
                   "--rulebook", rulebook, "--out", tmp_path / "training")  # fmt: skip
    assert built.exit_code == 0, built.output
    training_set = tmp_path / "training" / "training_set.parquet"
    for command in (
        ["rules", "evaluate", "--training-set", training_set, "--rulebook", rulebook,
         "--split", "all"],
        ["rules", "suggest", "--training-set", training_set, "--rulebook", rulebook,
         "--out", tmp_path / "suggested.yaml"],
    ):  # fmt: skip
        result = invoke(*command)
        assert result.exit_code == 0, result.output
        flat = " ".join(result.output.split())
        assert "warning: rule 'podcast_listened' matches nothing" in flat
        assert "rule 'seminar_attended' matches nothing" not in flat

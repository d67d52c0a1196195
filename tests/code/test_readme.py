"""The README is the first thing a data scientist runs: every command and file it names exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadscore.cli import app

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
CODE = "\n".join(re.findall(r"```.*?```|`[^`\n]+`", README, flags=re.DOTALL))


def command_paths() -> list[tuple[str, ...]]:
    """Sub-command paths of every `leadscore ...` the README shows (options stripped)."""
    paths = set()
    for match in re.finditer(r"leadscore ((?:[a-z][a-z-]* ?)+)", CODE):
        words = tuple(w for w in match.group(1).split() if not w.startswith("-"))
        paths.add(words)
    return sorted(paths)


def cli_commands() -> list[tuple[str, ...]]:
    """Every command a user runs (groups such as `leadscore spec` only hold commands)."""
    import typer.main

    def walk(group, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:  # type: ignore[no-untyped-def]
        inner = getattr(group, "commands", None)
        if not inner:
            return [prefix]
        return [path for name, command in inner.items() for path in walk(command, (*prefix, name))]

    return sorted(walk(typer.main.get_command(app), ()))


def test_the_readme_shows_every_command_the_cli_has():
    """A command added to the CLI gets a line in the README; one removed leaves it."""
    assert command_paths() == cli_commands()


@pytest.mark.parametrize("path", command_paths(), ids=" ".join)
def test_every_readme_command_exists(path):
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, f"`leadscore {' '.join(path)}` from the README: {result.output}"


FOLDERS = "features|benchmarks|training|serving|notebooks|docs|tests"
NAMED = sorted(set(re.findall(rf"\b((?:{FOLDERS})/[\w/.-]+\.(?:py|yaml|ipynb|md))", CODE)))


def test_the_readme_names_every_notebook_and_every_english_guide():
    """A notebook or guide the README does not name is one a newcomer never finds."""
    shipped = [*(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "docs" / "en").glob("*.md")]
    assert shipped
    unnamed = [
        p.relative_to(ROOT).as_posix()
        for p in shipped
        if p.relative_to(ROOT).as_posix() not in NAMED
    ]
    assert unnamed == []


@pytest.mark.parametrize("name", NAMED)
def test_every_file_the_readme_names_exists(name):
    assert (ROOT / name).exists(), name

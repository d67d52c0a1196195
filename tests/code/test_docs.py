"""The marketing-ops guides are followed word for word: every command, option and file exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadscore.cli import app

ROOT = Path(__file__).resolve().parents[2]
GUIDES = sorted((ROOT / "docs").rglob("*.md"))
COMMAND = re.compile(r"leadscore ((?:[a-z][a-z-]* ?)+)((?:[^\n`]|\\\n)*)")


def code_of(path: Path) -> str:
    text = path.read_text()
    return "\n".join(re.findall(r"```.*?```|`[^`\n]+`", text, flags=re.DOTALL))


def commands() -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """(guide, sub-command path, options shown) for every `leadscore ...` in the guides."""
    found = set()
    for guide in GUIDES:
        for match in COMMAND.finditer(code_of(guide)):
            words = tuple(w for w in match.group(1).split() if not w.startswith("-"))
            options = tuple(sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", match.group(0)))))
            found.add((guide.relative_to(ROOT).as_posix(), words, options))
    return sorted(found)


def help_text(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, f"`leadscore {' '.join(path)}`: {result.output}"
    return result.output


def test_the_guides_exist_in_japanese_and_english():
    names = {p.relative_to(ROOT / "docs").as_posix() for p in GUIDES}
    assert {"en/marketing-ops.md", "ja/marketing-ops.md"} <= names


def test_the_guides_show_commands():
    for guide in GUIDES:
        assert any(c[0] == guide.relative_to(ROOT).as_posix() for c in commands()), guide


@pytest.mark.parametrize(
    ("guide", "path", "options"),
    commands(),
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else v,
)
def test_every_command_and_option_in_the_guides_exists(guide, path, options):
    shown = help_text(path)
    missing = [o for o in options if o != "--help" and o not in shown]
    assert not missing, f"{guide}: `leadscore {' '.join(path)}` has no {', '.join(missing)}"


def named_files() -> list[tuple[str, str]]:
    folders = "features|benchmarks|training|serving|notebooks|docs"
    pattern = rf"\b((?:{folders})/[\w/.-]+\.(?:py|yaml|ipynb|md))"
    return sorted(
        {
            (guide.relative_to(ROOT).as_posix(), name)
            for guide in GUIDES
            for name in re.findall(pattern, guide.read_text())
        }
    )


@pytest.mark.parametrize(("guide", "name"), named_files())
def test_every_file_the_guides_name_exists(guide, name):
    assert (ROOT / name).exists(), f"{guide} names {name}"


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_links_between_guides_resolve(guide):
    for target in re.findall(r"\]\(([^)#:]+\.md)\)", guide.read_text()):
        assert (guide.parent / target).resolve().exists(), f"{guide.name} links to {target}"


@pytest.mark.parametrize(
    "guide", [g for g in GUIDES if g.name == "marketing-ops.md"],
    ids=lambda p: p.relative_to(ROOT).as_posix(),
)  # fmt: skip
def test_the_rulebook_fields_the_guides_explain_are_the_real_ones(guide):
    from leadscore.training.model.rulebook import Grades, InstantPass, Rule, Rulebook

    models = (Rule, InstantPass, Rulebook, Grades)
    fields = {name for model in models for name in model.model_fields} | {"in"}
    table = re.search(r"^\| (?:field|項目) \|.*?\n\n", guide.read_text(), re.MULTILINE | re.DOTALL)
    assert table, f"{guide.name} has no table of rulebook fields"
    explained = set(re.findall(r"^\| `([a-z_.]+)`", table.group(0), flags=re.MULTILINE))
    unknown = sorted(n for n in explained if not set(n.split(".")) <= fields)
    assert len(explained) >= 10 and not unknown, f"{guide.name}: no such fields {unknown}"

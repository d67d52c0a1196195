"""The README's architecture map is the newcomer's floor plan: it lists every module of the
product, in its room, and nothing that is not there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROOMS = (
    "features",
    "features/synthetic",
    "training/model",
    "training/job",
    "serving",
    "leadscore/cli",
)


def mapped_modules() -> set[str]:
    """Each ``folder/`` line of the map opens a room; each ``└─ name`` below it is a file."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]
    found, room = set(), ""
    for line in block.splitlines():
        if opened := re.match(r"^([\w/]+)/\s", line):
            room = opened.group(1)
        elif entry := re.match(r"^\s+└─ ([\w.]+\.py)\b", line):
            found.add(f"{room}/{entry.group(1)}")
    return found


def product_modules() -> set[str]:
    return {
        str(path.relative_to(ROOT))
        for room in ROOMS
        for path in (ROOT / room).glob("*.py")
        if path.name != "__init__.py" or room == "leadscore/cli"
    }


def test_the_map_lists_every_module_of_every_room():
    assert product_modules() - mapped_modules() == set()


def test_every_module_on_the_map_exists():
    assert {name for name in mapped_modules() if not (ROOT / name).exists()} == set()

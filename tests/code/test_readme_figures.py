"""The README's tour and example outputs are made by one script, and the tour keeps to one
ignored folder: a user who follows it never writes into the package's own folders."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def figures():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "readme_figures", ROOT / "docs" / "readme_figures.py"
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_the_readme_tour_is_the_script_tour(figures):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = {m.group("name"): m.group("body") for m in figures.BLOCK.finditer(readme)}
    assert set(blocks) == {"tour", "train-test-table", "demo-top-leads", "features-profile",
                           "score-answer"}  # fmt: skip
    explain = next(line for line in blocks["tour"].splitlines() if " explain " in line)
    hot = explain.split("--lead-id ")[1].split()[0]
    assert blocks["tour"] == figures.tour_block(hot)


def test_every_tour_step_writes_under_the_ignored_tour_folder(figures):
    written = [path for step in figures.TOUR for path in figures.written_paths(step)]
    assert len(written) >= 7
    assert all(path.startswith(f"{figures.TOUR_DIR}/") for path in written), written
    assert f"/{figures.TOUR_DIR}/" in (ROOT / ".gitignore").read_text().splitlines()
    assert all("--out" not in step or f"{figures.TOUR_DIR}/" in step for step in figures.TOUR)


def test_every_figure_block_is_one_the_script_makes_and_only_those_change(figures):
    readme = "intro\n<!-- figure: tour -->\n```bash\nold\n```\n<!-- /figure -->\nend\n"
    text, changed = figures.rewrite(readme, {"tour": lambda _: "new\n"})
    assert text == "intro\n<!-- figure: tour -->\n```bash\nnew\n```\n<!-- /figure -->\nend\n"
    assert changed == ["tour"]
    assert figures.rewrite(text, {"tour": lambda _: "new\n"}) == (text, [])
    with pytest.raises(SystemExit, match="no figure called tour"):
        figures.rewrite(readme, {"other": lambda _: ""})


def test_a_printed_table_is_cut_from_its_title_to_its_caption(figures):
    table = Table(title="Out-of-time test period", caption="In brackets: 95%, bootstrap")
    for column in ("model", "roc_auc", "95% interval", "pr_auc", "log_loss"):
        table.add_column(column)
    table.add_row("combined", "0.834", "0.81-0.86", "0.1464", "0.0799")
    out = io.StringIO()
    console = Console(file=out, width=100)
    console.print("before")
    console.print(table)
    console.print("after")
    cut = figures.table_titled(out.getvalue(), "Out-of-time test period")
    assert cut.splitlines()[0].strip() == "Out-of-time test period"
    assert "│ combined │ 0.834" in cut
    assert cut.splitlines()[-1].strip() == "In brackets: 95%, bootstrap"
    assert "before" not in cut and "after" not in cut


def test_the_score_answer_is_shown_whole_with_lists_cut(figures):
    answer = {
        "lead_id": "L-1", "as_of": "2026-05-29T00:00:00Z", "p_sql": 0.077, "score": 96,
        "tier": "A", "grade": "B1", "decision": "hand off", "instant_pass": False,
        "threshold": 0.01, "policy_version": 2, "rule_points": 95.0,
        "rule_breakdown": [{"rule": "a", "points": 10.0}, {"rule": "b", "points": 50.0},
                           {"rule": "c", "points": 5.0}],
        "reasons": {"positive": [{"text": "x"}, {"text": "y"}, {"text": "z"}],
                    "negative": [{"text": "n"}]},
        "reasons_text": "+ x / + y / + z / - n", "lang": "ja", "model_version": "1",
        "tier_meaning": "すぐに引き継ぎ", "follow_up_by": "2026-05-30T09:00:00+09:00",
        "follow_up_by_text": "2026年5月30日(土) 9:00 JST", "time_zone": "Asia/Tokyo",
    }  # fmt: skip
    from leadscore.serving.api import ScoreResponse

    assert set(answer) == set(ScoreResponse.model_fields)  # every field the API answers
    shown = figures.abridged(answer)
    assert all(f'"{field}": ' in shown for field in answer)
    assert '"p_sql": 0.077, "score": 96' in shown
    assert '{"rule": "b", "points": 50.0}, ...]' in shown and '"c"' not in shown
    assert '"negative": [{"text": "n"}]}' in shown
    assert '"reasons_text": "+ x / + y / ..."' in shown

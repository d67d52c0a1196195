"""A rep opens the hand-off sheet in a browser: a real headless Chromium renders the page.

What the browser shows is what the rep reads: each tier in its own colour, the Japanese page in
Japanese with the deadline on Tokyo time, and whatever a lead typed into a form shown as text,
never run. Chromium is a Debian package (``.ci/run`` installs it when missing).
"""

from __future__ import annotations

import html as html_text
import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from leadscore.features import schema
from leadscore.features.offline import CUTOFF_AT
from leadscore.serving.handoff import handoff_sheet, render_html
from leadscore.serving.scoring import online_rows
from leadscore.training.model.artifact import load_model

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.xdist_group("trained_world"),
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)"),
]
# appended to a page: what the browser computed, written into the DOM that --dump-dom prints
PROBE = """<script>
const probe = document.createElement("pre");
probe.id = "probe";
probe.textContent = JSON.stringify({
  tier: getComputedStyle(document.querySelector(".tier")).backgroundColor,
  text: document.body.innerText,
  ran: window.typedByALead === true,
});
document.body.appendChild(probe);
</script>"""
TYPED = "<script>window.typedByALead = true</script>"


def rendered(html: str, folder: Path, name: str) -> dict:
    """The page as Chromium renders it: the tier's colour, the visible text, and whether a
    script a lead typed ran."""
    page = folder / f"{name}.html"
    page.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    return json.loads(html_text.unescape(found.group(1)))


@pytest.fixture(scope="module")
def sheet(trained_world) -> dict:
    """The Japanese sheet of the test period's hottest lead, a form field holding a script."""
    scorer = load_model(trained_world.model)
    world = trained_world.simulated
    rows = pd.read_parquet(trained_world.training_set)
    test = rows[rows["split"] == "test"]
    top = test.iloc[int(scorer.probability(test).argmax())]
    lead = world.leads[world.leads[schema.LEAD_ID] == top[schema.LEAD_ID]].iloc[0].to_dict()
    history = world.activities[world.activities[schema.LEAD_ID] == top[schema.LEAD_ID]].copy()
    history = history[history[schema.OCCURRED_AT] <= top[CUTOFF_AT]]
    history[schema.DETAIL] = history[schema.DETAIL].astype(object)
    history.iloc[-1, history.columns.get_loc(schema.DETAIL)] = TYPED
    features = online_rows(scorer, [lead], [history], [top[CUTOFF_AT]])
    return handoff_sheet(scorer, features, lead, history, top[CUTOFF_AT], lang="ja")


def test_each_tier_shows_in_its_own_colour(sheet, tmp_path):
    colours = {
        tier: rendered(render_html({**sheet, "tier": tier}, "ja"), tmp_path, tier)["tier"]
        for tier in "ABCD"
    }
    assert len(set(colours.values())) == 4, colours


def test_the_japanese_page_reads_in_japanese_and_never_runs_what_a_lead_typed(sheet, tmp_path):
    page = rendered(render_html(sheet, "ja"), tmp_path, "sheet")
    text = page["text"]
    assert "ランク A" in text and "ティア" not in text
    assert sheet["follow_up_by_text"] in text and "JST" in text
    assert sheet["company"] in text
    assert "時刻はAsia/Tokyo" in text
    assert all(r["text"] in text for side in sheet["reasons"].values() for r in side)
    assert TYPED in text and page["ran"] is False  # shown as the lead typed it, not run

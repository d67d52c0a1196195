"""A CRM posts a lead of a flat model's report to the service: its fields, nothing more.

A model trained on a flat report (one row per lead, often no created_at, never activities) is
served like any other. The CRM sends the row's fields as attributes; the service scores it as
`leadscore score` scores the report, asks for created_at only when the model learnt from one,
and refuses activities the model cannot read rather than ignoring them.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.features import schema
from leadscore.serving.client import lead_payload
from tests.worlds import crm_report

from .conftest import Server, serve_model

runner = CliRunner()


@pytest.fixture(scope="module")
def flat_server(tmp_path_factory) -> Iterator[tuple[Server, pd.DataFrame, pd.DataFrame]]:
    """A server of a model trained on a CRM report without created_at, the next report, and
    `leadscore score`'s answer for it."""
    base = tmp_path_factory.mktemp("flat_service")
    crm_report(2000, seed=5).to_csv(base / "crm.csv", index=False)
    trained = runner.invoke(app, [
        "train", "--leads", str(base / "crm.csv"), "--label", "Converted",
        "--id-column", "Prospect ID", "--order-column", "Lead Number", "--drop", "Tags",
        "--out", str(base / "run"), "--tracking-uri", f"sqlite:///{base / 'mlflow.db'}",
    ])  # fmt: skip
    assert trained.exit_code == 0, trained.output
    upcoming = crm_report(40, seed=9, first_number=800_000).drop(columns=["Converted"])
    upcoming.to_csv(base / "next.csv", index=False)
    model = base / "run" / "model"
    scored = runner.invoke(app, [
        "score", "--model", str(model), "--leads", str(base / "next.csv"),
        "--output", str(base / "scores.csv"),
    ])  # fmt: skip
    assert scored.exit_code == 0, scored.output
    batch = pd.read_csv(base / "scores.csv").set_index(schema.LEAD_ID)
    for server in serve_model(model, base / "server.log", {}):
        yield server, upcoming, batch


def body(row: pd.Series, **extra: object) -> dict:
    """The CRM's call for one report row: its id and its fields, personal data left out."""
    lead = row.drop(["Prospect ID", "Lead Number"]).to_dict()
    return {**lead_payload({schema.LEAD_ID: row["Prospect ID"], **lead}), **extra}


def test_a_report_row_posted_without_created_at_scores_as_the_report_file_did(flat_server):
    server, upcoming, batch = flat_server
    bodies = [body(row) for _, row in upcoming.iterrows()]
    assert all("Email" not in b["attributes"] for b in bodies)  # personal data stays home
    answer = server.client().score_batch(bodies)
    assert answer["failed"] == 0 and answer["scored"] == len(upcoming)
    for item in answer["results"]:
        offline = batch.loc[item["lead_id"]]
        assert item["result"]["p_sql"] == pytest.approx(offline["p_sql"], rel=1e-9)
        assert item["result"]["tier"] == offline["tier"]
        assert item["result"]["decision"] == offline["decision"]
    one = server.client().score(bodies[3])
    assert one["p_sql"] == pytest.approx(batch.loc[one["lead_id"], "p_sql"], rel=1e-9)
    assert server.client().metadata()["needs_created_at"] is False


def test_activities_posted_to_a_flat_model_are_refused_not_ignored(flat_server):
    server, upcoming, _ = flat_server
    visit = {"occurred_at": "2026-01-05T10:00:00Z", "activity_type": "Visit Webpage"}
    posted = body(upcoming.iloc[0], activities=[visit])
    response = httpx.post(f"{server.url}/score", json=posted, timeout=60)
    assert response.status_code == 400, response.text
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["activities"] and "flat file" in problem["msg"]
    batch = server.client().score_batch([posted, body(upcoming.iloc[1])])
    assert [item["ok"] for item in batch["results"]] == [False, True]
    assert server.client().metadata()["reads_activities"] is False

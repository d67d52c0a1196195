"""The service refuses to start on a missing or corrupt model, and says why."""

from __future__ import annotations

import json
import shutil
import time

import httpx
import pytest
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.serving.server import start_server, stop_server

from .conftest import free_port

pytestmark = pytest.mark.xdist_group("served")


def test_leadscore_serve_refuses_a_missing_model_with_the_reason(tmp_path):
    result = CliRunner().invoke(app, ["serve", "--model", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "no model directory here" in " ".join(result.output.split())


def test_leadscore_serve_refuses_a_corrupt_model_with_the_reason(world, tmp_path):
    broken = shutil.copytree(world.model, tmp_path / "model")
    (broken / "scorer.joblib").write_bytes(b"not a pickle")
    result = CliRunner().invoke(app, ["serve", "--model", str(broken)])
    assert result.exit_code == 2
    assert "corrupt model directory" in " ".join(result.output.split())


def test_bentoml_serve_on_a_corrupt_model_never_gets_ready_and_logs_why(world, tmp_path):
    broken = shutil.copytree(world.model, tmp_path / "model")
    (broken / "spec.yaml").write_text("signals: [this is not a spec")
    port, log = free_port(), tmp_path / "server.log"
    process = start_server(str(broken), port=port, log=log)
    try:
        deadline = time.monotonic() + 90
        while "corrupt model directory" not in log.read_text(errors="replace"):
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        try:
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code
        except httpx.TransportError:
            ready = None
        assert ready != 200
    finally:
        stop_server(process)


def test_leadscore_serve_refuses_a_policy_with_a_bad_value_naming_the_field(world, tmp_path):
    broken = shutil.copytree(world.model, tmp_path / "model")
    policy = json.loads((broken / "policy.json").read_text())
    (broken / "policy.json").write_text(json.dumps({**policy, "threshold": "abc"}))
    result = CliRunner().invoke(app, ["serve", "--model", str(broken)])
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "not a usable hand-off policy" in said and "threshold:" in said


def test_bentoml_serve_on_a_bad_policy_never_gets_ready_and_logs_why(world, tmp_path):
    broken = shutil.copytree(world.model, tmp_path / "model")
    policy = json.loads((broken / "policy.json").read_text())
    (broken / "policy.json").write_text(json.dumps({**policy, "tiers": {}}))
    port, log = free_port(), tmp_path / "server.log"
    process = start_server(str(broken), port=port, log=log)
    try:
        deadline = time.monotonic() + 90
        while "not a usable hand-off policy" not in log.read_text(errors="replace"):
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        assert "tiers: none given" in log.read_text(errors="replace")
        try:
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code
        except httpx.TransportError:
            ready = None
        assert ready != 200
    finally:
        stop_server(process)

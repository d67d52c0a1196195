"""The service refuses to start on a missing or corrupt model, and says why; `leadscore serve`
works from any folder, ends with the reason when the server cannot start, and takes the server
and its workers down with it when systemd, Docker or Ctrl+C stops it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.serving.server import (
    model_location,
    server_environment,
    start_server,
    stop_server,
    tracking_location,
)

from ..conftest import TRAINED_GROUP
from .conftest import free_port

pytestmark = pytest.mark.xdist_group(TRAINED_GROUP)  # one trained world, one worker


def test_paths_reach_the_server_absolute_so_it_finds_them_from_its_own_folder(
    monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)
    env = server_environment("m/model", tracking_uri="sqlite:///runs/mlflow.db")
    assert env["LEADSCORE_MODEL"] == str(tmp_path.resolve() / "m" / "model")
    assert env["MLFLOW_TRACKING_URI"] == f"sqlite:///{tmp_path.resolve() / 'runs' / 'mlflow.db'}"
    assert model_location("models:/lead-scorer@champion") == "models:/lead-scorer@champion"
    for unchanged in ("sqlite:////srv/mlflow.db", "http://mlflow:5000", "databricks"):
        assert tracking_location(unchanged) == unchanged
    assert tracking_location("mlruns") == str(tmp_path.resolve() / "mlruns")
    assert tracking_location("file:mlruns") == (tmp_path.resolve() / "mlruns").as_uri()


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
    never_ready(broken, "corrupt model directory", tmp_path)


def never_ready(model: Path, why: str, tmp_path: Path) -> str:
    """Start `bentoml serve` on ``model``; wait for ``why`` in its log, then hold that
    /readyz never answered 200; the log."""
    port, log = free_port(), tmp_path / "server.log"
    process = start_server(str(model), port=port, log=log)
    try:
        deadline = time.monotonic() + 90
        while why not in log.read_text(errors="replace"):
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        try:
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code
        except httpx.TransportError:
            ready = None
        assert ready != 200
        return log.read_text(errors="replace")
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
    assert "tiers: none given" in never_ready(broken, "not a usable hand-off policy", tmp_path)


# ------------------------------------------------- `leadscore serve` as systemd or Docker runs it


def leadscore_serve(cwd: Path, *args: str, **env: str) -> subprocess.Popen:
    """`leadscore serve ARGS` started in ``cwd``, its output in files there."""
    with (cwd / "stdout.txt").open("w") as out, (cwd / "stderr.txt").open("w") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "leadscore.cli", "serve", *args],
            cwd=cwd,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), **env},
            stdout=out,
            stderr=err,
        )


def printed(cwd: Path) -> tuple[str, str]:
    return (cwd / "stdout.txt").read_text(), (cwd / "stderr.txt").read_text()


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def serving(model: Path) -> list[psutil.Process]:
    """Every live process serving ``model``: the BentoML server and its workers."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("LEADSCORE_MODEL") == str(model) and alive(process):
                found.append(process)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def finish(serve: subprocess.Popen, model: Path) -> None:
    """Leave nothing running, whatever the test found."""
    if serve.poll() is None:
        serve.kill()
        serve.wait()
    for process in serving(model):
        process.kill()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl+C"])
def test_leadscore_serve_from_any_folder_answers_and_a_stop_signal_takes_its_workers_down(
    world, tmp_path, stop
):
    shutil.copytree(world.model, tmp_path / "m" / "model")
    model, port = (tmp_path / "m" / "model").resolve(), free_port()
    serve = leadscore_serve(tmp_path, "--model", "m/model", "--port", str(port))
    try:
        deadline = time.monotonic() + 120
        while "serving model version" not in printed(tmp_path)[0]:  # said once /readyz answers
            assert serve.poll() is None, printed(tmp_path)
            assert time.monotonic() < deadline, printed(tmp_path)
            time.sleep(0.5)
        assert f"from {model} on http://127.0.0.1:{port}" in " ".join(printed(tmp_path)[0].split())
        assert ready(port)
        assert len(serving(model)) >= 2  # the BentoML server and its worker

        serve.send_signal(stop)
        assert serve.wait(timeout=60) == -stop  # ended as by the signal: a clean stop to systemd
        deadline = time.monotonic() + 15
        while serving(model) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert serving(model) == []
        assert port_is_free(port)
        assert printed(tmp_path)[0].rstrip().endswith("server stopped")
    finally:
        finish(serve, model)


def test_a_leadscore_serve_killed_outright_takes_its_server_down_with_it(world, tmp_path):
    """SIGKILL (the OOM killer, `kill -9`) leaves `leadscore serve` no moment to stop the server
    it started in a session of its own; the kernel tells the server, which stops its workers
    and frees the port, so the next start does not fail on "address in use"."""
    shutil.copytree(world.model, tmp_path / "m" / "model")
    model, port = (tmp_path / "m" / "model").resolve(), free_port()
    serve = leadscore_serve(tmp_path, "--model", "m/model", "--port", str(port))
    try:
        deadline = time.monotonic() + 120
        while not ready(port):
            assert serve.poll() is None, printed(tmp_path)
            assert time.monotonic() < deadline, printed(tmp_path)
            time.sleep(0.5)
        assert len(serving(model)) >= 2
        serve.kill()
        serve.wait(timeout=10)
        deadline = time.monotonic() + 30
        while serving(model) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert serving(model) == []
        assert port_is_free(port)
    finally:
        finish(serve, model)


def test_leadscore_serve_refuses_a_broken_model_before_starting_with_one_line_why(world, tmp_path):
    shutil.copytree(world.model, tmp_path / "model")
    (tmp_path / "model" / "scorer.joblib").unlink()
    serve = leadscore_serve(tmp_path, "--model", "model", "--port", str(free_port()))
    try:
        assert serve.wait(timeout=60) == 2
        out, err = printed(tmp_path)
        assert "serving" not in out
        assert err.strip().splitlines() == [
            f"error: {(tmp_path / 'model').resolve()}: incomplete model directory, "
            "missing scorer.joblib"
        ]
    finally:
        finish(serve, (tmp_path / "model").resolve())


def test_leadscore_serve_ends_with_the_reason_when_its_workers_die_at_start(world, tmp_path):
    model, port = Path(shutil.copytree(world.model, tmp_path / "model")).resolve(), free_port()
    serve = leadscore_serve(tmp_path, "--model", "model", "--port", str(port),
                            LEADSCORE_MAX_BATCH="lots")  # fmt: skip
    try:
        assert serve.wait(timeout=90) == 1  # rather than restarting the worker for ever
        out, err = printed(tmp_path)
        assert "serving" not in out
        last = err.strip().splitlines()[-1]
        assert last.startswith("error: the server did not start: a worker died while starting")
        assert "ValueError: invalid literal for int()" in last and "'lots'" in last
        assert port_is_free(port)
        assert serving(model) == []
    finally:
        finish(serve, model)


def test_leadscore_serve_on_a_port_in_use_ends_with_the_reason(world, tmp_path):
    model = Path(shutil.copytree(world.model, tmp_path / "model")).resolve()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        serve = leadscore_serve(tmp_path, "--model", "model", "--port", str(port))
        try:
            assert serve.wait(timeout=90) == 1
            last = printed(tmp_path)[1].strip().splitlines()[-1]
            assert last.startswith("error: the server did not start")
            assert "Address already in use" in last
        finally:
            finish(serve, model)


def test_two_servers_on_one_machine_keep_their_own_metrics(monkeypatch):
    """BentoML empties its metrics folder whenever a server starts: each server gets its own
    home, so starting one never resets another's counters; a home the user set is kept."""
    monkeypatch.delenv("BENTOML_HOME", raising=False)
    first, second = (server_environment("m/model", port=port) for port in (3000, 3001))
    assert first["BENTOML_HOME"] != second["BENTOML_HOME"]
    monkeypatch.setenv("BENTOML_HOME", "/srv/bentoml")
    assert server_environment("m/model", port=3000)["BENTOML_HOME"] == "/srv/bentoml"


def test_a_port_answered_by_another_server_is_never_taken_for_ours(world, tmp_path):
    """Someone else already answers /readyz on the port (another service, or a server a
    parallel job just started there): the start must fail with why, never report ready and send
    every call to a server that is not ours."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from leadscore.serving.server import ServerFailed, wait_ready

    class Ready(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    other = ThreadingHTTPServer(("127.0.0.1", 0), Ready)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    port = other.server_address[1]
    server = start_server(str(world.model), port=port, log=tmp_path / "server.log")
    try:
        with pytest.raises(ServerFailed, match=r"exited|did not become ready"):
            wait_ready(f"http://127.0.0.1:{port}", server, timeout=60)
    finally:
        stop_server(server)
        other.shutdown()


def test_the_demo_off_a_terminal_scores_one_lead_then_says_the_server_stopped(world, tmp_path):
    model = Path(shutil.copytree(world.model, tmp_path / "model")).resolve()
    export = world.export["leads"].parent
    scored = CliRunner().invoke(
        app,
        ["score", "--model", str(model), "--leads", str(world.export["leads"]),
         "--activities", str(world.export["activities"]), "--output", str(tmp_path / "scores.csv")],
    )  # fmt: skip
    assert scored.exit_code == 0, scored.output
    tail = (
        "from pathlib import Path\nfrom leadscore.cli.demo import _serve_demo\n"
        f"_serve_demo(Path('.'), Path({str(export)!r}), Path('scores.csv'), {free_port()})"
    )
    demo = subprocess.run(
        [sys.executable, "-c", tail], cwd=tmp_path, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=240,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
    )  # fmt: skip
    assert demo.returncode == 0, demo.stdout + demo.stderr
    said = " ".join(demo.stdout.split())
    assert "/score for lead" in said and "server stopped" in said
    assert "API docs" not in said
    assert serving(model) == []

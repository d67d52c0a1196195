"""Start the scoring service as its own process: `leadscore serve`, the demo and the tests.

`bentoml serve` is the server; this module only checks the model first (a missing or corrupt
model is refused here with the reason, before any process starts), passes the settings through
the environment the service reads, and waits for ``/readyz``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from leadscore.serving.model_source import ModelHandle

SERVICE = "serving.service:LeadScoring"
ROOT = Path(__file__).resolve().parent.parent


def check_model(location: str, tracking_uri: str | None = None) -> ModelHandle:
    """Load the model as the service will, so a bad one fails here with a clear message."""
    return ModelHandle.open(location, tracking_uri=tracking_uri)


def server_command(port: int, host: str) -> list[str]:
    bentoml = Path(sys.executable).with_name("bentoml")
    launcher = [str(bentoml)] if bentoml.exists() else [sys.executable, "-m", "bentoml"]
    return [*launcher, "serve", SERVICE, "--port", str(port), "--host", host,
            "--working-dir", str(ROOT)]  # fmt: skip


def server_environment(
    model: str, *, workers: int = 1, tracking_uri: str | None = None, extra: dict | None = None
) -> dict[str, str]:
    env = {**os.environ, "LEADSCORE_MODEL": str(model), **(extra or {})}
    env["BENTOML_CONFIG_OPTIONS"] = f"services.leadscore.workers={workers}"
    env.setdefault("BENTOML_DO_NOT_TRACK", "True")
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    return env


def start_server(
    model: str,
    *,
    port: int = 3000,
    host: str = "127.0.0.1",
    workers: int = 1,
    tracking_uri: str | None = None,
    extra_env: dict | None = None,
    log: Path | None = None,
) -> subprocess.Popen:
    """`bentoml serve` in the background; stop it with :func:`stop_server`."""
    output = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - lives with the server
    return subprocess.Popen(
        server_command(port, host),
        env=server_environment(model, workers=workers, tracking_uri=tracking_uri, extra=extra_env),
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 90.0) -> None:
    """Block until ``url``/readyz answers 200; raise if the server dies or never gets ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not become ready within {timeout:.0f} s")


def stop_server(process: subprocess.Popen) -> None:
    """Stop the server and its workers (they share its process group)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, 15)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()

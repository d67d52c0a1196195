"""Real BentoML servers over HTTP on the shared trained world, for the serving tests.

The servers are `bentoml serve` processes on free loopback ports, started the way
`leadscore serve` starts them; the tests talk to them with the project's own client.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from leadscore.serving.client import ScoringClient
from leadscore.serving.server import start_server, stop_server, wait_ready

API_KEY = "test-key-3f9a"
WEBHOOK_SECRET = "test-webhook-secret"
MAX_BATCH = 40


@dataclass(frozen=True)
class World:
    model: Path
    leads: pd.DataFrame
    activities: pd.DataFrame
    export: dict[str, Path]


@dataclass(frozen=True)
class Server:
    url: str
    log: Path
    model: Path

    def client(self, **credentials: str) -> ScoringClient:
        return ScoringClient(self.url, **credentials)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def world(trained_world) -> World:
    """The export as an MA system holds it, and the model `leadscore train` made of it."""
    export = trained_world.export
    return World(
        model=trained_world.model,
        leads=pd.read_parquet(export["leads"]),
        activities=pd.read_parquet(export["activities"]),
        export=export,
    )


def serve_model(model: Path, log: Path, env: dict[str, str]) -> Iterator[Server]:
    port = free_port()
    process = start_server(str(model), port=port, extra_env=env, log=log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process, timeout=120)
        yield Server(url, log, model)
    finally:
        stop_server(process)


@pytest.fixture(scope="session")
def server(world, tmp_path_factory) -> Iterator[Server]:
    """An open server, as on a private network."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    yield from serve_model(world.model, log, {"LEADSCORE_MAX_BATCH": str(MAX_BATCH)})


@pytest.fixture(scope="session")
def secured_server(world, tmp_path_factory) -> Iterator[Server]:
    """A server that needs an API key or a signed webhook, on its own copy of the model."""
    base = tmp_path_factory.mktemp("secured")
    model = Path(shutil.copytree(world.model, base / "model"))
    env = {
        "LEADSCORE_API_KEY": API_KEY,
        "LEADSCORE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "LEADSCORE_POLICY_RELOAD_SECONDS": "0.2",
    }
    yield from serve_model(model, base / "server.log", env)

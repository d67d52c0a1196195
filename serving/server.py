"""Start the scoring service as its own process: `leadscore serve`, the demo and the tests.

`bentoml serve` is the server; this module only checks the model first (a missing or corrupt
model is refused here with the reason, before any process starts), passes the settings through
the environment the service reads, and watches the start: BentoML restarts a worker that dies
for as long as the server runs, so a worker that dies before ``/readyz`` answers, or a server
that is not ready in time, ends the start with the reason from the server's output. A stop
request (SIGTERM from systemd or `docker stop`, Ctrl+C) is passed on to the server and its
workers, and waited for.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO
from urllib.parse import urlsplit

import psutil

import leadscore
from leadscore.serving.model_source import REGISTRY_PREFIX, ModelHandle

SERVICE = "leadscore.serving.service:LeadScoring"  # under the one import root, never bare
ROOT = Path(leadscore.__file__).resolve().parents[1]  # where the installed package is found
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
OUTPUT_LINES = 200
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_]\w*\.)*([A-Za-z_]\w*(?:Error|Exception|Exit)): .+")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class ServerFailed(RuntimeError):
    """The server could not start; the message says what happened and, when it printed one, why."""


def model_location(location: str) -> str:
    """A model directory as an absolute path (the server runs in another folder); URIs as given."""
    if not location or location.startswith(REGISTRY_PREFIX):
        return location
    return str(Path(location).expanduser().resolve())


def tracking_location(uri: str | None) -> str | None:
    """An MLflow tracking URI whose local file or folder is named by an absolute path."""
    if not uri:
        return uri
    if uri.startswith("sqlite:///"):
        database = uri.removeprefix("sqlite:///")
        if database.startswith(("/", ":")):
            return uri
        return f"sqlite:///{Path(database).expanduser().resolve()}"
    if uri.startswith("file:"):
        folder = uri.removeprefix("file:")
        return uri if folder.startswith("/") else Path(folder).expanduser().resolve().as_uri()
    if "://" in uri or uri.startswith("databricks"):
        return uri
    return str(Path(uri).expanduser().resolve())  # a bare path is a folder of runs to MLflow


def check_model(location: str, tracking_uri: str | None = None) -> ModelHandle:
    """Load the model as the service will, so a bad one fails here with a clear message."""
    return ModelHandle.open(location, tracking_uri=tracking_uri)


def local_url(host: str, port: int) -> str:
    """Where this machine reaches a server bound to ``host`` (an any-address is loopback)."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def server_command(port: int, host: str) -> list[str]:
    bentoml = Path(sys.executable).with_name("bentoml")
    launcher = [str(bentoml)] if bentoml.exists() else [sys.executable, "-m", "bentoml"]
    return [*launcher, "serve", SERVICE, "--port", str(port), "--host", host,
            "--working-dir", str(ROOT)]  # fmt: skip


def bentoml_home(port: int) -> Path:
    """BentoML's home for the server on ``port``: one of its own.

    Why: BentoML keeps the workers' Prometheus counters in ``$BENTOML_HOME/
    prometheus_multiproc_dir`` and empties that folder whenever a server starts, so every
    server sharing the default home lost its counters (``leadscore_policy_refused_total``
    fell from 3 to 0) when another one started on the same machine. One server per port, so
    one home per port. A ``BENTOML_HOME`` the user set is kept.
    """
    return Path(tempfile.gettempdir()) / f"leadscore-bentoml-{os.getuid()}" / str(port)


def server_environment(
    model: str,
    *,
    port: int = 3000,
    workers: int = 1,
    tracking_uri: str | None = None,
    extra: dict | None = None,
) -> dict[str, str]:
    """The service's settings; paths made absolute, as the server runs in the package's folder."""
    env = {**os.environ, "LEADSCORE_MODEL": model_location(str(model)), **(extra or {})}
    env["BENTOML_CONFIG_OPTIONS"] = f"services.leadscore.workers={workers}"
    env.setdefault("BENTOML_DO_NOT_TRACK", "True")
    env.setdefault("BENTOML_HOME", str(bentoml_home(port)))
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = str(tracking_location(tracking_uri))
    return env


class ServerProcess(subprocess.Popen):
    """`bentoml serve` with the workers it started and the last lines it printed."""

    log: Path | None
    output: deque[str]
    workers: dict[int, psutil.Process]

    def recent_output(self) -> list[str]:
        if self.log is None:
            return list(self.output)
        try:
            with open(self.log, "rb") as file:
                file.seek(max(0, file.seek(0, os.SEEK_END) - 64_000))
                return file.read().decode(errors="replace").splitlines()
        except OSError:
            return []

    def reason(self) -> str | None:
        """The error the server printed last: an exception's line, else its last ERROR line."""
        lines = [_ANSI.sub("", line).strip() for line in self.recent_output()]
        for line in reversed(lines):
            found = _EXCEPTION_LINE.match(line)
            if found:
                return line[found.start(1) :]
        return next((line for line in reversed(lines) if "[ERROR]" in line), None)

    def watch_workers(self) -> list[psutil.Process]:
        """Note the workers now running; return those seen before that have died since."""
        try:
            for child in psutil.Process(self.pid).children():
                self.workers.setdefault(child.pid, child)
        except psutil.NoSuchProcess:
            pass
        return [worker for worker in self.workers.values() if not _alive(worker)]

    def send(self, signum: int) -> None:
        """Signal the server (it stops its workers itself); its group, so helpers hear it too."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signum)


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _copy_output(source: IO[bytes], target: IO[bytes] | None, tail: deque[str]) -> None:
    for line in iter(source.readline, b""):
        tail.append(line.decode(errors="replace").rstrip("\n"))
        if target is not None:
            try:
                target.write(line)
                target.flush()
            except (OSError, ValueError):
                target = None
    source.close()


def _dies_with_parent() -> Callable[[], None] | None:
    """What the server's process runs before ``bentoml serve``, on Linux: ask the kernel to send
    it SIGTERM when the process that started it dies (``prctl(PR_SET_PDEATHSIG)``).

    Why: the server runs in a session of its own, so that a stop reaches its workers as a group;
    a `leadscore serve` killed outright (SIGKILL, the OOM killer) would leave it holding the
    port, and the next start would fail on "address in use". SIGTERM lets it stop its workers
    as on any stop. No library of ours does this; it is a documented Linux call (prctl(2)),
    made through ctypes, resolved before the fork. Elsewhere, None: nothing is run.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def ask() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the request was made
            os.kill(os.getpid(), signal.SIGTERM)

    return ask


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def start_server(
    model: str,
    *,
    port: int = 3000,
    host: str = "127.0.0.1",
    workers: int = 1,
    tracking_uri: str | None = None,
    extra_env: dict | None = None,
    log: Path | None = None,
    echo: IO[bytes] | None = None,
) -> ServerProcess:
    """`bentoml serve` in the background; stop it with :func:`stop_server`.

    Its output goes to ``log`` when given; otherwise it is copied to ``echo`` (if any), and its
    last lines are kept either way, for the reason a start failed.
    """
    output = open(log, "wb") if log else subprocess.PIPE  # noqa: SIM115 - closed below
    try:
        server = ServerProcess(
            server_command(port, host),
            env=server_environment(
                model, port=port, workers=workers, tracking_uri=tracking_uri, extra=extra_env
            ),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_dies_with_parent(),  # in the child before exec: one system call
        )
    finally:
        if log:  # the server writes through its own copy of the file; ours would leak
            output.close()  # type: ignore[union-attr]
    server.log, server.output, server.workers = log, deque(maxlen=OUTPUT_LINES), {}
    if server.stdout is not None:
        threading.Thread(
            target=_copy_output, args=(server.stdout, echo, server.output), daemon=True
        ).start()
    return server


def _failed(server: ServerProcess, what: str) -> ServerFailed:
    if server.log is None:
        time.sleep(0.3)  # the last lines may still be on their way through the pipe
    reason = server.reason()
    return ServerFailed(f"{what}: {reason}" if reason else what)


def wait_ready(url: str, server: ServerProcess, timeout: float = 90.0) -> None:
    """Block until ``url``/readyz answers 200; raise :class:`ServerFailed` with the reason if
    the server exits, a worker dies while starting, or it is not ready within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise _failed(server, f"the server exited with code {server.returncode}")
        if server.watch_workers():
            raise _failed(server, "a worker died while starting")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                # another server on the same port would answer too: only ours counts
                if response.status == 200 and _listens(server, urlsplit(url).port or 80):
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise _failed(server, f"{url} did not become ready within {timeout:.0f} s")


def _listens(server: ServerProcess, port: int) -> bool:
    """Whether the server, or one of its workers, holds the listening socket on ``port``.

    Why: a port taken by another process between choosing it and binding it (two test
    workers, or a second `leadscore serve --port 3000`) makes BentoML fail to bind, while the
    other process answers /readyz: without this check the start would look ready and every
    call would go to the wrong server.
    """
    try:
        root = psutil.Process(server.pid)
        family = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return False
    for process in family:
        try:
            sockets = process.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if any(s.status == psutil.CONN_LISTEN and s.laddr.port == port for s in sockets):
            return True
    return False


def stop_server(
    server: ServerProcess, signum: int = signal.SIGTERM, grace: float = 20.0
) -> int | None:
    """Stop the server and its workers: ``signum`` first, SIGKILL for what outlives ``grace``.

    Returns the server's exit code (None if it had to be killed).
    """
    server.watch_workers()
    killed = False
    if server.poll() is None:
        server.send(signum)
        try:
            server.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            server.send(signal.SIGKILL)
            server.wait()
            killed = True
    leftovers = [worker for worker in server.workers.values() if _alive(worker)]
    for worker in leftovers:
        worker.terminate()
    _, still_running = psutil.wait_procs(leftovers, timeout=5)
    for worker in still_running:
        worker.kill()
    return None if killed else server.returncode


class StopSignals:
    """While in use, SIGTERM and SIGINT to this process are passed on to the server.

    The first one received is remembered, so the caller can stop the same way; a signal that
    comes before the server is attached is passed on when it is.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self.received_at = 0.0
        self.server: ServerProcess | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        self._previous = {signum: signal.signal(signum, self._forward) for signum in STOP_SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]

    def _forward(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received, self.received_at = signum, time.monotonic()
        if self.server is not None:
            self.server.send(signum)

    def attach(self, server: ServerProcess) -> None:
        self.server = server
        if self.received is not None:
            server.send(self.received)


def serve_until_stopped(server: ServerProcess, stops: StopSignals, grace: float = 20.0) -> int:
    """Wait for the server to end: on a stop signal (then at most ``grace`` seconds) or alone.

    Returns the server's exit code; its workers are gone when this returns.
    """
    while server.poll() is None:
        server.watch_workers()
        if stops.received is not None and time.monotonic() - stops.received_at > grace:
            break
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=1)
    code = stop_server(server, stops.received or signal.SIGTERM, grace=0)
    return -signal.SIGKILL if code is None else code


@dataclass(frozen=True)
class Served:
    """How a served model ended: stopped by a signal (which one), or by itself (its code)."""

    stopped_by: int | None
    code: int


def serve_model(
    location: str,
    *,
    port: int = 3000,
    host: str = "127.0.0.1",
    workers: int = 1,
    tracking_uri: str | None = None,
    start_timeout: float = 120.0,
    echo: IO[bytes] | None = None,
    on_ready: Callable[[ModelHandle, str], None] | None = None,
) -> Served:
    """`leadscore serve`: check the model, start the server, wait until it is ready, tell
    ``on_ready`` (the model and the URL), and serve until a stop signal or the server's end.

    Raises :class:`ModelDirectoryError` for a missing or corrupt model, before any process
    starts, and :class:`ServerFailed` for a server that cannot start (unless a stop signal
    came first: then it is a stop like any other).
    """
    tracking_uri = tracking_location(tracking_uri)
    handle = check_model(model_location(location), tracking_uri)
    url = local_url(host, port)
    with StopSignals() as stops:
        server = start_server(
            str(handle.directory), port=port, host=host, workers=workers,
            tracking_uri=tracking_uri, echo=echo,
        )  # fmt: skip
        stops.attach(server)
        try:
            wait_ready(url, server, timeout=start_timeout)
        except ServerFailed:
            stop_server(server)
            if stops.received is None:
                raise
        if stops.received is None and on_ready is not None:
            on_ready(handle, url)
        code = serve_until_stopped(server, stops)
    return Served(stops.received, code)


def exit_as_stopped_by(signum: int) -> None:
    """End this process as the signal would have, as systemd, Docker and shells expect."""
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)

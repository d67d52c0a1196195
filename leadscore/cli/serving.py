"""The command that serves scores over HTTP."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console

from leadscore.cli.options import (
    console,
)


def serve(
    model: Annotated[
        str,
        typer.Option(
            help="Model directory written by `leadscore train`, or a registry URI such as "
            "models:/lead-scorer@champion (with --tracking-uri)."
        ),
    ],
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 3000,
    host: Annotated[str, typer.Option(help="Address to bind; 0.0.0.0 for all.")] = "127.0.0.1",
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (one per core).")] = 1,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI, for a models:/ URI.")
    ] = None,
    start_timeout: Annotated[
        float,
        typer.Option(min=1, help="Seconds to wait for the server to answer /readyz at start."),
    ] = 120.0,
) -> None:
    """Serve scores over HTTP for MA systems (BentoML): POST /score and /score_batch.

    Checks the model first and refuses to start, with the reason, when it is missing or
    corrupt; a server that cannot start (port in use, workers failing) ends with the reason
    and a non-zero exit. Set LEADSCORE_API_KEY to require `Authorization: Bearer <key>`, and
    LEADSCORE_WEBHOOK_SECRET to accept HMAC-SHA256 signed webhooks; LEADSCORE_MAX_BATCH caps
    /score_batch (default 1,000). A policy re-tuned with `leadscore tune-threshold` is picked up
    within seconds, without a restart. Stop with Ctrl+C or SIGTERM (systemd, `docker stop`):
    the server and its workers stop with it.
    """
    from leadscore.serving.server import (
        ServerFailed,
        StopSignals,
        check_model,
        exit_as_stopped_by,
        local_url,
        model_location,
        serve_until_stopped,
        start_server,
        stop_server,
        tracking_location,
        wait_ready,
    )
    from leadscore.training.model.artifact import ModelDirectoryError

    errors = Console(stderr=True, width=None if sys.stderr.isatty() else 110)

    def refuse(message: str, code: int) -> typer.Exit:
        errors.print("[bold red]error:[/]", end=" ")
        errors.print(message, markup=False, highlight=False, soft_wrap=True)
        return typer.Exit(code=code)

    tracking_uri = tracking_location(tracking_uri)
    try:
        handle = check_model(model_location(model), tracking_uri)
    except ModelDirectoryError as error:
        raise refuse(str(error), 2) from None
    with StopSignals() as stops:
        server = start_server(
            str(handle.directory), port=port, host=host, workers=workers,
            tracking_uri=tracking_uri, echo=sys.stderr.buffer,
        )  # fmt: skip
        stops.attach(server)
        try:
            wait_ready(local_url(host, port), server, timeout=start_timeout)
        except ServerFailed as failure:
            stop_server(server)
            if stops.received is None:
                raise refuse(f"the server did not start: {failure}", 1) from None
        if stops.received is None:
            console.print(
                f"serving model version {handle.model_version} from {handle.directory} on "
                f"{local_url(host, port)} (docs at /, scores at POST /score)"
            )
        code = serve_until_stopped(server, stops)
    if stops.received is not None:
        console.print("server stopped")
        exit_as_stopped_by(stops.received)
    raise refuse(f"the server stopped by itself with code {code}", code if code > 0 else 1)

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
    from leadscore.serving.server import ServerFailed, exit_as_stopped_by, serve_model
    from leadscore.training.model.artifact import ModelDirectoryError

    errors = Console(stderr=True, width=None if sys.stderr.isatty() else 110)

    def refuse(message: str, code: int) -> typer.Exit:
        errors.print("[bold red]error:[/]", end=" ")
        errors.print(message, markup=False, highlight=False, soft_wrap=True)
        return typer.Exit(code=code)

    def announce(handle, url: str) -> None:  # type: ignore[no-untyped-def]
        console.print(
            f"serving model version {handle.model_version} from {handle.directory} on "
            f"{url} (docs at /, scores at POST /score)"
        )

    try:
        served = serve_model(
            model, port=port, host=host, workers=workers, tracking_uri=tracking_uri,
            start_timeout=start_timeout, echo=sys.stderr.buffer, on_ready=announce,
        )  # fmt: skip
    except ModelDirectoryError as error:
        raise refuse(str(error), 2) from None
    except ServerFailed as failure:
        raise refuse(f"the server did not start: {failure}", 1) from None
    if served.stopped_by is not None:
        console.print("server stopped")
        exit_as_stopped_by(served.stopped_by)
    code = served.code
    raise refuse(f"the server stopped by itself with code {code}", code if code > 0 else 1)

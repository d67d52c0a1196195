"""The guided tour: the main job end to end on a synthetic export."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from leadscore.cli.data import _print_built, _print_checked, _simulate
from leadscore.cli.model import _print_judgement, _print_policy, _print_suggested, _print_trained
from leadscore.cli.options import (
    DEFAULT_RULEBOOK,
    DEFAULT_SPEC,
    _decided,
    _fail,
    console,
)
from leadscore.cli.scoring import _print_scored
from leadscore.training.model.registry import CHAMPION, REGISTERED_MODEL_NAME


def demo(
    out: Annotated[Path, typer.Option("--out", help="Working folder for the demo.")] = Path("demo"),
    leads: Annotated[int, typer.Option("--leads", min=500, help="Leads to simulate.")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 7,
    capacity: Annotated[
        str, typer.Option(help="Sales follow-up capacity for the hand-off policy.")
    ] = "100/week",
    serve_scores: Annotated[
        bool,
        typer.Option(
            "--serve/--no-serve",
            help="End by serving the model over HTTP; in a terminal it keeps serving until "
            "Ctrl+C, otherwise it stops after one scored call.",
        ),
    ] = True,
    port: Annotated[int, typer.Option(help="Port for the scoring service.")] = 3000,
) -> None:
    """The main job on the embedded default, end to end on a synthetic MA export.

    Runs the same commands a data scientist would, in order: simulate an export (Parquet and an
    embedded DuckDB warehouse), check it against the data contract as a user's export would be,
    build the point-in-time training set with the default feature spec and rulebook, judge the
    default rulebook on the out-of-time test period, propose points from history, train and
    register the scorer, set the hand-off thresholds from sales capacity, score every lead
    with its reasons, and serve the model to MA systems over HTTP.
    """
    from mlflow.exceptions import MlflowException

    from leadscore.features.contract import check_export
    from leadscore.features.sources import ExportPaths
    from leadscore.features.training_set import TRAINING_SET_FILE
    from leadscore.serving.batch import score_file
    from leadscore.training.job.capacity import tune_for_capacity
    from leadscore.training.job.prepare import prepare_export
    from leadscore.training.job.rulebook_review import judge_rulebook, suggest_rulebook
    from leadscore.training.job.run import train_from_exports
    from leadscore.training.job.tracking import promote
    from leadscore.training.model.artifact import ModelDirectoryError

    export = out / "export"
    training = out / "training"
    training_set = training / TRAINING_SET_FILE
    tracking = f"sqlite:///{(out / 'mlflow.db').resolve()}"
    defaults = {"spec": DEFAULT_SPEC, "rulebook": DEFAULT_RULEBOOK, "decided": _decided}
    try:
        console.rule("1. Simulate an MA export")
        _simulate(export, leads, seed)
        console.rule("2. Check it against the data contract")
        _print_checked(
            check_export(
                export / "leads.parquet", export / "activities.parquet",
                export / "outcomes.parquet",
            )
        )  # fmt: skip
        console.rule("3. Build the point-in-time training set")
        built = prepare_export(
            ExportPaths(warehouse=export / "world.duckdb"), training,
            **defaults,
        )  # fmt: skip
        _print_built(built)
        console.rule("4. The points rulebook on the out-of-time test period")
        judged = judge_rulebook(training_set, ExportPaths(), split="test", **defaults)
        _print_judgement(judged, "test", DEFAULT_RULEBOOK.stem)
        console.rule("5. Points suggested from history")
        suggested_at = out / "rulebook_suggested.yaml"
        _print_suggested(
            suggest_rulebook(suggested_at, training_set, ExportPaths(), **defaults), suggested_at
        )
        console.rule("6. Train the scorer (MLflow run, registered as lead-scorer@challenger)")
        trained = train_from_exports(
            out, ExportPaths(), training_set=training_set, tracking_uri=tracking, **defaults,
        )  # fmt: skip
        _print_trained(trained)
        chosen = promote(tracking, None, CHAMPION)
        console.print(f"{REGISTERED_MODEL_NAME} version {chosen} is now {CHAMPION}")
        console.rule(f"7. Hand-off thresholds from sales capacity ({capacity})")
        _print_policy(
            tune_for_capacity(
                out / "model", capacity, training_set=training_set,
                outcomes=export / "outcomes.parquet",
            )
        )  # fmt: skip
        console.rule("8. Score every lead as of the export's end")
        scores = out / "scores.csv"
        _print_scored(
            score_file(
                out / "model", export / "leads.parquet", scores,
                activities=export / "activities.parquet",
            )
        )  # fmt: skip
    except (ValueError, FileNotFoundError, ModelDirectoryError, MlflowException) as error:
        raise _fail(error) from None
    _print_top_leads(scores)
    console.print(f"MLflow UI on this run: make mlflow-ui (store {tracking})")
    if serve_scores:
        console.rule(f"9. Serve scores to MA systems on http://127.0.0.1:{port}")
        _serve_demo(out, export, scores, port)


def _serve_demo(out: Path, export: Path, scores: Path, port: int) -> None:
    """Start the service and score the top lead over HTTP as an MA webhook would; in a
    terminal, keep serving until Ctrl+C (or SIGTERM), otherwise stop and say so."""
    import pandas as pd

    from leadscore.features.schema import LEAD_ID
    from leadscore.serving.client import ScoringClient, lead_payload
    from leadscore.serving.server import (
        ServerFailed,
        StopSignals,
        serve_until_stopped,
        start_server,
        stop_server,
        wait_ready,
    )

    url, log = f"http://127.0.0.1:{port}", out / "server.log"
    with StopSignals() as stops:
        server = start_server(str(out / "model"), port=port, log=log)
        stops.attach(server)
        try:
            wait_ready(url, server, timeout=180)
            top = pd.read_csv(scores).sort_values("p_sql", ascending=False).iloc[0]
            leads = pd.read_parquet(export / "leads.parquet")
            activities = pd.read_parquet(export / "activities.parquet")
            body = lead_payload(
                leads[leads[LEAD_ID] == top[LEAD_ID]].iloc[0].to_dict(),
                activities[activities[LEAD_ID] == top[LEAD_ID]],
                as_of=top["as_of"], lang="ja",
            )  # fmt: skip
            answer = ScoringClient(url).score(body)
            console.print(
                f"POST {url}/score for lead {answer['lead_id']}: score {answer['score']}, "
                f"tier {answer['tier']}, {answer['decision']} (p_sql {answer['p_sql']:.1%})"
            )
            for reason in answer["reasons"]["positive"]:
                console.print(f"  + {reason['text']}", highlight=False)
            if sys.stdin.isatty() and stops.received is None:
                console.print(f"API docs: {url}/   metadata: {url}/metadata   log: {log}")
                console.print("serving; Ctrl+C stops it")
                serve_until_stopped(server, stops)
        except ServerFailed as failure:
            if stops.received is None:
                console.print("[bold red]error:[/]", end=" ")
                console.print(f"the scoring service did not start: {failure}", markup=False)
                raise typer.Exit(code=1) from None
        except Exception:
            if stops.received is None:
                raise  # a stop request cuts the call short; anything else is a fault
        finally:
            stop_server(server)
    console.print(
        f"server stopped; serve the model again with `leadscore serve --model {out / 'model'}` "
        f"(its log: {log})"
    )


def _print_top_leads(scores: Path, count: int = 10) -> None:
    import pandas as pd

    ranked = pd.read_csv(scores).sort_values("p_sql", ascending=False).head(count)
    table = Table(title=f"Top {count} leads, with their reasons", show_lines=True)
    for column, justify in (("lead_id", "right"), ("p_sql", "right"), ("score", "right"),
                            ("tier", "center"), ("grade", "center"), ("why", "left")):  # fmt: skip
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in ranked.itertuples(index=False):
        table.add_row(
            str(row.lead_id), f"{row.p_sql:.1%}", str(row.score), row.tier, row.grade,
            row.reasons.replace(" / ", "\n"),
        )  # fmt: skip
    console.print(table)

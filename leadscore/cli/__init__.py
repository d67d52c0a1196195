"""The `leadscore` command line: the first manual a data scientist reads.

Each subcommand reads its options, builds typed objects and hands them to the package; heavy
imports happen inside the commands so that `leadscore --help` answers at once. This module
holds the root ``app`` and registers the commands of each theme (data, model, scoring,
serving, demo) in the order `leadscore --help` lists them.
"""

from __future__ import annotations

import typer

from leadscore import progress
from leadscore.cli import data, demo, model, scoring, serving
from leadscore.cli.options import DEFAULT_RULEBOOK, DEFAULT_SPEC

__all__ = ["DEFAULT_RULEBOOK", "DEFAULT_SPEC", "app"]

app = typer.Typer(
    name="leadscore",
    help=(
        "Predictive lead scoring for B2B marketing and sales: validate an MA/CRM export, "
        "simulate one, and run the lead-scoring job end to end."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="markdown",
)


@app.callback()
def _show_progress(context: typer.Context) -> None:
    # long work (training, feature builds, scoring many leads) draws its bars on stderr while
    # a command runs, and only on a terminal: piped output and logs stay clean
    context.with_resource(progress.shown())


spec_app = typer.Typer(help="Write and check feature specs.", no_args_is_help=True)
features_app = typer.Typer(help="Build point-in-time training sets.", no_args_is_help=True)
app.add_typer(spec_app, name="spec")
app.add_typer(features_app, name="features")
rules_app = typer.Typer(
    help="Evaluate the points rulebook and suggest points from history.", no_args_is_help=True
)
app.add_typer(rules_app, name="rules")

app.command()(data.simulate)
app.command()(data.validate)
spec_app.command("infer")(data.spec_infer)
features_app.command("build")(data.features_build)
rules_app.command("evaluate")(model.rules_evaluate)
rules_app.command("suggest")(model.rules_suggest)
app.command()(model.train)
app.command()(scoring.score)
app.command()(scoring.explain)
app.command("tune-threshold")(model.tune_threshold)
app.command()(model.promote)
app.command()(serving.serve)
app.command()(demo.demo)

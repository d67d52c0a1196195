"""`python -m leadscore.cli`: the same command line as `leadscore`."""

from leadscore.cli import app

app()

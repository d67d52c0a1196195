"""Flat-mode training, assembled: one file of leads with a label in, what the job fits out.

Why a module of its own: the command line only parses and prints, and the model must remember
the shape of the file it learnt from (:class:`features.contract.FlatShape`) so that
`leadscore score` reads the next file of that shape the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from leadscore.features import schema
from leadscore.features.contract import FlatShape, load_flat
from leadscore.features.infer import infer_flat
from leadscore.features.offline import connect
from leadscore.features.reading import ExportFormat
from leadscore.features.spec import FeatureSpec
from leadscore.features.training_set import flat_training_set
from leadscore.training.job.leakage import leak_suspects
from leadscore.training.job.prepare import write_inputs
from leadscore.training.job.suggest import empty_rulebook
from leadscore.training.model.rulebook import Rulebook, compile_rules


@dataclass(frozen=True)
class FlatTraining:
    """What :func:`training.job.run.run_training` needs for a flat export, and the file's shape."""

    spec: FeatureSpec  # with the rulebook's signals compiled in
    rulebook: Rulebook
    training_set: Path
    shape: FlatShape
    notes: tuple[str, ...] = ()
    # how the file was read, with the column read as created_at when one was found by its name
    fmt: ExportFormat = field(default_factory=ExportFormat)


def prepare_flat_training(
    leads: Path,
    label: str,
    out: Path,
    *,
    id_column: str | None = None,
    order_column: str | None = None,
    drop: Sequence[str] = (),
    positive: str | None = None,
    negative: Sequence[str] = (),
    spec: FeatureSpec | None = None,
    rulebook: Rulebook | None = None,
    fmt: ExportFormat | None = None,
) -> FlatTraining:
    """Load a flat export, infer its spec (unless given), and write its training set under
    ``out``.

    ``drop`` columns (filled in after the outcome, say) are left out before the spec is
    inferred; the label never becomes a feature, and ``positive`` is its value that means
    converted when it is written in words of its own (Won, 受注), ``negative`` those that mean
    not (Lost, 失注; the rest then undecided). Without a rulebook the run
    starts from :func:`training.job.suggest.empty_rulebook`. ``fmt`` says how the file is
    written; an inferred spec reads the creation weekday and hour on its clock.
    """
    fmt = fmt or ExportFormat()
    flat = load_flat(
        leads, label, id_column=id_column, order_column=order_column, fmt=fmt, drop=drop,
        positive=positive, negative=negative,
    )  # fmt: skip
    if flat.created_from is not None:  # the next file is read the same way
        fmt = replace(fmt, columns={**fmt.columns, schema.CREATED_AT: flat.created_from})
    kept = flat.leads.drop(columns=list(drop), errors="ignore")
    said: list[str] = []
    if spec is None:
        inference = infer_flat(flat, drop, time_zone=fmt.time_zone)
        spec, said = inference.spec, [f"left out {line}" for line in inference.skipped]
    said += leak_suspects(kept, flat.label, spec)
    book = rulebook if rulebook is not None else empty_rulebook()
    feature_spec = compile_rules(book, spec)
    path, widened = flat_training_set(
        connect(), kept, flat.label, feature_spec, out, order=flat.order
    )
    write_inputs(path.parent, spec, book)
    notes = (*flat.notes, *said, *([f"split: {widened}"] if widened else []))
    return FlatTraining(feature_spec, book, path, flat.shape(drop), notes, fmt)

"""Model directories written before the one import root and the two training rooms still load.

Why: a scorer is pickled with the module names of its classes. Before 0.2 the folders were
installed as the top-level packages ``features``, ``training`` and ``serving``, so a model
trained then names ``training.scorer.LeadScorer``; a model trained by an early 0.2 names
``leadscore.training.scorer.LeadScorer``. The class now lives in
``leadscore.training.model.scorer``. While such a file is read, :func:`legacy_module_names`
answers each old name with the module of the new one (:func:`current_name`); nothing else ever
imports the old names (a lint rule bans them), and they are gone again once the file is read.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

OLD_ROOTS = ("features", "training", "serving")
# where each module of the flat ``training`` folder went when it split into two rooms
MOVED = {
    **{name: f"model.{name}" for name in (
        "artifact", "combiner", "encoding", "explain", "legacy_names", "policy", "rows",
        "rulebook", "rules", "scorer",
    )},
    **{name: f"job.{name}" for name in (
        "capacity", "evaluation", "flat", "prepare", "response_delay", "rule_metrics", "suggest",
        "tracking", "train",
    )},
    "job": "job.run",
}  # fmt: skip


def current_name(old: str) -> str | None:
    """The module an old pickle's module name now is, or None when the name never moved.

    ``training.scorer`` and ``leadscore.training.scorer`` -> ``leadscore.training.model.scorer``;
    ``features.spec`` -> ``leadscore.features.spec``.
    """
    name = old.removeprefix("leadscore.")
    root, _, rest = name.partition(".")
    if root not in OLD_ROOTS:
        return None
    if root == "training" and rest:
        module, _, inner = rest.partition(".")
        if module in MOVED:
            return ".".join(filter(None, ("leadscore.training", MOVED[module], inner)))
    return None if old.startswith("leadscore.") else f"leadscore.{name}"


class _OldNames(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old module name as the module it now is: the same object, not a copy."""

    def __init__(self) -> None:
        self.aliased: list[str] = []
        self._own: dict[int, tuple[object, object]] = {}  # id(module) -> its spec and loader

    def find_spec(self, fullname, path=None, target=None):  # type: ignore[no-untyped-def]
        if current_name(fullname) is None:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec) -> ModuleType:  # type: ignore[no-untyped-def]
        module = importlib.import_module(current_name(spec.name))  # type: ignore[arg-type]
        self._own.setdefault(id(module), (module.__spec__, module.__loader__))
        self.aliased.append(spec.name)
        return module

    def exec_module(self, module: ModuleType) -> None:
        # the import system wrote the old name's spec onto the module: give it back its own
        module.__spec__, module.__loader__ = self._own[id(module)]  # type: ignore[assignment]


@contextmanager
def legacy_module_names() -> Iterator[None]:
    """While open, ``import training.scorer`` (as an old pickle does) gives
    ``leadscore.training.model.scorer``; on close the old names are forgotten."""
    finder = _OldNames()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in finder.aliased:
            sys.modules.pop(name, None)

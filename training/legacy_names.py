"""Model directories written before the one import root still load.

Why: a scorer is pickled with the module names of its classes. Before 0.2 the folders were
installed as the top-level packages ``features``, ``training`` and ``serving``, so a model
trained then names ``training.scorer.LeadScorer`` where the class now lives in
``leadscore.training.scorer``. While such a file is read, :func:`legacy_module_names` answers
each old name with the module of the new one; nothing else ever imports the old names (a lint
rule bans them), and they are gone again once the file is read.
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


class _OldNames(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``training.x`` as ``leadscore.training.x``: the same module object, not a copy."""

    def __init__(self) -> None:
        self.aliased: list[str] = []
        self._own: dict[int, tuple[object, object]] = {}  # id(module) -> its spec and loader

    def find_spec(self, fullname, path=None, target=None):  # type: ignore[no-untyped-def]
        if fullname.partition(".")[0] not in OLD_ROOTS:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec) -> ModuleType:  # type: ignore[no-untyped-def]
        module = importlib.import_module(f"leadscore.{spec.name}")
        self._own.setdefault(id(module), (module.__spec__, module.__loader__))
        self.aliased.append(spec.name)
        return module

    def exec_module(self, module: ModuleType) -> None:
        # the import system wrote the old name's spec onto the module: give it back its own
        module.__spec__, module.__loader__ = self._own[id(module)]  # type: ignore[assignment]


@contextmanager
def legacy_module_names() -> Iterator[None]:
    """While open, ``import training.scorer`` (as an old pickle does) gives
    ``leadscore.training.scorer``; on close the old names are forgotten."""
    finder = _OldNames()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in finder.aliased:
            sys.modules.pop(name, None)

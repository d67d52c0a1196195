"""Where the service gets its scorer, and how a new hand-off policy reaches a running service.

The scorer comes from a model directory (what `leadscore train` writes) or from the MLflow
registry (``models:/lead-scorer@champion``), whose registered pyfunc carries the same directory
as an artifact. Marketing ops re-tune thresholds with `leadscore tune-threshold`, which rewrites
the directory's ``policy.json``; the handle notices the change within ``reload_seconds`` and
swaps the policy in without a restart or a retrain. A new file is checked like the first one
was at start-up (:func:`training.model.policy.read_policy`); one that fails never replaces the
policy in force: the handle logs why, once per version of the file, and tells ``on_refused`` (the
service counts it in ``/metrics``), and keeps trying the file, so that a fixed one gets in.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from leadscore.serving.scoring import lead_needs
from leadscore.training.model.artifact import ModelDirectoryError, load_model
from leadscore.training.model.policy import POLICY_FILE, Policy, PolicyError, read_policy
from leadscore.training.model.registry import CHAMPION_URI
from leadscore.training.model.scorer import LeadScorer

REGISTRY_PREFIX = "models:/"
log = logging.getLogger(__name__)


def resolve_model_directory(location: str, *, tracking_uri: str | None = None) -> Path:
    """A local model directory for ``location``: a path, or a registry URI downloaded first."""
    if not location:
        raise ModelDirectoryError(
            f"no model given: set LEADSCORE_MODEL to a model directory or to {CHAMPION_URI}"
        )
    if not location.startswith(REGISTRY_PREFIX):
        return Path(location)
    import mlflow

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    try:
        downloaded = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=location, dst_path=tempfile.mkdtemp(prefix="leadscore-model-")
            )
        )
    except Exception as exc:  # registry, alias or store missing: all mean "no such model" here
        raise ModelDirectoryError(
            f"{location}: cannot load from the MLflow registry ({type(exc).__name__}: {exc}); "
            "check MLFLOW_TRACKING_URI and the alias"
        ) from None
    directories = [p.parent for p in (downloaded / "artifacts").glob("*/scorer.joblib")]
    if len(directories) != 1:
        raise ModelDirectoryError(f"{location}: the registered model holds no model directory")
    return directories[0]


@dataclass
class ModelHandle:
    """The loaded scorer, with its policy kept in step with the directory's ``policy.json``."""

    directory: Path
    scorer: LeadScorer
    reload_seconds: float = 2.0
    on_refused: Callable[[PolicyError], None] | None = None
    refused: str | None = None  # why the newest policy.json is not in force, while it is not
    _policy_stamp: int = 0
    _refused_stamp: int | None = None
    _checked_at: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, location: str, *, reload_seconds: float = 2.0,
             tracking_uri: str | None = None,
             on_refused: Callable[[PolicyError], None] | None = None) -> ModelHandle:  # fmt: skip
        directory = resolve_model_directory(location, tracking_uri=tracking_uri)
        handle = cls(directory, load_model(directory), reload_seconds, on_refused)
        handle._policy_stamp = handle._stamp()
        return handle

    def _stamp(self) -> int:
        try:
            return (self.directory / POLICY_FILE).stat().st_mtime_ns
        except OSError:
            return self._policy_stamp

    def current(self) -> LeadScorer:
        """The scorer, with the newest policy; checks the file at most every reload_seconds."""
        now = time.monotonic()
        if now - self._checked_at >= self.reload_seconds:
            with self._lock:
                self._checked_at = now
                stamp = self._stamp()
                if stamp != self._policy_stamp:
                    self._reload_policy(stamp)
        return self.scorer

    def _reload_policy(self, stamp: int) -> None:
        """Swap in the file's policy if it passes the checks; else keep the one in force."""
        in_force = self.scorer.in_force()
        try:
            policy = read_policy(self.directory / POLICY_FILE)
        except PolicyError as error:
            if stamp != self._refused_stamp:  # once per version of the file, not every check
                self._refused_stamp = stamp
                self.refused = str(error)
                log.warning(
                    "hand-off policy refused, v%d stays in force: %s", in_force.version, error
                )
                if self.on_refused is not None:
                    self.on_refused(error)
            return
        self.scorer = replace(self.scorer, policy=policy)  # calls in flight keep the old one
        self._policy_stamp = stamp
        self.refused = None
        log.info("hand-off policy v%d in force (was v%d)", policy.version, in_force.version)

    def ready(self) -> bool:
        """Whether the policy in force passes the checks a policy file must pass to get in."""
        try:
            Policy.model_validate(self.scorer.in_force().model_dump())
        except (RuntimeError, ValueError):
            return False
        return True

    @property
    def model_version(self) -> str:
        meta = self.scorer.metadata
        return str(meta.get("model_version") or meta.get("run_id") or "unregistered")

    def metadata(self) -> dict:
        scorer = self.current()
        meta = scorer.metadata
        return {
            "model_version": self.model_version,
            "model_uri": meta.get("model_uri"),
            "run_id": meta.get("run_id"),
            "trained_at": meta.get("trained_at"),
            "spec_fingerprint": scorer.spec.fingerprint(),
            "rulebook_fingerprint": meta.get("rulebook_fingerprint"),
            "sql_within_days": scorer.spec.sql_within_days,
            **lead_needs(scorer),
            "policy": {k: v for k, v in scorer.in_force().as_dict().items() if k != "backtest"},
            "policy_refused": self.refused,
        }

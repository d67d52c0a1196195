"""The self-contained model directory that batch scoring and serving load.

Layout (one version of the scorer, everything it needs):

    scorer.joblib     the fitted LeadScorer (rules, models, combiner, score scale)
    spec.yaml         the feature spec, with the rulebook's signals compiled in
    rulebook.yaml     the points rulebook as trained
    policy.json       the current hand-off policy (thresholds), checked on every read
    policies/         earlier policies, kept as history
    metadata.json     versions, hashes, data window, metrics
    reason_catalog.yaml  the words of the reasons, as trained

joblib is scikit-learn's own persistence; the YAML and JSON copies are there for people and for
checks: loading refuses a directory whose spec no longer matches the scorer inside it, or
whose policy is not a usable one (:func:`training.model.policy.read_policy`).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import joblib
import yaml

from leadscore.features.spec import dump_spec, load_spec
from leadscore.training.model.legacy_names import legacy_module_names
from leadscore.training.model.policy import POLICY_FILE, PolicyError, read_policy, store_policy
from leadscore.training.model.rulebook import dump_rulebook
from leadscore.training.model.scorer import LeadScorer
from leadscore.training.model.wording import CATALOG

SCORER_FILE = "scorer.joblib"
SPEC_FILE = "spec.yaml"  # also beside a training set: the spec it was built with
RULEBOOK_FILE = "rulebook.yaml"  # also beside a training set: the rulebook, after any bootstrap
METADATA_FILE = "metadata.json"
CATALOG_FILE = CATALOG.name  # the reason catalog, as trained
REQUIRED = (SCORER_FILE, SPEC_FILE, RULEBOOK_FILE, POLICY_FILE, METADATA_FILE)


class ModelDirectoryError(RuntimeError):
    """A model directory that is missing, incomplete or corrupt."""


def save_model(scorer: LeadScorer, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(scorer, directory / SCORER_FILE)
    dump_spec(scorer.spec, directory / SPEC_FILE)
    (directory / RULEBOOK_FILE).write_text(dump_rulebook(scorer.rulebook))
    store_policy(scorer.in_force(), directory / POLICY_FILE)
    (directory / METADATA_FILE).write_text(json.dumps(scorer.metadata, indent=2, default=str))
    if scorer.reason_catalog:
        (directory / CATALOG_FILE).write_text(
            yaml.safe_dump(scorer.reason_catalog, allow_unicode=True, sort_keys=False)
        )
    return directory


def load_model(directory: Path) -> LeadScorer:
    """Load a model directory, or say exactly what is wrong with it."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelDirectoryError(f"{directory}: no model directory here; train one first")
    missing = [name for name in REQUIRED if not (directory / name).exists()]
    if missing:
        raise ModelDirectoryError(
            f"{directory}: incomplete model directory, missing {', '.join(missing)}"
        )
    try:
        with legacy_module_names():  # a model trained before the one import root
            scorer = joblib.load(directory / SCORER_FILE)
        spec = load_spec(directory / SPEC_FILE)
    except Exception as exc:  # any unpickling or parsing failure means the same to the user
        raise ModelDirectoryError(
            f"{directory}: corrupt model directory ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(scorer, LeadScorer):
        raise ModelDirectoryError(f"{directory}/{SCORER_FILE} does not hold a LeadScorer")
    if spec.fingerprint() != scorer.spec.fingerprint():
        raise ModelDirectoryError(f"{directory}: spec.yaml does not match the scorer it ships with")
    try:
        policy = read_policy(directory / POLICY_FILE)
    except PolicyError as error:
        raise ModelDirectoryError(str(error)) from None
    return replace(scorer, policy=policy)  # the file is the policy in force, not the pickle's

"""A re-tuned policy reaches the service; a broken one never replaces the policy in force.

The handle is exercised on a stand-in scorer (the reload only reads and sets its policy), so
each step of the story - a good file, a bad one, the fix - is checked without a server; the
real server is in test_service.py.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, replace

from leadscore.serving.model_source import ModelHandle
from leadscore.training.model.policy import POLICY_FILE, Policy, PolicyError, store_policy

IN_FORCE = Policy(version=3, kind="capacity", threshold=0.25, thresholds={"*": 0.25})


@dataclass
class StandInScorer:
    policy: Policy

    def in_force(self) -> Policy:
        return self.policy


def serving(tmp_path) -> tuple[ModelHandle, list[PolicyError]]:
    store_policy(IN_FORCE, tmp_path / POLICY_FILE)
    refusals: list[PolicyError] = []
    handle = ModelHandle(tmp_path, StandInScorer(IN_FORCE), 0.0, refusals.append)  # type: ignore[arg-type]
    handle._policy_stamp = handle._stamp()
    return handle, refusals


def save(tmp_path, data: dict, when_ns: int) -> None:
    path = tmp_path / POLICY_FILE
    path.write_text(json.dumps(data))
    os.utime(path, ns=(when_ns, when_ns))  # a new version of the file, whatever the clock


def test_a_retuned_policy_is_swapped_in(tmp_path):
    handle, refusals = serving(tmp_path)
    save(tmp_path, {**IN_FORCE.as_dict(), "version": 4}, 10**18)
    assert handle.current().policy.version == 4
    assert refusals == [] and handle.refused is None and handle.ready()


def test_a_broken_policy_is_refused_once_and_the_fix_gets_in(tmp_path, caplog):
    handle, refusals = serving(tmp_path)
    broken = {**IN_FORCE.as_dict(), "version": 4, "threshold": "abc"}
    save(tmp_path, broken, 10**18)
    with caplog.at_level(logging.WARNING, logger="serving.model_source"):
        for _ in range(3):  # every call checks the file; the refusal is said once
            assert handle.current().policy is IN_FORCE
    assert len(refusals) == 1 and "threshold" in str(refusals[0])
    assert [r.getMessage() for r in caplog.records if "refused" in r.getMessage()] == [
        f"hand-off policy refused, v3 stays in force: {refusals[0]}"
    ]
    assert "threshold" in (handle.refused or "") and handle.ready()
    save(tmp_path, {**broken, "threshold": 0.3, "thresholds": {"*": 0.3}}, 2 * 10**18)
    assert handle.current().policy.threshold == 0.3 and handle.refused is None


def test_a_half_written_file_is_read_again_until_it_is_whole(tmp_path):
    handle, refusals = serving(tmp_path)
    path = tmp_path / POLICY_FILE
    whole = json.dumps({**IN_FORCE.as_dict(), "version": 4})
    path.write_text(whole[:20])
    os.utime(path, ns=(10**18, 10**18))
    assert handle.current().policy is IN_FORCE
    path.write_text(whole)  # finished within the same clock tick: the same stamp
    os.utime(path, ns=(10**18, 10**18))
    assert handle.current().policy.version == 4
    assert len(refusals) == 1


def test_the_service_is_not_ready_with_a_policy_that_skipped_the_checks(tmp_path):
    handle, _ = serving(tmp_path)
    skipped = Policy.model_construct(**{**IN_FORCE.model_dump(), "tiers": {}})
    handle.scorer = replace(handle.scorer, policy=skipped)
    assert not handle.ready()

"""An MA system calls the scoring service over HTTP: strict about input, safe, and exact.

Every test talks to a real `bentoml serve` process (see conftest.py) with the project's client.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.features import schema
from leadscore.features.sources import from_files
from leadscore.serving.api import EXAMPLE_LEAD
from leadscore.serving.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from leadscore.serving.batch import score_source
from leadscore.serving.client import lead_payload
from leadscore.training.model.artifact import load_model

from ..conftest import TRAINED_GROUP
from .conftest import API_KEY, MAX_BATCH, WEBHOOK_SECRET

pytestmark = pytest.mark.xdist_group(TRAINED_GROUP)  # one trained world, one worker

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def as_of(world) -> pd.Timestamp:
    return world.activities[schema.OCCURRED_AT].quantile(0.8)


def payload(world, lead_id, *, lang: str = "en", moment=None) -> dict:
    lead = world.leads[world.leads[schema.LEAD_ID] == lead_id].iloc[0].to_dict()
    history = world.activities[world.activities[schema.LEAD_ID] == lead_id]
    return lead_payload(lead, history, as_of=moment or as_of(world), lang=lang)


def busiest(world, count: int) -> list:
    """Leads with the most activity before the scoring time: the ones with something to say."""
    before = world.activities[world.activities[schema.OCCURRED_AT] <= as_of(world)]
    created = world.leads.set_index(schema.LEAD_ID)[schema.CREATED_AT]
    counts = before[schema.LEAD_ID].value_counts()
    alive = [i for i in counts.index if created[i] <= as_of(world)]
    return alive[:count]


def post(server, path: str, body: object, **headers: str) -> httpx.Response:
    return httpx.post(f"{server.url}{path}", json=body, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def batch(world) -> pd.DataFrame:
    """`leadscore score`'s answer for every lead of the export as of :func:`as_of`, by lead."""
    source = from_files(world.export["leads"], world.export["activities"], None)
    return score_source(load_model(world.model), source, as_of(world)).set_index(schema.LEAD_ID)


def scored_in_process(world, posted: list[dict], folder: Path) -> pd.DataFrame:
    """The batch path's answer for posted leads: written as an export's two files (the
    export's columns; an attribute it lacks is ignored, as training never saw it) and scored
    by `score_source` in this process, as `leadscore score` would, by lead."""
    (moment,) = {body["as_of"] for body in posted}
    leads = pd.DataFrame(
        [{schema.LEAD_ID: body["lead_id"], schema.CREATED_AT: body["created_at"],
          **body.get("attributes", {})} for body in posted]
    ).drop_duplicates(schema.LEAD_ID).reindex(columns=world.leads.columns)  # fmt: skip
    for column, kind in world.leads.dtypes.items():
        if column == schema.CREATED_AT:
            leads[column] = pd.to_datetime(leads[column], utc=True)
        elif column == schema.LEAD_ID or not pd.api.types.is_numeric_dtype(kind):
            leads[column] = leads[column].astype("string")
        else:
            leads[column] = leads[column].astype("float64")
    activities = pd.DataFrame(
        [{schema.LEAD_ID: str(body["lead_id"]), **activity}
         for body in posted for activity in body.get("activities", [])],
        columns=[schema.LEAD_ID, schema.OCCURRED_AT, schema.ACTIVITY_TYPE, schema.DETAIL],
    ).astype("string")  # fmt: skip
    activities[schema.OCCURRED_AT] = pd.to_datetime(activities[schema.OCCURRED_AT], utc=True)
    leads.to_parquet(folder / "leads.parquet")
    activities.to_parquet(folder / "activities.parquet")
    files = folder / "activities.parquet" if len(activities) else None  # no rows: no file
    source = from_files(folder / "leads.parquet", files, None)
    scores = score_source(load_model(world.model), source, pd.Timestamp(moment))
    return scores.set_index(schema.LEAD_ID)


def assert_same_answer(online: dict, offline: pd.Series) -> None:
    """The service and the batch file tell sales the same about a lead."""
    assert online["p_sql"] == pytest.approx(offline["p_sql"], rel=1e-9, abs=1e-12)
    for column in ("score", "tier", "decision", "grade", "instant_pass"):
        assert online[column] == offline[column], (online["lead_id"], column)
    assert online["rule_points"] == pytest.approx(offline["rule_points"], rel=1e-9)


# ------------------------------------------------------------------------- what sales gets


def test_a_posted_lead_gets_score_tier_decision_and_reasons_in_japanese(world, server, batch):
    lead_id = busiest(world, 1)[0]
    result = server.client().score(payload(world, lead_id, lang="ja"))
    assert result["lead_id"] == str(lead_id)
    assert_same_answer(result, batch.loc[lead_id])
    assert re.fullmatch(r"[A-D][1-4]", result["grade"])
    reasons = result["reasons"]["positive"] + result["reasons"]["negative"]
    assert reasons and all(JAPANESE.search(r["text"]) for r in reasons)
    breakdown = sum(item["points"] for item in result["rule_breakdown"])
    assert breakdown == pytest.approx(result["rule_points"])
    policy = json.loads((world.model / "policy.json").read_text())
    assert result["policy_version"] == policy["version"]
    assert result["threshold"] == pytest.approx(policy["threshold"])
    assert result["model_version"] == server.client().metadata()["model_version"]
    # on a Japanese team's clock, in its words, as the hand-off sheet says it
    assert result["time_zone"] == "Asia/Tokyo"
    assert JAPANESE.search(result["tier_meaning"])
    if result["decision"] == "hand off":
        assert result["follow_up_by"].endswith("+09:00")
        assert re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日\(.\) \d{1,2}:\d{2} JST",
                            result["follow_up_by_text"])  # fmt: skip
    else:
        assert result["follow_up_by"] is None
        assert result["follow_up_by_text"] == "期限なし（引き継ぎ対象外）"  # as the sheet says
    berlin = server.client().score({**payload(world, lead_id), "time_zone": "Europe/Berlin"})
    assert berlin["time_zone"] == "Europe/Berlin" and berlin["tier_meaning"].isascii()


def test_http_and_file_scoring_give_the_same_answer_for_every_lead(world, server, batch):
    """One scoring path: the service and `leadscore score` agree to the last digit."""
    moment = as_of(world)
    existing = world.leads[world.leads[schema.CREATED_AT] <= moment][schema.LEAD_ID]
    chosen = busiest(world, 25) + list(existing.sample(10, random_state=3))
    answer = server.client().score_batch([payload(world, i, moment=moment) for i in chosen])
    assert answer["failed"] == 0 and [r["lead_id"] for r in answer["results"]] == [
        str(i) for i in chosen
    ]
    for lead_id, item in zip(chosen, answer["results"], strict=True):
        online, offline = item["result"], batch.loc[lead_id]
        assert online["p_sql"] == pytest.approx(offline["p_sql"], rel=1e-9, abs=1e-12)
        for column in ("score", "tier", "decision", "grade"):
            assert online[column] == offline[column], (lead_id, column)
        assert online["reasons"] == json.loads(offline["reasons_json"])
        assert online["rule_breakdown"] == json.loads(offline["rule_breakdown"])


def test_a_bad_lead_in_a_batch_gets_its_own_error_and_the_others_are_scored_in_order(world, server):
    good = [payload(world, i) for i in busiest(world, 3)]
    broken = dict(good[1], created_at="last tuesday")
    answer = server.client().score_batch([good[0], broken, 17, good[2]])
    results = answer["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3]
    assert [r["ok"] for r in results] == [True, False, False, True]
    assert (answer["scored"], answer["failed"]) == (2, 2)
    assert results[1]["lead_id"] == str(good[1]["lead_id"])
    assert results[1]["error"]["detail"][0]["loc"] == ["created_at"]
    assert results[2]["error"]["detail"][0]["type"] == "model_type"


def test_a_batch_over_the_limit_is_refused_naming_the_limit(world, server):
    one = payload(world, busiest(world, 1)[0])
    response = post(server, "/score_batch", {"leads": [one] * (MAX_BATCH + 1)})
    assert response.status_code == 400
    problem = response.json()["detail"][0]
    assert problem["loc"] == ["leads"] and str(MAX_BATCH) in problem["msg"]


def test_unknown_categories_missing_fields_and_no_activities_score_as_the_batch_does(
    world, server, tmp_path
):
    """A lead with nothing known is scored as `leadscore score` scores it, not with any
    probability at all, whether a level is unknown, a field empty, new or missing."""
    client = server.client()
    moment = "2026-02-01T00:00:00Z"
    bare = {"lead_id": "new-1", "created_at": "2026-01-05T10:00:00Z", "as_of": moment}
    unknown = {"department": "Astrology", "region": None, "job_level": "", "brand_new_field": 3}
    odd = dict(bare, lead_id="new-2", attributes=unknown)
    offline = scored_in_process(world, [bare, odd], tmp_path)
    answers = {}
    for name, body in (("bare", bare), ("odd", odd), ("empty", dict(bare, activities=[]))):
        answers[name] = client.score(dict(body, created_at="2026-01-05T10:00:00"))  # naive: UTC
        assert_same_answer(answers[name], offline.loc[body["lead_id"]])
    assert answers["empty"] == answers["bare"]


def test_an_obvious_hot_lead_outranks_a_cold_one_and_a_demo_request_hands_off(
    world, server, tmp_path
):
    def lead(lead_id: str, attributes: dict, activities: list) -> dict:
        return {"lead_id": lead_id, "created_at": "2026-01-02T09:00:00Z",
                "as_of": "2026-02-01T00:00:00Z", "attributes": attributes,
                "activities": [{"occurred_at": f"2026-01-{day:02d}T10:00:00Z",
                                "activity_type": kind, "detail": detail}
                               for day, kind, detail in activities]}  # fmt: skip

    hot = lead(
        "hot",
        {"job_level": "director", "department": "IT", "employee_band": "1000-4999"},
        [(d, "page_view", "/pricing") for d in (20, 24, 27, 29)]
        + [(25, "webinar_attended", "webinar-1"), (30, "demo_request", "/demo")],
    )
    cold = lead("cold", {"job_level": "student", "department": "other"},
                [(10, "page_view", "/careers"), (11, "page_view", "/careers/jobs")])  # fmt: skip
    results = server.client().score_batch([hot, cold])["results"]
    hot_result, cold_result = (r["result"] for r in results)
    offline = scored_in_process(world, [hot, cold], tmp_path)
    assert_same_answer(hot_result, offline.loc["hot"])
    assert_same_answer(cold_result, offline.loc["cold"])
    assert hot_result["p_sql"] > cold_result["p_sql"]
    assert hot_result["score"] > cold_result["score"] and hot_result["tier"] <= cold_result["tier"]
    assert hot_result["instant_pass"] and hot_result["decision"] == "hand off"
    assert all("demo" not in r["concept"] for r in hot_result["reasons"]["negative"])


# ----------------------------------------------------------------------- strict about input


BAD_BODIES = {
    "unparseable activity time": (
        lambda p: {
            **p,
            "activities": [p["activities"][0], {"occurred_at": "yesterday", "activity_type": "x"}],
        },
        ["activities", 1, "occurred_at"],
    ),
    "unknown language": (lambda p: {**p, "lang": "fr"}, ["lang"]),
    "missing created_at": (
        lambda p: {k: v for k, v in p.items() if k != "created_at"},
        ["created_at"],
    ),
    "misspelt field": (lambda p: {**p, "activites": []}, ["activites"]),
    "attribute that is a list": (
        lambda p: {**p, "attributes": {"department": ["IT", "HR"]}},
        ["attributes", "department"],
    ),
    "created after the scoring time": (
        lambda p: {**p, "created_at": "2030-01-01T00:00:00Z"},
        ["created_at"],
    ),
    "too many reasons asked": (lambda p: {**p, "top": 99}, ["top"]),
    "a city for a time zone": (lambda p: {**p, "time_zone": "Tokyo"}, ["time_zone"]),
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_bad_input_gets_a_400_naming_the_field_and_never_a_stack_trace(world, server, case):
    change, loc = BAD_BODIES[case]
    response = post(server, "/score", change(payload(world, busiest(world, 1)[0])))
    assert response.status_code == 400, response.text
    assert loc in [problem["loc"] for problem in response.json()["detail"]]
    assert "Traceback" not in response.text and 'File "' not in response.text


def test_malformed_json_and_other_media_types_are_refused_cleanly(server):
    broken = httpx.post(f"{server.url}/score", content=b"{'lead_id': 1",
                        headers={"content-type": "application/json"})  # fmt: skip
    assert broken.status_code == 400 and broken.json()["detail"][0]["type"] == "json_invalid"
    form = httpx.post(f"{server.url}/score", content=b"lead_id=1",
                      headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert form.status_code == 415
    pickled = httpx.post(f"{server.url}/score", content=b"\x80\x04",
                         headers={"content-type": "application/vnd.bentoml+pickle"})  # fmt: skip
    assert pickled.status_code == 415


def test_personal_data_never_reaches_the_server_log(world, server):
    lead = payload(world, busiest(world, 1)[0])
    lead["attributes"].update(email="jane.doe@example.com", phone="+81-90-1234-5678")
    assert server.client().score(lead)["lead_id"] == str(lead["lead_id"])
    rejected = dict(lead, attributes={"email": ["jane.roe@example.org"]}, created_at="jane@x.jp")
    assert post(server, "/score", rejected).status_code == 400
    assert post(server, "/score_batch", {"leads": [rejected]}).json()["failed"] == 1
    time.sleep(0.5)  # let the access log flush
    log = server.log.read_text(errors="replace")
    assert "/score" in log  # the log is there, and it is silent about people
    for secret in ("jane.doe@example.com", "1234-5678", "jane.roe@example.org", "jane@x.jp"):
        assert secret not in log


# ------------------------------------------------------------------------ run like a service


def test_probes_metrics_and_metadata_answer(world, server):
    server.client().score(payload(world, busiest(world, 1)[0]))
    for probe in ("/livez", "/readyz"):
        assert httpx.get(f"{server.url}{probe}").status_code == 200
    metrics = httpx.get(f"{server.url}/metrics").text
    assert re.search(r'leadscore_decisions_total\{decision="(hand off|nurture)"', metrics)
    assert "leadscore_score_bucket" in metrics
    metadata = server.client().metadata()
    scorer = load_model(world.model)
    assert metadata["spec_fingerprint"] == scorer.spec.fingerprint()
    assert metadata["model_version"] == scorer.metadata["model_version"]
    assert metadata["policy"]["version"] == scorer.policy.version


def request_schema(schema_doc: dict, path: str) -> dict:
    """The JSON body schema the OpenAPI document declares for POST ``path``."""
    body = schema_doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    return body["schema"]


EXAMPLES = {"/score": EXAMPLE_LEAD, "/score_batch": {"leads": [EXAMPLE_LEAD]}}


def test_the_openapi_schema_has_examples_and_holds_under_schemathesis(server, tmp_path):
    schema_doc = httpx.get(f"{server.url}/docs.json").json()
    assert {"/score", "/score_batch", "/metadata"} <= set(schema_doc["paths"])
    # each call's body shows the project's example lead, and that example is answered as is
    assert {path: request_schema(schema_doc, path).get("example") for path in EXAMPLES} == EXAMPLES
    scored = post(server, "/score", EXAMPLES["/score"])
    assert scored.status_code == 200 and scored.json()["lead_id"] == EXAMPLE_LEAD["lead_id"]
    batch = post(server, "/score_batch", EXAMPLES["/score_batch"])
    assert batch.status_code == 200 and (batch.json()["scored"], batch.json()["failed"]) == (1, 0)
    runner = Path(sys.executable).with_name("schemathesis")
    checks = "not_a_server_error,status_code_conformance,content_type_conformance,"
    checks += "response_schema_conformance"
    run = subprocess.run(
        [str(runner), "run", f"{server.url}/docs.json", "--checks", checks,
         "--max-examples", "25", "--workers", "1", "--seed", "7", "--no-color"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:]


def test_the_documented_examples_fit_the_documented_request_schemas(server):
    """A client generated from /docs.json must accept the example the same document shows."""
    import jsonschema

    schema_doc = httpx.get(f"{server.url}/docs.json").json()
    for path, example in EXAMPLES.items():
        declared = {**request_schema(schema_doc, path), "components": schema_doc["components"]}
        jsonschema.validate(example, declared)


# ----------------------------------------------------------------------------- credentials


def test_calls_without_credentials_are_refused_and_probes_stay_open(world, secured_server):
    body = payload(world, busiest(world, 1)[0])
    refused = post(secured_server, "/score", body)
    assert refused.status_code == 401 and "www-authenticate" in refused.headers
    assert refused.json()["detail"][0]["loc"] == ["header", "authorization"]
    assert post(secured_server, "/score", body, authorization="Bearer wrong").status_code == 401
    assert httpx.get(f"{secured_server.url}/metadata").status_code == 401
    for probe in ("/livez", "/readyz", "/metrics"):
        assert httpx.get(f"{secured_server.url}{probe}").status_code == 200
    accepted = secured_server.client(api_key=API_KEY).score(body)
    assert accepted["lead_id"] == str(body["lead_id"])


def test_signed_webhooks_are_accepted_and_tampered_or_stale_ones_refused(
    world, server, secured_server
):
    body = payload(world, busiest(world, 1)[0])
    signed = secured_server.client(webhook_secret=WEBHOOK_SECRET).score(body)
    open_answer = server.client().score(body)  # same model, no credentials needed
    assert signed["p_sql"] == pytest.approx(open_answer["p_sql"], rel=1e-9, abs=1e-12)
    assert signed["lead_id"] == open_answer["lead_id"] == str(body["lead_id"])
    raw = json.dumps(body).encode()
    stamp = str(int(time.time()))
    headers = {"content-type": "application/json", TIMESTAMP_HEADER: stamp,
               SIGNATURE_HEADER: sign(WEBHOOK_SECRET, stamp, raw)}  # fmt: skip
    url = f"{secured_server.url}/score"
    assert httpx.post(url, content=raw, headers=headers).status_code == 200
    tampered = raw.replace(b'"lang": "en"', b'"lang": "ja"')
    assert tampered != raw
    assert httpx.post(url, content=tampered, headers=headers).status_code == 401
    old = str(int(time.time()) - 3600)
    stale = {**headers, TIMESTAMP_HEADER: old, SIGNATURE_HEADER: sign(WEBHOOK_SECRET, old, raw)}
    refused = httpx.post(url, content=raw, headers=stale)
    assert refused.status_code == 401 and refused.json()["detail"][0]["loc"][1] == TIMESTAMP_HEADER
    wrong_secret = {**headers, SIGNATURE_HEADER: sign("guess", stamp, raw)}
    assert httpx.post(url, content=raw, headers=wrong_secret).status_code == 401


def test_a_retuned_policy_reaches_the_running_service_without_a_restart(world, secured_server):
    """Marketing ops changes capacity and the team's working hours; the next call already
    follows the new thresholds, and a demo request in on Friday night in Tokyo is due on
    Monday afternoon, not at 3:00 on Saturday."""
    client = secured_server.client(api_key=API_KEY)
    before = client.metadata()["policy"]["version"]
    lead = payload(world, busiest(world, 1)[0])
    scored_before = client.score(lead)
    result = CliRunner().invoke(app, [
        "tune-threshold", "--model", str(secured_server.model), "--capacity", "15/week",
        "--sla-hours", "8", "--working-hours", "Mon-Fri 09:00-18:00", "--holidays", "JP",
        "--team-time-zone", "Asia/Tokyo",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    policy = json.loads((secured_server.model / "policy.json").read_text())
    assert policy["version"] == before + 1
    deadline = time.monotonic() + 15
    while client.metadata()["policy"]["version"] != policy["version"]:
        assert time.monotonic() < deadline, "the service did not pick up the new policy"
        time.sleep(0.2)
    scored = client.score(lead)
    assert scored["policy_version"] == policy["version"]
    assert scored["threshold"] == pytest.approx(policy["threshold"])
    # a policy moves thresholds, never the probability the model gives the lead
    assert scored["p_sql"] == pytest.approx(scored_before["p_sql"], rel=1e-9, abs=1e-12)
    friday_night = {
        "lead_id": "friday-demo", "created_at": "2026-07-03T09:00:00Z",
        "as_of": "2026-07-03T10:00:00Z",  # 19:00 in Tokyo
        "attributes": {"job_level": "director", "department": "IT"},
        "activities": [{"occurred_at": "2026-07-03T09:30:00Z", "activity_type": "demo_request",
                        "detail": "/demo"}],
    }  # fmt: skip
    due = client.score(friday_night)
    assert due["decision"] == "hand off"  # an instant pass
    assert due["follow_up_by"] == "2026-07-06T17:00:00+09:00"
    # CLDR writes a narrow no-break space before PM: compared as any space
    assert " ".join(due["follow_up_by_text"].split()) == "Mon, Jul 6, 2026, 5:00 PM Asia/Tokyo"


def refused_policies(server) -> float:
    """The service's count of policy.json versions it refused (0 before the first)."""
    metrics = httpx.get(f"{server.url}/metrics").text
    found = re.search(r"^leadscore_policy_refused_total (\S+)$", metrics, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_a_broken_policy_file_never_replaces_the_policy_in_force(world, secured_server):
    """Someone saves policy.json with a bad value: every call keeps the policy in force, and the
    service says, in its log, /metadata and /metrics, that it refused the file and why."""
    client = secured_server.client(api_key=API_KEY)
    path = secured_server.model / "policy.json"
    good = path.read_text()
    in_force = client.metadata()["policy"]
    lead = payload(world, busiest(world, 1)[0])
    before = client.score(lead)
    breakages = [
        ("threshold", "abc"),
        ("threshold", None),
        ("threshold", float("nan")),
        ("threshold", -1),
        ("tiers", {}),
    ]
    counted = refused_policies(secured_server)
    try:
        for field, value in breakages:
            written = path.with_suffix(".writing")  # whole, as the service's own writer does
            written.write_text(json.dumps({**json.loads(good), field: value}))
            written.replace(path)
            deadline = time.monotonic() + 15
            refused = client.metadata()  # the file is checked on a call
            while refused_policies(secured_server) <= counted or f"{field}:" not in (
                refused["policy_refused"] or ""
            ):
                assert time.monotonic() < deadline, (
                    f"{field}={value!r} was not refused: /metadata policy_refused="
                    f"{refused['policy_refused']!r}, policy version "
                    f"{refused['policy']['version']}, refusals counted "
                    f"{refused_policies(secured_server)} (before: {counted}), file stamp "
                    f"{path.stat().st_mtime_ns}"
                )
                time.sleep(0.2)
                refused = client.metadata()
            counted = refused_policies(secured_server)
            assert refused["policy"] == in_force
            assert refused["policy_refused"].startswith(str(path))
            assert f"{field}:" in refused["policy_refused"]
            scored = client.score(lead)
            assert scored["policy_version"] == before["policy_version"]
            assert scored["threshold"] == before["threshold"]
            assert scored["decision"] == before["decision"] and scored["tier"] == before["tier"]
            assert httpx.get(f"{secured_server.url}/readyz").status_code == 200
        log = secured_server.log.read_text(errors="replace")
        assert log.count(f"hand-off policy refused, v{in_force['version']} stays in force") >= 5
    finally:
        path.write_text(good)
    deadline = time.monotonic() + 15
    while client.metadata()["policy_refused"] is not None:
        assert time.monotonic() < deadline, "the restored policy was not taken back"
        time.sleep(0.2)

"""The scoring service for MA systems: a thin BentoML shell around the batch scoring path.

    LEADSCORE_MODEL=demo/model bentoml serve leadscore.serving.service:LeadScoring

(`leadscore serve --model DIR` does the same after checking the model.) The scorer is loaded
once at start-up from ``LEADSCORE_MODEL`` - a model directory or ``models:/lead-scorer@champion``
with ``MLFLOW_TRACKING_URI`` - and a missing or corrupt model stops the start with the reason.
Endpoints: ``POST /score``, ``POST /score_batch``, ``GET /metadata``, and BentoML's own
``/livez``, ``/readyz``, ``/metrics`` and OpenAPI docs. Posted leads become feature rows through
the online path and are scored by :func:`serving.scoring.score_features`, exactly as
`leadscore score` scores files. Settings come from the environment (see README); credentials
are checked by :mod:`serving.auth` before a call reaches the scorer.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import bentoml
from fastapi import FastAPI
from pydantic import ValidationError

from leadscore.features.online import ActivityColumns
from leadscore.serving.api import (
    DEFAULT_MAX_BATCH,
    REQUEST_PROBLEM_SCHEMA,
    BatchItem,
    BatchRequest,
    BatchResponse,
    Reasons,
    RulePoints,
    ScoreRequest,
    ScoreResponse,
    ServiceMetadata,
    field_error,
    lead_error,
)
from leadscore.serving.auth import AuthMiddleware
from leadscore.serving.coalesce import Coalescer
from leadscore.serving.model_source import ModelHandle
from leadscore.serving.scoring import (
    Scored,
    lead_needs,
    online_rows,
    score_features,
)
from leadscore.serving.team_clock import (
    deadline_text,
    follow_up_deadline,
    on_team_clock,
    team_time_zone,
)
from leadscore.training.model.policy import Policy
from leadscore.training.model.scorer import LeadScorer

# BentoML keeps an OpenTelemetry span per request in memory even when no tracing exporter is
# configured: about two thousand live spans per worker under load, which make every full garbage
# collection a 30-90 ms stall (the tail of the 200 requests/s benchmark). Off unless the
# operator turns tracing on with OTEL_SDK_DISABLED=false and a BentoML tracing exporter.
os.environ.setdefault("OTEL_SDK_DISABLED", "true")
FULL_COLLECTION_EVERY = 100  # middle-generation collections per full one (CPython: 10)


@lru_cache(maxsize=1)
def _metrics() -> dict:
    """Prometheus counters, made in the worker (BentoML sets the multiprocess dir first)."""
    import prometheus_client as prometheus

    return {
        "decisions": prometheus.Counter(
            "leadscore_decisions", "Scored leads by decision and tier", ["decision", "tier"]
        ),
        "scores": prometheus.Histogram(
            "leadscore_score", "Scores (0-100) returned", buckets=(10, 20, 40, 60, 70, 80, 90, 100)
        ),
        "rejected": prometheus.Counter(
            "leadscore_rejected_leads", "Leads of a batch refused for invalid input"
        ),
        "policy_refused": prometheus.Counter(
            "leadscore_policy_refused",
            "Versions of policy.json refused on reload; the policy in force stayed",
        ),
    }


_extra_routes = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@_extra_routes.get("/metadata", response_model=ServiceMetadata, tags=["Service APIs"])
def metadata() -> dict:
    """Model version, hand-off policy and spec fingerprint of the scorer being served."""
    return bentoml.get_current_service().handle.metadata()


def _openapi_with_field_errors(service: Any) -> Any:
    """BentoML's OpenAPI document, with the 400 body as it really is: a list of field errors.

    BentoML declares ``detail`` of a 400 as a string, but answers pydantic validation errors with
    a list of ``{loc, msg, type}``; clients and schemathesis should see the truth.
    """
    from _bentoml_sdk.service.openapi import generate_spec
    from bentoml._internal.service.openapi.specification import Schema

    spec = generate_spec(service)
    spec.components["schemas"]["InvalidArgument"] = Schema(**REQUEST_PROBLEM_SCHEMA)
    # BentoML inlines the /score body and keeps only the first type of a union: lead_id became
    # "integer" beside an example of "L-104274". Put pydantic's own schema of each union back.
    body = spec.paths["/score"].post["requestBody"]["content"]["application/json"].schema
    for name, declared in ScoreRequest.model_json_schema()["properties"].items():
        kinds = [kind.get("type") for kind in declared.get("anyOf", [])]
        if len(kinds) > 1 and "null" not in kinds and name in body.properties:
            body.properties[name] = Schema(**declared)
    return spec


@bentoml.service(
    name="leadscore",
    traffic={"timeout": 60},
    endpoints={"livez": "/livez", "readyz": "/readyz"},
)
@bentoml.asgi_app(_extra_routes, path="/")
class LeadScoring:
    """Scores leads posted by MA systems; one scorer per worker, loaded at start-up."""

    def __init__(self) -> None:
        self.metrics = _metrics()
        self.handle = ModelHandle.open(
            os.environ.get("LEADSCORE_MODEL", ""),
            reload_seconds=float(os.environ.get("LEADSCORE_POLICY_RELOAD_SECONDS", 2)),
            tracking_uri=os.environ.get("MLFLOW_TRACKING_URI"),
            on_refused=lambda _: self.metrics["policy_refused"].inc(),
        )
        self.max_batch = int(os.environ.get("LEADSCORE_MAX_BATCH", DEFAULT_MAX_BATCH))
        # what a posted lead must carry: the model's, and a running service swaps only policies
        self.reads = lead_needs(self.handle.current())
        self.coalescer: Coalescer[ScoreRequest, ScoreResponse] = Coalescer(self._score_now)
        # the scorer's objects live as long as the worker: keep them out of every garbage
        # collection, so a full collection does not stall calls for tens of milliseconds
        gc.collect()
        gc.freeze()
        # the web stack keeps each request's timers alive for seconds, so they reach the oldest
        # generation and make full collections (each a stall of 10-30 ms) come every few
        # seconds; examining it a tenth as often leaves cycles around longer, not uncollected
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)

    def __is_ready__(self) -> bool:
        return self.handle is not None and self.handle.ready()

    @bentoml.api(route="/score")
    async def score(self, lead: ScoreRequest, /) -> ScoreResponse:
        """Score one lead: p_sql, score, tier, grade, decision, reasons and rule breakdown."""
        lead.check_times(datetime.now(UTC))
        self._check_fits(lead)
        return await self.coalescer.submit(lead)

    def _check_fits(self, lead: ScoreRequest) -> None:
        """The lead carries what the model being served reads (see ScoreRequest.check_fits)."""
        lead.check_fits(**self.reads)

    def _score_now(self, leads: Sequence[ScoreRequest]) -> list[ScoreResponse]:
        return self._score(list(leads), datetime.now(UTC))

    @bentoml.api(route="/score_batch")
    def score_batch(self, batch: BatchRequest, /) -> BatchResponse:
        """Score up to LEADSCORE_MAX_BATCH leads; a bad lead gets its own error entry."""
        if len(batch.leads) > self.max_batch:
            raise field_error(
                ("leads",),
                f"{len(batch.leads)} leads in one call; at most {self.max_batch} "
                "(split the batch, or raise LEADSCORE_MAX_BATCH)",
                "BatchRequest",
            )
        now = datetime.now(UTC)
        items: list[BatchItem | None] = [None] * len(batch.leads)
        valid: list[tuple[int, ScoreRequest]] = []
        for index, raw in enumerate(batch.leads):
            try:
                lead = ScoreRequest.model_validate(raw)
                lead.check_times(now)
                self._check_fits(lead)
            except ValidationError as error:
                lead_id = raw.get("lead_id") if isinstance(raw, dict) else None
                items[index] = BatchItem(
                    index=index,
                    lead_id=str(lead_id) if isinstance(lead_id, int | str) else None,
                    ok=False,
                    error=lead_error(error),
                )
                continue
            valid.append((index, lead))
        self.metrics["rejected"].inc(len(batch.leads) - len(valid))
        if valid:
            results = self._score([lead for _, lead in valid], now)
            for (index, _), result in zip(valid, results, strict=True):
                items[index] = BatchItem(
                    index=index, lead_id=result.lead_id, ok=True, result=result
                )
        done = [item for item in items if item is not None]
        return BatchResponse(results=done, scored=len(valid), failed=len(done) - len(valid))

    def _score(self, leads: list[ScoreRequest], now: datetime) -> list[ScoreResponse]:
        """Leads that passed validation, scored together (grouped by language)."""
        scorer = self.handle.current()
        policy = scorer.in_force()  # one policy for the whole call, even if a new one lands
        out: list[ScoreResponse | None] = [None] * len(leads)
        for lang in {lead.lang for lead in leads}:
            chosen = [i for i, lead in enumerate(leads) if lead.lang == lang]
            group = [leads[i] for i in chosen]
            rows = online_rows(
                scorer,
                [{**g.attributes, "lead_id": g.lead_id, "created_at": g.created_at} for g in group],
                [ActivityColumns.of_records(g.activities) for g in group],
                [g.moment(now) for g in group],
            )
            scored = score_features(scorer, rows, lang=lang, top=max(g.top for g in group))
            for position, (i, lead) in enumerate(zip(chosen, group, strict=True)):
                out[i] = self._response(scored, position, lead, now, scorer, policy)
        return [r for r in out if r is not None]

    def _response(
        self,
        scored: Scored,
        i: int,
        lead: ScoreRequest,
        now: datetime,
        scorer: LeadScorer,
        policy: Policy,
    ) -> ScoreResponse:
        row = {name: values[i] for name, values in scored.columns.items()}
        reasons, reasons_text = scored.reasons_of(i, lead.top)
        zone = team_time_zone(scorer, lead.lang, lead.time_zone)
        tier = str(row["tier"])
        deadline = follow_up_deadline(lead.moment(now), str(row["decision"]), policy)
        self.metrics["decisions"].labels(str(row["decision"]), str(row["tier"])).inc()
        self.metrics["scores"].observe(int(row["score"]))
        return ScoreResponse(
            lead_id=str(lead.lead_id),
            as_of=lead.moment(now),
            p_sql=float(row["p_sql"]),
            score=int(row["score"]),
            tier=tier,
            tier_meaning=policy.tiers[tier].meaning_in(lead.lang) if tier in policy.tiers else "",
            grade=str(row["grade"]),
            decision=str(row["decision"]),
            instant_pass=bool(row["instant_pass"]),
            threshold=float(row["threshold"]),
            policy_version=policy.version,
            rule_points=float(row["rule_points"]),
            rule_breakdown=[RulePoints(rule=r, points=p) for r, p in scored.breakdown[i]],
            reasons=Reasons(**reasons),
            reasons_text=reasons_text,
            follow_up_by=on_team_clock(deadline, zone).to_pydatetime() if deadline else None,
            follow_up_by_text=deadline_text(deadline, zone, lead.lang),
            time_zone=zone,
            lang=lead.lang,
            model_version=self.handle.model_version,
        )


LeadScoring.add_asgi_middleware(AuthMiddleware)
LeadScoring.__class__ = type(
    "LeadScoringService",
    (type(LeadScoring),),
    {"__slots__": (), "openapi_spec": property(_openapi_with_field_errors)},
)

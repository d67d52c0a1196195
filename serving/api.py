"""The HTTP contract of the scoring service: what an MA system posts and what it gets back.

Pydantic models give the OpenAPI schema, its examples and the validation in one place. Every
model hides input values in its errors (``hide_input_in_errors``): a rejected lead's email or
phone never reaches an error message or a log line. Timestamps without a zone are UTC, as in
the file contract (:mod:`features.contract`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from leadscore.features.timestamps import check_time_zone
from leadscore.serving.scoring import TOP_REASONS
from leadscore.training.model.wording import LANGUAGES

Lang = Literal[LANGUAGES]  # type: ignore[valid-type]  # the reason catalog's languages

MAX_TEXT = 2000


def _attribute_value(value: object) -> object:
    """Text, a finite number, true/false or null: what an MA field holds."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, str) and len(value) <= MAX_TEXT:
        return value
    raise ValueError(f"an attribute is text (at most {MAX_TEXT} characters), a number, "
                     "true/false or null")  # fmt: skip


AttributeValue = Annotated[
    Any,
    AfterValidator(_attribute_value),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "maxLength": MAX_TEXT}, {"type": "number"},
                   {"type": "boolean"}], "nullable": True}
    ),
]  # fmt: skip
LeadId = int | Annotated[str, Field(min_length=1, max_length=200)]

MAX_ACTIVITIES = 20_000
MAX_ATTRIBUTES = 500
DEFAULT_MAX_BATCH = 1_000

_STRICT = ConfigDict(extra="forbid", hide_input_in_errors=True)

EXAMPLE_LEAD: dict[str, Any] = {
    "lead_id": "L-104274",
    "created_at": "2026-05-02T09:15:00Z",
    "attributes": {
        "job_level": "manager",
        "department": "IT",
        "industry": "manufacturing",
        "employee_band": "1000-4999",
        "region": "apac",
        "source": "webinar",
    },
    "activities": [
        {"occurred_at": "2026-05-20T10:00:00Z", "activity_type": "webinar_attended",
         "detail": "webinar-cloud-security"},
        {"occurred_at": "2026-05-27T08:30:00Z", "activity_type": "page_view",
         "detail": "/pricing"},
        {"occurred_at": "2026-05-28T13:05:00Z", "activity_type": "content_download",
         "detail": "whitepaper-roi"},
    ],
    "as_of": "2026-05-29T00:00:00Z",
    "lang": "ja",
}  # fmt: skip


def field_errors(problems: list[tuple[tuple[str | int, ...], str]], title: str) -> ValidationError:
    """Validation errors at field paths, for checks that need more than one field's value or
    the model being served."""
    details: list[InitErrorDetails] = [
        {"type": PydanticCustomError("value_error", message), "loc": loc, "input": None}
        for loc, message in problems
    ]
    return ValidationError.from_exception_data(title, details, hide_input=True)


def field_error(loc: tuple[str | int, ...], message: str, title: str) -> ValidationError:
    """A validation error at one field path."""
    return field_errors([(loc, message)], title)


def utc(moment: datetime) -> datetime:
    """Naive times are UTC (the data contract); zoned ones are converted."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class ActivityIn(BaseModel):
    """One tracked action of the lead, as the MA system logged it."""

    model_config = _STRICT

    occurred_at: datetime = Field(description="When it happened (ISO 8601; no zone means UTC).")
    activity_type: str = Field(
        min_length=1, max_length=100, description="e.g. page_view, webinar_attended."
    )
    detail: str | None = Field(
        None, max_length=MAX_TEXT, description="Page path, asset, form or campaign name."
    )


class ScoreRequest(BaseModel):
    """One lead: its attributes, its recent activities and the moment to score it at."""

    model_config = ConfigDict(
        extra="forbid", hide_input_in_errors=True, json_schema_extra={"example": EXAMPLE_LEAD}
    )

    lead_id: LeadId = Field(description="The MA system's id of the lead, echoed back.")
    created_at: datetime | None = Field(
        None,
        description="When the lead was created (no zone means UTC). Required, except by a "
        "model trained on a flat file that had no creation time (GET /metadata: "
        "needs_created_at).",
    )
    attributes: dict[Annotated[str, Field(max_length=200)], AttributeValue] = Field(
        default_factory=dict,
        max_length=MAX_ATTRIBUTES,
        description="Attribute fields as the export names them (job_level, department, ...). "
        "Unknown fields are ignored; personal data (email, name, phone) is never used.",
    )
    activities: list[ActivityIn] = Field(
        default_factory=list,
        max_length=MAX_ACTIVITIES,
        description="The lead's activity history; events after as_of are ignored.",
    )
    as_of: datetime | None = Field(None, description="Score as of this time; default: now.")
    lang: Lang = Field("en", description="Language of the reasons.")
    top: int = Field(TOP_REASONS, ge=1, le=10, description="Reasons per side.")
    time_zone: str | None = Field(
        None,
        max_length=100,
        description="The sales team's clock (IANA name) for follow_up_by; default: the "
        "policy's, else the export's, else Asia/Tokyo for lang ja, else UTC.",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return None if value is None else check_time_zone(value)

    def moment(self, now: datetime) -> datetime:
        return utc(self.as_of) if self.as_of is not None else now

    def check_times(self, now: datetime) -> None:
        """A lead cannot be scored before it exists."""
        if self.created_at is None:
            return
        created, moment = utc(self.created_at), self.moment(now)
        if created > moment:
            raise field_error(
                ("created_at",),
                f"created_at {created:%Y-%m-%dT%H:%M:%SZ} is after the scoring time "
                f"{moment:%Y-%m-%dT%H:%M:%SZ}; send as_of, or check the time zone",
                "ScoreRequest",
            )

    def check_fits(self, *, needs_created_at: bool, reads_activities: bool) -> None:
        """What the model being served reads: ``created_at`` unless it learnt from a flat file
        without one, activities unless it learnt from a flat file. Posted activities a model
        cannot read are refused, not ignored: the caller would take them to count."""
        problems = []
        if needs_created_at and self.created_at is None:
            problems.append(
                (("created_at",), "required: this model learnt from when each lead was created")
            )
        if not reads_activities and self.activities:
            problems.append((
                ("activities",),
                "this model was trained on a flat file (one row per lead) and reads no "
                "activities; send the lead's fields as attributes and leave activities out",
            ))  # fmt: skip
        if problems:
            raise field_errors(problems, "ScoreRequest")


class Reason(BaseModel):
    concept: str = Field(description="What the reason is about, e.g. pricing_interest.")
    text: str = Field(description="The reason in the requested language, with the lead's values.")
    log_odds: float = Field(description="Its exact share of the score's log-odds.")


class Reasons(BaseModel):
    positive: list[Reason]
    negative: list[Reason]


class RulePoints(BaseModel):
    rule: str
    points: float


class ScoreResponse(BaseModel):
    """The score of one lead and everything a sales rep needs to act on it."""

    lead_id: str = Field(description="The lead's id as sent, as text.")
    as_of: datetime
    p_sql: float = Field(ge=0, le=1, description="P(the lead becomes SQL within H days).")
    score: int = Field(ge=0, le=100, description="Share of validation-period leads it beats.")
    tier: str = Field(description="A-D from the hand-off policy.")
    tier_meaning: str = Field(description="What sales does with a lead of this tier, in lang.")
    grade: str = Field(description="Fit (A-D) x engagement (1-4) from the rulebook, A1 best.")
    decision: Literal["hand off", "nurture"]
    instant_pass: bool = Field(description="A demo or quote request, or another pass trigger.")
    threshold: float = Field(description="The lead's hand-off threshold on p_sql.")
    policy_version: int
    rule_points: float
    rule_breakdown: list[RulePoints] = Field(description="Rules that gave points; sums to total.")
    reasons: Reasons
    reasons_text: str = Field(description="The reasons on one line, for a CRM field.")
    # nullable declared as OpenAPI 3.0 writes it: BentoML keeps only the first type of a union
    follow_up_by: Annotated[
        datetime | None, WithJsonSchema({"type": "string", "format": "date-time", "nullable": True})
    ] = Field(
        description="When a handed-off lead must have been called (the policy's SLA), on the "
        "team's clock with its offset; null when the lead is not handed off."
    )
    follow_up_by_text: str = Field(
        description="follow_up_by in lang's own words, e.g. 2026年7月2日(木) 8:59 JST, or that "
        "there is no deadline (the lead is not handed off)."
    )
    time_zone: str = Field(description="The team's clock the times are on (IANA name).")
    lang: Lang
    model_version: str


class BatchRequest(BaseModel):
    """Up to the configured number of leads (default 1,000), each shaped like a /score body."""

    model_config = ConfigDict(
        extra="forbid",
        hide_input_in_errors=True,
        json_schema_extra={"example": {"leads": [EXAMPLE_LEAD]}},
    )

    leads: list[Any] = Field(
        description="Leads, each shaped like the body of /score. A lead that fails validation "
        "gets its own error entry; the others are scored."
    )


class FieldProblem(BaseModel):
    loc: list[str | int] = Field(description="Field path, e.g. ['activities', 2, 'occurred_at'].")
    msg: str
    type: str


class LeadError(BaseModel):
    error: str
    detail: list[FieldProblem]


class BatchItem(BaseModel):
    index: int = Field(description="Position of the lead in the request.")
    lead_id: str | None = Field(description="The lead's id as sent, as text, when it had one.")
    ok: bool
    result: ScoreResponse | None = None
    error: LeadError | None = None


class BatchResponse(BaseModel):
    results: list[BatchItem] = Field(description="One entry per input lead, in input order.")
    scored: int
    failed: int


def lead_error(error: ValidationError) -> LeadError:
    """A client's view of a validation error: field paths and reasons, never input values."""
    return LeadError(
        error=f"{error.error_count()} validation error(s)",
        detail=[
            FieldProblem(loc=list(e["loc"]), msg=e["msg"], type=e["type"])
            for e in error.errors(include_input=False, include_context=False, include_url=False)
        ],
    )


class ServiceMetadata(BaseModel):
    model_version: str
    model_uri: str | None
    run_id: str | None
    trained_at: str | None
    spec_fingerprint: str
    rulebook_fingerprint: str | None
    sql_within_days: int
    needs_created_at: bool = Field(description="Whether a posted lead must have created_at.")
    reads_activities: bool = Field(
        description="Whether the model reads activities; false for a model trained on a flat "
        "file, which refuses a lead posted with them."
    )
    policy: dict[str, Any] = Field(description="The hand-off policy in force (thresholds, tiers).")
    policy_refused: str | None = Field(
        None,
        description="Why the model directory's newest policy.json is not in force (it failed the "
        "checks; the policy above stays), or null when it is.",
    )


REQUEST_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "InvalidArgument",
    "description": "Bad Request: what is wrong, field by field (values are never echoed).",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "detail": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {"type": "array", "items": {"anyOf": [{"type": "string"},
                                                                  {"type": "integer"}]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}  # fmt: skip

"""A small Python client for the scoring service, for batch jobs and MA integrations.

It turns an export's lead row and activity rows into the JSON body of ``POST /score`` and signs
calls the way :mod:`serving.auth` checks them (bearer key and/or HMAC webhook signature), so an
integration never re-implements either.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pandas as pd

from leadscore.features import schema
from leadscore.features.personal_data import is_personal_value, personal_data_columns
from leadscore.serving.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign


def _json_value(value: object) -> object:
    """Export cells as JSON: times as ISO 8601 UTC, NaN/NaT as null, NumPy scalars as Python."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | datetime):
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
        return stamp.isoformat().replace("+00:00", "Z")
    if hasattr(value, "item"):
        value = value.item()  # type: ignore[union-attr]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _activity(row: Mapping[str, object]) -> dict[str, object]:
    activity = {
        schema.OCCURRED_AT: _json_value(row[schema.OCCURRED_AT]),
        schema.ACTIVITY_TYPE: _json_value(row[schema.ACTIVITY_TYPE]),
    }
    if schema.DETAIL in row:
        activity[schema.DETAIL] = _json_value(row[schema.DETAIL])
    return activity


def lead_payload(
    lead: Mapping[str, object],
    activities: pd.DataFrame | Sequence[Mapping[str, object]] = (),
    *,
    as_of: object = None,
    lang: str = "en",
) -> dict[str, Any]:
    """The body of ``POST /score`` for one lead of an export (or of a flat model's file) and
    its activity rows.

    Personal data is left out: columns named like it (email, 氏名, tel_no; not a consent flag
    or a count such as email_opens, which may be features) and any value with an email's or a
    phone's form. Scoring never uses them, so they need not travel.
    """
    records = activities.to_dict("records") if isinstance(activities, pd.DataFrame) else activities
    attributes = {k: v for k, v in lead.items() if k not in (schema.LEAD_ID, schema.CREATED_AT)}
    personal = set(personal_data_columns(pd.DataFrame([attributes]), by_content=False))
    payload: dict[str, Any] = {
        "lead_id": _json_value(lead[schema.LEAD_ID]),
        "attributes": {
            str(k): _json_value(v)
            for k, v in attributes.items()
            if k not in personal and not is_personal_value(v)
        },
        "activities": [_activity(a) for a in records],
        "lang": lang,
    }
    if schema.CREATED_AT in lead:  # a flat file may have none, and its model reads none
        payload["created_at"] = _json_value(lead[schema.CREATED_AT])
    if as_of is not None:
        payload["as_of"] = _json_value(pd.Timestamp(as_of))
    return payload


class ScoringClient:
    """Calls a running leadscore service; raises ``httpx.HTTPStatusError`` on a refusal."""

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        webhook_secret: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.api_key, self.webhook_secret = api_key, webhook_secret
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)

    def headers(self, body: bytes) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        if self.webhook_secret:
            stamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = stamp
            headers[SIGNATURE_HEADER] = sign(self.webhook_secret, stamp, body)
        return headers

    def post(self, path: str, payload: object) -> httpx.Response:
        body = json.dumps(payload, ensure_ascii=False).encode()
        return self.http.post(path, content=body, headers=self.headers(body))

    def score(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        response = self.post("/score", payload)
        response.raise_for_status()
        return response.json()

    def score_batch(self, payloads: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        response = self.post("/score_batch", {"leads": list(payloads)})
        response.raise_for_status()
        return response.json()

    def metadata(self) -> dict[str, Any]:
        response = self.http.get("/metadata", headers=self.headers(b""))
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        self.http.close()

"""Who may call the scoring service, and in what form: API keys, webhook signatures, JSON only.

An ASGI middleware in front of the service (BentoML's ``add_asgi_middleware``), so a refused
call never reaches the scorer:

* ``LEADSCORE_API_KEY`` set: calls need ``Authorization: Bearer <key>``, compared in constant
  time (``hmac.compare_digest``).
* ``LEADSCORE_WEBHOOK_SECRET`` set: a call may instead carry an HMAC-SHA256 signature of
  ``"<timestamp>." + body`` in ``X-Leadscore-Signature: sha256=<hex>``, with the Unix time in
  ``X-Leadscore-Timestamp`` (at most five minutes old, so a captured call cannot be replayed
  later), as Stripe- and Slack-style webhooks do.
* Neither set: open, for a laptop or a private network.

Health, readiness, metrics and the API docs stay open so probes and scrapers work. Posted
bodies must be JSON and at most ``LEADSCORE_MAX_BODY_MB`` (default 32). Refusals are JSON with
the header at fault and never echo what was sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

SIGNATURE_HEADER = "x-leadscore-signature"
TIMESTAMP_HEADER = "x-leadscore-timestamp"
SIGNATURE_PREFIX = "sha256="
OPEN_PATHS = frozenset({"/livez", "/readyz", "/healthz", "/metrics"})

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value a webhook sender computes for ``body`` at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + digest.hexdigest()


@dataclass(frozen=True)
class AuthSettings:
    api_key: str | None = None
    webhook_secret: str | None = None
    tolerance_seconds: float = 300.0
    max_body_bytes: int = 32 * 1024 * 1024

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> AuthSettings:
        return cls(
            api_key=env.get("LEADSCORE_API_KEY") or None,
            webhook_secret=env.get("LEADSCORE_WEBHOOK_SECRET") or None,
            tolerance_seconds=float(env.get("LEADSCORE_SIGNATURE_TOLERANCE_SECONDS", 300)),
            max_body_bytes=int(float(env.get("LEADSCORE_MAX_BODY_MB", 32)) * 1024 * 1024),
        )

    @property
    def required(self) -> bool:
        return bool(self.api_key or self.webhook_secret)

    def refusal(
        self, headers: Mapping[str, str], body: bytes, now: float
    ) -> tuple[str, str] | None:
        """(header, reason) when the call is not authenticated; None when it is."""
        if not self.required:
            return None
        authorization = headers.get("authorization", "")
        if self.api_key and authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(
                token.strip().encode(), self.api_key.encode()
            ):
                return None
            return "authorization", "the bearer token does not match LEADSCORE_API_KEY"
        if self.webhook_secret and SIGNATURE_HEADER in headers:
            stamp = headers.get(TIMESTAMP_HEADER, "")
            try:
                age = abs(now - float(stamp))
            except ValueError:
                return TIMESTAMP_HEADER, "needs the Unix time the request was signed at"
            if age > self.tolerance_seconds:
                return TIMESTAMP_HEADER, (
                    f"signed {age:.0f} s from now; at most {self.tolerance_seconds:.0f} s allowed"
                )
            expected = sign(self.webhook_secret, stamp, body)
            if hmac.compare_digest(headers[SIGNATURE_HEADER].encode(), expected.encode()):
                return None
            return SIGNATURE_HEADER, "the HMAC-SHA256 signature of '<timestamp>.<body>' is wrong"
        wanted = " or ".join(
            w for w, on in (("Authorization: Bearer <key>", self.api_key),
                            ("an X-Leadscore-Signature", self.webhook_secret)) if on
        )  # fmt: skip
        return "authorization", f"credentials required: send {wanted}"


def _guarded(scope: Scope) -> bool:
    if scope["method"] == "POST":
        return True
    return scope["path"] == "/metadata"


async def _respond(send: Send, status: int, body: dict, headers: list[tuple[bytes, bytes]]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _problem(header: str, message: str) -> dict:
    return {"error": message, "detail": [{"loc": ["header", header], "msg": message,
                                          "type": "request_error"}]}  # fmt: skip


class AuthMiddleware:
    """ASGI middleware: content type, body size and credentials, before the service sees a call."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]],
                 settings: AuthSettings | None = None) -> None:  # fmt: skip
        self.app = app
        self.settings = settings or AuthSettings.from_env()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or not _guarded(scope):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if scope["method"] == "POST":
            media = headers.get("content-type", "application/json").split(";")[0].strip()
            if media.lower() != "application/json":
                await _respond(send, 415, _problem("content-type", "send application/json"), [])
                return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.settings.max_body_bytes:
                limit = self.settings.max_body_bytes // (1024 * 1024)
                await _respond(
                    send, 413, _problem("content-length", f"bodies are limited to {limit} MB"), []
                )
                return
        refusal = self.settings.refusal(headers, body, time.time())
        if refusal is not None:
            await _respond(
                send, 401, _problem(*refusal), [(b"www-authenticate", b'Bearer realm="leadscore"')]
            )
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

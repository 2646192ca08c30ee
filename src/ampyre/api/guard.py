"""The write guard: every REST write (POST/PUT/PATCH/DELETE, OCPP commands included) is
authenticated before its body is read, and recorded in the operator audit trail.

It runs as ASGI middleware in front of the routes. For a write to a known route it checks
the bearer token (or the session cookie and its X-CSRF-Token, api/auth.py) and the role
the route asks for (taken from the route's own `auth.require(...)` dependency, so the two
cannot disagree) and refuses with 401/403 before a byte of the body is read. The token is
left in the scope so the route's dependency does not look it up again. Before the
answer's last byte goes out (so a client reading the trail after its write finds it), one
entry goes to the operator audit trail (services/operator_audit.py) and one INFO line to
the log: token name ("user:NAME" for a signed-in user) and role, method
and path, station, the request with its secrets masked, status and outcome. Requests
refused for want of a valid token (or CSRF token) are not recorded (anyone could fill the
trail with them); refusals for want of a role are.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ampyre.api.auth import SCOPE_TOKEN, Auth, check_role, rank
from ampyre.api.body_limit import SCOPE_REFUSED, send_problem
from ampyre.api.problems import ApiProblem
from ampyre.domain.models import ApiToken, Role
from ampyre.protocol.redact import MASK, redact
from ampyre.services.operator_audit import (
    NAME_MAX,
    OUTCOME_MAX,
    STATION_MAX,
    SUMMARY_MAX,
    TARGET_MAX,
    OperatorAction,
    OperatorAuditLog,
    clip,
)
from ampyre.services.ports import StoreUnavailable

log = logging.getLogger("ampyre.audit.operator")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The request is kept for the summary up to this many bytes, the answer for the outcome
# up to RESPONSE_KEEP (a command's status is at the start of its answer).
REQUEST_KEEP = 64 * 1024
RESPONSE_KEEP = 16 * 1024


@dataclass(frozen=True, slots=True)
class WriteRule:
    pattern: re.Pattern[str]
    methods: frozenset[str]
    role: Role


def write_rules(routers: Iterable[tuple[APIRouter, str]], auth: Auth) -> list[WriteRule]:
    """One rule per write route that needs a token, with the highest role it asks for.
    `routers`: (router, prefix) as included in the app."""
    rules: list[WriteRule] = []
    for router, prefix in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            methods = frozenset(route.methods or ()) & WRITE_METHODS
            if not methods:
                continue
            roles = [r for r in (auth.required_role(c) for c in _calls(route.dependant)) if r]
            if roles:
                pattern, _, _ = compile_path(prefix + route.path)
                rules.append(WriteRule(pattern, methods, max(roles, key=rank)))
    return rules


def _calls(dependant: Dependant) -> Iterator[object]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


class WriteGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        auth: Auth,
        rules: list[WriteRule],
        audit: OperatorAuditLog | None,
    ) -> None:
        self.app = app
        self.auth = auth
        self.rules = rules
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        matched = self._match(scope["path"], scope["method"])
        if matched is None:  # not a route of ours (404/405 follow): nothing to guard
            await self.app(scope, receive, send)
            return
        rule, params = matched
        started = time.perf_counter()
        at = datetime.now(UTC)
        try:
            token = await self.auth.identify_scope(scope, Role.VIEWER, write=True)
        except ApiProblem as problem:
            await _send(send, scope, problem)
            return
        except StoreUnavailable as exc:
            log.warning("store unavailable while checking a token: %s", exc)
            await send_problem(
                send,
                scope,
                503,
                "the database is unavailable; try again shortly",
                slug="store-unavailable",
                headers={"Retry-After": "5"},
            )
            return
        record = _Record(self, scope, token, params, at, started)
        try:
            check_role(token, rule.role)
        except ApiProblem as problem:
            await record.done(problem.status, problem.detail)
            await _send(send, scope, problem)
            return
        scope[SCOPE_TOKEN] = token

        async def keeping_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                record.keep_request(message.get("body", b""))
            return message

        async def watching_send(message: Message) -> None:
            record.watch_response(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                # The entry is stored before the answer's last byte goes out: a client
                # that reads the trail after its write finds the write there.
                await record.done(record.status or 500, None)
            await send(message)

        try:
            await self.app(scope, keeping_receive, watching_send)
        except Exception:
            await record.done(500, "an unexpected error occurred")
            raise
        await record.done(record.status or 500, None)

    def _match(self, path: str, method: str) -> tuple[WriteRule, dict[str, str]] | None:
        for rule in self.rules:
            if method in rule.methods:
                found = rule.pattern.match(path)
                if found is not None:
                    return rule, found.groupdict()
        return None


class _Record:
    """What one guarded write leaves in the audit trail."""

    def __init__(
        self,
        guard: WriteGuard,
        scope: Scope,
        token: ApiToken,
        params: dict[str, str],
        at: datetime,
        started: float,
    ) -> None:
        self.guard = guard
        self.scope = scope
        self.token = token
        self.params = params
        self.at = at
        self.started = started
        self.request = bytearray()
        self.request_size = 0
        self.status: int | None = None
        self.response_type = ""
        self.response = bytearray()
        self.finished = False

    def keep_request(self, chunk: bytes) -> None:
        self.request_size += len(chunk)
        room = REQUEST_KEEP - len(self.request)
        if room > 0:
            self.request += chunk[:room]

    def watch_response(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            for name, value in message.get("headers", ()):
                if name == b"content-type":
                    self.response_type = value.decode("latin-1")
        elif message["type"] == "http.response.body":
            room = RESPONSE_KEEP - len(self.response)
            if room > 0:
                self.response += message.get("body", b"")[:room]

    async def done(self, status: int, outcome: str | None) -> None:
        if self.finished:  # recorded once, when the answer ended (or the route failed)
            return
        self.finished = True
        if self.scope.get(SCOPE_REFUSED):
            status, outcome = 413, "request body too large"
        body = self._request_json()
        action = OperatorAction(
            created_at=self.at,
            token_id=self.token.id,
            token_name=clip(self.token.name, NAME_MAX),
            role=self.token.role.value,
            method=str(self.scope["method"]),
            target=clip(self._target(), TARGET_MAX) or "",
            station_id=clip(self._station(body), STATION_MAX),
            summary=clip(self._summary(body), SUMMARY_MAX),
            status_code=status,
            outcome=clip(outcome or self._outcome(status), OUTCOME_MAX),
            duration_ms=int((time.perf_counter() - self.started) * 1000),
        )
        log.info(
            "%s (%s) %s %s -> %d %s",
            action.token_name,
            action.role,
            action.method,
            action.target,
            action.status_code,
            action.outcome or "",
            extra={
                "token": action.token_name,
                "role": action.role,
                "method": action.method,
                "target": action.target,
                "station_id": action.station_id,
                "status": action.status_code,
                "outcome": action.outcome,
                "duration_ms": action.duration_ms,
            },
        )
        if self.guard.audit is None:
            return
        try:
            await self.guard.audit.record(action)
        except Exception as exc:  # the write itself is done: never fail it for the trail
            log.warning("operator audit entry not stored: %r", exc)

    def _target(self) -> str:
        path = str(self.scope.get("path", ""))
        query = self.scope.get("query_string", b"").decode("latin-1")
        if not query:
            return path
        pairs = parse_qsl(query, keep_blank_values=True)
        masked = redact(dict(pairs))
        return path + "?" + urlencode([(k, masked.get(k, MASK)) for k, _ in pairs])

    def _request_json(self) -> Any:
        if not self.request or self.request_size > len(self.request):
            return None
        try:
            return json.loads(self.request)
        except ValueError:
            return None

    def _summary(self, body: Any) -> str | None:
        if self.request_size == 0:
            return None
        if body is None:
            kind = _header(self.scope, b"content-type") or "unknown type"
            return f"<{self.request_size} bytes, {kind}>"
        return json.dumps(redact(body), separators=(",", ":"), ensure_ascii=False)

    def _station(self, body: Any) -> str | None:
        station = self.params.get("station_id")
        if station is None and isinstance(body, dict):
            # A body that names a station, or one that creates it (POST /stations).
            creates = str(self.scope.get("path", "")).rstrip("/").endswith("/stations")
            given = body.get("id") if creates else body.get("station_id")
            station = given if isinstance(given, str) else None
        return station

    def _outcome(self, status: int) -> str:
        answer: Any = None
        if "json" in self.response_type and self.response:
            try:
                answer = json.loads(self.response)
            except ValueError:
                answer = None
        if isinstance(answer, dict):
            if status >= 400 and isinstance(answer.get("detail"), str):
                return str(answer["detail"])
            if status < 400 and isinstance(answer.get("status"), str):
                return str(answer["status"])
        try:
            return HTTPStatus(status).phrase
        except ValueError:
            return str(status)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _send(send: Send, scope: Scope, problem: ApiProblem) -> None:
    await send_problem(
        send,
        scope,
        problem.status,
        problem.detail or problem.title,
        type_=problem.type,
        title=problem.title,
        headers=problem.headers,
    )

"""Validators compiled from the official OCA JSON schemas shipped in the `ocpp` package.

Each schema is compiled (fastjsonschema generates Python code) the first time its action is
used, then cached for the life of the process: never re-parsed per message. Compiling all
~390 schemas up front costs several seconds, so start-up compiles only the hot set.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import fastjsonschema

from ampyre.domain.models import OcppVersion
from ampyre.protocol.errors import ErrorKind

_PACKAGE_DIR = {
    OcppVersion.V16: "v16",
    OcppVersion.V201: "v201",
    OcppVersion.V21: "v21",
}

# fastjsonschema rule -> OCPP error (OCPP 2.0.1 Part 4 4.3 "Valid Error Codes").
_RULE_KIND: dict[str, ErrorKind] = {
    "required": ErrorKind.OCCURRENCE,
    "minItems": ErrorKind.OCCURRENCE,
    "maxItems": ErrorKind.OCCURRENCE,
    "additionalItems": ErrorKind.OCCURRENCE,
    "type": ErrorKind.TYPE,
    "maxLength": ErrorKind.PROPERTY,
    "minLength": ErrorKind.PROPERTY,
    "enum": ErrorKind.PROPERTY,
    "const": ErrorKind.PROPERTY,
    "minimum": ErrorKind.PROPERTY,
    "maximum": ErrorKind.PROPERTY,
    "exclusiveMinimum": ErrorKind.PROPERTY,
    "exclusiveMaximum": ErrorKind.PROPERTY,
    "multipleOf": ErrorKind.PROPERTY,
    "pattern": ErrorKind.PROPERTY,
    "format": ErrorKind.PROPERTY,
    # An unknown property makes the payload not conform to the action's PDU.
    "additionalProperties": ErrorKind.FORMAT,
}

Validator = Callable[[Any], Any]

HOT_ACTIONS = ("BootNotification", "Heartbeat", "StatusNotification")


@dataclass(slots=True, frozen=True)
class SchemaViolation:
    kind: ErrorKind
    message: str
    path: str
    rule: str


# Compiled validators by schema file, shared by every registry of the process: a file's
# validator never changes, and compiling one takes milliseconds (a process that builds
# several servers, as the tests do, compiles each file once).
_COMPILED: dict[Path, Validator] = {}


class SchemaRegistry:
    """Request and response validators for one OCPP version."""

    def __init__(self, version: OcppVersion, schema_dir: Path | None = None) -> None:
        self.version = version
        self._dir = schema_dir or _schema_dir(version)
        self._files = {p.name for p in self._dir.iterdir() if p.suffix == ".json"}
        self._cache: dict[str, Validator] = {}
        self.actions = frozenset(self._actions())

    def _actions(self) -> Iterable[str]:
        for name in self._files:
            stem = name[:-5]
            if self.version is OcppVersion.V16:
                if not stem.endswith("Response"):
                    yield stem
            elif stem.endswith("Request"):
                yield stem[: -len("Request")]
            elif not stem.endswith("Response"):
                # 2.1 SEND-only messages (NotifyPeriodicEventStream) have no suffix.
                yield stem

    def _file(self, action: str, response: bool) -> str:
        if response:
            return f"{action}Response.json"
        if self.version is OcppVersion.V16 or f"{action}Request.json" not in self._files:
            return f"{action}.json"
        return f"{action}Request.json"

    def has_response(self, action: str) -> bool:
        """Whether `action` can be a CALL (it has a response schema; 2.1 SEND-only
        messages have none), without compiling anything."""
        return action in self.actions and self._file(action, True) in self._files

    def validator(self, action: str, response: bool) -> Validator | None:
        """The compiled validator (it raises JsonSchemaValueException, see `violation_of`),
        or None if the action has no such schema in this version."""
        key = f"{action}/{int(response)}"
        found = self._cache.get(key)
        if found is not None:
            return found
        if action not in self.actions:
            return None
        name = self._file(action, response)
        if name not in self._files:
            return None
        path = self._dir / name
        compiled = _COMPILED.get(path)
        if compiled is None:
            schema = json.loads(path.read_text(encoding="utf-8"))
            # The official files carry "$id" URNs fastjsonschema would try to resolve
            # remotely.
            schema.pop("$id", None)
            compiled = fastjsonschema.compile(schema, use_default=False)
            _COMPILED[path] = compiled
        self._cache[key] = compiled
        return compiled

    def warm(self, actions: Iterable[str] = HOT_ACTIONS) -> None:
        for action in actions:
            self.validator(action, response=False)
            self.validator(action, response=True)

    def validate(self, action: str, payload: Any, response: bool) -> SchemaViolation | None:
        """None if valid; raises KeyError if the action has no schema in this version."""
        check = self.validator(action, response)
        if check is None:
            raise KeyError(action)
        try:
            check(payload)
        except JsonSchemaValueException as exc:
            return violation_of(exc)
        return None


# What a validator raises (the session calls validators directly on its hot path).
JsonSchemaValueException = fastjsonschema.JsonSchemaValueException


def violation_of(exc: fastjsonschema.JsonSchemaValueException) -> SchemaViolation:
    return SchemaViolation(
        kind=_RULE_KIND.get(str(exc.rule), ErrorKind.FORMAT),
        message=str(exc.message),
        path=str(exc.name),
        rule=str(exc.rule),
    )


def _schema_dir(version: OcppVersion) -> Path:
    root = resources.files("ocpp") / _PACKAGE_DIR[version] / "schemas"
    return Path(str(root))


class Schemas:
    """All three versions' registries."""

    def __init__(self) -> None:
        self._by_version = {v: SchemaRegistry(v) for v in OcppVersion}

    def __getitem__(self, version: OcppVersion) -> SchemaRegistry:
        return self._by_version[version]

    def warm(self) -> None:
        for registry in self._by_version.values():
            registry.warm()

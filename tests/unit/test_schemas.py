"""Validators from the official OCA schemas and the mapping of violations to OCPP errors."""

from __future__ import annotations

from typing import Any

import pytest

from ampyre.domain.models import OcppVersion
from ampyre.protocol.errors import ErrorKind, error_code
from ampyre.protocol.schemas import HOT_ACTIONS, SchemaRegistry, Schemas

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21
TS = "2025-01-01T12:00:00Z"


@pytest.fixture(scope="module")
def schemas() -> Schemas:
    return Schemas()


def _boot(version: OcppVersion, **extra: Any) -> dict[str, Any]:
    if version is V16:
        return {"chargePointVendor": "ACME", "chargePointModel": "One", **extra}
    return {"chargingStation": {"vendorName": "ACME", "model": "One"}, "reason": "PowerUp", **extra}


def _status(version: OcppVersion, **extra: Any) -> dict[str, Any]:
    if version is V16:
        base: dict[str, Any] = {
            "connectorId": 1,
            "errorCode": "NoError",
            "status": "Available",
            "timestamp": TS,
        }
    else:
        base = {"timestamp": TS, "connectorStatus": "Available", "evseId": 1, "connectorId": 1}
    base.update(extra)
    return base


def _without(payload: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != key}


# (version, action, payload, expected kind, expected rule)
CASES: list[tuple[OcppVersion, str, dict[str, Any], ErrorKind, str]] = []
for _v in OcppVersion:
    vendor_key = "chargePointVendor" if _v is V16 else "reason"
    status_key = "status" if _v is V16 else "connectorStatus"
    long_model = (
        _boot(_v, chargePointModel="m" * 21)
        if _v is V16
        else _boot(_v, chargingStation={"vendorName": "ACME", "model": "m" * 21})
    )
    CASES += [
        (_v, "BootNotification", _without(_boot(_v), vendor_key), ErrorKind.OCCURRENCE, "required"),
        (_v, "StatusNotification", _status(_v, connectorId="1"), ErrorKind.TYPE, "type"),
        (_v, "StatusNotification", _status(_v, connectorId=1.5), ErrorKind.TYPE, "type"),
        (_v, "BootNotification", long_model, ErrorKind.PROPERTY, "maxLength"),
        (
            _v,
            "StatusNotification",
            _status(_v, **{status_key: "Sleeping"}),
            ErrorKind.PROPERTY,
            "enum",
        ),
        (
            _v,
            "StatusNotification",
            _status(_v, timestamp="yesterday"),
            ErrorKind.PROPERTY,
            "format",
        ),
        (_v, "BootNotification", _boot(_v, surprise=1), ErrorKind.FORMAT, "additionalProperties"),
        (_v, "Heartbeat", {"x": 1}, ErrorKind.FORMAT, "additionalProperties"),
    ]


@pytest.mark.parametrize(
    ("version", "action", "payload", "kind", "rule"),
    CASES,
    ids=[f"{c[0].value}-{c[1]}-{c[4]}-{i}" for i, c in enumerate(CASES)],
)
def test_violation_kind(
    schemas: Schemas,
    version: OcppVersion,
    action: str,
    payload: dict[str, Any],
    kind: ErrorKind,
    rule: str,
) -> None:
    violation = schemas[version].validate(action, payload, response=False)
    assert violation is not None
    assert violation.rule == rule
    assert violation.kind is kind
    assert violation.message
    assert violation.path.startswith("data")


@pytest.mark.parametrize(
    ("kind", "v16", "v2"),
    [
        (ErrorKind.OCCURRENCE, "OccurenceConstraintViolation", "OccurrenceConstraintViolation"),
        (ErrorKind.FORMAT, "FormationViolation", "FormatViolation"),
        (ErrorKind.TYPE, "TypeConstraintViolation", "TypeConstraintViolation"),
        (ErrorKind.PROPERTY, "PropertyConstraintViolation", "PropertyConstraintViolation"),
    ],
)
def test_violation_codes_per_version(kind: ErrorKind, v16: str, v2: str) -> None:
    assert error_code(kind, V16) == v16
    assert error_code(kind, V201) == error_code(kind, V21) == v2


@pytest.mark.parametrize("version", list(OcppVersion))
def test_valid_payloads(schemas: Schemas, version: OcppVersion) -> None:
    reg = schemas[version]
    assert reg.validate("BootNotification", _boot(version), response=False) is None
    assert reg.validate("StatusNotification", _status(version), response=False) is None
    assert reg.validate("Heartbeat", {}, response=False) is None
    assert reg.validate("Heartbeat", {"currentTime": TS}, response=True) is None
    boot_response = {"status": "Accepted", "currentTime": TS, "interval": 300}
    assert reg.validate("BootNotification", boot_response, response=True) is None


@pytest.mark.parametrize("version", list(OcppVersion))
def test_response_validation(schemas: Schemas, version: OcppVersion) -> None:
    reg = schemas[version]
    missing = reg.validate("Heartbeat", {}, response=True)
    assert missing is not None
    assert missing.kind is ErrorKind.OCCURRENCE
    bad_status = {"status": "Maybe", "currentTime": TS, "interval": 300}
    found = reg.validate("BootNotification", bad_status, response=True)
    assert found is not None
    assert found.kind is ErrorKind.PROPERTY


@pytest.mark.parametrize("version", list(OcppVersion))
def test_non_object_payload_is_a_type_violation(schemas: Schemas, version: OcppVersion) -> None:
    violation = schemas[version].validate("Heartbeat", [], response=False)
    assert violation is not None
    assert violation.kind is ErrorKind.TYPE


def test_unknown_action_raises_key_error(schemas: Schemas) -> None:
    for version in OcppVersion:
        with pytest.raises(KeyError):
            schemas[version].validate("NoSuchAction", {}, response=False)
        assert schemas[version].validator("NoSuchAction", response=True) is None


def test_action_sets_per_version(schemas: Schemas) -> None:
    v16, v201, v21 = (schemas[v].actions for v in (V16, V201, V21))
    for actions in (v16, v201, v21):
        assert set(HOT_ACTIONS) <= actions
        assert not any(a.endswith(("Request", "Response")) for a in actions)
    assert {"GetConfiguration", "RemoteStartTransaction", "StartTransaction"} <= v16
    assert "GetVariables" not in v16
    assert {"GetVariables", "TransactionEvent", "NotifyReport"} <= v201
    assert "GetConfiguration" not in v201
    assert v201 < v21  # 2.1 keeps every 2.0.1 action and adds more
    assert "NotifyReport" not in v16


def test_validators_are_compiled_once(schemas: Schemas) -> None:
    reg = schemas[V201]
    first = reg.validator("Reset", response=False)
    assert first is not None
    assert reg.validator("Reset", response=False) is first
    assert reg.validator("Reset", response=True) is not first


def test_warm_compiles_hot_actions() -> None:
    reg = SchemaRegistry(V16)
    reg.warm()
    for action in HOT_ACTIONS:
        for response in (False, True):
            assert f"{action}/{int(response)}" in reg._cache


def test_21_schema_with_id_compiles_offline(schemas: Schemas) -> None:
    # The 2.1 files carry "$id" URNs; compiling must not try to resolve them.
    reg = schemas[V21]
    assert reg.validate("StatusNotification", _status(V21, evseId=-1), response=False) is not None

"""UpdateFirmware as each version sends it, checked against the official schemas, and
the firmware handlers in the handler tables."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ampyre.domain.firmware import UpdateRequest
from ampyre.domain.models import OcppVersion
from ampyre.protocol.firmware import encode_update
from ampyre.protocol.schemas import Schemas

SCHEMAS = Schemas()
AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _request(**extra: object) -> UpdateRequest:
    return UpdateRequest(
        location="http://csms.example/firmware/abc",
        version="2.0",
        retrieve_at=AT,
        **extra,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("version", list(OcppVersion))
@pytest.mark.parametrize("signed", [False, True])
def test_update_firmware_matches_the_schema(version: OcppVersion, signed: bool) -> None:
    extra: dict[str, object] = {"install_at": AT, "retries": 3, "retry_interval": 60}
    if signed:
        extra |= {"signing_certificate": "-----BEGIN CERTIFICATE-----", "signature": "c2ln"}
    action, payload = encode_update(version.value, 42, _request(**extra))
    assert SCHEMAS[version].validate(action, payload, response=False) is None, payload
    if version is OcppVersion.V16 and not signed:
        assert action == "UpdateFirmware"
        assert payload == {
            "location": "http://csms.example/firmware/abc",
            "retrieveDate": "2026-12-01T10:00:00.000Z",
            "retries": 3,
            "retryInterval": 60,
        }  # 1.6 has no install time and no request id
    else:
        assert action == (
            "SignedUpdateFirmware" if version is OcppVersion.V16 else "UpdateFirmware"
        )
        assert payload["requestId"] == 42
        assert payload["firmware"]["installDateTime"] == "2026-12-01T10:00:00.000Z"
        assert ("signature" in payload["firmware"]) is signed


def test_minimal_2x_request() -> None:
    action, payload = encode_update("ocpp2.0.1", 7, _request())
    assert action == "UpdateFirmware"
    assert payload == {
        "requestId": 7,
        "firmware": {
            "location": "http://csms.example/firmware/abc",
            "retrieveDateTime": "2026-12-01T10:00:00.000Z",
        },
    }

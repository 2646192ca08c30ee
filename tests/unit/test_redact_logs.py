"""Secrets masked in stored frames and request summaries (protocol/redact.py); the log
set-up (logs.py): JSON lines and quiet libraries."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator

import pytest
import uvicorn.config

from ampyre import logs
from ampyre.protocol.redact import MASK, redact, redact_frame


def _frame(action: str, payload: object) -> str:
    return json.dumps([2, "u1", action, payload])


def _stored(action: str, payload: object) -> list[object]:
    result: list[object] = json.loads(redact_frame(_frame(action, payload), action))
    return result


def test_16_authorization_key_is_masked() -> None:
    text = _frame("ChangeConfiguration", {"key": "AuthorizationKey", "value": "A1B2C3D4E5F60718"})
    stored = json.loads(redact_frame(text, "ChangeConfiguration"))
    assert stored == [2, "u1", "ChangeConfiguration", {"key": "AuthorizationKey", "value": MASK}]


def test_16_other_configuration_keys_are_kept_byte_for_byte() -> None:
    text = _frame("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "300"})
    assert redact_frame(text, "ChangeConfiguration") is text
    names = _frame("GetConfiguration", {"key": ["AuthorizationKey", "HeartbeatInterval"]})
    assert redact_frame(names, "GetConfiguration") == names


def test_16_get_configuration_answer_masks_the_key_value() -> None:
    answer = json.dumps(
        [
            3,
            "u1",
            {
                "configurationKey": [
                    {"key": "AuthorizationKey", "readonly": False, "value": "secret-hex"},
                    {"key": "MeterValueSampleInterval", "readonly": False, "value": "60"},
                ]
            },
        ]
    )
    keys = json.loads(redact_frame(answer, "GetConfiguration"))[2]["configurationKey"]
    assert [k["value"] for k in keys] == [MASK, "60"]


def test_2x_basic_auth_password_is_masked() -> None:
    text = _frame(
        "SetVariables",
        {
            "setVariableData": [
                {
                    "attributeValue": "new-password-1234567",
                    "component": {"name": "SecurityCtrlr"},
                    "variable": {"name": "BasicAuthPassword"},
                },
                {
                    "attributeValue": "30",
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                },
            ]
        },
    )
    data = json.loads(redact_frame(text, "SetVariables"))[3]["setVariableData"]
    assert [d["attributeValue"] for d in data] == [MASK, "30"]
    assert data[0]["variable"] == {"name": "BasicAuthPassword"}


def test_2x_report_values_of_secret_variables_are_masked() -> None:
    text = _frame(
        "NotifyReport",
        {
            "reportData": [
                {
                    "component": {"name": "NetworkConfiguration"},
                    "variable": {"name": "VpnKey"},
                    "variableAttribute": [{"type": "Actual", "value": "psk"}],
                }
            ]
        },
    )
    data = json.loads(redact_frame(text, "NotifyReport"))[3]["reportData"][0]
    assert data["variableAttribute"] == [{"type": "Actual", "value": MASK}]


def test_2x_network_profile_secrets_are_masked() -> None:
    payload = {
        "configurationSlot": 1,
        "connectionData": {
            "ocppCsmsUrl": "wss://csms.example/ocpp",
            "vpn": {
                "server": "vpn",
                "user": "u",
                "password": "vpn-pw",
                "key": "psk",
                "type": "IPSec",
            },
            "apn": {
                "apn": "web",
                "apnPassword": "apn-pw",
                "simPin": 1234,
                "apnAuthentication": "AUTO",
            },
        },
    }
    data = json.loads(redact_frame(_frame("SetNetworkProfile", payload), "SetNetworkProfile"))[3][
        "connectionData"
    ]
    assert data["vpn"] == {
        "server": "vpn",
        "user": "u",
        "password": MASK,
        "key": MASK,
        "type": "IPSec",
    }
    assert (data["apn"]["apnPassword"], data["apn"]["simPin"], data["apn"]["apn"]) == (
        MASK,
        MASK,
        "web",
    )
    assert data["ocppCsmsUrl"] == "wss://csms.example/ocpp"


def test_frames_without_secrets_and_bad_json_are_untouched() -> None:
    for action, text in (
        ("Authorize", _frame("Authorize", {"idToken": {"idToken": "CARD-1", "type": "Local"}})),
        ("Reset", _frame("Reset", {"type": "Immediate"})),
        ("Heartbeat", _frame("Heartbeat", {})),
        ("DataTransfer", "not json at all password"),
        ("SetVariables", _frame("SetVariables", {"setVariableData": []})),
        (None, json.dumps([4, "u1", "GenericError", "", {}])),
    ):
        assert redact_frame(text, action) is text


def test_hot_station_messages_are_not_looked_at_but_any_other_action_is() -> None:
    text = _frame("MeterValues", {"connectorId": 1, "meterValue": [], "password": "x"})
    assert redact_frame(text, "MeterValues") is text
    assert _stored("FutureAction", {"adminPassword": "x"})[3] == {"adminPassword": MASK}
    assert _stored("DataTransfer", {"vendorId": "V", "data": {"password": "x"}})[3] == {
        "vendorId": "V",
        "data": {"password": MASK},
    }


def test_request_bodies_mask_fields_named_as_secrets() -> None:
    body = {
        "id": "CP-1",
        "password": "correct-horse-battery",
        "webhook": {"url": "https://x", "secret": "s3cr3t"},
        "api_key": "k",
        "token": "amp_x",
        "id_token": "CARD-1",
        "idToken": {"idToken": "CARD-2"},
        "password_none": None,
    }
    assert redact(body) == {
        "id": "CP-1",
        "password": MASK,
        "webhook": {"url": "https://x", "secret": MASK},
        "api_key": MASK,
        "token": MASK,
        "id_token": "CARD-1",
        "idToken": {"idToken": "CARD-2"},
        "password_none": None,
    }
    assert body["password"] == "correct-horse-battery"  # the input is left alone


# logging ----------------------------------------------------------------------------------
@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in logs.QUIET}
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
    for name, lvl in quiet.items():
        logging.getLogger(name).setLevel(lvl)


def test_json_lines_carry_time_level_logger_message_and_extras(restore_logging: None) -> None:
    out = io.StringIO()
    logs.configure("INFO", "json", stream=out)
    logging.getLogger("ampyre.audit.operator").info(
        "admin POST %s -> %d", "/api/v1/stations", 201, extra={"status": 201, "token": "admin"}
    )
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("ampyre.x").exception("failed")
    logging.getLogger("ampyre.x").debug("not at INFO")
    logging.getLogger("uvicorn.error").info("up", extra={"color_message": "\x1b[36mup\x1b[0m"})
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    first, second, third = (json.loads(line) for line in lines)
    assert third == {
        "time": third["time"],
        "level": "INFO",
        "logger": "uvicorn.error",
        "message": "up",
    }
    assert first["level"] == "INFO" and first["logger"] == "ampyre.audit.operator"
    assert first["message"] == "admin POST /api/v1/stations -> 201"
    assert (first["status"], first["token"]) == (201, "admin")
    assert first["time"].endswith("+00:00")
    assert second["level"] == "ERROR" and "ValueError: boom" in second["exception"]


def test_text_format_and_quiet_libraries(restore_logging: None) -> None:
    out = io.StringIO()
    logs.configure("INFO", "text", stream=out)
    logging.getLogger("httpx").info("HTTP Request: POST http://hook 200 OK")
    logging.getLogger("alembic.runtime.migration").info("Running upgrade 0001 -> 0002")
    logging.getLogger("httpx").warning("a real problem")
    logging.getLogger("ampyre.x").info("hello")
    text = out.getvalue()
    assert "HTTP Request" not in text and "Running upgrade" not in text
    assert "WARNING httpx: a real problem" in text
    assert "INFO ampyre.x: hello" in text


def test_uvicorn_lines_reach_our_handler_after_uvicorn_configured_logging(
    restore_logging: None,
) -> None:
    # A uvicorn server started with its default log_config anywhere in the process gives
    # its loggers their own handlers and propagate=False; ours must still get the lines.
    logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)  # a server's log_level
    out = io.StringIO()
    logs.configure("INFO", "json", stream=out)
    logging.getLogger("uvicorn.error").info("Application startup complete.")
    [line] = out.getvalue().splitlines()
    assert json.loads(line)["logger"] == "uvicorn.error"

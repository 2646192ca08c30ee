"""Webhook rules without I/O: signatures, backoff schedule, matching, input validation."""

import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ampyre.adapters.db.outbox import json_text
from ampyre.domain.events import (
    Delivery,
    DeliveryStatus,
    EventType,
    OutboxEvent,
    Webhook,
    json_safe,
)
from ampyre.services.webhook_rules import (
    BACKOFF_CAP,
    InvalidWebhookInput,
    backoff_delay,
    delivery_body,
    encode_body,
    matches,
    new_secret,
    outbox_payload,
    sign,
    validate_event_types,
    validate_secret,
    validate_url,
    verify_signature,
)

SECRET = "whsec_test-secret-0123456789"
BODY = b'{"id":1,"type":"station.connected"}'


# signatures ------------------------------------------------------------------------------
def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1735732800." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, 1735732800, BODY) == f"sha256={expected}"
    assert sign(SECRET, "1735732800", BODY) == f"sha256={expected}"


def test_a_receiver_accepts_a_fresh_signed_request() -> None:
    signature = sign(SECRET, 1000, BODY)
    assert verify_signature(SECRET, "1000", BODY, signature, now=1000)
    assert verify_signature(SECRET, "1000", BODY, signature, now=1000 + 300)
    assert verify_signature(SECRET, "1000", BODY, signature, now=1000 - 300)


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "now"),
    [
        ("another-secret-0123456789", "1000", BODY, 1000),  # wrong key
        (SECRET, "1000", BODY + b" ", 1000),  # body changed
        (SECRET, "1001", BODY, 1001),  # timestamp changed
        (SECRET, "1000", BODY, 1000 + 301),  # too old: replay
        (SECRET, "1000", BODY, 1000 - 301),  # from the future
        (SECRET, "not-a-number", BODY, 1000),
    ],
)
def test_a_receiver_rejects_tampered_or_stale_requests(
    secret: str, timestamp: str, body: bytes, now: float
) -> None:
    signature = sign(SECRET, 1000, BODY)
    assert not verify_signature(secret, timestamp, body, signature, now=now)


def test_generated_secrets_are_strong_and_unique() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for s in secrets:
        assert s.startswith("whsec_") and len(s) >= 40
        assert validate_secret(s) == s


# backoff -----------------------------------------------------------------------------
def test_backoff_doubles_from_the_base_without_jitter() -> None:
    middle = lambda: 0.5  # noqa: E731 - jitter factor exactly 1
    assert [backoff_delay(n, 2.0, rand=middle) for n in range(1, 7)] == [
        2.0,
        4.0,
        8.0,
        16.0,
        32.0,
        64.0,
    ]


def test_backoff_jitter_stays_within_twenty_percent() -> None:
    assert backoff_delay(3, 1.0, rand=lambda: 0.0) == pytest.approx(4.0 * 0.8)
    assert backoff_delay(3, 1.0, rand=lambda: 0.999999) == pytest.approx(4.0 * 1.2, rel=1e-5)
    for _ in range(200):
        assert 3.2 <= backoff_delay(3, 1.0) <= 4.8


def test_backoff_is_capped_even_for_huge_attempt_counts() -> None:
    assert backoff_delay(20, 2.0, rand=lambda: 0.5) == BACKOFF_CAP
    assert backoff_delay(10_000, 2.0) == BACKOFF_CAP
    assert backoff_delay(4, 2.0, cap=10.0, rand=lambda: 0.5) == 10.0
    assert backoff_delay(0, 2.0, rand=lambda: 0.5) == 2.0  # treated as the first


# matching ---------------------------------------------------------------------------
def _hook(types: list[str], enabled: bool = True) -> Webhook:
    return Webhook(url="http://x.test/", secret=SECRET, event_types=types, enabled=enabled, id=1)


def test_empty_event_types_match_everything() -> None:
    for event_type in EventType:
        assert matches(_hook([]), event_type)


def test_event_types_filter() -> None:
    hook = _hook(["station.connected", "transaction.ended"])
    assert matches(hook, EventType.STATION_CONNECTED)
    assert matches(hook, "transaction.ended")
    assert not matches(hook, EventType.STATION_DISCONNECTED)
    assert not matches(hook, "transaction.started")


def test_disabled_hooks_match_nothing() -> None:
    assert not matches(_hook([], enabled=False), EventType.STATION_CONNECTED)
    assert not matches(_hook(["station.connected"], enabled=False), "station.connected")


# payload --------------------------------------------------------------------------------
def test_body_carries_delivery_id_type_time_station_and_data() -> None:
    at = datetime(2025, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
    event = OutboxEvent(7, "station.connected", at, "CP-1", {"ocpp_version": "ocpp1.6"}, at)
    payload = outbox_payload(event)
    delivery = Delivery(
        id=42,
        webhook_id=1,
        event_type=payload["type"],
        payload=payload,
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=at,
    )
    assert delivery_body(delivery) == {
        "id": 42,
        "type": "station.connected",
        "created_at": "2025-01-01T12:00:00.123Z",
        "station_id": "CP-1",
        "data": {"ocpp_version": "ocpp1.6"},
    }
    assert json.loads(encode_body(delivery)) == delivery_body(delivery)
    assert list(json.loads(encode_body(delivery))) == [
        "id",
        "type",
        "created_at",
        "station_id",
        "data",
    ]


def test_event_data_is_made_json_safe() -> None:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    data = {"at": at, "kwh": Decimal("1.5"), 3: None}
    assert json_safe(data) == {"at": "2025-01-01 00:00:00+00:00", "kwh": "1.5", "3": None}
    # What the store writes to the outbox.
    assert json.loads(json_text(data)) == {
        "at": "2025-01-01T00:00:00+00:00",
        "kwh": "1.5",
        "3": None,
    }


# validation ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "https://example.com/a?b=c",
        "HTTPS://Example.com",
        "http://[::1]:9/x",
    ],
)
def test_valid_urls(url: str) -> None:
    assert validate_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ftp://example.com/",
        "file:///etc/passwd",
        "example.com/hook",
        "http://",
        "http:///path",
        "http://host:99999/",
        "http://host:0/",
        "http://host:port/",
        "http://exa mple.com/",
        "https://example.com/" + "x" * 2048,
    ],
)
def test_invalid_urls(url: str) -> None:
    with pytest.raises(InvalidWebhookInput) as info:
        validate_url(url)
    assert info.value.field == "url"


def test_event_types_are_checked_and_deduplicated() -> None:
    assert validate_event_types([]) == []
    assert validate_event_types(["station.connected", "station.connected"]) == ["station.connected"]
    with pytest.raises(InvalidWebhookInput) as info:
        validate_event_types(["station.connected", "station.exploded"])
    assert info.value.field == "event_types"
    assert "station.exploded" in str(info.value)


@pytest.mark.parametrize(
    "secret", ["short", "x" * 256, "with whitespace in it", "tab\there-0123456"]
)
def test_invalid_secrets(secret: str) -> None:
    with pytest.raises(InvalidWebhookInput) as info:
        validate_secret(secret)
    assert info.value.field == "secret"

"""Checks the transaction handlers of every OCPP version make on what a station sent,
beyond its schema. A refusal is a PropertyConstraintViolation with a clear description,
logged; nothing is stored."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from ampyre.domain.transactions import MeterReading
from ampyre.protocol import meter
from ampyre.protocol.errors import ErrorKind, OcppError
from ampyre.protocol.session import CallContext

log = logging.getLogger(__name__)

Parser = Callable[[Iterable[dict[str, Any]]], tuple[MeterReading, ...]]


def refuse(ctx: CallContext, action: str, description: str) -> OcppError:
    log.warning("%s: refused %s: %s", ctx.station_id, action, description)
    return OcppError(ErrorKind.PROPERTY, description)


def timestamp(ctx: CallContext, action: str, text: Any) -> datetime:
    at = meter.timestamp(text)
    if at is None:
        raise refuse(ctx, action, f"timestamp {str(text)[:40]!r} is not a date-time")
    return at


def int_field(ctx: CallContext, action: str, name: str, value: Any, low: int = 0) -> None:
    """An integer the database keeps in 32 bits (the schemas give no bound)."""
    if isinstance(value, int) and not (low <= value <= meter.INT_MAX):
        raise refuse(ctx, action, f"{name} {value} is out of range")


def readings(
    ctx: CallContext, action: str, parse: Parser, items: Any, refuse_negative: bool = True
) -> tuple[MeterReading, ...]:
    """The meter values, parsed. A negative energy register is refused, except where a
    refusal would lose a stop (`refuse_negative=False`): then it is stored as sent."""
    try:
        parsed = parse(items or ())
    except meter.MeterValueError as exc:
        raise refuse(ctx, action, str(exc)) from None
    problem = meter.negative_register(parsed)
    if problem is not None:
        if refuse_negative:
            raise refuse(ctx, action, problem)
        log.warning("%s: %s stored as sent: %s", ctx.station_id, action, problem)
    return parsed

"""OCPP-J RPC error codes: one semantic set, spelled per version.

OCPP-J 1.6 keeps the historic spellings FormationViolation and OccurenceConstraintViolation
and has neither RpcFrameworkError nor MessageTypeNotSupported; 2.0.1 and 2.1 share one table
(OCPP 2.0.1 Part 4 section 4.3, OCPP 2.1 Part 4 section 4.3).
"""

from __future__ import annotations

import enum
from typing import Any

from ampyre.domain.models import OcppVersion


class ErrorKind(enum.Enum):
    FORMAT = "format"
    GENERIC = "generic"
    INTERNAL = "internal"
    MESSAGE_TYPE_NOT_SUPPORTED = "message_type_not_supported"
    NOT_IMPLEMENTED = "not_implemented"
    NOT_SUPPORTED = "not_supported"
    OCCURRENCE = "occurrence"
    PROPERTY = "property"
    PROTOCOL = "protocol"
    RPC_FRAMEWORK = "rpc_framework"
    SECURITY = "security"
    TYPE = "type"


_V2_CODES: dict[ErrorKind, str] = {
    ErrorKind.FORMAT: "FormatViolation",
    ErrorKind.GENERIC: "GenericError",
    ErrorKind.INTERNAL: "InternalError",
    ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED: "MessageTypeNotSupported",
    ErrorKind.NOT_IMPLEMENTED: "NotImplemented",
    ErrorKind.NOT_SUPPORTED: "NotSupported",
    ErrorKind.OCCURRENCE: "OccurrenceConstraintViolation",
    ErrorKind.PROPERTY: "PropertyConstraintViolation",
    ErrorKind.PROTOCOL: "ProtocolError",
    ErrorKind.RPC_FRAMEWORK: "RpcFrameworkError",
    ErrorKind.SECURITY: "SecurityError",
    ErrorKind.TYPE: "TypeConstraintViolation",
}

_V16_CODES: dict[ErrorKind, str] = {
    **_V2_CODES,
    ErrorKind.FORMAT: "FormationViolation",
    ErrorKind.OCCURRENCE: "OccurenceConstraintViolation",
    # 1.6 has no RpcFrameworkError: an unreadable frame is "syntactically incorrect".
    ErrorKind.RPC_FRAMEWORK: "FormationViolation",
    # 1.6 has no MessageTypeNotSupported: "any other error".
    ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED: "GenericError",
}


def error_code(kind: ErrorKind, version: OcppVersion) -> str:
    return (_V16_CODES if version is OcppVersion.V16 else _V2_CODES)[kind]


class OcppError(Exception):
    """Raised by a handler (or the framework) to answer a CALL with a CALLERROR."""

    def __init__(
        self, kind: ErrorKind, description: str = "", details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description or kind.value)
        self.kind = kind
        # OCPP 2.0.1 Part 4 4.2.3: errorDescription at most 255 characters.
        self.description = description[:255]
        self.details = details or {}

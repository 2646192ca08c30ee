"""Response models of the operator audit trail (`GET /api/v1/audit`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from ampyre.services.operator_audit import OperatorAction


class OperatorActionOut(BaseModel):
    id: int | None
    created_at: datetime = Field(description="when the request arrived")
    token_id: int | None
    token_name: str | None = Field(description="the API token's name")
    role: str | None = Field(description="the token's role at the time")
    method: str = Field(examples=["POST"])
    target: str = Field(examples=["/api/v1/stations/CP-1/ocpp/Reset"])
    station_id: str | None
    summary: str | None = Field(
        description="the request body as JSON, passwords, keys and secrets masked (***)"
    )
    status_code: int = Field(description="the HTTP status of the answer")
    outcome: str | None = Field(
        description="the answer's status (e.g. a station's `accepted`) or the error's detail"
    )
    duration_ms: int

    @classmethod
    def build(cls, a: OperatorAction) -> OperatorActionOut:
        return cls(
            id=a.id,
            created_at=a.created_at,
            token_id=a.token_id,
            token_name=a.token_name,
            role=a.role,
            method=a.method,
            target=a.target,
            station_id=a.station_id,
            summary=a.summary,
            status_code=a.status_code,
            outcome=a.outcome,
            duration_ms=a.duration_ms,
        )


class OperatorActionPage(BaseModel):
    items: list[OperatorActionOut]
    total: int
    limit: int
    offset: int

"""JSON shapes of sign-in sessions and dashboard users (never a password hash)."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from ampyre.domain.models import Role
from ampyre.domain.users import PASSWORD_MAX, User


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX)


class SessionUser(BaseModel):
    id: int
    name: str
    role: Role


class SessionOut(BaseModel):
    user: SessionUser
    csrf_token: str = Field(description="send it as header X-CSRF-Token with every write")
    expires_at: datetime = Field(description="the session ends then (not extended by use)")


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=PASSWORD_MAX)
    new_password: str = Field(min_length=1, max_length=PASSWORD_MAX)


class UserOut(BaseModel):
    id: int
    name: str
    role: Role
    disabled: bool
    locked_until: datetime | None = Field(
        default=None, description="sign-in refused until then (too many failed attempts)"
    )
    created_at: datetime | None
    updated_at: datetime | None
    last_login_at: datetime | None

    @classmethod
    def build(cls, u: User) -> "UserOut":
        assert u.id is not None
        return cls(
            id=u.id,
            name=u.name,
            role=u.role,
            disabled=u.disabled,
            locked_until=u.locked_until,
            created_at=u.created_at,
            updated_at=u.updated_at,
            last_login_at=u.last_login_at,
        )


class UserPage(BaseModel):
    items: list[UserOut]
    total: int
    limit: int
    offset: int


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    role: Role
    password: str = Field(min_length=1, max_length=PASSWORD_MAX)


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    password: str | None = Field(default=None, min_length=1, max_length=PASSWORD_MAX)
    disabled: bool | None = None

"""adapters/db/pg_writer.py: asyncpg's errors classified as SQLAlchemy's would be."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from ampyre.adapters.db.database import caused_by_data
from ampyre.adapters.db.pg_writer import dbapi_errors


def _raised(error: BaseException) -> BaseException:
    with pytest.raises(BaseException) as caught, dbapi_errors():
        raise error
    return caught.value


def test_a_constraint_violation_is_an_integrity_error_of_the_data() -> None:
    error = _raised(asyncpg.ForeignKeyViolationError("no such station"))
    assert isinstance(error, sa_exc.IntegrityError)
    assert caused_by_data(error)


def test_a_refused_value_is_a_data_error_of_the_data() -> None:
    error = _raised(asyncpg.StringDataRightTruncationError("too long"))
    assert isinstance(error, sa_exc.DataError)
    assert caused_by_data(error)


def test_an_argument_the_driver_cannot_encode_stays_a_value_error() -> None:
    encoding = asyncpg.exceptions._base.DataError  # asyncpg.DataError is SQLSTATE 22
    error = _raised(encoding("invalid input for query argument $1"))
    assert isinstance(error, ValueError)
    assert caused_by_data(error)


def test_a_lost_connection_is_a_database_error_not_the_data() -> None:
    error = _raised(asyncpg.ConnectionDoesNotExistError("connection was closed"))
    assert isinstance(error, sa_exc.DBAPIError)
    assert not caused_by_data(error)
    error = _raised(asyncpg.AdminShutdownError("terminating connection"))
    assert isinstance(error, sa_exc.DBAPIError)
    assert not caused_by_data(error)


def test_other_errors_pass_unchanged() -> None:
    error = _raised(KeyError("a bug"))
    assert isinstance(error, KeyError)

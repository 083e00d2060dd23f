"""Which failures mean the database could not be reached, for both stores: those are reported
as StoreUnavailable (the event is retried later, nothing is lost); any other failure is a bug
and propagates as it is."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy import exc as sa

from conversations.ports import StoreUnavailable

_UNREACHABLE = (
    OSError,  # refused, reset, unreachable (ConnectionError included)
    TimeoutError,
    sa.OperationalError,  # SQLAlchemy's name for a DBAPI connection failure
    sa.InterfaceError,
    asyncpg.InterfaceError,  # the connection was closed under us
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.InsufficientResourcesError,  # too many connections
    asyncpg.ReadOnlySQLTransactionError,  # a standby during a failover
)


def is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, sa.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, _UNREACHABLE)


@contextmanager
def unreachable_as_unavailable() -> Iterator[None]:
    """Raise a failure to reach the database as StoreUnavailable."""
    try:
        yield
    except Exception as exc:
        if is_connection_error(exc):
            raise StoreUnavailable(str(exc) or exc.__class__.__name__) from exc
        raise

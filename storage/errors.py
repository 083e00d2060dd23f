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


# asyncpg's protocol when the server went away mid-statement (a shutdown): the connection is
# left "failed", and the next step of the statement says so in these words
_BROKEN_PROTOCOL = ("cannot switch to state", "not connected")


def is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, sa.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, _UNREACHABLE):
        return True
    # SQLAlchemy wraps the driver's error (its `orig`, and its cause)
    for inner in (getattr(exc, "orig", None), exc.__cause__):
        if isinstance(inner, asyncpg.InternalClientError) and str(inner).startswith(
            _BROKEN_PROTOCOL
        ):
            return True
    return isinstance(exc, asyncpg.InternalClientError) and str(exc).startswith(_BROKEN_PROTOCOL)


@contextmanager
def unreachable_as_unavailable() -> Iterator[None]:
    """Raise a failure to reach the database as StoreUnavailable."""
    try:
        yield
    except Exception as exc:
        if is_connection_error(exc):
            raise StoreUnavailable(str(exc) or exc.__class__.__name__) from exc
        raise

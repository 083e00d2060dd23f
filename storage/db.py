"""Engine and session factory; SQLite gets WAL, foreign keys and write-locking transactions."""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path
from typing import Any
from uuid import uuid4

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def pgbouncer_connect_args() -> dict[str, Any]:
    """asyncpg behind PgBouncer in transaction mode, where consecutive statements of one
    client may run on different server connections: no statement kept prepared between them
    (asyncpg's cache off; SQLAlchemy's off, and a unique name for each statement it prepares,
    or two clients' "__asyncpg_stmt_1__" meet on one server connection)."""
    return {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": lambda: f"__asyncpg_{uuid4().hex}__",
    }


def create_engine(
    url: str, *, echo: bool = False, pool_size: int = 10, pgbouncer: bool = False
) -> AsyncEngine:
    """An async engine for `url`; SQLite serialises writers with BEGIN IMMEDIATE; `pgbouncer`:
    the database is reached through PgBouncer in transaction mode (ETP_PGBOUNCER)."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            path = Path(database).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            # readable by its owner only: it holds every answer and name (SQLite gives its
            # -wal and -shm files the database's mode)
            with suppress(FileExistsError):
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        engine = create_async_engine(
            url, echo=echo, hide_parameters=True, connect_args={"timeout": 30}
        )
        _sqlite_pragmas(engine)
        return engine
    # No pre-ping: it costs three round trips per unit of work. A connection the server dropped
    # fails its first statement instead; SQLAlchemy then discards every pooled connection of
    # that age, and the store reports StoreUnavailable (the event is retried, nothing is lost).
    # hide_parameters: a failed statement's message would quote its values (answers, names)
    # into logs and error reports
    return create_async_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args=pgbouncer_connect_args() if pgbouncer else {},
    )


def _sqlite_pragmas(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # let SQLAlchemy, not the driver, decide when transactions begin
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        # take the write lock up front: two processes never interleave a read-modify-write
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)

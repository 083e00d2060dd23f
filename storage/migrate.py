"""Run Alembic migrations programmatically (`etp db upgrade`, start-up on the embedded default)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection

import migrations

MIGRATIONS_DIR = Path(migrations.__file__).parent


def alembic_config(url: str, *, pgbouncer: bool = False) -> Config:
    config = Config()
    config.attributes["pgbouncer"] = pgbouncer
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def _off_loop(fn: Callable[[], None]) -> None:
    """Alembic's env starts its own event loop: run it in a worker thread if one is running here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        fn()
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(fn).result()


def upgrade(url: str, revision: str = "head", *, pgbouncer: bool = False) -> None:
    _off_loop(lambda: command.upgrade(alembic_config(url, pgbouncer=pgbouncer), revision))


def downgrade(url: str, revision: str = "base", *, pgbouncer: bool = False) -> None:
    _off_loop(lambda: command.downgrade(alembic_config(url, pgbouncer=pgbouncer), revision))


async def upgrade_async(url: str, revision: str = "head") -> None:
    """Alembic's env runs its own event loop; keep it off ours."""
    await asyncio.to_thread(upgrade, url, revision)


@dataclass(frozen=True)
class SchemaState:
    """Where a database's schema stands against this release's migrations."""

    current: str | None  # the revision in alembic_version; None: never migrated
    head: str

    @property
    def status(self) -> str:
        """ok (at head), behind (older or never migrated: run `etp db upgrade`), or ahead (a
        newer release migrated it: expand/contract lets this one run on it)."""
        if self.current == self.head:
            return "ok"
        if self.current is None or self.current in known_revisions():
            return "behind"
        return "ahead"

    def describe(self) -> str:
        if self.status == "ok":
            return f"schema at {self.head} (head)"
        if self.current is None:
            return f"schema never migrated (head {self.head}): run `etp db upgrade`"
        if self.status == "behind":
            return f"schema at {self.current}, behind head {self.head}: run `etp db upgrade`"
        return f"schema at {self.current}, newer than this release's head {self.head}"


@cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def head_revision() -> str:
    head = _script().get_current_head()
    assert head is not None, "the migrations have one head"
    return head


def known_revisions() -> frozenset[str]:
    return frozenset(rev.revision for rev in _script().walk_revisions())


async def schema_state(conn: AsyncConnection) -> SchemaState:
    """Read the database's revision (no table yet reads as never migrated)."""
    current = await conn.run_sync(
        lambda sync: MigrationContext.configure(sync).get_current_revision()
    )
    return SchemaState(current, head_revision())

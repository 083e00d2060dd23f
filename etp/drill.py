"""The disaster-recovery drill: back up, restore into a scratch database, prove the restore.

Proof, not hope: every ETP exports as JSON byte for byte as it does from the live database,
every sequence stands at or beyond its table's largest id, and an ETP created on the restored
database through the service gets the id after the last one in the backup.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, text

from conversations.drafting import OfflineDrafter
from conversations.events import Address, Author, Inbound
from conversations.export import export
from etp.container import App, build_app
from etp.settings import DatabaseSettings, Settings
from storage.backup import BackupError, Manifest, backup, default_name, restore, scratch_database
from storage.models import Base

# one instant for both sides: the export names the time it was made
_EXPORT_TIME = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass
class DrillReport:
    manifest: Manifest | None = None
    compared: int = 0
    changed_since: int = 0  # ETPs written after the backup's snapshot (a live database)
    mismatches: list[str] = field(default_factory=list)
    new_etp_id: int | None = None
    last_id: int | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def lines(self) -> list[str]:
        out = []
        if self.manifest is not None:
            rows = sum(self.manifest.rows.values())
            out.append(
                f"backup: {self.manifest.dialect}, revision {self.manifest.revision}, "
                f"{rows} rows, {self.timings.get('backup', 0):.2f} s"
            )
        out.append(f"restore into a scratch database: {self.timings.get('restore', 0):.2f} s")
        out.append(
            f"exports compared: {self.compared} ETPs identical as JSON"
            + (
                f" ({self.changed_since} written since the backup, not compared)"
                if self.changed_since
                else ""
            )
            + f", {self.timings.get('verify', 0):.2f} s"
        )
        if self.new_etp_id is not None:
            out.append(
                f"sequences continue: a new ETP got id {self.new_etp_id} (last {self.last_id})"
            )
        out.extend(f"MISMATCH: {m}" for m in self.mismatches)
        out.append(
            f"drill {'passed' if self.ok else 'FAILED'} in {self.timings.get('total', 0):.2f} s"
        )
        return out


def _settings_for(settings: Settings, url: str) -> Settings:
    copy = Settings()
    copy.__dict__.update(settings.__dict__)
    copy.__dict__["database"] = DatabaseSettings(
        database_url=url, etp_store_connections=settings.database.etp_store_connections
    )
    copy.__dict__["redis"] = type(settings.redis)(redis_url=None)  # queue-free: nothing is drafted
    return copy


async def _app(settings: Settings, url: str) -> App:
    return await build_app(_settings_for(settings, url), drafter=OfflineDrafter(), migrate=False)


async def _etps(app: App) -> dict[int, datetime]:
    etps = Base.metadata.tables["etps"]
    async with app.engine.connect() as conn:
        rows = await conn.execute(select(etps.c.id, etps.c.updated_at).order_by(etps.c.id))
        return {int(r[0]): r[1] for r in rows}


async def _json(app: App, etp_id: int) -> bytes | None:
    async with app.service.store.transaction() as tx:
        etp = await tx.load_etp(etp_id)
    return None if etp is None else export(etp, "json", now=_EXPORT_TIME).content


async def _sequences_behind(app: App) -> list[str]:
    """Sequences (PostgreSQL) that would hand out an id their table already has."""
    if app.engine.dialect.name != "postgresql":
        return []
    query = text(
        "SELECT s.relname, t.relname, a.attname FROM pg_depend d "
        "JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
        "JOIN pg_class t ON t.oid = d.refobjid "
        "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid"
    )
    behind = []
    async with app.engine.connect() as conn:
        for seq, table, column in (await conn.execute(query)).all():
            last, called = (
                await conn.execute(text(f'SELECT last_value, is_called FROM "{seq}"'))
            ).one()
            top = (await conn.execute(text(f'SELECT max("{column}") FROM "{table}"'))).scalar()
            next_value = last + 1 if called else last
            if top is not None and next_value <= top:
                behind.append(f"sequence {seq} would give {next_value}, {table} has {top}")
    return behind


async def _new_etp(app: App) -> int:
    address = Address("drill", "drill", "", False)
    author = Author("drill", "drill", "Exercício de recuperação")
    await app.service.handle(Inbound.from_text(address, author, "/novo Exercício de recuperação"))
    async with app.engine.connect() as conn:
        return int((await conn.execute(text("SELECT max(id) FROM etps"))).scalar_one())


async def run_drill(
    settings: Settings,
    *,
    scratch_url: str | None = None,
    keep: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> DrillReport:
    """Run the drill on the configured database; the live database is only read."""
    url = settings.database.database_url
    report = DrillReport()
    start = clock()
    with tempfile.TemporaryDirectory(prefix="etp-drill-") as tmp:
        archive = Path(tmp) / default_name()
        report.manifest = await backup(url, archive)
        report.timings["backup"] = clock() - start
        async with _scratch(url, scratch_url, keep) as target:
            began = clock()
            await restore(target, archive)
            report.timings["restore"] = clock() - began
            began = clock()
            await _verify(settings, url, target, report)
            report.timings["verify"] = clock() - began
    report.timings["total"] = clock() - start
    return report


@asynccontextmanager
async def _scratch(url: str, given: str | None, keep: bool) -> AsyncIterator[str]:
    if given is not None:
        yield given
        return
    async with scratch_database(url, keep=keep) as made:
        yield made


async def _verify(settings: Settings, url: str, target: str, report: DrillReport) -> None:
    assert report.manifest is not None
    taken_at = datetime.fromisoformat(report.manifest.taken_at)
    live, restored = await _app(settings, url), await _app(settings, target)
    try:
        live_etps, restored_etps = await _etps(live), await _etps(restored)
        for etp_id, updated_at in live_etps.items():
            if updated_at is not None and _aware(updated_at) >= taken_at:
                report.changed_since += 1
                continue
            if etp_id not in restored_etps:
                report.mismatches.append(f"ETP {etp_id} is missing from the restored database")
                continue
            if await _json(live, etp_id) != await _json(restored, etp_id):
                report.mismatches.append(f"ETP {etp_id} exports differently after the restore")
                continue
            report.compared += 1
        report.mismatches.extend(await _sequences_behind(restored))
        report.last_id = max(restored_etps, default=0)
        report.new_etp_id = await _new_etp(restored)
        if report.new_etp_id <= report.last_id:
            report.mismatches.append(
                f"a new ETP got id {report.new_etp_id}, not after {report.last_id}"
            )
    finally:
        await live.close()
        await restored.close()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


__all__ = ["BackupError", "DrillReport", "run_drill"]

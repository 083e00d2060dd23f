"""Backups: `etp db backup` / `restore` / `drill` on the real PostgreSQL and on SQLite."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import tarfile
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url

from conversations.export import export
from etp.drill import run_drill
from storage.backup import BackupError, backup, default_name, prune, read_manifest, restore
from storage.migrate import alembic_config
from tests.conftest import PG_ADMIN_URL, _admin
from tests.helpers import count, finish_etp, load_etp, make_app, make_chat, settings_for

ETP_BIN = Path(sys.executable).parent / "etp"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


async def _etp_command(*args: str, url: str, cwd: Path) -> tuple[int, str, str]:
    env = {**os.environ, "DATABASE_URL": url, "LLM_PROVIDER": "offline"}
    env.pop("REDIS_URL", None)
    process = await asyncio.create_subprocess_exec(
        str(ETP_BIN),
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 180)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _archives(directory: Path) -> list[Path]:
    return list(directory.glob("etp-backup-*.tar"))


async def _fill(url: str) -> dict[int, bytes]:
    """Two ETPs (one finished, one half-way, in a shared chat); their JSON exports by id."""
    app = await make_app(url)
    try:
        await finish_etp(make_chat(app, chat_id="c1", user_id="u1"), title="Papel A4")
        other = make_chat(app, chat_id="c2", user_id="u2", name="João Souza", shared=True)
        await finish_etp(other, title="Cadeiras", upto=4)
        return {i: export(await load_etp(app, i), "json", now=NOW).content for i in (1, 2)}
    finally:
        await app.close()


async def _exports(url: str, ids: list[int]) -> dict[int, bytes]:
    app = await make_app(url)
    try:
        return {i: export(await load_etp(app, i), "json", now=NOW).content for i in ids}
    finally:
        await app.close()


@pytest.fixture
async def empty_pg() -> AsyncIterator[str]:
    """An empty PostgreSQL database (no schema): a restore's target."""
    name = f"etp_test_restore_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_drill_on_postgres_proves_exports_and_sequences_and_prints_its_time(
    pg_url: str, tmp_path: Path
) -> None:
    await _fill(pg_url)
    code, out, err = await _etp_command("db", "drill", url=pg_url, cwd=tmp_path)
    assert code == 0, out + err
    assert "exports compared: 2 ETPs identical as JSON" in out
    assert "sequences continue: a new ETP got id 3 (last 2)" in out
    assert re.search(r"drill passed in \d+\.\d\d s", out), out
    # the live database was only read, and the scratch database is gone
    app = await make_app(pg_url)
    try:
        assert await count(app, "etps") == 2
        async with app.engine.connect() as conn:
            left = await conn.execute(
                text("SELECT count(*) FROM pg_database WHERE datname LIKE 'etp_scratch_%'")
            )
            assert left.scalar_one() == 0
    finally:
        await app.close()


async def test_drill_finds_a_restore_that_lost_an_etp(pg_url: str, empty_pg: str) -> None:
    await _fill(pg_url)

    report = await run_drill(settings_for(pg_url), scratch_url=empty_pg)
    assert report.ok and report.compared == 2
    engine_app = await make_app(empty_pg)
    try:
        async with engine_app.engine.begin() as conn:
            await conn.execute(text("DELETE FROM section_entries WHERE etp_id = 1 AND number = 3"))
    finally:
        await engine_app.close()
    # the drill compares what it restored: against a target changed after the restore it
    # reports the difference (the same comparison a broken restore would fail)
    from etp.drill import DrillReport, _verify

    again = DrillReport(manifest=report.manifest)
    await _verify(settings_for(pg_url), pg_url, empty_pg, again)
    assert not again.ok
    assert "ETP 1 exports differently after the restore" in again.mismatches


async def test_backup_restores_into_an_empty_postgres_and_refuses_a_non_empty_one(
    pg_url: str, empty_pg: str, tmp_path: Path
) -> None:
    before = await _fill(pg_url)
    code, out, err = await _etp_command(
        "db", "backup", "-o", str(tmp_path), url=pg_url, cwd=tmp_path
    )
    assert code == 0, err
    (archive,) = _archives(tmp_path)
    manifest = read_manifest(archive)
    assert manifest.dialect == "postgresql"
    head = ScriptDirectory.from_config(alembic_config(pg_url)).get_current_head()
    assert manifest.revision == head
    assert manifest.rows["etps"] == 2 and manifest.rows["section_entries"] == 26
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == ["database.dump", "manifest.json"]
    assert oct(archive.stat().st_mode & 0o777) == "0o600"

    code, out, err = await _etp_command("db", "restore", str(archive), url=empty_pg, cwd=tmp_path)
    assert code == 0, err
    assert "every table's count checked" in out
    assert await _exports(empty_pg, [1, 2]) == before

    # a non-empty database: refused, one line, nothing changed
    app = await make_app(empty_pg)
    try:
        async with app.engine.begin() as conn:
            await conn.execute(text("UPDATE etps SET title = 'Alterado' WHERE id = 1"))
    finally:
        await app.close()
    code, out, err = await _etp_command("db", "restore", str(archive), url=empty_pg, cwd=tmp_path)
    assert code == 1
    assert "is not empty" in err and "--force" in err and "Traceback" not in err
    assert (await _exports(empty_pg, [1]))[1] != before[1]
    # --force replaces it with the backup
    code, out, err = await _etp_command(
        "db", "restore", str(archive), "--force", url=empty_pg, cwd=tmp_path
    )
    assert code == 0, err
    assert await _exports(empty_pg, [1, 2]) == before


async def test_a_damaged_archive_is_refused_before_anything_is_touched(
    pg_url: str, empty_pg: str, tmp_path: Path
) -> None:
    await _fill(pg_url)
    archive = tmp_path / default_name()
    await backup(pg_url, archive)
    with tarfile.open(archive) as tar:
        dump = tar.getmember("database.dump")
    data = bytearray(archive.read_bytes())
    data[dump.offset_data + dump.size // 2] ^= 0xFF  # one bit of rot in the middle of the dump
    damaged = tmp_path / "damaged.tar"
    damaged.write_bytes(bytes(data))
    code, _, err = await _etp_command("db", "restore", str(damaged), url=empty_pg, cwd=tmp_path)
    assert code == 1
    assert "checksum does not match" in err
    tables = await _etp_command(
        "db", "restore", str(tmp_path / "nothing.tar"), url=empty_pg, cwd=tmp_path
    )
    assert tables[0] != 0  # a missing file is a usage error, not a traceback
    assert "Traceback" not in tables[2]


async def test_one_deleted_etp_comes_back_alone_from_a_backup(pg_url: str, tmp_path: Path) -> None:
    before = await _fill(pg_url)
    archive = tmp_path / default_name()
    await backup(pg_url, archive)
    app = await make_app(pg_url)
    try:
        # after the backup: ETP 2 moves on, then ETP 1 is deleted by mistake
        async with app.engine.begin() as conn:
            await conn.execute(text("UPDATE etps SET title = 'Cadeiras (revisto)' WHERE id = 2"))
            await conn.execute(text("DELETE FROM etps WHERE id = 1"))
        audit_orphans = await count(app, "audit_events WHERE etp_id IS NULL")
        assert audit_orphans > 0
    finally:
        await app.close()

    code, out, err = await _etp_command(
        "db", "restore", str(archive), "--etp", "1", url=pg_url, cwd=tmp_path
    )
    assert code == 0, err
    assert "ETP 1 (Papel A4) restored" in out
    after = await _exports(pg_url, [1, 2])
    assert after[1] == before[1]  # byte for byte
    assert b"Cadeiras (revisto)" in after[2]  # the rest of the database kept its changes
    app = await make_app(pg_url)
    try:
        assert await count(app, "audit_events WHERE etp_id IS NULL") == 0
        assert await count(app, "revisions WHERE etp_id = 1") > 0
    finally:
        await app.close()
    # a second time: the ETP exists, nothing is done
    code, _, err = await _etp_command(
        "db", "restore", str(archive), "--etp", "1", url=pg_url, cwd=tmp_path
    )
    assert code == 1 and "still exists" in err


async def test_sqlite_backup_restore_and_one_etp(sqlite_url: str, tmp_path: Path) -> None:
    before = await _fill(sqlite_url)
    archive = tmp_path / "out" / default_name()
    manifest = await backup(sqlite_url, archive)
    assert manifest.dialect == "sqlite" and manifest.rows["etps"] == 2
    target = f"sqlite+aiosqlite:///{tmp_path / 'restored.db'}"
    await restore(target, archive)
    assert (tmp_path / "restored.db").stat().st_mode & 0o777 == 0o600
    assert await _exports(target, [1, 2]) == before
    with pytest.raises(BackupError, match="not empty"):
        await restore(target, archive)
    with pytest.raises(BackupError, match="postgresql"):
        await restore(PG_ADMIN_URL, archive)

    app = await make_app(target)
    try:
        async with app.engine.begin() as conn:
            await conn.execute(text("DELETE FROM etps WHERE id = 2"))
    finally:
        await app.close()
    code, _out, err = await _etp_command(
        "db", "restore", str(archive), "--etp", "2", url=target, cwd=tmp_path
    )
    assert code == 0, err
    assert await _exports(target, [1, 2]) == before


async def test_sqlite_drill(sqlite_url: str) -> None:
    await _fill(sqlite_url)
    report = await run_drill(settings_for(sqlite_url))
    assert report.ok, report.lines()
    assert report.compared == 2 and report.new_etp_id == 3


def test_retention_deletes_only_old_archives(tmp_path: Path) -> None:
    now = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    old = tmp_path / default_name(now - timedelta(days=31))
    recent = tmp_path / default_name(now - timedelta(days=29))
    other = tmp_path / "etp-backup-notes.txt"
    for path in (old, recent, other):
        path.write_text("x")
    assert prune(tmp_path, 30, now=now) == [old]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([recent.name, other.name])


async def test_backup_with_keep_days_prunes_its_directory(sqlite_url: str, tmp_path: Path) -> None:
    await _fill(sqlite_url)
    old = tmp_path / default_name(datetime.now(UTC) - timedelta(days=40))
    old.write_text("old")
    code, out, err = await _etp_command(
        "db", "backup", "-o", str(tmp_path), "--keep-days", "30", url=sqlite_url, cwd=tmp_path
    )
    assert code == 0, err
    assert not old.exists() and f"deleted {old}" in out
    assert len(_archives(tmp_path)) == 1


async def test_the_daily_systemd_unit_runs_a_real_backup_with_retention(
    sqlite_url: str, tmp_path: Path
) -> None:
    deploy = Path(__file__).parent.parent / "deploy"
    unit = (deploy / "etp-express-backup.service").read_text()
    timer = (deploy / "etp-express-backup.timer").read_text()
    assert "OnCalendar=" in timer and "Persistent=true" in timer
    (command,) = [
        line.split("=", 1)[1] for line in unit.splitlines() if line.startswith("ExecStart=")
    ]
    binary, *args = command.split()
    assert binary == "/opt/etp-express/.venv/bin/etp"
    # the unit's own arguments, into a directory of ours
    args = [str(tmp_path) if a == "/var/backups/etp-express" else a for a in args]
    await _fill(sqlite_url)
    code, _out, err = await _etp_command(*args, url=sqlite_url, cwd=tmp_path)
    assert code == 0, err
    assert "--keep-days" in args
    assert len(_archives(tmp_path)) == 1

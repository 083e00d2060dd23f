"""Backups: a verified archive of the whole database, its restore, and one ETP's restore.

An archive is a tar file holding `manifest.json` and the database itself:

- PostgreSQL: `database.dump`, `pg_dump --format=custom` (compressed), taken from a snapshot
  this module exports, in whose transaction the manifest's row counts and schema revision are
  read: counts and dump describe the same instant, whatever is being written meanwhile;
- SQLite: `database.sqlite.gz`, a consistent copy made with SQLite's online backup API.

The manifest names the schema revision, the rows of every table and the SHA-256 of the
database member; a restore checks the checksum before it touches anything and the counts after.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import Table, select, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import create_engine, is_sqlite
from storage.models import Base

FORMAT = "etp-express-backup/1"
MANIFEST = "manifest.json"
PG_MEMBER = "database.dump"
SQLITE_MEMBER = "database.sqlite.gz"
NAME_PATTERN = re.compile(r"^etp-backup-(\d{8}T\d{6}Z)\.tar$")
TABLES = (*(t.name for t in Base.metadata.sorted_tables), "alembic_version")


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why, for an operator."""


@dataclass(frozen=True)
class Manifest:
    """What an archive holds: checked on restore."""

    dialect: str
    created_at: str
    taken_at: str  # the instant the copy shows (PostgreSQL: its snapshot)
    revision: str | None
    rows: dict[str, int]
    member: str
    sha256: str
    tools: dict[str, str] = field(default_factory=dict)
    format: str = FORMAT

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, indent=2, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        raw = json.loads(data)
        if raw.get("format") != FORMAT:
            raise BackupError(f"not an ETP Express backup (format {raw.get('format')!r})")
        return cls(**raw)


def default_name(now: datetime | None = None) -> str:
    return f"etp-backup-{(now or datetime.now(UTC)):%Y%m%dT%H%M%SZ}.tar"


def prune(directory: Path, keep_days: int, *, now: datetime | None = None) -> list[Path]:
    """Delete the archives in `directory` older than `keep_days` (by the time in their name:
    a copied file keeps it); other files are never touched. Returns what was deleted."""
    limit = (now or datetime.now(UTC)) - timedelta(days=keep_days)
    deleted = []
    for path in sorted(directory.iterdir()):
        match = NAME_PATTERN.match(path.name)
        if match is None or not path.is_file():
            continue
        taken = datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if taken < limit:
            path.unlink()
            deleted.append(path)
    return deleted


# --- PostgreSQL ------------------------------------------------------------------------------


def libpq_env(url: str | URL) -> dict[str, str]:
    """The libpq environment for pg_dump/pg_restore: the password never on a command line."""
    parsed = make_url(url) if isinstance(url, str) else url
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    pairs = {
        "PGHOST": parsed.host,
        "PGPORT": str(parsed.port) if parsed.port else None,
        "PGUSER": parsed.username,
        "PGPASSWORD": parsed.password,
        "PGDATABASE": parsed.database,
    }
    env.update({k: v for k, v in pairs.items() if v})
    ssl = parsed.query.get("ssl") or parsed.query.get("sslmode")
    if isinstance(ssl, str):
        env["PGSSLMODE"] = {"true": "require", "false": "disable"}.get(ssl.lower(), ssl)
    return env


def _asyncpg_dsn(url: str | URL) -> str:
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} is not installed; install the PostgreSQL client of the server's major "
            "version (Debian: apt-get install postgresql-client-15)"
        )
    return path


def _major(version_line: str) -> int:
    """15 from "pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"."""
    match = re.search(r"\)\s*(\d+)", version_line)
    return int(match.group(1)) if match else 0


def _check_client(name: str, server: int) -> str:
    """`name`'s version line; refused when it is older than the server (pg_dump cannot dump a
    newer server), so the operator learns it before a night's backup fails."""
    tool = _tool(name)
    line = subprocess.run([tool, "--version"], capture_output=True, text=True, check=True).stdout
    client = _major(line)
    if client < server:
        raise BackupError(
            f"{name} is version {client} but the server is {server}; install "
            f"postgresql-client-{server}"
        )
    return line.strip()


async def _run(args: list[str], env: Mapping[str, str], what: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        *args, env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise BackupError(f"{what} failed: {err.decode(errors='replace').strip()}")


async def _pg_counts(conn: asyncpg.Connection) -> tuple[str | None, dict[str, int]]:
    present = {
        r["tablename"]
        for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }
    rows = {}
    for table in TABLES:
        if table in present:
            rows[table] = int(await conn.fetchval(f'SELECT count(*) FROM "{table}"'))
    revision = None
    if "alembic_version" in present:
        revision = await conn.fetchval("SELECT version_num FROM alembic_version")
    return revision, rows


async def _backup_postgres(url: str, work: Path) -> Manifest:
    dump = work / PG_MEMBER
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        tools = {
            "pg_dump": _check_client("pg_dump", _server_major(conn)),
            "server": str(conn.get_settings().server_version),
        }
        # the manifest and pg_dump read the same snapshot: counts match the dump exactly
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            taken_at = await conn.fetchval("SELECT clock_timestamp()")
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            revision, rows = await _pg_counts(conn)
            await _run(
                [
                    _tool("pg_dump"),
                    "--format=custom",
                    "--compress=6",
                    f"--snapshot={snapshot}",
                    "--no-owner",
                    "--no-privileges",
                    f"--file={dump}",
                ],
                libpq_env(url),
                "pg_dump",
            )
    finally:
        await conn.close()
    return Manifest(
        dialect="postgresql",
        created_at=datetime.now(UTC).isoformat(),
        taken_at=taken_at.astimezone(UTC).isoformat(),
        revision=revision,
        rows=rows,
        member=PG_MEMBER,
        sha256=_sha256(dump),
        tools=tools,
    )


def _server_major(conn: asyncpg.Connection) -> int:
    return int(conn.get_server_version().major)


async def _pg_tables(conn: asyncpg.Connection) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', "
            "'information_schema')"
        )
    )


async def _restore_postgres(url: str, dump: Path, manifest: Manifest, *, force: bool) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        _check_client("pg_restore", _server_major(conn))
        tables = await _pg_tables(conn)
    finally:
        await conn.close()
    if tables and not force:
        raise BackupError(
            f"database {make_url(url).database} is not empty ({tables} tables); restore into "
            "an empty database, or pass --force to replace what it holds with the backup"
        )
    args = [
        _tool("pg_restore"),
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        f"--dbname={make_url(url).database}",
    ]
    if tables:
        args += ["--clean", "--if-exists"]
    await _run([*args, str(dump)], libpq_env(url), "pg_restore")
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        revision, rows = await _pg_counts(conn)
    finally:
        await conn.close()
    _compare(manifest, revision, rows)


# --- SQLite ----------------------------------------------------------------------------------


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(database).expanduser()


def _sqlite_counts(path: Path) -> tuple[str | None, dict[str, int]]:
    with sqlite3.connect(path) as db:
        present = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        rows = {
            t: int(db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0])
            for t in TABLES
            if t in present
        }
        revision = None
        if "alembic_version" in present:
            found = db.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = found[0] if found else None
    return revision, rows


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy while others write (WAL included)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _backup_sqlite(url: str, work: Path) -> Manifest:
    source = _sqlite_path(url)
    if not source.exists():
        raise BackupError(f"SQLite database {source} does not exist")
    copy = work / "database.sqlite"
    taken_at = datetime.now(UTC).isoformat()
    _sqlite_copy(source, copy)
    revision, rows = _sqlite_counts(copy)
    member = work / SQLITE_MEMBER
    with copy.open("rb") as raw, gzip.open(member, "wb", compresslevel=6) as packed:
        shutil.copyfileobj(raw, packed)
    copy.unlink()
    return Manifest(
        dialect="sqlite",
        created_at=datetime.now(UTC).isoformat(),
        taken_at=taken_at,
        revision=revision,
        rows=rows,
        member=SQLITE_MEMBER,
        sha256=_sha256(member),
        tools={"sqlite": sqlite3.sqlite_version},
    )


def _unpack_sqlite(member: Path, work: Path) -> Path:
    plain = work / "database.sqlite"
    with gzip.open(member, "rb") as packed, plain.open("wb") as raw:
        shutil.copyfileobj(packed, raw)
    return plain


def _restore_sqlite(url: str, member: Path, manifest: Manifest, *, force: bool) -> None:
    target = _sqlite_path(url)
    plain = _unpack_sqlite(member, member.parent)
    if target.exists():
        with sqlite3.connect(target) as db:
            tables = db.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[
                0
            ]
        if tables and not force:
            raise BackupError(
                f"database {target} is not empty ({tables} tables); restore into an empty "
                "database, or pass --force to replace what it holds with the backup"
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    with suppress(FileExistsError):  # readable by its owner only, as storage.db creates it
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    # through the backup API as well: the target's WAL and readers stay consistent
    src = sqlite3.connect(plain)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    _compare(manifest, *_sqlite_counts(target))


# --- archives --------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _compare(manifest: Manifest, revision: str | None, rows: Mapping[str, int]) -> None:
    if revision != manifest.revision:
        raise BackupError(
            f"restored schema revision {revision}, the backup has {manifest.revision}"
        )
    wrong = [
        f"{t}: {rows.get(t)} rows, the backup has {n}"
        for t, n in manifest.rows.items()
        if rows.get(t) != n
    ]
    if wrong:
        raise BackupError("restored rows differ from the backup: " + "; ".join(wrong))


def _write_archive(path: Path, manifest: Manifest, member: Path) -> None:
    partial = path.with_name(path.name + ".partial")
    with tarfile.open(partial, "w") as tar:
        info = tarfile.TarInfo(MANIFEST)
        data = manifest.to_json()
        info.size = len(data)
        info.mtime = int(datetime.now(UTC).timestamp())
        tar.addfile(info, io.BytesIO(data))
        tar.add(member, arcname=manifest.member)
    partial.chmod(0o600)  # it holds every ETP and every person's name
    partial.replace(path)  # a backup is there whole or not at all


async def backup(url: str, output: Path) -> Manifest:
    """Write an archive of the database at `url` to `output` (a file path)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="etp-backup-", dir=output.parent) as tmp:
        work = Path(tmp)
        if is_sqlite(url):
            manifest = await asyncio.to_thread(_backup_sqlite, url, work)
        else:
            manifest = await _backup_postgres(url, work)
        await asyncio.to_thread(_write_archive, output, manifest, work / manifest.member)
    return manifest


def read_manifest(archive: Path) -> Manifest:
    try:
        with tarfile.open(archive, "r") as tar:
            member = tar.extractfile(MANIFEST)
            if member is None:
                raise BackupError(f"{archive} has no {MANIFEST}")
            return Manifest.from_json(member.read())
    except (tarfile.TarError, KeyError, ValueError, TypeError) as exc:
        raise BackupError(f"{archive} is not an ETP Express backup ({exc})") from exc


def _extract(archive: Path, work: Path) -> tuple[Manifest, Path]:
    """The manifest and the database member, its checksum verified."""
    manifest = read_manifest(archive)
    with tarfile.open(archive, "r") as tar:
        tar.extract(manifest.member, work, filter="data")
    member = work / manifest.member
    if _sha256(member) != manifest.sha256:
        raise BackupError(f"{archive} is damaged: its checksum does not match the manifest")
    return manifest, member


def _same_kind(manifest: Manifest, url: str) -> None:
    dialect = "sqlite" if is_sqlite(url) else "postgresql"
    if manifest.dialect != dialect:
        raise BackupError(f"the backup is of a {manifest.dialect} database, the target {dialect}")


async def restore(url: str, archive: Path, *, force: bool = False) -> Manifest:
    """Restore `archive` into the database at `url`: refused on a non-empty one unless `force`.

    The archive's checksum is verified first, the restored rows against its manifest after."""
    with tempfile.TemporaryDirectory(prefix="etp-restore-") as tmp:
        manifest, member = await asyncio.to_thread(_extract, archive, Path(tmp))
        _same_kind(manifest, url)
        if manifest.dialect == "sqlite":
            await asyncio.to_thread(_restore_sqlite, url, member, manifest, force=force)
        else:
            await _restore_postgres(url, member, manifest, force=force)
    return manifest


# --- one ETP ---------------------------------------------------------------------------------


@dataclass
class EtpRestored:
    etp_id: int
    title: str
    rows: dict[str, int]


async def _rows(conn: AsyncConnection, table: Table, where: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in (await conn.execute(select(table).where(where))).mappings()]


async def copy_etp(source_url: str, target_url: str, etp_id: int) -> EtpRestored:
    """Copy ETP `etp_id` with its sections, revisions and audit trail from the database at
    `source_url` (a restored backup) into `target_url`, in one transaction.

    Refused when the target still has that ETP. People it names that the target lacks are
    copied; audit rows the target kept (their ETP set to NULL by the deletion) get it back."""
    source, target = create_engine(source_url), create_engine(target_url)
    tables = Base.metadata.tables
    etps, sections = tables["etps"], tables["section_entries"]
    revisions, audit, people = tables["revisions"], tables["audit_events"], tables["people"]
    try:
        async with source.connect() as src:
            etp = await _rows(src, etps, etps.c.id == etp_id)
            if not etp:
                raise BackupError(f"ETP {etp_id} is not in the backup")
            sect = await _rows(src, sections, sections.c.etp_id == etp_id)
            revs = await _rows(src, revisions, revisions.c.etp_id == etp_id)
            trail = await _rows(src, audit, audit.c.etp_id == etp_id)
            person_ids = _referenced_people(etp, sect, revs, trail)
            persons = await _rows(src, people, people.c.id.in_(person_ids)) if person_ids else []
        async with target.begin() as dst:
            if (await dst.execute(select(etps.c.id).where(etps.c.id == etp_id))).first():
                raise BackupError(
                    f"ETP {etp_id} still exists in the database; nothing was restored"
                )
            have = (
                set(
                    (await dst.execute(select(people.c.id).where(people.c.id.in_(person_ids))))
                    .scalars()
                    .all()
                )
                if person_ids
                else set()
            )
            missing_people = [p for p in persons if p["id"] not in have]
            if missing_people:
                await dst.execute(people.insert(), missing_people)
            await dst.execute(etps.insert(), etp)
            if sect:
                await dst.execute(sections.insert(), sect)
            if revs:
                await dst.execute(revisions.insert(), revs)
            kept = (
                set(
                    (
                        await dst.execute(
                            select(audit.c.id).where(audit.c.id.in_([a["id"] for a in trail]))
                        )
                    )
                    .scalars()
                    .all()
                )
                if trail
                else set()
            )
            if kept:
                await dst.execute(
                    update(audit)
                    .where(audit.c.id.in_(kept), audit.c.etp_id.is_(None))
                    .values(etp_id=etp_id)
                )
            new_trail = [a for a in trail if a["id"] not in kept]
            if new_trail:
                await dst.execute(audit.insert(), new_trail)
    finally:
        await source.dispose()
        await target.dispose()
    return EtpRestored(
        etp_id,
        etp[0]["title"],
        {
            "etps": 1,
            "section_entries": len(sect),
            "revisions": len(revs),
            "audit_events": len(trail),
            "people": len(missing_people),
        },
    )


def _referenced_people(*groups: Iterable[Mapping[str, Any]]) -> list[int]:
    keys = ("owner_id", "accepted_by_id", "justified_by_id", "author_id", "person_id")
    found = {row[k] for group in groups for row in group for k in keys if row.get(k) is not None}
    return sorted(found)


@asynccontextmanager
async def scratch_database(url: str, *, keep: bool = False) -> AsyncIterator[str]:
    """A new, empty database beside the one at `url` (PostgreSQL: same server, needs CREATEDB;
    SQLite: a file in a temporary directory), dropped afterwards unless `keep`."""
    if is_sqlite(url):
        tmp = Path(tempfile.mkdtemp(prefix="etp-scratch-"))
        try:
            yield f"sqlite+aiosqlite:///{tmp / 'scratch.db'}"
        finally:
            if not keep:
                shutil.rmtree(tmp, ignore_errors=True)
        return
    name = f"etp_scratch_{datetime.now(UTC):%Y%m%d%H%M%S}_{os.getpid()}_{secrets.token_hex(3)}"
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    except asyncpg.InsufficientPrivilegeError as exc:
        raise BackupError(
            f"cannot create a scratch database ({exc}); grant CREATEDB to the role, or pass "
            "--scratch-url with an empty database"
        ) from exc
    finally:
        await conn.close()
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            conn = await asyncpg.connect(_asyncpg_dsn(url))
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()


async def restore_etp(
    url: str, archive: Path, etp_id: int, *, scratch_url: str | None = None
) -> EtpRestored:
    """Bring back one ETP from `archive` into the live database at `url`, leaving the rest of
    that database as it is: the archive is restored into a scratch database, the ETP copied."""
    manifest = read_manifest(archive)
    _same_kind(manifest, url)
    if scratch_url is not None:
        await restore(scratch_url, archive)
        return await copy_etp(scratch_url, url, etp_id)
    async with scratch_database(url) as scratch:
        await restore(scratch, archive)
        return await copy_etp(scratch, url, etp_id)

"""`etp db backup`, `etp db restore`, `etp db drill`: registered on `etp db` by etp/cli.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from etp.settings import Settings


def load_settings() -> Settings:
    """etp.cli's: one line per invalid value, never a traceback (imported late: etp.cli
    imports this module)."""
    from etp.cli import load_settings as load

    return load()


def register(db_cli: typer.Typer) -> None:
    db_cli.command("backup")(db_backup)
    db_cli.command("restore")(db_restore)
    db_cli.command("drill")(db_drill)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def db_backup(
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            help="the archive to write, or a directory for etp-backup-<UTC time>.tar",
        ),
    ] = Path("."),
    keep_days: Annotated[
        int | None,
        typer.Option(
            "--keep-days",
            min=1,
            help="then delete the archives in that directory older than this many days",
        ),
    ] = None,
) -> None:
    """A verified backup: compressed dump, schema revision, row counts and checksum."""
    from storage.backup import BackupError, backup, default_name, prune

    url = load_settings().database.database_url
    path = output / default_name() if output.is_dir() else output
    try:
        manifest = asyncio.run(backup(url, path))
    except BackupError as exc:
        raise _fail(str(exc)) from None
    rows = sum(n for t, n in manifest.rows.items() if t != "alembic_version")
    size = path.stat().st_size
    typer.echo(
        f"{path}: {manifest.dialect} at revision {manifest.revision}, {rows} rows, "
        f"{size / 1024:.0f} KiB, sha256 {manifest.sha256[:16]}…"
    )
    if keep_days is not None:
        for old in prune(path.parent, keep_days):
            typer.echo(f"deleted {old} (older than {keep_days} days)")


def db_restore(
    archive: Annotated[Path, typer.Argument(metavar="FILE", exists=True, dir_okay=False)],
    force: Annotated[
        bool, typer.Option("--force", help="replace what a non-empty database holds")
    ] = False,
    etp: Annotated[
        int | None,
        typer.Option(
            "--etp",
            metavar="ID",
            help="bring back this one ETP only (deleted by mistake); the rest stays as it is",
        ),
    ] = None,
    scratch_url: Annotated[
        str | None,
        typer.Option(help="with --etp: an empty database to restore the archive into first"),
    ] = None,
) -> None:
    """Restore a backup into an empty database (or, with --etp, one ETP into the live one)."""
    from storage.backup import BackupError, restore, restore_etp

    url = load_settings().database.database_url
    try:
        if etp is not None:
            done = asyncio.run(restore_etp(url, archive, etp, scratch_url=scratch_url))
            parts = ", ".join(f"{n} {t}" for t, n in done.rows.items() if n)
            typer.echo(f"ETP {done.etp_id} ({done.title}) restored: {parts}")
            return
        manifest = asyncio.run(restore(url, archive, force=force))
    except BackupError as exc:
        raise _fail(str(exc)) from None
    rows = sum(n for t, n in manifest.rows.items() if t != "alembic_version")
    typer.echo(
        f"restored {archive} (taken {manifest.taken_at}): revision {manifest.revision}, "
        f"{rows} rows, every table's count checked"
    )


def db_drill(
    scratch_url: Annotated[
        str | None,
        typer.Option(help="an empty database to restore into (default: a new one, dropped after)"),
    ] = None,
    keep: Annotated[bool, typer.Option(help="keep the scratch database afterwards")] = False,
) -> None:
    """Disaster-recovery drill: back up, restore into a scratch database, prove it, time it."""
    from etp.drill import run_drill
    from storage.backup import BackupError

    try:
        report = asyncio.run(run_drill(load_settings(), scratch_url=scratch_url, keep=keep))
    except BackupError as exc:
        raise _fail(str(exc)) from None
    for line in report.lines():
        typer.echo(line)
    if not report.ok:
        raise typer.Exit(1)

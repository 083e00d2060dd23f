"""Recovery times: backup, full restore, one ETP's restore and the drill, on a filled database.

Creates its own database (default `etp_bench_backup`), writes 20 ETPs through the real service
(finished and half-way, with revisions and audit trails), copies them in SQL up to `--etps`,
then times, in process:

- `backup`: the verified archive (pg_dump from an exported snapshot, manifest, checksum);
- `restore`: that archive into an empty database (total loss, corruption);
- `restore --etp`: one ETP deleted by mistake, brought back alone;
- `drill`: backup, restore into a scratch database, every ETP's JSON export compared.

Run: .venv/bin/python bench/backup_drill.py [--etps 10000]
Admin URL: ETP_BENCH_POSTGRES_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from etp.drill import run_drill
from storage.backup import backup, default_name, restore, restore_etp
from storage.migrate import upgrade
from tests.helpers import finish_etp, make_app, make_chat, settings_for

ADMIN_URL = os.environ.get(
    "ETP_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
BASE = 20


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(_dsn(ADMIN_URL))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def fill(url: str, etps: int) -> None:
    app = await make_app(url)
    try:
        for i in range(BASE):
            chat = make_chat(app, chat_id=f"c{i}", user_id=f"u{i}", name=f"Servidor {i}")
            await finish_etp(chat, title=f"Contratação {i}", upto=13 if i % 2 else 6)
    finally:
        await app.close()
    copies = max(0, etps // BASE - 1)
    conn = await asyncpg.connect(_dsn(url))
    try:
        shift = f"g * {BASE}"
        await conn.execute(
            "INSERT INTO etps (id, title, status, owner_id, shared_key, orgao, identification,"
            " created_at, updated_at, concluded_at) SELECT id + "
            f"{shift}, title || ' ' || g, status, owner_id, NULL, orgao, identification,"
            f" created_at, updated_at, concluded_at FROM etps, generate_series(1, {copies}) g"
        )
        await conn.execute(
            "INSERT INTO section_entries (etp_id, number, status, answers, gaps, draft,"
            " draft_attempt, accepted_text, accepted_by_id, accepted_by_name, justification,"
            f" justified_by_id, justified_by_name, updated_at) SELECT etp_id + {shift}, number,"
            " status, answers, gaps, draft, draft_attempt, accepted_text, accepted_by_id,"
            " accepted_by_name, justification, justified_by_id, justified_by_name, updated_at"
            f" FROM section_entries, generate_series(1, {copies}) g"
        )
        await conn.execute(
            "INSERT INTO revisions (etp_id, section, kind, text, author_id, author_name,"
            f" created_at) SELECT etp_id + {shift}, section, kind, text, author_id, author_name,"
            f" created_at FROM revisions, generate_series(1, {copies}) g"
        )
        await conn.execute(
            "INSERT INTO audit_events (etp_id, conversation_id, person_id, action, detail,"
            f" created_at) SELECT etp_id + {shift}, NULL, person_id, action, detail, created_at"
            f" FROM audit_events, generate_series(1, {copies}) g WHERE etp_id IS NOT NULL"
        )
        await conn.execute("SELECT setval('etps_id_seq', (SELECT max(id) FROM etps))")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--etps", type=int, default=10_000)
    parser.add_argument("--database", default="etp_bench_backup")
    args = parser.parse_args()
    url = make_url(ADMIN_URL).set(database=args.database).render_as_string(hide_password=False)
    empty = make_url(ADMIN_URL).set(database=args.database + "_restored")
    empty_url = empty.render_as_string(hide_password=False)
    for name in (args.database, empty.database):
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin(f'CREATE DATABASE "{args.database}"')
    try:
        await asyncio.to_thread(upgrade, url)
        began = time.monotonic()
        await fill(url, args.etps)
        print(f"filled {args.etps} ETPs in {time.monotonic() - began:.1f} s", flush=True)
        conn = await asyncpg.connect(_dsn(url))
        size = await conn.fetchval("SELECT pg_database_size(current_database())")
        await conn.close()
        print(f"database size: {size / 2**20:.1f} MiB")
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(tmp) / default_name()
            began = time.monotonic()
            manifest = await backup(url, archive)
            took = time.monotonic() - began
            rows = sum(manifest.rows.values())
            print(
                f"backup: {took:.2f} s, {rows} rows, archive {archive.stat().st_size / 2**20:.1f} MiB"
            )
            await _admin(f'CREATE DATABASE "{empty.database}"')
            began = time.monotonic()
            await restore(empty_url, archive)
            print(f"restore into an empty database: {time.monotonic() - began:.2f} s")
            victim = args.etps // 2 + 1
            await _admin_on(url, f"DELETE FROM etps WHERE id = {victim}")
            began = time.monotonic()
            await restore_etp(url, archive, victim)
            print(f"restore one ETP (--etp {victim}): {time.monotonic() - began:.2f} s")
        report = await run_drill(settings_for(url))
        for line in report.lines():
            print(f"drill: {line}")
    finally:
        for name in (args.database, empty.database):
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin_on(url: str, sql: str) -> None:
    conn = await asyncpg.connect(_dsn(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())

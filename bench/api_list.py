"""`GET /api/etps` latency with 100,000 ETPs in PostgreSQL (goal: p99 under 50 ms).

Creates its own database (default `etp_bench_docs`), migrates it, bulk-loads 100,000 ETPs and
their 1.3 million section rows with COPY, then calls the real FastAPI app in process (ASGI, no
network) with a real token, and drops the database at the end.

Run: .venv/bin/python bench/api_list.py [--etps 100000] [--requests 300]
Admin URL: ETP_BENCH_POSTGRES_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.app import create_api
from etp.container import build_app
from etp.settings import ApiSettings
from tests.helpers import override, settings_for

ADMIN_URL = os.environ.get(
    "ETP_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
ORGAOS = [
    f"{kind} {place}"
    for kind in ("Ministério da", "Secretaria de Estado da", "Universidade Federal de")
    for place in ("Saúde", "Educação", "Fazenda", "Justiça", "Cultura", "Minas Gerais", "Goiás")
]
OBJETOS = ["papel A4", "serviço de limpeza", "notebooks", "vigilância", "combustível", "mobiliário"]


def _pg(url: str) -> dict[str, object]:
    u = make_url(url)
    return {
        "host": u.host,
        "port": u.port or 5432,
        "user": u.username,
        "password": u.password,
        "database": u.database,
    }


async def load(url: str, count: int) -> None:
    """COPY `count` ETPs and 13 sections each; a mix of statuses, órgãos and dates."""
    rng = random.Random(42)
    now = datetime.now(UTC)
    etps, sections = [], []
    for i in range(1, count + 1):
        orgao = rng.choice(ORGAOS)
        objeto = rng.choice(OBJETOS)
        concluded = rng.random() < 0.4
        updated = now - timedelta(minutes=rng.randrange(0, 2 * 365 * 24 * 60))
        created = updated - timedelta(days=rng.randrange(0, 60))
        ident = {
            "orgao": orgao,
            "unidade": "Coordenação de Compras",
            "processo": f"{23000 + i % 900}.{i:06d}/2026-{i % 97:02d}",
            "objeto": f"Aquisição de {objeto}",
            "equipe": [{"name": "Maria Silva", "cargo": "Analista", "matricula": str(i)}],
            "portaria": "",
            "authors": [],
        }
        etps.append(
            (
                i,
                f"{objeto.capitalize()} {i}",
                "concluido" if concluded else "em_elaboracao",
                orgao,
                json.dumps(ident, ensure_ascii=False),
                created,
                updated,
                updated if concluded else None,
            )
        )
        done = 13 if concluded else rng.randrange(0, 13)
        for number in range(1, 14):
            accepted = number <= done
            sections.append(
                (
                    i,
                    number,
                    "accepted" if accepted else "pending",
                    "[]",
                    "[]",
                    0,
                    f"Texto aceito da seção {number} do ETP {i}." if accepted else None,
                    "Maria Silva" if accepted else None,
                    updated,
                )
            )
    conn = await asyncpg.connect(**_pg(url))  # type: ignore[arg-type]
    try:
        await conn.copy_records_to_table(
            "etps",
            records=etps,
            columns=[
                "id",
                "title",
                "status",
                "orgao",
                "identification",
                "created_at",
                "updated_at",
                "concluded_at",
            ],
        )
        await conn.copy_records_to_table(
            "section_entries",
            records=sections,
            columns=[
                "etp_id",
                "number",
                "status",
                "answers",
                "gaps",
                "draft_attempt",
                "accepted_text",
                "accepted_by_name",
                "updated_at",
            ],
        )
        await conn.execute(f"SELECT setval('etps_id_seq', {count})")
        # What autovacuum does to a live table: statistics, and the visibility map that lets
        # counts read the narrow indexes instead of the rows.
        await conn.execute("VACUUM ANALYZE etps")
        await conn.execute("VACUUM ANALYZE section_entries")
    finally:
        await conn.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def measure(url: str, requests: int) -> None:
    settings = settings_for(url)
    override(settings, api=ApiSettings(etp_api_rate_limit="1000000/minute"))
    app = await build_app(settings, migrate=False)
    try:
        _, token = await app.admin.create_token("bench", "read")
        transport = httpx.ASGITransport(app=create_api(app))
        since = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S")
        queries = {
            "first page (20, newest first)": "",
            "status=concluido": "status=concluido",
            "orgao=goiás (contains)": "orgao=goi%C3%A1s",
            "q=notebooks (16% of rows)": "q=notebooks",
            "q=vigilância 4242 (selective)": "q=vigil%C3%A2ncia%204242",
            "updated_since=30 days ago": f"updated_since={since}",
            "status + orgao + limit=100": "status=em_elaboracao&orgao=sa%C3%BAde&limit=100",
            "deep page (offset=50000)": "offset=50000",
        }
        headers = {"Authorization": f"Bearer {token}"}
        print(f"GET /api/etps, {requests} sequential requests per query, in-process ASGI")
        print(f"{'query':<32}{'total':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
        async with httpx.AsyncClient(transport=transport, base_url="http://etp") as client:
            for label, query in queries.items():
                for _ in range(10):  # warm-up: pool, plans, caches
                    await client.get(f"/api/etps?{query}", headers=headers)
                times = []
                total = 0
                for _ in range(requests):
                    started = time.perf_counter()
                    response = await client.get(f"/api/etps?{query}", headers=headers)
                    times.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, response.text
                    total = response.json()["total"]
                p99 = pct(times, 99)
                print(
                    f"{label:<32}{total:>8}{statistics.median(times):>9.1f}{p99:>9.1f}"
                    f"{max(times):>9.1f}  {'ok' if p99 < 50 else 'over 50 ms'}"
                )
    finally:
        await app.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--etps", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--database", default="etp_bench_docs")
    parser.add_argument("--keep", action="store_true", help="keep the database (to inspect)")
    parser.add_argument("--reuse", action="store_true", help="measure a kept database again")
    args = parser.parse_args()
    admin = await asyncpg.connect(**_pg(ADMIN_URL))  # type: ignore[arg-type]
    name = args.database
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    from storage.migrate import upgrade_async

    try:
        if not args.reuse:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
            await upgrade_async(url)
            started = time.perf_counter()
            await load(url, args.etps)
            elapsed = time.perf_counter() - started
            print(f"loaded {args.etps} ETPs and {13 * args.etps} sections in {elapsed:.1f} s")
        else:
            await upgrade_async(url)
        await measure(url, args.requests)
    finally:
        if not args.keep:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())

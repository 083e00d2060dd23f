"""What the delivery scenarios add to the suite's processes (tests/fault/procs.py): `etp serve`
and `etp telegram` against the local Bot API and Slack doubles on the test PostgreSQL, and that
database read afterwards."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from tests.fault.procs import EtpProcess, environment, free_port, wait_http
from tests.telegram.helpers import SECRET
from tests.telegram_api import TOKEN, FakeBotApi

PATIENCE = 60.0  # a safety bound on every wait (never a timed assert)


def etp_env(db_url: str, **settings: str) -> dict[str, str]:
    """The environment of an `etp` command on `db_url`, offline drafter, no Redis unless
    `REDIS_URL` is given, plus `settings`."""
    return environment(DATABASE_URL=db_url, LLM_PROVIDER="offline", **settings)


def telegram_env(db_url: str, bot_api: FakeBotApi, **settings: str) -> dict[str, str]:
    return etp_env(
        db_url,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=bot_api.url,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_CHAT_RATE="1000",  # pacing is not what these scenarios are about
        TELEGRAM_BOT_RATE="1000",
        **settings,
    )


async def etp_serve(
    env: dict[str, str], workdir: Path, name: str = "serve"
) -> tuple[EtpProcess, str]:
    """`etp serve` on a free port, once it answers /health; the process and its URL."""
    port = free_port()
    args = ("serve", "--host", "127.0.0.1", "--port", str(port))
    process = await EtpProcess(args, env, workdir, name).start()
    url = f"http://127.0.0.1:{port}"
    await wait_http(f"{url}/health", process)
    return process, url


class Database:
    """Reads of the scenario's PostgreSQL database (asyncpg, outside the processes under test)."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.connect_args = {
            "host": parsed.host,
            "port": parsed.port or 5432,
            "user": parsed.username,
            "password": parsed.password,
            "database": parsed.database,
        }

    async def rows(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(**self.connect_args)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def value(self, sql: str, *args: Any) -> Any:
        rows = await self.rows(sql, *args)
        return rows[0][0] if rows else None

    async def identifications(self) -> dict[str, dict[str, Any]]:
        """Each ETP's identification by its title."""
        rows = await self.rows("SELECT title, identification, orgao FROM etps ORDER BY id")
        out = {}
        for row in rows:
            ident = row["identification"]
            ident = json.loads(ident) if isinstance(ident, str) else dict(ident or {})
            out[row["title"]] = {**ident, "orgao": row["orgao"]}
        return out


class Stopwatch:
    """A recovery time: from the fault to the moment the user has what they should."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def seconds(self) -> float:
        return time.monotonic() - self.started

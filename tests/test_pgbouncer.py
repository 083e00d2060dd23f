"""ETP_PGBOUNCER: the service through a real PgBouncer in transaction mode (Debian's package).

PgBouncer runs as a plain process on a free port with a generated configuration; the test is
skipped, with the reason, only when the pgbouncer binary is not installed (.ci/run installs it).
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from conversations.ports import StoreUnavailable
from storage.migrate import upgrade
from tests.conftest import PG_ADMIN_URL, _admin, _run
from tests.helpers import count, finish_etp, make_app, make_chat

BINARY = shutil.which("pgbouncer") or (
    "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 10) -> None:
    for _ in range(int(seconds * 20)):
        if process.poll() is not None:
            raise RuntimeError(
                f"pgbouncer exited: {process.stderr.read().decode() if process.stderr else ''}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            import time

            time.sleep(0.05)
    raise RuntimeError("pgbouncer did not start listening")


@pytest.fixture(scope="module")
def bouncer() -> Iterator[str]:
    """PgBouncer in transaction mode in front of the test PostgreSQL, 2 server connections per
    database: many clients share few server connections, as in production. Yields the URL
    (the database name left to the test)."""
    if BINARY is None:
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer; .ci/run does it)")
    admin = make_url(PG_ADMIN_URL)
    port = _free_port()
    work = Path(tempfile.mkdtemp(prefix="etp-pgbouncer-"))
    work.chmod(0o755)
    user = admin.username or "postgres"
    (work / "users.txt").write_text(f'"{user}" "{admin.password or ""}"\n')
    (work / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={admin.host or '127.0.0.1'} port={admin.port or 5432}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = {'trust' if not admin.password else 'plain'}\n"
        f"auth_file = {work / 'users.txt'}\n"
        "pool_mode = transaction\ndefault_pool_size = 2\nmax_client_conn = 200\n"
    )
    for path in work.iterdir():
        path.chmod(0o644)
    # PgBouncer refuses to run as root; it switches to the given user
    args = [BINARY, str(work / "pgbouncer.ini")]
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("pgbouncer cannot run as root and there is no postgres user to run it as")
        args[1:1] = ["-u", "postgres"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for_port(port, process)
        yield admin.set(port=port).render_as_string(hide_password=False)
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def bounced_db(bouncer: str) -> Iterator[str]:
    """A new database, migrated through PgBouncer; its URL through PgBouncer."""
    import uuid

    name = f"etp_test_bouncer_{uuid.uuid4().hex[:8]}"
    _run(_admin(f'CREATE DATABASE "{name}"'))
    url = make_url(bouncer).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url, pgbouncer=True)  # `etp db upgrade` through PgBouncer
        yield url
    finally:
        _run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def test_without_etp_pgbouncer_the_bouncer_refuses_the_connection(bounced_db: str) -> None:
    app = await make_app(bounced_db, etp_store_connections=4)
    try:
        with pytest.raises(StoreUnavailable, match="plan_cache_mode"):
            await make_chat(app).say("/novo Papel A4")
    finally:
        await app.close()


async def test_concurrent_chats_through_pgbouncer_in_transaction_mode(bounced_db: str) -> None:
    app = await make_app(bounced_db, etp_store_connections=4, etp_pgbouncer=True)
    try:
        chats = [
            make_chat(app, chat_id=f"c{i}", user_id=f"u{i}", name=f"Pessoa {i}") for i in range(6)
        ]
        # 6 chats at once on 4 client connections and 2 server connections: the statements of
        # different chats meet on one server connection, one after another
        await asyncio.gather(
            *(finish_etp(chat, title=f"ETP {i}", upto=3) for i, chat in enumerate(chats))
        )
        # and the SQLAlchemy side (admin API, rare store operations): several at once, in
        # rounds, so a client connection's next statement lands on another server connection
        for _ in range(5):
            counts = await asyncio.gather(
                *(count(app, table) for table in ("section_entries", "etps") * 4)
            )
            assert counts == [6 * 13, 6] * 4
        async with app.engine.connect() as conn:
            done = await conn.execute(
                text("SELECT count(*) FROM section_entries WHERE status = 'accepted'")
            )
            assert done.scalar_one() >= 6 * 2  # sections I and III accepted, II skipped
        for chat in chats:
            assert "Seção 4 de 13" in chat.last_text()
    finally:
        await app.close()

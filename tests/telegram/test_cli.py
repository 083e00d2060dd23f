"""The `etp` commands for Telegram, in real processes."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import httpx

from conversations.commands import menu
from tests.helpers import wait_until_stopped
from tests.telegram.helpers import SECRET
from tests.telegram_api import TOKEN, FakeBotApi, Updates

ETP_BIN = Path(sys.executable).with_name("etp")


# --- the command line ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _command_env(sqlite_url: str, bot_api: FakeBotApi) -> dict[str, str]:
    """The environment of an `etp` command run against the Bot API double."""
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_url,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": bot_api.url,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "LLM_PROVIDER": "offline",
    }
    env.pop("REDIS_URL", None)
    return env


async def test_set_webhook_registers_url_secret_and_the_portuguese_menu(
    sqlite_url: str, bot_api: FakeBotApi, tmp_path: Path
) -> None:
    env = _command_env(sqlite_url, bot_api)
    process = await asyncio.create_subprocess_exec(
        str(ETP_BIN),
        "telegram",
        "--set-webhook",
        "https://etp.example.gov.br/telegram/webhook",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    hook = bot_api.sent("setWebhook")[0].params
    assert hook["url"] == "https://etp.example.gov.br/telegram/webhook"
    assert hook["secret_token"] == SECRET
    commands = bot_api.sent("setMyCommands")[0].params["commands"]
    assert {c["command"]: c["description"] for c in commands} == dict(menu())


async def test_set_webhook_without_a_secret_is_refused(
    sqlite_url: str, bot_api: FakeBotApi, tmp_path: Path
) -> None:
    env = _command_env(sqlite_url, bot_api)
    del env["TELEGRAM_WEBHOOK_SECRET"]
    process = await asyncio.create_subprocess_exec(
        str(ETP_BIN),
        "telegram",
        "--set-webhook",
        "https://etp.example.gov.br/telegram/webhook",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 2
    assert "TELEGRAM_WEBHOOK_SECRET is not set" in err.decode()
    assert "Traceback" not in err.decode()
    assert bot_api.sent("setWebhook") == []


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


async def test_serve_stopped_by_sigterm_delivers_the_document_on_its_way_and_stops_its_workers(
    sqlite_url: str, bot_api: FakeBotApi, tmp_path: Path
) -> None:
    # how operators stop a service (systemd, Docker, Kubernetes): SIGTERM, then wait
    port = _free_port()
    env = _command_env(sqlite_url, bot_api)
    process = await asyncio.create_subprocess_exec(
        str(ETP_BIN),
        "serve",
        "--port",
        str(port),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        updates = Updates()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            async with asyncio.timeout(60):
                while True:
                    try:
                        if (await client.get("/health")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            for words in ("/novo Papel A4", "/exportar pdf"):  # rendered by a worker
                response = await client.post(
                    "/telegram/webhook", json=updates.message(words), headers=headers
                )
                assert response.status_code == 200, response.text
                bot_api.delays["sendDocument"] = 1.0  # a slow upload, after the answer
        workers = _children(process.pid)
        assert workers, "the document workers are started with the server"
        process.terminate()  # while the document is on its way
        _, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    assert [c.files["document"][0] for c in bot_api.sent("sendDocument")] == ["ETP-1.pdf"]
    await wait_until_stopped(workers)  # the worker is joined; multiprocessing's tracker follows


async def test_telegram_command_without_a_token_says_what_is_missing(
    sqlite_url: str, tmp_path: Path
) -> None:
    env = {**os.environ, "DATABASE_URL": sqlite_url}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    process = await asyncio.create_subprocess_exec(
        str(ETP_BIN),
        "telegram",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in err.decode()

"""`etp check [--production]`, and the start of the commands: one clear line per problem, exit 1,
no traceback; dependencies asked over real HTTP (the local test doubles)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from etp.check import run_checks
from etp.settings import Settings
from storage.migrate import head_revision
from tests.fake_openai import FakeOpenAI
from tests.fault.procs import ETP_BIN, VARIABLES, environment
from tests.slack_fake import FakeSlackApi
from tests.telegram_api import TOKEN, FakeBotApi

DB_PASSWORD = "Senha-do-banco-8f3a9c"
WEBHOOK_SECRET = "d41d8cd98f00b204e9800998ecf8427e"
OPENAI_KEY = "sk-chave-secreta-123456"


async def etp(cwd: Path, *args: str, **values: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(ETP_BIN),
        *args,
        cwd=cwd,
        env=environment(**values),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def settings(monkeypatch: pytest.MonkeyPatch, **values: str) -> Settings:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return Settings()


@pytest.fixture(autouse=True)
def no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # pydantic-settings reads ./.env: none here


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    server = FakeBotApi()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def slack_api() -> AsyncIterator[FakeSlackApi]:
    server = FakeSlackApi()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def llm() -> AsyncIterator[FakeOpenAI]:
    server = await FakeOpenAI().start()
    yield server
    await server.stop()


# --- bad values: one line each, exit 1, no traceback -----------------------------------


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        (
            "DATABASE_URL",
            "postgres://etp@db/etp",
            "DATABASE_URL scheme 'postgres' is not supported",
        ),
        ("DATABASE_URL", "mysql+aiomysql://etp@db/etp", "DATABASE_URL scheme 'mysql+aiomysql'"),
        ("DATABASE_URL", "not a url", "DATABASE_URL is not a database URL"),
        ("ETP_LOG_LEVEL", "verbose", "ETP_LOG_LEVEL must be one of CRITICAL"),
        ("ETP_ENV", "prod", "ETP_ENV"),
    ],
)
async def test_a_bad_value_is_one_line_and_exit_1(
    tmp_path: Path, name: str, value: str, said: str
) -> None:
    code, out, err = await etp(tmp_path, "check", **{name: value})
    assert code == 1
    problems = [line for line in out.splitlines() if "PROBLEM" in line]
    assert len(problems) == 1 and said in problems[0], out
    assert "Traceback" not in out + err


@pytest.mark.parametrize("command", [("serve", "--port", "1"), ("db", "upgrade")])
async def test_commands_refuse_a_bad_database_url_without_a_traceback(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    # before: a traceback from create_async_engine ("Can't load plugin: sqlalchemy.dialects…")
    code, out, err = await etp(tmp_path, *command, DATABASE_URL="postgres://etp@db/etp")
    assert code == 1
    assert "configuration: DATABASE_URL scheme 'postgres' is not supported" in err
    assert "postgresql+asyncpg" in err and "Traceback" not in out + err


async def test_production_without_database_url_refuses_instead_of_creating_etp_db(
    tmp_path: Path,
) -> None:
    code, out, err = await etp(tmp_path, "serve", "--port", "1", ETP_ENV="production")
    assert code == 1
    assert "DATABASE_URL is not set" in err and "Traceback" not in err
    code, out, err = await etp(tmp_path, "db", "upgrade", ETP_ENV="production")
    assert code == 1 and "DATABASE_URL is not set" in err
    code, out, _ = await etp(tmp_path, "check", "--production")
    assert code == 1 and "DATABASE_URL is not set" in out
    assert not (tmp_path / "etp.db").exists()  # before: created and migrated, silently
    # the same command in development keeps the embedded default
    code, out, _ = await etp(tmp_path, "check")
    assert code == 0, out
    assert "does not exist yet" in out and not (tmp_path / "etp.db").exists()


def test_production_refuses_weak_or_missing_secrets_sqlite_and_open_doors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from etp.check import production_problems

    weak = settings(
        monkeypatch,
        DATABASE_URL="postgresql+asyncpg://etp:etp123@db/etp",
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_WEBHOOK_SECRET="abc",
        SLACK_BOT_TOKEN="xoxb-T1",
        ETP_API_DOCS="true",
        ETP_METRICS_TOKEN="m-1234",
    )
    found = "\n".join(production_problems(weak))
    assert "ETP_API_DOCS=true serves /docs" in found
    assert "ETP_METRICS_TOKEN is weak" in found
    assert "DATABASE_URL: the password is weak" in found
    assert "TELEGRAM_WEBHOOK_SECRET is weak" in found
    assert "ETP_ALLOWED_TELEGRAM_IDS is empty" in found
    assert "ETP_ALLOWED_SLACK_TEAMS is empty" in found
    assert "Slack is configured without SLACK_SIGNING_SECRET" in found
    missing = settings(
        monkeypatch,
        DATABASE_URL="sqlite+aiosqlite:///x.db",
        TELEGRAM_BOT_TOKEN=TOKEN,
        ETP_INSECURE_TELEGRAM_WEBHOOK="1",
    )
    found = "\n".join(production_problems(missing))
    assert "DATABASE_URL is SQLite" in found
    assert "ETP_INSECURE_TELEGRAM_WEBHOOK is set" in found
    good = settings(
        monkeypatch,
        DATABASE_URL=f"postgresql+asyncpg://etp:{DB_PASSWORD}@db/etp",
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        SLACK_BOT_TOKEN="xoxb-T1",
        SLACK_SIGNING_SECRET="0123456789abcdef0123456789abcdef",
        ETP_OPEN_ACCESS="true",  # serving everyone, said explicitly
    )
    assert production_problems(good) == []


async def test_serve_in_production_stops_on_what_check_refuses(tmp_path: Path) -> None:
    code, _, err = await etp(
        tmp_path,
        "serve",
        "--port",
        "1",
        ETP_ENV="production",
        DATABASE_URL=f"postgresql+asyncpg://etp:{DB_PASSWORD}@127.0.0.1:1/etp",
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_WEBHOOK_SECRET="abc",
    )
    assert code == 1
    assert "production: TELEGRAM_WEBHOOK_SECRET is weak" in err
    assert "production: ETP_ALLOWED_TELEGRAM_IDS is empty" in err
    assert "Traceback" not in err


# --- the configuration, masked, and the dependencies over real HTTP -----------------------


async def test_check_reaches_every_dependency_and_masks_secrets(
    tmp_path: Path, pg_url: str, bot_api: FakeBotApi, slack_api: FakeSlackApi, llm: FakeOpenAI
) -> None:
    from sqlalchemy.engine import make_url

    # the same server and database, with a password in the URL (trust accepts any)
    url = make_url(pg_url).set(password=DB_PASSWORD).render_as_string(hide_password=False)
    code, out, err = await etp(
        tmp_path,
        "check",
        DATABASE_URL=url,
        REDIS_URL=os.environ.get("ETP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=bot_api.url,
        TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        SLACK_BOT_TOKEN="xoxb-T1",
        SLACK_API_URL=slack_api.url,
        OPENAI_API_KEY=OPENAI_KEY,
        OPENAI_BASE_URL=llm.url,
    )
    assert code == 0, out + err
    for secret in (DB_PASSWORD, TOKEN, WEBHOOK_SECRET, "xoxb-T1", OPENAI_KEY):
        assert secret not in out + err, secret
    assert "TELEGRAM_BOT_TOKEN=********" in out and "OPENAI_API_KEY=********" in out
    assert f"DATABASE_URL=postgresql+asyncpg://postgres:********@{make_url(url).host}" in out
    assert "ok       database: PostgreSQL" in out and "(head)" in out
    assert "ok       redis: Redis" in out
    assert "ok       telegram: bot @etp_bot (id 123456)" in out
    assert "ok       telegram: no webhook set" in out
    assert "ok       slack: workspace Equipe T1 (T1)" in out
    assert f"ok       llm: gpt-4o-mini at {llm.url}" in out
    assert out.rstrip().endswith("no problems")
    assert [c.method for c in bot_api.calls] == ["getMe", "getWebhookInfo"]  # nothing changed


async def test_check_names_each_refusing_dependency(
    monkeypatch: pytest.MonkeyPatch,
    unused_tcp_port: int,
    bot_api: FakeBotApi,
    slack_api: FakeSlackApi,
    llm: FakeOpenAI,
) -> None:
    llm.fail_with = 401
    report = await run_checks(
        settings(
            monkeypatch,
            DATABASE_URL=f"postgresql+asyncpg://etp@127.0.0.1:{unused_tcp_port}/etp",
            REDIS_URL=f"redis://127.0.0.1:{unused_tcp_port}/0",
            TELEGRAM_BOT_TOKEN="999:wrong-token",
            TELEGRAM_API_URL=bot_api.url,
            SLACK_BOT_TOKEN="xoxb-revoked",
            SLACK_API_URL=slack_api.url,
            OPENAI_API_KEY=OPENAI_KEY,
            OPENAI_BASE_URL=llm.url,
        ),
        production=False,
    )
    problems = report.problems
    assert len(problems) == 5, problems
    assert problems[0].startswith("database: cannot connect to postgresql+asyncpg://etp@127.0.0.1")
    assert problems[1].startswith(f"redis: cannot reach redis://127.0.0.1:{unused_tcp_port}/0")
    assert problems[2] == "telegram: the Bot API refused TELEGRAM_BOT_TOKEN (401 Unauthorized)"
    assert problems[3] == "slack: auth.test refused SLACK_BOT_TOKEN: invalid_auth"
    assert problems[4] == f"llm: {llm.url} refused OPENAI_API_KEY (401)"


async def test_check_reports_a_failing_webhook_and_an_unknown_model(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str, bot_api: FakeBotApi, llm: FakeOpenAI
) -> None:
    bot_api.webhook = "https://etp.example.gov.br/telegram/webhook"
    bot_api.webhook_error = "Wrong response from the webhook: 503 Service Unavailable"
    llm.models = ("gpt-4.1",)
    report = await run_checks(
        settings(
            monkeypatch,
            DATABASE_URL=sqlite_url,
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=bot_api.url,
            OPENAI_API_KEY=OPENAI_KEY,
            OPENAI_BASE_URL=llm.url,
        ),
        production=False,
    )
    assert (
        True,
        "telegram: webhook https://etp.example.gov.br/telegram/webhook, 0 updates pending",
    ) in report.lines
    assert len(report.problems) == 2, report.problems
    assert report.problems[0].startswith("telegram: the webhook's last delivery failed at ")
    assert report.problems[0].endswith(": Wrong response from the webhook: 503 Service Unavailable")
    assert report.problems[1] == (
        f"llm: OPENAI_MODEL gpt-4o-mini is not among the 1 models {llm.url} offers"
    )


async def test_check_says_when_the_schema_is_behind(
    monkeypatch: pytest.MonkeyPatch, empty_pg: str
) -> None:
    report = await run_checks(settings(monkeypatch, DATABASE_URL=empty_pg), production=False)
    assert len(report.problems) == 1, report.problems
    assert report.problems[0].startswith("database: PostgreSQL ")
    assert report.problems[0].endswith(
        f"schema never migrated (head {head_revision()}): run `etp db upgrade`"
    )

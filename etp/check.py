"""`etp check [--production]`: the effective configuration, secrets masked, and every configured
dependency asked over its real protocol; one line per problem.

The same static rules guard the start of the long-running commands in production
(`ETP_ENV=production`): a service that `etp check --production` would refuse does not start.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import make_url

from etp.settings import PARTS, Settings

MASK = "********"
TIMEOUT = 5.0
# shorter, or made of fewer distinct characters, and a secret is guessable
MIN_SECRET_LENGTH = 16
MIN_SECRET_KINDS = 6


@dataclass
class Report:
    """What `etp check` found: lines in order, each a problem or not."""

    lines: list[tuple[bool, str]] = field(default_factory=list)

    def ok(self, text: str) -> None:
        self.lines.append((True, text))

    def problem(self, text: str) -> None:
        self.lines.append((False, text))

    @property
    def problems(self) -> list[str]:
        return [line for ok, line in self.lines if not ok]


# --- the configuration, masked ---------------------------------------------------------


def mask_url(url: str) -> str:
    """The URL with its password (if any) replaced; the rest stays, to see where it points."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def _shown(name: str, value: object) -> str:
    if isinstance(value, SecretStr):
        return MASK
    if value is None:
        return "(unset)"
    if isinstance(value, frozenset):
        return ",".join(sorted(str(v) for v in value)) or "(empty)"
    if isinstance(value, str) and name.endswith("_URL"):
        return mask_url(value)
    return str(value)


def configuration(settings: Settings) -> list[str]:
    """NAME=value for every setting of every valid concern; secrets and passwords masked."""
    lines = []
    for part in PARTS:
        try:
            model = getattr(settings, part)
        except ValueError:  # pydantic's ValidationError: reported as problems
            continue
        for name in type(model).model_fields:
            env = name.upper()
            lines.append(f"{env}={_shown(env, getattr(model, name))}")
    return lines


# --- static rules ------------------------------------------------------------------------


def weak(secret: str) -> bool:
    return len(secret) < MIN_SECRET_LENGTH or len(set(secret)) < MIN_SECRET_KINDS


def database_problems(settings: Settings) -> list[str]:
    """Production runs on PostgreSQL named explicitly; never on a file made where it started."""
    database = settings.database
    if not database.explicit:
        return [
            "DATABASE_URL is not set: production would write a SQLite file ./etp.db in the "
            "working folder; set postgresql+asyncpg://user:password@host:5432/name"
        ]
    if database.sqlite:
        return ["DATABASE_URL is SQLite: production needs PostgreSQL (postgresql+asyncpg://…)"]
    password = make_url(database.database_url).password
    if password is not None and weak(password):
        return [
            f"DATABASE_URL: the password is weak (at least {MIN_SECRET_LENGTH} characters of "
            f"{MIN_SECRET_KINDS} kinds or more; e.g. openssl rand -hex 24)"
        ]
    return []


def production_problems(settings: Settings) -> list[str]:
    """What production refuses: weak or missing secrets, SQLite, an open door nobody chose."""
    problems = database_problems(settings)
    telegram, slack, access = settings.telegram, settings.slack, settings.access
    if telegram.telegram_bot_token is not None:
        # without a secret the webhook route is not served at all (polling needs none)
        secret = telegram.telegram_webhook_secret
        if telegram.etp_insecure_telegram_webhook:
            problems.append(
                "ETP_INSECURE_TELEGRAM_WEBHOOK is set: POST /telegram/webhook would take "
                "updates from anyone who knows its URL; set TELEGRAM_WEBHOOK_SECRET instead"
            )
        if secret is not None and weak(secret.get_secret_value()):
            problems.append(
                f"TELEGRAM_WEBHOOK_SECRET is weak (at least {MIN_SECRET_LENGTH} characters of "
                f"{MIN_SECRET_KINDS} kinds or more; openssl rand -hex 24)"
            )
        if not access.etp_allowed_telegram_ids and not access.etp_open_access:
            problems.append(
                "ETP_ALLOWED_TELEGRAM_IDS is empty, so anyone on Telegram may use the bot: list "
                "the user or group ids, or set ETP_OPEN_ACCESS=true if that is meant"
            )
    if slack.enabled:
        if slack.slack_signing_secret is None and slack.slack_app_token is None:
            problems.append(
                "Slack is configured without SLACK_SIGNING_SECRET (HTTP mode) or "
                "SLACK_APP_TOKEN (Socket Mode): it can receive nothing"
            )
        if not access.etp_allowed_slack_teams and not access.etp_open_access:
            problems.append(
                "ETP_ALLOWED_SLACK_TEAMS is empty, so any Slack workspace may use (and, with "
                "OAuth, install) the app: list the team ids, or set ETP_OPEN_ACCESS=true if "
                "that is meant"
            )
    security = settings.security
    if security.etp_api_docs:
        problems.append(
            "ETP_API_DOCS=true serves /docs and /openapi.json to anyone: leave it unset"
        )
    token = security.etp_metrics_token
    if token is not None and weak(token.get_secret_value()):
        problems.append(
            f"ETP_METRICS_TOKEN is weak (at least {MIN_SECRET_LENGTH} characters of "
            f"{MIN_SECRET_KINDS} kinds or more; openssl rand -hex 24)"
        )
    if settings.llm.llm_provider == "offline" and settings.llm.openai_api_key is not None:
        problems.append("LLM_PROVIDER=offline while OPENAI_API_KEY is set: which one is meant?")
    return problems


# --- dependencies, over their real protocols -------------------------------------------


def _cause(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {TIMEOUT:g} s"
    original = getattr(exc, "orig", None) or exc
    text_ = str(original).split("\n", 1)[0].strip()
    return f"{type(original).__name__}: {text_}" if text_ else type(original).__name__


def _missing_sqlite_file(url: str) -> Path | None:
    database = make_url(url).database
    if make_url(url).get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        return None
    path = Path(database or "").expanduser()
    return None if path.exists() else path


async def check_database(settings: Settings, report: Report) -> None:
    from storage.db import create_engine
    from storage.migrate import schema_state

    database = settings.database
    missing = _missing_sqlite_file(database.database_url)
    if missing is not None:  # connecting would create it
        report.ok(f"database: SQLite {missing} does not exist yet (created and migrated at start)")
        return
    engine = create_engine(database.database_url)
    try:
        async with asyncio.timeout(TIMEOUT), engine.connect() as conn:
            version = (
                await conn.scalar(text("SHOW server_version"))
                if engine.dialect.name == "postgresql"
                else await conn.scalar(text("SELECT sqlite_version()"))
            )
            state = await schema_state(conn)
    except Exception as exc:
        report.problem(
            f"database: cannot connect to {mask_url(database.database_url)}: {_cause(exc)}"
        )
        return
    finally:
        await engine.dispose()
    name = "PostgreSQL" if engine.dialect.name == "postgresql" else "SQLite"
    line = f"database: {name} {version}, {state.describe()}"
    if state.status == "behind" and not database.sqlite:  # SQLite migrates itself at start
        report.problem(line)
    else:
        report.ok(line)


async def check_redis(settings: Settings, report: Report) -> None:
    from redis.asyncio import Redis

    url = settings.redis.redis_url
    if not url:
        report.ok("redis: not configured (drafts in-process, limits in memory: one process)")
        return
    client = Redis.from_url(url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
    try:
        async with asyncio.timeout(TIMEOUT):
            await client.ping()
            info = await client.info("server")
    except Exception as exc:
        report.problem(f"redis: cannot reach {mask_url(url)}: {_cause(exc)}")
        return
    finally:
        await client.aclose()
    report.ok(f"redis: Redis {info.get('redis_version', '?')} at {mask_url(url)}")


async def check_telegram(settings: Settings, report: Report) -> None:
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.exceptions import TelegramUnauthorizedError

    telegram = settings.telegram
    if telegram.telegram_bot_token is None:
        report.ok("telegram: not configured")
        return
    api_url = telegram.telegram_api_url
    session = (
        AiohttpSession(api=TelegramAPIServer.from_base(api_url)) if api_url else AiohttpSession()
    )
    bot = Bot(telegram.telegram_bot_token.get_secret_value(), session=session)
    try:
        async with asyncio.timeout(TIMEOUT * 2):
            me = await bot.get_me()
            hook = await bot.get_webhook_info()
    except TelegramUnauthorizedError:
        report.problem("telegram: the Bot API refused TELEGRAM_BOT_TOKEN (401 Unauthorized)")
        return
    except Exception as exc:
        report.problem(f"telegram: getMe failed: {_cause(exc)}")
        return
    finally:
        await session.close()
    report.ok(f"telegram: bot @{me.username} (id {me.id})")
    if not hook.url:
        report.ok("telegram: no webhook set (long polling: `etp telegram`)")
        return
    report.ok(f"telegram: webhook {hook.url}, {hook.pending_update_count} updates pending")
    if hook.last_error_message:
        when = f" at {hook.last_error_date:%Y-%m-%d %H:%M} UTC" if hook.last_error_date else ""
        report.problem(
            f"telegram: the webhook's last delivery failed{when}: {hook.last_error_message}"
        )


async def check_slack(settings: Settings, report: Report) -> None:
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    slack = settings.slack
    if not slack.enabled:
        report.ok("slack: not configured")
        return
    base = slack.api_url or AsyncWebClient.BASE_URL
    if slack.oauth:
        report.ok("slack: OAuth installation (a token per workspace, checked when used)")
    elif slack.slack_bot_token is not None:
        client = AsyncWebClient(
            slack.slack_bot_token.get_secret_value(), timeout=int(TIMEOUT), base_url=base
        )
        try:
            auth = await client.auth_test()
        except SlackApiError as exc:
            report.problem(f"slack: auth.test refused SLACK_BOT_TOKEN: {exc.response.get('error')}")
        except Exception as exc:
            report.problem(f"slack: auth.test failed: {_cause(exc)}")
        else:
            report.ok(
                f"slack: workspace {auth.get('team')} ({auth.get('team_id')}), "
                f"bot user {auth.get('user_id')}"
            )
    if slack.slack_app_token is not None:
        client = AsyncWebClient(timeout=int(TIMEOUT), base_url=base)
        try:
            await client.apps_connections_open(app_token=slack.slack_app_token.get_secret_value())
        except SlackApiError as exc:
            report.problem(f"slack: SLACK_APP_TOKEN refused: {exc.response.get('error')}")
        except Exception as exc:
            report.problem(f"slack: apps.connections.open failed: {_cause(exc)}")
        else:
            report.ok("slack: SLACK_APP_TOKEN accepted (Socket Mode)")


async def check_llm(settings: Settings, report: Report) -> None:
    import openai

    llm = settings.llm
    if llm.provider != "openai":
        report.ok("llm: offline drafter (no LLM configured)")
        return
    assert llm.openai_api_key is not None  # LlmSettings requires it for openai
    where = llm.openai_base_url or "the official OpenAI API"
    client = openai.AsyncOpenAI(
        api_key=llm.openai_api_key.get_secret_value(),
        base_url=llm.openai_base_url,
        timeout=TIMEOUT * 2,
        max_retries=0,
    )
    try:
        models = [model.id async for model in client.models.list()]
    except openai.AuthenticationError:
        report.problem(f"llm: {where} refused OPENAI_API_KEY (401)")
        return
    except openai.APIStatusError as exc:
        report.problem(f"llm: {where} answered {exc.status_code} to GET /models")
        return
    except Exception as exc:
        report.problem(f"llm: cannot reach {where}: {_cause(exc)}")
        return
    finally:
        await client.close()
    if llm.openai_model not in models:
        report.problem(
            f"llm: OPENAI_MODEL {llm.openai_model} is not among the "
            f"{len(models)} models {where} offers"
        )
        return
    report.ok(f"llm: {llm.openai_model} at {where}")


CHECKS: tuple[tuple[str, Callable[[Settings, Report], Awaitable[None]]], ...] = (
    ("database", check_database),
    ("redis", check_redis),
    ("telegram", check_telegram),
    ("slack", check_slack),
    ("llm", check_llm),
)


async def run_checks(settings: Settings, *, production: bool) -> Report:
    """Every check whose settings are valid; invalid settings are problems of their own."""
    report = Report()
    for line in settings.problems():
        report.problem(f"configuration: {line}")
    valid = {part for part in PARTS if _valid(settings, part)}
    if production:
        if {"database", "telegram", "slack", "access", "llm", "security"} <= valid:
            for line in production_problems(settings):
                report.problem(f"production: {line}")
        else:
            report.problem("production: not judged until the configuration above is valid")
    for part, check in CHECKS:
        if part in valid:
            await check(settings, report)
    return report


def _valid(settings: Settings, part: str) -> bool:
    with contextlib.suppress(ValueError):
        getattr(settings, part)
        return True
    return False

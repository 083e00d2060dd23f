"""The `etp` command line (DESIGN.md's contract)."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from etp import backup_cli
from etp.settings import Settings

if TYPE_CHECKING:
    from storage.admin import AdminStore
    from storage.migrate import SchemaState

T = TypeVar("T")

cli = typer.Typer(add_completion=False, no_args_is_help=True, help="ETP Express")
db_cli = typer.Typer(no_args_is_help=True, help="Database commands")
cli.add_typer(db_cli, name="db")
backup_cli.register(db_cli)
token_cli = typer.Typer(no_args_is_help=True, help="Admin API tokens")
cli.add_typer(token_cli, name="token")


def load_settings() -> Settings:
    """The settings, or one line per invalid value and exit 1 (never a traceback).

    In production (ETP_ENV=production) a command that would use the embedded SQLite default,
    or SQLite at all, refuses too: it would quietly write ./etp.db where it was started.
    """
    settings = Settings()
    problems = settings.problems()
    if not problems and settings.security.production:
        from etp.check import database_problems

        problems = database_problems(settings)
    if problems:
        for line in problems:
            typer.echo(f"configuration: {line}", err=True)
        typer.echo("(`etp check` shows the whole configuration and what it reaches)", err=True)
        raise typer.Exit(1)
    return settings


def _logging() -> None:
    from etp.privacy import install_log_scrubbing

    install_log_scrubbing()
    level = load_settings().observability.etp_log_level
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _preflight(settings: Settings) -> None:
    """Before a long-running command starts: in production, what `etp check --production`
    refuses; on any database, a schema behind the migration head (unless ETP_ALLOW_SCHEMA_BEHIND)."""
    from etp.check import production_problems

    if settings.security.production:
        problems = production_problems(settings)
        for line in problems:
            typer.echo(f"production: {line}", err=True)
        if problems:
            typer.echo("(ETP_ENV=production: `etp check --production` lists the same)", err=True)
            raise typer.Exit(1)
    if settings.database.sqlite:
        return  # the embedded default migrates itself at start (build_app)
    try:
        state = asyncio.run(_schema(settings.database.database_url))
    except Exception as exc:
        from etp.check import _cause

        typer.echo(f"database: cannot connect: {_cause(exc)}", err=True)
        raise typer.Exit(1) from None
    if state.status != "behind":
        return
    if settings.deployment.etp_allow_schema_behind:
        logging.getLogger("etp").warning(
            "database %s; starting anyway (ETP_ALLOW_SCHEMA_BEHIND)", state.describe()
        )
        return
    typer.echo(
        f"database: {state.describe()}; or set ETP_ALLOW_SCHEMA_BEHIND=true to start anyway",
        err=True,
    )
    raise typer.Exit(1)


async def _schema(url: str) -> SchemaState:
    from storage.db import create_engine
    from storage.migrate import schema_state

    engine = create_engine(url)
    try:
        async with asyncio.timeout(10), engine.connect() as conn:
            return await schema_state(conn)
    finally:
        await engine.dispose()


@cli.command()
def check(
    production: Annotated[
        bool,
        typer.Option(
            "--production", help="also refuse what production must not run with (ETP_ENV too)"
        ),
    ] = False,
) -> None:
    """The effective configuration (secrets masked) and every dependency; exit 1 on a problem."""
    from etp.check import configuration, run_checks

    logging.basicConfig(level=logging.CRITICAL)  # the report says it all
    settings = Settings()
    if not production:
        with contextlib.suppress(ValueError):  # an invalid ETP_ENV is reported below
            production = settings.security.production
    typer.echo("configuration (secrets masked):")
    for line in configuration(settings):
        typer.echo(f"  {line}")
    report = asyncio.run(run_checks(settings, production=production))
    typer.echo("checks" + (" (production)" if production else "") + ":")
    for ok, line in report.lines:
        typer.echo(f"  {'ok     ' if ok else 'PROBLEM'}  {line}")
    count = len(report.problems)
    typer.echo(f"{count} problem{'s' if count != 1 else ''}" if count else "no problems")
    if count:
        raise typer.Exit(1)


@cli.command()
def chat(
    user: Annotated[str | None, typer.Option("--user", help="your name in the chat")] = None,
) -> None:
    """Console chat on stdin/stdout; works interactively and with piped input."""
    logging.basicConfig(level=logging.WARNING)
    name = user or getpass.getuser()

    async def main() -> None:
        from bot.console import ConsoleChannel
        from conversations.service import InProcessDraftQueue
        from etp.container import build_app
        from etp.runtime import resume_stalled_drafts

        app = await build_app(load_settings(), in_process_drafts=True)
        assert isinstance(app.queue, InProcessDraftQueue)
        channel = ConsoleChannel(app.service, app.queue, name)
        app.notifier.register("console", channel)
        # a draft left "Redigindo…" by a chat that was killed is written again
        sweeping = asyncio.create_task(resume_stalled_drafts(app))
        try:
            await channel.run()
        finally:
            sweeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeping
            await app.close()

    asyncio.run(main())


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    worker: Annotated[
        bool, typer.Option(help="with REDIS_URL, also run draft jobs in this process")
    ] = True,
) -> None:
    """The HTTP service: health, metrics, admin API, Telegram webhook, Slack events."""
    settings = load_settings()
    _logging()
    _preflight(settings)

    async def main() -> None:

        import uvicorn

        from api.app import create_api
        from etp.container import build_app
        from etp.runtime import run_with_jobs

        app = await build_app(settings)
        try:
            api = create_api(app)
            config = uvicorn.Config(
                api, host=host, port=port, http="httptools", log_level="info", access_log=False
            )
            server = uvicorn.Server(config)

            def finish() -> None:  # as uvicorn does on SIGINT: no new requests, the rest served
                server.should_exit = True

            await run_with_jobs(app, server.serve(), worker=worker, stop=finish)
        finally:
            await app.close()

    asyncio.run(main())


@cli.command("worker")
def worker_cmd(
    burst: Annotated[bool, typer.Option(help="stop when the queue is empty")] = False,
) -> None:
    """Background drafting worker: runs draft jobs from the Redis queue (arq)."""
    settings = load_settings()
    _logging()
    url = settings.redis.redis_url
    if not url:
        typer.echo("etp worker needs REDIS_URL (without it drafts run in-process)", err=True)
        raise typer.Exit(2)
    _preflight(settings)

    async def main() -> None:
        import signal

        from etp.container import build_app
        from etp.runtime import register_notifiers, resume_stalled_drafts
        from storage.jobs import build_worker, stop_worker

        recovery = settings.recovery
        app = await build_app(settings)
        register_notifiers(app)
        jobs = build_worker(
            url, app.service.run_draft, burst=burst, lease=recovery.etp_draft_stale_after
        )
        running = asyncio.ensure_future(jobs.async_run())
        stopping: asyncio.Task[None] | None = None

        def terminate() -> None:
            # SIGTERM (systemd, Docker, Kubernetes) or Ctrl-C: no new job; the running ones
            # finish within ETP_WORKER_STOP_GRACE or go back to the queue for another worker
            nonlocal stopping
            if stopping is None:
                logging.getLogger("etp").info("stopping: no new draft jobs")
                stopping = asyncio.create_task(stop_worker(jobs, recovery.etp_worker_stop_grace))

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, terminate)
        sweeping = asyncio.create_task(resume_stalled_drafts(app))
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await running
        finally:
            sweeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeping
            if stopping is not None:
                await stopping
            else:
                await jobs.close()
            await app.close()

    from redis.exceptions import RedisError

    try:
        asyncio.run(main())
    except (RedisError, OSError) as exc:  # a worker is nothing without its queue: say so, exit
        from etp.check import mask_url

        typer.echo(f"etp worker: Redis unreachable at {mask_url(url)}: {exc}", err=True)
        raise typer.Exit(1) from None


@cli.command()
def slack(
    worker: Annotated[
        bool, typer.Option(help="with REDIS_URL, also run draft jobs in this process")
    ] = True,
) -> None:
    """Slack app in Socket Mode (SLACK_APP_TOKEN); no public URL needed."""
    settings = load_settings()
    _logging()
    if settings.slack.slack_app_token is None:
        typer.echo("etp slack needs SLACK_APP_TOKEN (an app-level xapp- token)", err=True)
        raise typer.Exit(2)
    if not settings.slack.enabled:
        typer.echo("etp slack needs SLACK_BOT_TOKEN, or SLACK_CLIENT_ID and SECRET", err=True)
        raise typer.Exit(2)
    app_token = settings.slack.slack_app_token.get_secret_value()
    _preflight(settings)

    async def main() -> None:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        from bot.slack.app import build_slack
        from etp.container import build_app
        from etp.runtime import run_with_jobs

        app = await build_app(settings)
        try:
            channel = build_slack(app)
            handler = AsyncSocketModeHandler(channel.bolt, app_token)
            try:
                await run_with_jobs(app, handler.start_async(), worker=worker)  # type: ignore[no-untyped-call]
            finally:
                await handler.close_async()  # type: ignore[no-untyped-call]
        finally:
            await app.close()

    asyncio.run(main())


@cli.command()
def telegram(
    set_webhook: Annotated[
        str | None,
        typer.Option(
            "--set-webhook",
            metavar="URL",
            help="register URL (ending in /telegram/webhook) with Telegram, then exit",
        ),
    ] = None,
    worker: Annotated[
        bool, typer.Option(help="with REDIS_URL, also run draft jobs in this process")
    ] = True,
    delete_webhook: Annotated[
        bool,
        typer.Option(
            "--delete-webhook",
            help="remove the webhook Telegram delivers to (etp serve) and poll instead",
        ),
    ] = False,
) -> None:
    """Telegram bot in long-polling mode, or register the webhook of `etp serve`."""
    settings = load_settings()
    _logging()
    if settings.telegram.telegram_bot_token is not None:  # else said below, as ever
        _preflight(settings)

    async def main() -> None:

        from bot.telegram import TelegramNotConfigured, build_telegram
        from bot.telegram.app import AlreadyPolling, WebhookIsSet
        from etp.container import build_app
        from etp.runtime import run_with_jobs

        app = await build_app(settings)
        try:
            try:
                telegram = build_telegram(app)
            except TelegramNotConfigured as exc:
                typer.echo(f"{exc}; set it in the environment or .env", err=True)
                raise typer.Exit(2) from exc
            if set_webhook is not None:
                secret = settings.telegram.telegram_webhook_secret
                if secret is None and not settings.telegram.etp_insecure_telegram_webhook:
                    typer.echo(
                        "TELEGRAM_WEBHOOK_SECRET is not set: `etp serve` does not serve the "
                        "webhook without it (anyone could post updates as any user); set it "
                        "in the environment of both commands",
                        err=True,
                    )
                    raise typer.Exit(2)
                if secret is None:
                    typer.echo(
                        "warning: ETP_INSECURE_TELEGRAM_WEBHOOK is set, so the webhook takes "
                        "updates from anyone who knows its URL (development only)",
                        err=True,
                    )
                await telegram.set_webhook(
                    set_webhook, secret.get_secret_value() if secret else None
                )
                typer.echo(f"webhook set to {set_webhook}")
                return
            polling = telegram.run_polling(
                delete_webhook=delete_webhook, lease=telegram.poller_lease(app)
            )
            try:
                await run_with_jobs(app, polling, worker=worker)
            except WebhookIsSet as exc:
                typer.echo(
                    f"error: Telegram delivers this bot's updates to the webhook {exc.url} "
                    "(etp serve); polling would take them away from it. Nothing was changed. "
                    "To poll instead, run etp telegram --delete-webhook",
                    err=True,
                )
                raise typer.Exit(2) from None
            except AlreadyPolling as exc:
                typer.echo(
                    f"error: another etp telegram already polls for this bot ({exc.holder}); "
                    "Telegram allows one at a time, so this one does not start",
                    err=True,
                )
                raise typer.Exit(2) from None
        finally:
            await app.close()

    asyncio.run(main())


@db_cli.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply Alembic migrations to DATABASE_URL."""
    from storage.migrate import upgrade

    _logging()
    database = load_settings().database
    upgrade(database.database_url, revision, pgbouncer=database.etp_pgbouncer)
    typer.echo(f"database at {revision}")


@db_cli.command("downgrade")
def db_downgrade(revision: str) -> None:
    """Revert Alembic migrations down to REVISION."""
    from storage.migrate import downgrade

    _logging()
    database = load_settings().database
    downgrade(database.database_url, revision, pgbouncer=database.etp_pgbouncer)
    typer.echo(f"database at {revision}")


@db_cli.command("rotate-key")
def db_rotate_key() -> None:
    """Encrypt every stored Slack token under the first of ETP_ENCRYPTION_KEYS (then the old
    keys, after it in the list, can be dropped)."""
    from storage.db import create_engine
    from storage.secrets import SecretCipher, reseal_stored_tokens

    _logging()
    settings = load_settings()
    keys = settings.security.etp_encryption_keys
    if keys is None:
        typer.echo("ETP_ENCRYPTION_KEYS is not set", err=True)
        raise typer.Exit(2)

    async def main() -> int:
        engine = create_engine(settings.database.database_url)
        try:
            return await reseal_stored_tokens(engine, SecretCipher.parse(keys.get_secret_value()))
        finally:
            await engine.dispose()

    typer.echo(f"{asyncio.run(main())} rows encrypted under the first key")


@cli.command("export")
def export_cmd(
    etp_id: Annotated[int, typer.Argument(metavar="ID")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="docx, pdf, md, html or json")
    ] = "docx",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="file to write")] = None,
    order: Annotated[
        str | None,
        typer.Option(help="law or in58; default: the ETP's own, else ETP_DOCUMENT_ORDER"),
    ] = None,
) -> None:
    """Write an ETP as docx, pdf, md, html or json."""
    from conversations.export import FORMATS, ORDERS, export, resolve_order

    if fmt not in FORMATS:
        raise typer.BadParameter(f"unknown format {fmt}; choose one of {', '.join(FORMATS)}")
    if order is not None and order not in ORDERS:
        raise typer.BadParameter(f"unknown order {order}; choose one of {', '.join(ORDERS)}")

    async def main() -> None:
        from datetime import UTC, datetime

        from etp.container import build_app

        settings = load_settings()
        app = await build_app(settings)
        try:
            async with app.service.store.transaction() as tx:
                etp = await tx.load_etp(etp_id)
        finally:
            await app.close()
        if etp is None:
            typer.echo(f"ETP {etp_id} not found", err=True)
            raise typer.Exit(1)
        chosen = resolve_order(etp, order, settings.documents.etp_document_order)
        rendered = export(etp, fmt, now=datetime.now(UTC), order=chosen)
        path = output or Path(rendered.filename)
        path.write_bytes(rendered.content)
        typer.echo(str(path))

    asyncio.run(main())


async def _with_admin(work: Callable[[AdminStore], Awaitable[T]]) -> T:
    from etp.container import build_app

    app = await build_app(load_settings())
    try:
        return await work(app.admin)
    finally:
        await app.close()


@token_cli.command("create")
def token_create(
    name: Annotated[str, typer.Option("--name", help="who or what uses the token")],
    scope: Annotated[str, typer.Option(help="read or admin")] = "read",
    tenant: Annotated[
        str | None,
        typer.Option(
            help="see only this tenant's ETPs: slack:<team id>, telegram:<chat id> or orgao:<name>"
        ),
    ] = None,
) -> None:
    """Create an API token; it is printed once and only its hash is stored."""
    from storage.admin import SCOPES, parse_tenant

    if scope not in SCOPES:
        raise typer.BadParameter(f"unknown scope {scope}; choose read or admin")
    if tenant is not None:
        try:
            tenant = parse_tenant(tenant)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
    if not name.strip():
        raise typer.BadParameter("the name must not be empty")
    info, token = asyncio.run(
        _with_admin(lambda admin: admin.create_token(name.strip(), scope, tenant=tenant))
    )
    tenant_note = f", tenant {info.tenant}" if info.tenant else ""
    typer.echo(
        f"token {info.id} ({info.name}, scope {info.scope}{tenant_note}); store it now, "
        "it is not shown again:"
    )
    typer.echo(token)


@token_cli.command("list")
def token_list() -> None:
    """List the tokens (never their values)."""
    tokens = asyncio.run(_with_admin(lambda admin: admin.list_tokens()))
    if not tokens:
        typer.echo("no tokens")
    for t in tokens:
        state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "active"
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
        created = f"{t.created_at:%Y-%m-%d %H:%M}" if t.created_at else "?"
        tenant = f"\ttenant {t.tenant}" if t.tenant else ""
        typer.echo(
            f"{t.id}\t{t.name}\t{t.scope}\t{state}\tcreated {created}\tlast used {used}{tenant}"
        )


@token_cli.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Revoke a token at once."""
    if not asyncio.run(_with_admin(lambda admin: admin.revoke_token(token_id))):
        typer.echo(f"no active token {token_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"token {token_id} revoked")


def main() -> None:
    cli()

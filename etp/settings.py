"""Settings from the environment or `.env` (pydantic-settings), one class per concern.

Built by `load_settings()`, never at import. Variable names are DESIGN.md's, without a prefix.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Annotated, Literal

from limits import parse_many
from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

_CONFIG = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")
_PLACEHOLDERS = {"changeme", "change-me", "secret", "xxx", "todo", "your-token-here", "placeholder"}


def _refuse_placeholder(value: SecretStr | None, name: str) -> SecretStr | None:
    if value is not None and value.get_secret_value().strip().lower() in _PLACEHOLDERS:
        raise ValueError(f"{name} is a placeholder; set a real value or leave it unset")
    return value


# the drivers the project installs and its stores are written for
DATABASE_SCHEMES = ("postgresql+asyncpg", "sqlite+aiosqlite")
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./etp.db"


class DatabaseSettings(BaseSettings):
    model_config = _CONFIG
    database_url: str = DEFAULT_DATABASE_URL
    # PostgreSQL connections the conversation store runs its statements on; more statements
    # than that wait their turn, first come first served. A statement holds one for its round
    # trip only, so a few serve many chats with fewer PostgreSQL processes (bench/README.md)
    etp_store_connections: int = Field(default=8, ge=1, le=100)
    # DATABASE_URL points at PgBouncer in transaction mode: no prepared statement is kept
    # between statements, and no startup parameter PgBouncer refuses (docs/operations.md)
    etp_pgbouncer: bool = False

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        # otherwise a wrong scheme surfaced as a traceback from the first engine built
        try:
            scheme = make_url(value).drivername
        except ArgumentError:
            raise ValueError(
                "DATABASE_URL is not a database URL; expected "
                "postgresql+asyncpg://user:password@host:5432/name or sqlite+aiosqlite:///path"
            ) from None
        if scheme not in DATABASE_SCHEMES:
            hint = " (postgresql+asyncpg://…)" if scheme.startswith("postgres") else ""
            raise ValueError(
                f"DATABASE_URL scheme {scheme!r} is not supported; use one of "
                f"{', '.join(DATABASE_SCHEMES)}{hint}"
            )
        return value

    @property
    def explicit(self) -> bool:
        """DATABASE_URL was set (environment or .env), not left to the embedded default."""
        return "database_url" in self.model_fields_set

    @property
    def sqlite(self) -> bool:
        return make_url(self.database_url).get_backend_name() == "sqlite"


class RedisSettings(BaseSettings):
    model_config = _CONFIG
    redis_url: str | None = None


class LlmSettings(BaseSettings):
    model_config = _CONFIG
    llm_provider: Literal["auto", "offline", "openai"] = "auto"
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    # US dollars per 1,000 tokens, for the cost of each draft (stored, /status, admin API,
    # etp_llm_cost_usd): one price for both, or separate prompt and completion prices.
    llm_cost_per_1k_tokens: float = Field(default=0.0, ge=0)
    llm_prompt_cost_per_1k: float | None = Field(default=None, ge=0)
    llm_completion_cost_per_1k: float | None = Field(default=None, ge=0)
    llm_temperature: float = Field(default=0.2, ge=0, le=2)
    # Seconds one request may take, and one draft in all (retries and a continuation included).
    # The draft job is killed after JOB_TIMEOUT (300 s): the deadline stays well below it so that
    # the offline drafter still has time to write the draft and the user gets it.
    llm_request_timeout: float = Field(default=45.0, gt=0)
    llm_draft_deadline: float = Field(default=120.0, gt=0, le=240)
    # Requests per draft at most (the first and its retries after a timeout, 408, 429 or 5xx).
    llm_attempts: int = Field(default=3, ge=1, le=6)
    # Completion tokens one request may produce (a section is a few paragraphs: ~300-600).
    llm_max_tokens: int = Field(default=1200, ge=64)
    # Tokens (prompt and completion) one ETP may spend; past it drafting goes offline and says so.
    # 0 = no limit. A complete ETP of the bench scenario takes ~25,000 (bench/README.md).
    llm_max_tokens_per_etp: int = Field(default=120_000, ge=0)
    # LLM drafts each person may start, `limits` notation; past it the offline drafter writes.
    llm_drafts_per_person: str = "30/hour"
    # Seconds a cached answer is kept (the same request again costs nothing).
    llm_cache_ttl: float = Field(default=7 * 24 * 3600, gt=0)
    # Seconds between two edits of a draft being shown as it is written (Telegram allows about
    # one edit a second per chat; Slack's chat.update about one).
    llm_stream_interval: float = Field(default=1.5, ge=0.2)

    @field_validator("openai_api_key")
    @classmethod
    def _no_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        return _refuse_placeholder(value, "OPENAI_API_KEY")

    @model_validator(mode="after")
    def _openai_needs_key(self) -> LlmSettings:
        if self.llm_provider == "openai" and self.openai_api_key is None:
            raise ValueError("LLM_PROVIDER=openai needs OPENAI_API_KEY")
        if self.llm_request_timeout > self.llm_draft_deadline:
            raise ValueError("LLM_REQUEST_TIMEOUT must not exceed LLM_DRAFT_DEADLINE")
        return self

    @field_validator("llm_drafts_per_person")
    @classmethod
    def _parse_draft_rate(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"LLM_DRAFTS_PER_PERSON: {exc}") from exc
        return value

    @property
    def prompt_cost_per_1k(self) -> float:
        if self.llm_prompt_cost_per_1k is not None:
            return self.llm_prompt_cost_per_1k
        return self.llm_cost_per_1k_tokens

    @property
    def completion_cost_per_1k(self) -> float:
        if self.llm_completion_cost_per_1k is not None:
            return self.llm_completion_cost_per_1k
        return self.llm_cost_per_1k_tokens

    @property
    def provider(self) -> str:
        if self.llm_provider == "auto":
            return "openai" if self.openai_api_key is not None else "offline"
        return self.llm_provider


class TelegramSettings(BaseSettings):
    model_config = _CONFIG
    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    # Development only: mount POST /telegram/webhook without TELEGRAM_WEBHOOK_SECRET. Anyone
    # who can reach it could then post updates as any user (logged loudly at start).
    etp_insecure_telegram_webhook: bool = False
    # messages per second to one chat (Telegram asks for about one); short bursts of 3 pass
    telegram_chat_rate: float = Field(default=1.0, gt=0)
    # messages per second to all chats together (Telegram allows a bot about 30)
    telegram_bot_rate: float = Field(default=30.0, gt=0)

    @field_validator("telegram_bot_token", "telegram_webhook_secret")
    @classmethod
    def _no_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        return _refuse_placeholder(value, "TELEGRAM_*")

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _secret_telegram_accepts(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram's rule for setWebhook's secret_token; an empty one would check nothing
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()
        ):
            raise ValueError(
                "TELEGRAM_WEBHOOK_SECRET must be 1 to 256 characters among A-Z, a-z, 0-9, _ and -"
            )
        return value


DEFAULT_SLACK_SCOPES = (
    "app_mentions:read,channels:history,chat:write,commands,files:write,groups:history,"
    "im:history,mpim:history,users:read"
)


class SlackSettings(BaseSettings):
    model_config = _CONFIG
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str | None = None
    # multi-workspace OAuth installation (used instead of SLACK_BOT_TOKEN when both are set)
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_scopes: str = DEFAULT_SLACK_SCOPES
    slack_redirect_uri: str | None = None

    @field_validator(
        "slack_bot_token", "slack_signing_secret", "slack_app_token", "slack_client_secret"
    )
    @classmethod
    def _no_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        return _refuse_placeholder(value, "SLACK_*")

    @model_validator(mode="after")
    def _oauth_pair(self) -> SlackSettings:
        if (self.slack_client_id is None) != (self.slack_client_secret is None):
            raise ValueError("SLACK_CLIENT_ID and SLACK_CLIENT_SECRET go together")
        return self

    @property
    def oauth(self) -> bool:
        """Multi-workspace mode: installations come from the OAuth flow, not one bot token."""
        return self.slack_client_id is not None

    @property
    def enabled(self) -> bool:
        return self.oauth or self.slack_bot_token is not None

    @property
    def api_url(self) -> str | None:
        """The Web API base URL as slack-sdk wants it (with a trailing slash)."""
        if not self.slack_api_url:
            return None
        return self.slack_api_url.rstrip("/") + "/"


class AccessSettings(BaseSettings):
    model_config = _CONFIG
    etp_allowed_telegram_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    etp_allowed_slack_teams: Annotated[frozenset[str], NoDecode] = frozenset()
    # in production an empty allow-list is refused (`etp check --production`) unless this says
    # that serving everyone is meant
    etp_open_access: bool = False
    # Telegram refusals sent to one stranger's chat (`limits` notation); beyond it their
    # messages get no answer, so a stranger cannot make the bot spend its sending rate
    etp_refusals_per_stranger: str = "1/10minutes"

    @field_validator("etp_refusals_per_stranger")
    @classmethod
    def _parse_refusal_rate(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"ETP_REFUSALS_PER_STRANGER: {exc}") from exc
        return value

    @field_validator("etp_allowed_telegram_ids", mode="before")
    @classmethod
    def _ids(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(int(v) for v in value.replace(";", ",").split(",") if v.strip())
        return value

    @field_validator("etp_allowed_slack_teams", mode="before")
    @classmethod
    def _teams(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(v.strip() for v in value.replace(";", ",").split(",") if v.strip())
        return value


class ApiSettings(BaseSettings):
    model_config = _CONFIG
    # Requests per token, in the `limits` notation ("120/minute", "10/second;1000/hour").
    etp_api_rate_limit: str = "120/minute"
    # Failed authentications (a wrong or revoked token) per client address; above it the
    # address gets 429 without its tokens being looked up.
    etp_api_auth_failure_limit: str = "30/minute"
    # Largest request body the admin API accepts (413 above it).
    etp_api_max_body_bytes: int = Field(default=65_536, ge=0)

    @field_validator("etp_api_rate_limit", "etp_api_auth_failure_limit")
    @classmethod
    def _parse_rate(cls, value: str, info: ValidationInfo) -> str:
        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"{(info.field_name or '').upper()}: {exc}") from exc
        return value


class DocumentSettings(BaseSettings):
    model_config = _CONFIG
    # Worker processes that render DOCX and PDF exports off the event loop; 0 renders them in
    # the process itself (the console, a one-user machine).
    etp_render_processes: int = Field(default=1, ge=0, le=32)
    # The order of an ETP's sections in its document until the ETP chooses one (/ordem): the
    # law's (art. 18, §1º) or that of IN SEGES/ME nº 58/2022, art. 9º (federal bodies).
    etp_document_order: Literal["law", "in58"] = "law"


class SecuritySettings(BaseSettings):
    model_config = _CONFIG
    # production: safer defaults (no /docs, no public /metrics), and the commands refuse to
    # start on what `etp check --production` refuses
    etp_env: Literal["development", "production"] = "development"
    # GET /docs and /openapi.json; unset = on in development, off in production
    etp_api_docs: bool | None = None
    # GET /metrics then needs `Authorization: Bearer <token>`; unset = open in development,
    # not served in production
    etp_metrics_token: SecretStr | None = None
    # Fernet keys (comma-separated, newest first) that encrypt Slack's tokens in the database:
    # the first writes, every one reads. Needed with SLACK_CLIENT_ID (tokens are stored then).
    etp_encryption_keys: SecretStr | None = None

    @property
    def production(self) -> bool:
        return self.etp_env == "production"

    @property
    def docs(self) -> bool:
        return self.etp_api_docs if self.etp_api_docs is not None else not self.production

    @property
    def metrics_served(self) -> bool:
        return self.etp_metrics_token is not None or not self.production

    @field_validator("etp_metrics_token")
    @classmethod
    def _no_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        return _refuse_placeholder(value, "ETP_METRICS_TOKEN")

    @field_validator("etp_encryption_keys")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        from cryptography.fernet import Fernet

        keys = [k.strip() for k in value.get_secret_value().split(",") if k.strip()]
        if not keys:
            raise ValueError("ETP_ENCRYPTION_KEYS is empty; leave it unset or give a key")
        for key in keys:
            try:
                Fernet(key.encode())
            except ValueError as exc:
                raise ValueError(
                    "ETP_ENCRYPTION_KEYS holds a value that is not a Fernet key (make one with "
                    'python -c "from cryptography.fernet import Fernet; '
                    'print(Fernet.generate_key().decode())")'
                ) from exc
        return value


LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


class ObservabilitySettings(BaseSettings):
    model_config = _CONFIG
    sentry_dsn: SecretStr | None = None
    # Sentry's environment; unset = ETP_ENV
    sentry_environment: str | None = None
    etp_log_level: str = Field(default="INFO")
    # what runs, for Sentry and /health: unset = the git commit of the checkout, else the version
    etp_release: str | None = None

    @field_validator("etp_log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"ETP_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        return level


class RecoverySettings(BaseSettings):
    model_config = _CONFIG
    # A draft job shows it is alive every third of this (it touches its section, and under arq
    # its in-progress key); a section still "Redigindo…" with no sign of life for this long is
    # taken as lost (its process died, Redis lost the job) and its draft is submitted again.
    etp_draft_stale_after: float = Field(default=30.0, ge=0.3, le=3600)
    # How often each long-running process looks for such sections (with Redis, one process
    # of all looks each time).
    etp_draft_sweep_interval: float = Field(default=15.0, ge=0.1, le=3600)
    # Seconds a draft job keeps retrying a database that does not answer before it tells the
    # user it was interrupted (the sweep resumes it once the database is back).
    etp_store_retry_for: float = Field(default=120.0, ge=0, le=3600)
    # Seconds `etp worker` (or the worker in `etp serve`) lets running drafts finish after
    # SIGTERM; the rest are handed back to the queue for another worker.
    etp_worker_stop_grace: float = Field(default=20.0, ge=0, le=3600)


class DeploymentSettings(BaseSettings):
    model_config = _CONFIG
    # the long-running commands and readiness refuse a database behind the migration head;
    # this lets them run anyway (a deliberate, logged choice)
    etp_allow_schema_behind: bool = False


class Settings:
    """All concerns together; each part is read from the environment when first used."""

    @cached_property
    def database(self) -> DatabaseSettings:
        return DatabaseSettings()

    @cached_property
    def redis(self) -> RedisSettings:
        return RedisSettings()

    @cached_property
    def llm(self) -> LlmSettings:
        return LlmSettings()

    @cached_property
    def telegram(self) -> TelegramSettings:
        return TelegramSettings()

    @cached_property
    def slack(self) -> SlackSettings:
        return SlackSettings()

    @cached_property
    def access(self) -> AccessSettings:
        return AccessSettings()

    @cached_property
    def api(self) -> ApiSettings:
        return ApiSettings()

    @cached_property
    def documents(self) -> DocumentSettings:
        return DocumentSettings()

    @cached_property
    def security(self) -> SecuritySettings:
        return SecuritySettings()

    @cached_property
    def observability(self) -> ObservabilitySettings:
        return ObservabilitySettings()

    @cached_property
    def deployment(self) -> DeploymentSettings:
        return DeploymentSettings()

    @cached_property
    def recovery(self) -> RecoverySettings:
        return RecoverySettings()

    def problems(self) -> list[str]:
        """Every invalid value of every concern, one line each (empty when all are valid)."""
        lines: list[str] = []
        for part in PARTS:
            try:
                getattr(self, part)
            except ValidationError as exc:
                lines += [describe(error) for error in exc.errors()]
        return lines or _across(self)


PARTS = (
    "database",
    "redis",
    "llm",
    "telegram",
    "slack",
    "access",
    "api",
    "documents",
    "security",
    "observability",
    "deployment",
    "recovery",
)


def describe(error: object) -> str:
    """One line for one pydantic error: the variable's name and what is wrong (never its value,
    which may be a secret)."""
    assert isinstance(error, dict)
    loc = error.get("loc") or ()
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    name = str(loc[0]).upper() if loc else ""
    if not name or message.startswith(name):
        return message
    return f"{name}: {message}"


def load_settings() -> Settings:
    """Read and validate every concern now, so that a bad value fails at start-up."""
    settings = Settings()
    for part in PARTS:
        getattr(settings, part)
    for problem in _across(settings):
        raise ValueError(problem)
    return settings


def _across(settings: Settings) -> list[str]:
    """Rules that join two concerns (each valid on its own)."""
    if settings.slack.oauth and settings.security.etp_encryption_keys is None:
        return [
            "SLACK_CLIENT_ID stores workspaces' tokens in the database: set ETP_ENCRYPTION_KEYS "
            "to encrypt them"
        ]
    return []

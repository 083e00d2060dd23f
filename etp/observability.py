"""Sentry error reporting, with personal data and user text scrubbed before anything leaves."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.fastapi import FastApiIntegration
from sentry_sdk.integrations.starlette import StarletteIntegration

from etp import __version__
from etp.privacy import scrub_value
from etp.settings import ObservabilitySettings

SCRUBBED = "[scrubbed]"
# Headers worth keeping for debugging; everything else (Authorization, cookies, Slack and
# Telegram signatures and secrets) is dropped.
_SAFE_HEADERS = {"content-type", "content-length", "user-agent", "accept", "host"}


def scrub_event(event: dict[str, Any], _hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Drop what may carry user text or identity: bodies, query strings, cookies, headers,
    the user, log arguments, extra data and breadcrumb payloads."""
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("data", "cookies", "query_string", "env"):
            if key in request:
                request[key] = SCRUBBED
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {
                k: (v if k.lower() in _SAFE_HEADERS else SCRUBBED) for k, v in headers.items()
            }
        if isinstance(request.get("url"), str):
            request["url"] = request["url"].split("?", 1)[0]
    event.pop("user", None)
    event.pop("extra", None)
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        logentry.pop("params", None)
        logentry["message"] = scrub_value(logentry.get("message", ""))
        logentry["formatted"] = logentry["message"]
    if "message" in event:
        event["message"] = scrub_value(event["message"])
    # an exception's message may quote what failed (a CPF, an e-mail): kept, without those
    exceptions = event.get("exception")
    if isinstance(exceptions, dict):
        for exception in exceptions.get("values") or []:
            if isinstance(exception, dict):
                exception["value"] = scrub_value(exception.get("value"))
    breadcrumbs = event.get("breadcrumbs")
    values = breadcrumbs.get("values") if isinstance(breadcrumbs, dict) else breadcrumbs
    for crumb in values or []:
        if isinstance(crumb, dict):
            _scrub_breadcrumb(crumb)
    return event


def _scrub_breadcrumb(crumb: dict[str, Any]) -> dict[str, Any]:
    crumb.pop("data", None)
    if crumb.get("category") not in ("http", "httplib"):
        crumb["message"] = SCRUBBED if crumb.get("message") else crumb.get("message")
    else:
        crumb["message"] = scrub_value(crumb.get("message"))
    return crumb


def scrub_breadcrumb(crumb: dict[str, Any], _hint: dict[str, Any] | None = None) -> dict[str, Any]:
    return _scrub_breadcrumb(crumb)


ROOT = Path(__file__).resolve().parents[1]


@cache
def git_commit() -> str | None:
    """The commit of the checkout this code runs from (None outside one, as in the image)."""
    if not (ROOT / ".git").exists():  # never another repository that happens to enclose it
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def release(settings: ObservabilitySettings) -> str:
    """ETP_RELEASE (the image sets it at build), else the version and the checkout's commit."""
    if settings.etp_release:
        return settings.etp_release
    commit = git_commit()
    return f"etp-express@{__version__}" + (f"+{commit[:12]}" if commit else "")


def init_sentry(settings: ObservabilitySettings, *, environment: str = "development") -> bool:
    """Turn Sentry on when SENTRY_DSN is set; True when it is on."""
    if settings.sentry_dsn is None:
        return False
    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        release=release(settings),
        environment=settings.sentry_environment or environment,
        integrations=[StarletteIntegration(), FastApiIntegration()],
        send_default_pii=False,
        include_local_variables=False,  # frames' locals hold answers and drafts
        max_request_body_size="never",
        before_send=scrub_event,  # type: ignore[arg-type]
        before_breadcrumb=scrub_breadcrumb,
        traces_sample_rate=0.0,
    )
    return True

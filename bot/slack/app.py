"""Composition of the Slack channel: the Bolt app, its listeners, OAuth and the notifier."""

from __future__ import annotations

import hashlib

from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import actions, commands, events, views
from bot.slack.access import INSTALL_PAGES, EtpOAuthFlow, only_allowed_teams
from bot.slack.channel import SlackChannel, TeamClients
from bot.slack.installations import EncryptedInstallationStore, PrunedOAuthStateStore
from bot.slack.memory import LocalMemo, Memo, RedisMemo
from conversations.catalogue import messages as m
from etp.container import App
from etp.settings import SlackSettings
from storage.secrets import SecretCipher

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
EVENTS_PATH = "/slack/events"
STATE_EXPIRATION = 600
OFFICIAL_API = "https://slack.com/api/"


def form_key(settings: SlackSettings) -> bytes:
    """The key that signs our modals' metadata: derived from a secret every process of the
    deployment shares (whichever the mode has), so any of them checks any form."""
    secret = next(
        s.get_secret_value()
        for s in (
            settings.slack_signing_secret,
            settings.slack_client_secret,
            settings.slack_app_token,
            settings.slack_bot_token,
        )
        if s is not None
    )
    return hashlib.sha256(b"etp-express slack form\0" + secret.encode()).digest()


class SlackNotConfigured(RuntimeError):
    """A setting Slack's mode needs is missing."""


def build_slack(app: App) -> SlackChannel:
    """The Slack channel on App's engine; registered as the 'slack' notifier. No I/O here."""
    settings = app.settings.slack
    allowed = app.settings.access.etp_allowed_slack_teams
    base_url = settings.api_url or OFFICIAL_API
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    client = AsyncWebClient(token=None if settings.oauth else token, base_url=base_url)
    oauth_flow: EtpOAuthFlow | None = None
    store: EncryptedInstallationStore | None = None
    if settings.oauth and settings.slack_client_id and settings.slack_client_secret:
        keys = app.settings.security.etp_encryption_keys
        if keys is None:
            raise SlackNotConfigured(
                "SLACK_CLIENT_ID stores workspaces' tokens: set ETP_ENCRYPTION_KEYS to encrypt them"
            )
        # the tables come from our migrations; the stores never create them
        store = EncryptedInstallationStore(
            client_id=settings.slack_client_id,
            engine=app.engine,
            cipher=SecretCipher.parse(keys.get_secret_value()),
        )
        oauth_flow = EtpOAuthFlow(
            allowed=allowed,
            client=client,
            settings=AsyncOAuthSettings(
                client_id=settings.slack_client_id,
                client_secret=settings.slack_client_secret.get_secret_value(),
                scopes=settings.slack_scopes,
                redirect_uri=settings.slack_redirect_uri,
                install_path=INSTALL_PATH,
                redirect_uri_path=REDIRECT_PATH,
                install_page_rendering_enabled=False,
                callback_options=INSTALL_PAGES,
                installation_store=store,
                state_store=PrunedOAuthStateStore(
                    expiration_seconds=STATE_EXPIRATION, engine=app.engine
                ),
                state_expiration_seconds=STATE_EXPIRATION,
            ),
        )
    signing_secret = settings.slack_signing_secret
    bolt = AsyncApp(
        name="etp-express",
        signing_secret=signing_secret.get_secret_value() if signing_secret else "",
        client=client,
        oauth_flow=oauth_flow,
        before_authorize=only_allowed_teams(allowed),
        user_facing_authorize_error_message=m.SLACK_AUTHORIZE_ERROR,
        process_before_response=False,  # ack first; the listener goes on after the response
    )
    memo: Memo = RedisMemo(app.redis) if app.redis is not None else LocalMemo()
    channel = SlackChannel(
        app.service, TeamClients(client, store), memo, bolt, form_key=form_key(settings)
    )
    for module in (commands, events, actions, views):
        module.register(bolt, channel)
    app.notifier.register("slack", channel)
    app.closers.append(channel.drain)
    return channel

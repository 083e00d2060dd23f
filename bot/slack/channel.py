"""The Slack channel: where an event belongs, who said it, and how the replies look in Slack.

Listeners (commands, events, actions, views) call this; it hands each event to the engine and
renders the replies. No conversation rule lives here, only Slack's shape of things.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from cachetools import TTLCache
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.web.async_client import AsyncWebClient

from bot import common
from bot.slack.blocks import Message, form_view, plain_message, text_messages
from bot.slack.memory import DraftMessages, Memo
from conversations.catalogue import messages as m
from conversations.commands import BY_NAME, BY_WORD, COMMANDS, is_known_command
from conversations.events import Address, Author, Inbound, parse_command
from conversations.replies import Document, DraftingStarted, Reply, Text
from conversations.service import EtpService

log = logging.getLogger(__name__)

PLATFORM = "slack"
# Outside a thread, in a channel: the commands that open an ETP open a thread of their own ...
THREAD_OPENERS = frozenset(c.name for c in COMMANDS if c.opens_etp)
# ... those that neither open nor need one answer there (privately) ...
CHANNEL_WIDE = frozenset(c.name for c in COMMANDS if not c.opens_etp and not c.needs_etp)
# ... and the rest need an ETP's thread (Slack sends no thread with a slash command).

DRAFT_WAIT = 10.0  # seconds a finished draft waits for its "redigindo…" message to be posted
ROOT_TTL = 3600  # a redelivered event finds the thread its first delivery opened
OPENING = "-"  # a root being posted by one copy of a delivery (never a message's ts)
OPENING_TTL = 30  # how long a copy that died while posting a root holds its key
OPENING_POLL = 0.05  # how often the other copies look for the posted root
NAME_TTL = 3600

_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")


@dataclass(frozen=True, slots=True)
class Place:
    """Where in Slack a conversation lives: a DM, or a thread of a channel."""

    team: str
    channel: str
    thread: str = ""
    shared: bool = False

    @property
    def address(self) -> Address:
        return Address(PLATFORM, f"{self.team}:{self.channel}", self.thread, self.shared)

    @property
    def outside_thread(self) -> bool:
        return self.shared and not self.thread

    @staticmethod
    def of(address: Address) -> Place:
        team, _, channel = address.chat_id.partition(":")
        return Place(team, channel, address.thread_id, address.shared)

    @staticmethod
    def at(team: str, channel: str, thread: str = "") -> Place:
        """DMs (channel ids starting with D) are private and threadless; the rest are shared."""
        if channel.startswith("D"):
            return Place(team, channel, "", shared=False)
        return Place(team, channel, thread, shared=True)

    def metadata(self) -> dict[str, str]:
        return {"team": self.team, "channel": self.channel, "thread": self.thread}


def command_line(words: str) -> str:
    """The words after /etp ('novo Compra de papel') as the engine's command line."""
    words = words.strip()
    return f"/{words}" if words else "/ajuda"


def mention_line(text: str, bot_user_id: str | None) -> tuple[str, bool]:
    """A mention's text without the bot's name; a leading sub-command word makes it a command."""
    stripped = _MENTION.sub(
        lambda match: "" if match.group(1) == bot_user_id else match.group(0), text
    ).strip()
    first = stripped.split(maxsplit=1)[0].lower() if stripped else ""
    if first in BY_WORD:
        return f"/{stripped}", True
    return stripped, stripped.startswith("/")


class TeamClients:
    """The Web API client of each workspace: the single bot token, or the installation's."""

    def __init__(self, base: AsyncWebClient, store: AsyncInstallationStore | None) -> None:
        self.base = base
        self.store = store
        self._clients: TTLCache[str, AsyncWebClient] = TTLCache(maxsize=1000, ttl=600)

    async def for_team(self, team: str) -> AsyncWebClient | None:
        if self.store is None:
            return self.base
        client = self._clients.get(team)
        if client is None:
            bot = await self.store.async_find_bot(enterprise_id=None, team_id=team)
            if bot is None or not bot.bot_token:
                return None
            client = AsyncWebClient(token=bot.bot_token, base_url=self.base.base_url)
            self._clients[team] = client
        return client


class SlackChannel:
    """Slack events in, the engine's replies out as Block Kit messages, modals and files."""

    def __init__(
        self,
        service: EtpService,
        clients: TeamClients,
        memo: Memo,
        bolt: AsyncApp,
        *,
        form_key: bytes,
    ) -> None:
        self.form_key = form_key
        self.service = service
        self.bolt = bolt
        self.clients = clients
        self.memo = memo
        self.drafts = DraftMessages(memo)
        self._names: TTLCache[str, str] = TTLCache(maxsize=10_000, ttl=NAME_TTL)
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()

    # --- in-flight work (graceful shutdown, tests) ---------------------------------------

    @asynccontextmanager
    async def working(self) -> AsyncIterator[None]:
        """Count a listener's work from before its ack until its last reply is out."""
        self._busy += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._busy -= 1
            if self._busy == 0:
                self._idle.set()

    async def drain(self) -> None:
        """Wait until no listener is still working."""
        await self._idle.wait()

    # --- forms ---------------------------------------------------------------------------

    def _form_signature(self, data: dict[str, str]) -> str:
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        return hmac.new(self.form_key, canonical, hashlib.sha256).hexdigest()

    def form_metadata(self, place: Place, user: str, command: str) -> dict[str, str]:
        """Where a form's text goes and who it was opened for, signed: a submission is taken
        only from that person, for that place."""
        data = {**place.metadata(), "user": user}
        return {**data, "sig": self._form_signature({**data, "command": command})}

    def form_place(self, data: dict[str, str], *, team: str, user: str) -> Place | None:
        """The place a submitted form's text goes, when the form is ours (signature), was
        opened for the submitting `user` and belongs to their workspace; else None."""
        signature = data.get("sig", "")
        unsigned = {k: v for k, v in data.items() if k != "sig"}
        if not hmac.compare_digest(signature, self._form_signature(unsigned)):
            return None
        if unsigned.get("user") != user or unsigned.get("team") != team:
            return None
        return Place.at(team, unsigned.get("channel", ""), unsigned.get("thread", ""))

    # --- who and where -------------------------------------------------------------------

    async def author(
        self, client: AsyncWebClient, team: str, user: str, fallback: str = ""
    ) -> Author:
        """The Slack user with the name users.info gives (cached), for attribution."""
        key = f"{team}:{user}"
        name = self._names.get(key)
        if name is None:
            name = fallback or user
            try:
                found = (await client.users_info(user=user)).get("user") or {}
                profile = found.get("profile") or {}
                name = (
                    profile.get("real_name")
                    or found.get("real_name")
                    or profile.get("display_name")
                    or found.get("name")
                    or name
                )
                self._names[key] = name
            except SlackApiError as error:
                log.warning("users.info failed for %s: %s", key, error.response.get("error"))
        return Author(PLATFORM, key, name)

    async def open_thread(
        self, client: AsyncWebClient, place: Place, author: Author, key: str
    ) -> Place:
        """Post the root message of a new ETP thread (once per delivery key) and return it.

        Copies of one delivery may arrive at once (Slack retries a slow acknowledgement, and
        a retry may reach another replica): the key is claimed before the post, so only one
        copy posts; the others wait for its thread and go on in it (the engine then takes
        them for the duplicates they are). A claim whose poster died expires after
        OPENING_TTL seconds, and the next copy posts instead."""
        memo_key = f"root:{place.team}:{key}"
        while True:
            ts = await self.memo.get(memo_key)
            if ts is None and await self.memo.claim(memo_key, OPENING, OPENING_TTL):
                try:
                    posted = await client.chat_postMessage(
                        channel=place.channel,
                        text=m.SLACK_THREAD_ROOT.format(name=author.display_name),
                    )
                except BaseException:
                    await self.memo.forget(memo_key)  # the next copy may try
                    raise
                ts = str(posted["ts"])
                await self.memo.set(memo_key, ts, ROOT_TTL)
            if ts is not None and ts != OPENING:
                return Place(place.team, place.channel, ts, shared=True)
            await asyncio.sleep(OPENING_POLL)  # another copy is posting the root

    # --- events --------------------------------------------------------------------------

    async def command(
        self,
        client: AsyncWebClient,
        place: Place,
        user: str,
        author: Author,
        line: str,
        *,
        event_id: str,
        key: str,
        kind: str | None = None,
        trigger_id: str | None = None,
        context: str = "",
    ) -> None:
        """A command line (or text) from a slash command, a mention or a button (`context`:
        the button's), routed."""
        if place.outside_thread:
            parsed = parse_command(line)
            name = parsed[0] if parsed else "new"
            if name in THREAD_OPENERS:
                place = await self.open_thread(client, place, author, key)
            elif name in CHANNEL_WIDE or not is_known_command(name):
                await self.handle(
                    client, place, author, line, event_id=event_id, kind=kind, private_to=user
                )
                return
            else:
                word = BY_NAME[name].pt
                hint = m.SLACK_USE_THREAD.format(command=word)
                await self._post(client, place, plain_message(hint), private_to=user)
                return
        await self.handle(
            client,
            place,
            author,
            line,
            event_id=event_id,
            kind=kind,
            trigger_id=trigger_id,
            context=context,
        )

    async def handle(
        self,
        client: AsyncWebClient,
        place: Place,
        author: Author,
        line: str,
        *,
        event_id: str | None,
        kind: str | None = None,
        trigger_id: str | None = None,
        private_to: str | None = None,
        context: str = "",
    ) -> None:
        """Hand one event to the engine and render its replies where it happened."""
        inbound = Inbound.from_text(
            place.address, author, line, event_id, kind=kind, context=context
        )
        replies = await common.handle(self.service, inbound)
        await self.render(
            client,
            place,
            replies,
            trigger_id=trigger_id,
            private_to=private_to,
            form_user=author.user_id,
        )
        if replies:
            await self.service.delivered(inbound)  # a retry of the event now sends nothing

    async def still_drafting(self, address: Address) -> None:
        """Slack has no "typing" for bots: the "Redigindo…" message already says it."""

    async def drafting_progress(self, address: Address, job_id: str, text: str) -> None:
        """The "Redigindo…" message shows the draft so far (chat.update; the caller paces it)."""
        found = await self.drafts.find(job_id, 0)
        if found is None:
            return
        client = await self.clients.for_team(Place.of(address).team)
        if client is None:
            return
        channel, ts = found
        message = plain_message(m.DRAFT_STREAMING.format(text=text))
        try:
            await client.chat_update(
                channel=channel, ts=ts, text=message.text, blocks=message.blocks
            )
        except SlackApiError as error:
            log.warning("Slack refused a draft update: %s", error.response.get("error"))

    async def notify(self, address: Address, replies: Sequence[Reply]) -> None:
        """Late replies (finished drafts) for a Slack conversation."""
        place = Place.of(address)
        client = await self.clients.for_team(place.team)
        if client is None:
            log.warning(
                "no Slack installation for team %s; %d replies dropped", place.team, len(replies)
            )
            return
        async with self.working():
            await self.render(client, place, replies)

    # --- rendering -----------------------------------------------------------------------

    async def render(
        self,
        client: AsyncWebClient,
        place: Place,
        replies: Sequence[Reply],
        *,
        trigger_id: str | None = None,
        private_to: str | None = None,
        form_user: str = "",
    ) -> None:
        for reply in replies:
            try:
                if isinstance(reply, Text):
                    if reply.request is not None and trigger_id is not None:
                        signed = self.form_metadata(place, form_user, reply.request.command)
                        view = form_view(reply.request, signed)
                        await client.views_open(trigger_id=trigger_id, view=view)
                        trigger_id = None  # a trigger opens one view
                        if reply.request.current:
                            continue  # the form shows what this message would
                    await self._post_text(client, place, reply, private_to)
                elif isinstance(reply, DraftingStarted):
                    ts = await self._post(client, place, plain_message(reply.text), private_to)
                    if ts is not None:
                        await self.drafts.remember(reply.job_id, place.channel, ts)
                elif isinstance(reply, Document):
                    await client.files_upload_v2(
                        channel=place.channel,
                        thread_ts=place.thread or None,
                        content=reply.content,
                        filename=reply.filename,
                        title=reply.filename,
                        initial_comment=reply.caption or None,
                    )
            except SlackApiError as error:
                log.error(
                    "Slack refused a reply in %s: %s",
                    place.address.key,
                    error.response.get("error"),
                )

    async def _post_text(
        self, client: AsyncWebClient, place: Place, reply: Text, private_to: str | None
    ) -> None:
        messages = text_messages(reply)
        if reply.replaces is not None:
            found = await self.drafts.find(reply.replaces, DRAFT_WAIT)
            if found is not None:
                channel, ts = found
                first = messages.pop(0)
                await client.chat_update(
                    channel=channel, ts=ts, text=first.text, blocks=first.blocks
                )
        for message in messages:
            await self._post(client, place, message, private_to)

    async def _post(
        self, client: AsyncWebClient, place: Place, message: Message, private_to: str | None
    ) -> str | None:
        if private_to is not None:
            await client.chat_postEphemeral(
                channel=place.channel,
                user=private_to,
                thread_ts=place.thread or None,
                text=message.text,
                blocks=message.blocks,
            )
            return None
        posted = await client.chat_postMessage(
            channel=place.channel,
            thread_ts=place.thread or None,
            text=message.text,
            blocks=message.blocks,
        )
        return str(posted["ts"])

"""Inbound events: what a channel hands to the engine, stripped of any platform type."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from conversations.commands import canonical

# the argument may start on the next line: "/editar", Enter, then the new text
_COMMAND_LINE = re.compile(r"^/([A-Za-zÀ-ÿ_]+)(?:@(\w+))?(?:\s+(.*))?$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Author:
    """The person behind an event, as the platform names them."""

    platform: str
    user_id: str
    display_name: str


@dataclass(frozen=True, slots=True)
class Address:
    """A conversation: one chat (and, in Slack, one thread) of one channel."""

    channel: str
    chat_id: str
    thread_id: str = ""
    shared: bool = False  # a group chat or channel thread where several people draft together

    @property
    def key(self) -> str:
        return f"{self.channel}:{self.chat_id}:{self.thread_id}"

    @property
    def chat_key(self) -> str:
        """The start of the key of every conversation in this chat (a Slack channel's threads
        share it)."""
        return f"{self.channel}:{self.chat_id}:"

    def reaches(self, shared_key: str | None, owner_id: int | None, person_id: int | None) -> bool:
        """Whether an ETP may be resumed here: a shared one only in the chat it is shared in
        (any thread of it), a private one only by its owner and only in a private chat. Leaving
        a group leaves its ETPs there, and a private ETP is never carried into a group."""
        if shared_key is not None:
            return self.shared and shared_key.startswith(self.chat_key)
        return not self.shared and owner_id is not None and owner_id == person_id


@dataclass(frozen=True, slots=True)
class Inbound:
    """One event for one conversation: free text, a command, or a button action.

    A button action carries the command line it stands for (e.g. "/aceitar"), so buttons and
    typed commands take one path.
    """

    address: Address
    author: Author
    kind: str  # text | command | action | start
    text: str = ""
    command: str | None = None  # canonical name (new, list, ...) or the unknown word typed
    args: str = ""
    event_id: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    context: str = ""  # a pressed button's context (Button.context)

    @staticmethod
    def from_text(
        address: Address,
        author: Author,
        text: str,
        event_id: str | None = None,
        *,
        kind: str | None = None,
        context: str = "",
    ) -> Inbound:
        """Classify typed text: a line starting with '/' is a command, anything else text."""
        parsed = parse_command(text)
        if parsed is None:
            return Inbound(
                address, author, kind or "text", text=text, event_id=event_id, context=context
            )
        name, args = parsed
        return Inbound(
            address,
            author,
            kind or "command",
            text=text,
            command=name,
            args=args,
            event_id=event_id,
            context=context,
        )


def parse_command(text: str) -> tuple[str, str] | None:
    """'/novo Compra de papel' -> ('new', 'Compra de papel'); unknown words keep their name."""
    match = _COMMAND_LINE.match(text.strip())
    if not match:
        return None
    return canonical(match.group(1).lower()), (match.group(3) or "").strip()


def command_addressee(text: str) -> str | None:
    """'/status@EtpBot' -> 'EtpBot': the bot a command line names, in a group of several bots."""
    match = _COMMAND_LINE.match(text.strip())
    return match.group(2) if match else None

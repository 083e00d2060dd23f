"""Replies: what the engine answers, as plain value objects a channel renders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conversations.export.document import EtpDocument


@dataclass(frozen=True, slots=True)
class Button:
    """A choice; `command` is the command line it stands for, e.g. '/exportar docx'.

    `context` says what the choice is about (which draft: "3.2"). A channel that can carry it
    unseen hands it back with the press, and the engine refuses a press on a message whose
    subject has moved on (an old "Aceitar" would otherwise accept the draft now current).
    """

    label: str
    command: str
    context: str = ""


CONTEXT_MARK = "|"  # no command the engine offers has one


def button_value(button: Button) -> str:
    """A button as one string for a platform's payload: its command, then any context."""
    return f"{button.command}{CONTEXT_MARK}{button.context}" if button.context else button.command


def from_button_value(value: str) -> tuple[str, str]:
    """The (command, context) of a button_value."""
    command, _, context = value.partition(CONTEXT_MARK)
    return command, context


@dataclass(frozen=True, slots=True)
class TextRequest:
    """The engine waits for a text that completes `command` (e.g. '/editar <texto>').

    Channels with forms (Slack modals) may ask for it in one; `current` prefills the form.
    """

    command: str
    current: str = ""


@dataclass(frozen=True, slots=True)
class Text:
    text: str
    buttons: tuple[Button, ...] = ()
    expects_text: bool = False  # the next free text is an answer, not a choice
    replaces: str | None = None  # the job id of a DraftingStarted message this text replaces
    request: TextRequest | None = None  # the text asked for, for channels that have forms


@dataclass(frozen=True, slots=True)
class Document:
    filename: str
    content: bytes
    media_type: str
    caption: str = ""


@dataclass(frozen=True, slots=True)
class DraftingStarted:
    """A draft is being written; its result arrives later through the Notifier."""

    job_id: str
    text: str


Reply = Text | Document | DraftingStarted


@dataclass(frozen=True, slots=True)
class Export:
    """A document the flow asks for. Rendering one is CPU work (a DOCX or a PDF takes tens of
    milliseconds), so the service renders it through its DocumentRenderer (worker processes in
    the long-running commands), and channels only ever see the Document it becomes."""

    document: EtpDocument
    fmt: str
    caption: str


@dataclass(slots=True)
class Outbox:
    replies: list[Reply] = field(default_factory=list)

    def say(self, text: str, *buttons: Button, expects_text: bool = False) -> None:
        self.replies.append(Text(text, tuple(buttons), expects_text))

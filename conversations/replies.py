"""Replies: what the engine answers, as plain value objects a channel renders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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


def replies_to_json(replies: Sequence[object]) -> list[dict[str, Any]]:
    """The texts among `replies` as JSON values, to be kept with the event they answer (a
    redelivery of the event sends them again if they never left). A document is left out:
    its bytes are not worth keeping, and /exportar renders it again."""
    out: list[dict[str, Any]] = []
    for reply in replies:
        if isinstance(reply, Text):
            kept: dict[str, Any] = {"kind": "text", "text": reply.text}
            if reply.buttons:
                kept["buttons"] = [[b.label, b.command, b.context] for b in reply.buttons]
            if reply.expects_text:
                kept["expects_text"] = True
            if reply.replaces is not None:
                kept["replaces"] = reply.replaces
            if reply.request is not None:
                kept["request"] = [reply.request.command, reply.request.current]
            out.append(kept)
        elif isinstance(reply, DraftingStarted):
            out.append({"kind": "drafting", "job_id": reply.job_id, "text": reply.text})
    return out


def replies_from_json(values: Sequence[dict[str, Any]]) -> list[Reply]:
    """replies_to_json's values as replies again."""
    out: list[Reply] = []
    for value in values:
        if value.get("kind") == "drafting":
            out.append(DraftingStarted(str(value["job_id"]), str(value["text"])))
            continue
        request = value.get("request")
        out.append(
            Text(
                str(value["text"]),
                tuple(Button(*b) for b in value.get("buttons", ())),
                bool(value.get("expects_text", False)),
                value.get("replaces"),
                TextRequest(*request) if request else None,
            )
        )
    return out

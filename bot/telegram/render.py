"""Engine replies → Bot API calls: text split for Telegram's limit, buttons as inline keyboards."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot import common
from conversations.replies import (
    Button,
    DraftingStarted,
    Reply,
    Text,
    button_value,
    from_button_value,
)

MAX_MESSAGE = 4096  # Telegram's limit for one message's text (characters)
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64  # bytes
BUTTONS_PER_ROW = 3
_MAPPED_PREFIX = "#"


def split_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """`text` in messages Telegram accepts."""
    return common.split_text(text, limit)


class CallbackCodec:
    """Buttons as callback_data (their button_value, "/aceitar|3.2"): as they are when they fit
    in 64 bytes, else a token.

    Every command the engine offers fits; the token map is a safety net held by this process.
    """

    def __init__(self, *, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._commands: dict[str, str] = {}

    def encode(self, command: str) -> str:
        if len(command.encode()) <= MAX_CALLBACK_DATA and not command.startswith(_MAPPED_PREFIX):
            return command
        token = _MAPPED_PREFIX + hashlib.sha256(command.encode()).hexdigest()[:32]
        self._commands.pop(token, None)
        self._commands[token] = command
        while len(self._commands) > self.capacity:
            del self._commands[next(iter(self._commands))]
        return token

    def decode(self, data: str | None) -> str | None:
        """The command a button stands for, or None when its token is unknown here."""
        if not data:
            return None
        if data.startswith(_MAPPED_PREFIX):
            return self._commands.get(data)
        return data

    def button_data(self, button: Button) -> str:
        return self.encode(button_value(button))

    def pressed(self, data: str | None) -> tuple[str, str] | None:
        """(command, context) of a pressed button, or None when its token is unknown here."""
        decoded = self.decode(data)
        return None if decoded is None else from_button_value(decoded)


def keyboard(buttons: Sequence[Button], codec: CallbackCodec) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    row_list = [
        [
            InlineKeyboardButton(text=b.label, callback_data=codec.button_data(b))
            for b in buttons[i : i + BUTTONS_PER_ROW]
        ]
        for i in range(0, len(buttons), BUTTONS_PER_ROW)
    ]
    return InlineKeyboardMarkup(inline_keyboard=row_list)


def coalesce(replies: Sequence[Reply]) -> list[Reply]:
    """Join runs of button-less texts into the message that follows them.

    "Seção 1 aceita." and the next question arrive as one message: fewer Bot API calls per
    update, and the chat reads the same.
    """
    merged: list[Reply] = []
    for reply in replies:
        previous = merged[-1] if merged else None
        if (
            isinstance(previous, Text)
            and not previous.buttons
            and isinstance(reply, Text | DraftingStarted)
        ):
            text = f"{previous.text}\n\n{reply.text}"
            merged[-1] = replace(reply, text=text)
        else:
            merged.append(reply)
    return merged

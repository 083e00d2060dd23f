"""Input clean-up: every text a user types goes through `clean` before the flow reads it."""

from __future__ import annotations

import re

from conversations.catalogue import messages as m

MAX_TEXT = 12_000
MAX_TITLE = 200
# Bounds on what one person can make the bot store and send to the LLM: the answers of a
# section (each complement starts a draft whose prompt carries them all: 30 messages made a
# 122 KB prompt) and the planning team (2,000 members took 1.3 s to render in DOCX).
MAX_ANSWERS = 15
MAX_TEAM = 50
# control characters (but tab and newline) and the invisible separators a paste brings along
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\u2028\u2029]")


class InputError(Exception):
    """A user input the flow refuses; the message is the pt-BR reply."""


def clean(raw: str) -> str:
    """Line breaks as "\\n", no control characters, no surrounding blanks."""
    return _CONTROL.sub("", raw.replace("\r\n", "\n").replace("\r", "\n")).strip()


def clean_text(raw: str) -> str:
    """`clean`, refusing empty or oversized text."""
    if len(raw) > MAX_TEXT:
        raise InputError(m.TEXT_TOO_LONG.format(size=len(raw), limit=MAX_TEXT))
    text = clean(raw)
    if not text:
        raise InputError(m.EMPTY_TEXT)
    return text


def parse_int(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and len(text) < 10 else None

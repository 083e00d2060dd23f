"""What every chat adapter needs whatever its platform: texts cut to the platform's limit, and
one answer when the database is down."""

from __future__ import annotations

import logging

from conversations.catalogue import messages as m
from conversations.events import Inbound
from conversations.ports import StoreUnavailable
from conversations.replies import Reply, Text
from conversations.service import EtpService

log = logging.getLogger(__name__)


def split_text(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut at the last paragraph end that fits,
    else the last line end, else the last space, else at `limit`. Whitespace at a cut goes; a
    text that fits is one piece, as it is."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        for boundary in ("\n\n", "\n", " "):
            cut = window.rfind(boundary)
            if cut > 0:
                break
        else:
            cut, boundary = limit, ""
        piece = rest[:cut].rstrip()
        if piece:
            pieces.append(piece)
        rest = rest[cut + len(boundary) :].lstrip("\n")
    if rest.strip() or not pieces:
        pieces.append(rest)
    return pieces


def store_down(where: str) -> list[Reply]:
    """The answer to an event that could not be committed, for a platform that cannot deliver
    it again by itself (polling, a socket, a terminal): the user is asked to send it again."""
    log.warning("database unavailable; %s asked to send again", where)
    return [Text(m.BUSY_RETRY)]


async def handle(service: EtpService, inbound: Inbound) -> list[Reply]:
    """The engine's replies to `inbound`, or `store_down`'s when the database is down."""
    try:
        return await service.handle(inbound)
    except StoreUnavailable:
        return store_down(inbound.address.key)

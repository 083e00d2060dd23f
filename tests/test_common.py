"""The adapter helpers every chat platform shares (bot/common.py)."""

from __future__ import annotations

import logging

import pytest

from bot import common
from conversations.catalogue import messages as m
from conversations.events import Address, Author, Inbound
from conversations.replies import Text
from tests.helpers import make_app


def test_split_text_cuts_at_the_best_boundary_that_fits() -> None:
    assert common.split_text("curto", 10) == ["curto"]
    assert common.split_text("", 10) == [""]
    # a paragraph end before a line end, a line end before a space
    assert common.split_text("aaa bbb\nccc\n\nddd", 12) == ["aaa bbb\nccc", "ddd"]
    assert common.split_text("aaa bbb\nccc ddd", 12) == ["aaa bbb", "ccc ddd"]
    assert common.split_text("aaa bbb ccc", 8) == ["aaa bbb", "ccc"]
    # a word longer than the limit is cut inside, nothing lost
    assert common.split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_split_text_never_exceeds_the_limit_and_keeps_every_word() -> None:
    text = "\n\n".join(f"Parágrafo {i}. " + "palavra " * (i * 37 % 500) for i in range(60))
    for limit in (50, 300, 3000, 4096):
        pieces = common.split_text(text, limit)
        assert all(0 < len(p) <= limit for p in pieces)
        assert " ".join(pieces).split() == text.split()


async def test_a_database_down_asks_the_user_to_send_again(
    unused_tcp_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    app = await make_app(f"postgresql+asyncpg://postgres@127.0.0.1:{unused_tcp_port}/none")
    try:
        inbound = Inbound.from_text(Address("test", "c"), Author("test", "u", "U"), "/novo X", "e1")
        with caplog.at_level(logging.WARNING, logger="bot.common"):
            replies = await common.handle(app.service, inbound)
    finally:
        await app.close()
    assert replies == [Text(m.BUSY_RETRY)]
    assert "database unavailable" in caplog.text

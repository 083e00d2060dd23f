"""Replies as Telegram messages: long texts split, button-less texts joined."""

from __future__ import annotations

from bot.telegram.render import MAX_MESSAGE, coalesce, split_text
from conversations.replies import Button, Document, DraftingStarted, Text
from tests.telegram.helpers import Webhook


async def test_a_reply_longer_than_telegram_allows_is_split_at_paragraphs(hook: Webhook) -> None:
    await hook.new_etp("Papel")
    long_answers = [f"Parágrafo longo da necessidade número {i}. " * 60 for i in range(1, 4)]
    for answer in long_answers:
        await hook.say(answer)
    parts = [t for t in hook.api.texts() if "Parágrafo longo" in t]
    assert len(parts) >= 2
    assert all(len(p) <= MAX_MESSAGE for p in parts)
    draft_messages = hook.api.sent()[-len(parts) :]
    assert [bool(c.buttons) for c in draft_messages] == [False] * (len(parts) - 1) + [True]
    joined = "\n\n".join(parts)
    for answer in long_answers:
        assert answer.strip()[1:] in joined  # after its label: a lower-case first letter


def test_button_less_texts_join_the_message_that_follows() -> None:
    replies = [
        Text("Seção 1 aceita."),
        Text("Seção 2 de 13 · Pergunta", (Button("Pular", "/pular"),)),
        Text("Outra"),
        DraftingStarted("job", "Redigindo…"),
        Document("ETP-1.md", b"x", "text/markdown"),
    ]
    merged = coalesce(replies)
    assert merged == [
        Text("Seção 1 aceita.\n\nSeção 2 de 13 · Pergunta", (Button("Pular", "/pular"),)),
        DraftingStarted("job", "Outra\n\nRedigindo…"),
        Document("ETP-1.md", b"x", "text/markdown"),
    ]


def test_split_text_keeps_paragraphs_whole_when_it_can() -> None:
    paragraphs = [f"{i}" * 1500 for i in range(1, 7)]
    chunks = split_text("\n\n".join(paragraphs))
    assert all(len(c) <= MAX_MESSAGE for c in chunks)
    assert "\n\n".join(chunks) == "\n\n".join(paragraphs)
    assert all(p in c for p in paragraphs for c in chunks if p[0] in c)
    single = "x" * 10_000
    assert "".join(split_text(single)) == single

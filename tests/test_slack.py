"""The Slack channel over real HTTP: signed requests in, a local Slack Web API out."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable
from urllib.parse import parse_qs

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot.slack.app import build_slack
from bot.slack.blocks import MAX_BLOCKS, SECTION_LIMIT, form_view, text_messages
from conversations.catalogue import messages as m
from conversations.drafting import OfflineDrafter
from conversations.replies import Button, Text, TextRequest
from etp.container import build_app
from etp.settings import SlackSettings
from tests.helpers import GOOD_ANSWERS, IDENTIFICATION, SlowDrafter, override, settings_for
from tests.slack_bot import CLIENT_ID, RunningBot, running_bot
from tests.slack_fake import FORM, FakeSlackApi, Posted, Workspace

CHANNEL = "C1"
NAMES = {"U1": "Maria Silva", "U2": "João Souza"}


@pytest.fixture
async def slack_api() -> AsyncIterator[FakeSlackApi]:
    api = FakeSlackApi()
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
async def bot(db_url: str, slack_api: FakeSlackApi) -> AsyncIterator[RunningBot]:
    async with running_bot(db_url, slack_api) as running:
        yield running


async def start_etp(bot: RunningBot, user: str = "U1", title: str = "Papel A4") -> str:
    """`/etp novo` in the channel; returns the thread the bot opened for it."""
    response = await bot.workspace.slash(user, CHANNEL, f"novo {title}")
    assert response.status_code == 200
    await bot.settle()
    root = bot.api.roots(CHANNEL)[-1]
    assert f"{NAMES[user]} abriu uma conversa do ETP Express" in root.text
    return root.ts


async def say(bot: RunningBot, user: str, thread: str, text: str) -> None:
    response = await bot.workspace.say(user, CHANNEL, text, thread)
    assert response.status_code == 200
    await bot.settle()


async def press(bot: RunningBot, user: str, thread: str, label: str) -> Posted:
    message = bot.api.with_button(CHANNEL, thread, label)
    response = await bot.workspace.press(user, message, label)
    assert response.status_code == 200
    await bot.settle()
    return message


async def identify(bot: RunningBot, thread: str) -> None:
    users = ["U1", "U2"]
    for i, line in enumerate(IDENTIFICATION):
        if line == "/aceitar":
            await press(bot, "U2", thread, "Concluir equipe")
        else:
            await say(bot, users[i % 2], thread, line)


async def answer(bot: RunningBot, thread: str, number: int, first_user: str = "U1") -> None:
    users = ["U1", "U2"] if first_user == "U1" else ["U2", "U1"]
    for j, text in enumerate(GOOD_ANSWERS[number]):
        await say(bot, users[j % 2], thread, text)


async def test_two_users_finish_one_etp_in_a_thread_and_both_sign_the_export(
    bot: RunningBot,
) -> None:
    thread = await start_etp(bot)
    bodies = bot.api.bodies(CHANNEL, thread)
    assert "ETP nº 1 criado: Papel A4" in bodies[0]
    assert "Identificação · Órgão/entidade" in bodies[-1]

    await identify(bot, thread)
    assert "Seção 1 de 13" in bot.api.bodies(CHANNEL, thread)[-1]
    for number in range(1, 14):
        await answer(bot, thread, number, first_user="U1" if number % 2 else "U2")
        draft = bot.api.with_button(CHANNEL, thread, "Aceitar")
        assert f"Seção {number} de 13" in draft.body and "Minuta:" in draft.body
        assert "Redigindo" not in draft.body  # the "redigindo…" message became the draft
        await press(bot, "U2" if number % 2 else "U1", thread, "Aceitar")
    bodies = bot.api.bodies(CHANNEL, thread)
    assert any("ETP nº 1 concluído" in body for body in bodies)

    response = await bot.workspace.mention("U1", CHANNEL, "status", thread)
    assert response.status_code == 200
    await bot.settle()
    status = bot.api.bodies(CHANNEL, thread)[-1]
    assert "ETP nº 1 — Papel A4 · concluído" in status
    assert "por Maria Silva, João Souza" in status or "por João Souza, Maria Silva" in status

    await press(bot, "U1", thread, "Exportar MD")
    completed = bot.api.called("files.completeUploadExternal")
    assert len(completed) == 1
    assert completed[0].args["channel_id"] == CHANNEL
    assert completed[0].args["thread_ts"] == thread
    (document,) = bot.api.uploads.values()
    text = document.decode("utf-8")
    assert "ESTUDO TÉCNICO PRELIMINAR" in text and "MINUTA" not in text
    signed = [line for line in text.splitlines() if "Elaborado por" in line]
    assert len(signed) >= 13
    assert all("Maria Silva" in line and "João Souza" in line for line in signed[1:14])


async def test_a_late_press_on_an_older_draft_accepts_nothing(bot: RunningBot) -> None:
    # two members look at section I's draft; one accepts it and the team drafts section II;
    # the other's late "Aceitar" on section I's message must not accept section II's draft
    thread = await start_etp(bot)
    await identify(bot, thread)
    await answer(bot, thread, 1, first_user="U1")
    old = bot.api.with_button(CHANNEL, thread, "Aceitar")
    await press(bot, "U1", thread, "Aceitar")
    await answer(bot, thread, 2, first_user="U1")
    response = await bot.workspace.press("U2", old, "Aceitar")
    assert response.status_code == 200
    await bot.settle()
    assert bot.api.bodies(CHANNEL, thread)[-1] == m.BUTTON_STALE
    await press(bot, "U2", thread, "Aceitar")  # the current draft's button still works
    assert "Seção 2 aceita." in bot.api.bodies(CHANNEL, thread)[-2]


async def test_edit_through_the_modal_replaces_the_draft_and_names_the_editor(
    bot: RunningBot,
) -> None:
    thread = await start_etp(bot)
    await identify(bot, thread)
    await answer(bot, thread, 1)
    draft = bot.api.with_button(CHANNEL, thread, "Editar")
    posted_before = len(bot.api.thread(CHANNEL, thread))

    await press(bot, "U2", thread, "Editar")
    view = bot.workspace.last_view()
    assert view["title"]["text"] == "Editar a minuta"
    first_input = next(b for b in view["blocks"] if b["type"] == "input")
    current = first_input["element"]["initial_value"]
    assert current in draft.body  # the form holds the draft as it is
    assert len(bot.api.thread(CHANNEL, thread)) == posted_before  # nothing posted for it

    edited = "Texto da equipe: faltam resmas de papel para os processos das unidades."
    response = await bot.workspace.submit("U2", view, edited)
    assert response.status_code == 200
    await bot.settle()
    bodies = bot.api.bodies(CHANNEL, thread)
    assert any("Seção 1 atualizada com o seu texto e aceita." in b for b in bodies)
    assert "Seção 2 de 13" in bodies[-1]

    await bot.workspace.mention("U1", CHANNEL, "exportar md", thread)
    await bot.settle()
    (document,) = bot.api.uploads.values()
    text = document.decode("utf-8")
    assert edited in text
    assert "João Souza" in text.split("## 2. ")[0].split("## 1. ")[1]


async def test_skip_through_the_modal_and_refused_on_a_mandatory_section(
    bot: RunningBot,
) -> None:
    thread = await start_etp(bot)
    await identify(bot, thread)
    # the portaria prompt's "Pular" button, pressed again once section I (mandatory) is open
    await press(bot, "U1", thread, "Pular")
    refusal = bot.api.bodies(CHANNEL, thread)[-1]
    assert "é obrigatória" in refusal and "não pode ser pulada" in refusal
    assert not bot.api.called("views.open")

    await answer(bot, thread, 1)
    await press(bot, "U1", thread, "Aceitar")
    assert "Seção 2 de 13" in bot.api.bodies(CHANNEL, thread)[-1]

    await press(bot, "U2", thread, "Pular")
    view = bot.workspace.last_view()
    assert view["title"]["text"] == "Pular a seção"
    response = await bot.workspace.submit("U2", view, "O objeto não consta do plano anual.")
    assert response.status_code == 200
    await bot.settle()
    bodies = bot.api.bodies(CHANNEL, thread)
    assert any("Seção 2 pulada com a justificativa registrada." in b for b in bodies)
    assert "Seção 3 de 13" in bodies[-1]

    await bot.workspace.mention("U1", CHANNEL, "status", thread)
    await bot.settle()
    status = bot.api.bodies(CHANNEL, thread)[-1]
    assert "2. Previsão" in status and "pulada · por João Souza" in status


# --- delivery: signatures, redeliveries, the bot's own messages --------------------------


async def test_forged_or_stale_requests_are_refused_with_401(bot: RunningBot) -> None:
    body = bot.workspace.slash_body("U1", CHANNEL, "novo Papel")
    forged = bot.workspace.headers(body, FORM) | {"X-Slack-Signature": "v0=" + "0" * 64}
    response = await bot.http.post("/slack/events", content=body, headers=forged)
    assert response.status_code == 401
    stale = bot.workspace.headers(body, FORM, age=6 * 60)  # signed correctly, 6 minutes ago
    response = await bot.http.post("/slack/events", content=body, headers=stale)
    assert response.status_code == 401
    await bot.settle()
    assert bot.api.messages == []
    fresh = bot.workspace.headers(body, FORM)
    response = await bot.http.post("/slack/events", content=body, headers=fresh)
    assert response.status_code == 200
    await bot.settle()
    assert len(bot.api.roots(CHANNEL)) == 1


async def test_an_event_delivered_three_times_takes_effect_once(bot: RunningBot) -> None:
    thread = await start_etp(bot)
    event = bot.workspace.message_event("U1", CHANNEL, IDENTIFICATION[0], thread)
    for retry in (None, 1, 2):
        response = await bot.workspace.send_event(event, event_id="EvSame1", retry=retry)
        assert response.status_code == 200
        await bot.settle()
    bodies = bot.api.bodies(CHANNEL, thread)
    assert sum("Identificação · Unidade requisitante" in b for b in bodies) == 1
    assert not any("Identificação · Processo" in b for b in bodies)


async def test_a_replayed_slash_command_opens_one_thread(bot: RunningBot) -> None:
    body = bot.workspace.slash_body("U1", CHANNEL, "novo Papel")
    headers = bot.workspace.headers(body, FORM)
    for _ in range(2):
        response = await bot.http.post("/slack/events", content=body, headers=headers)
        assert response.status_code == 200
        await bot.settle()
    (root,) = bot.api.roots(CHANNEL)
    assert sum("ETP nº 1 criado" in b for b in bot.api.bodies(CHANNEL, root.ts)) == 1
    assert not any("ETP nº 2" in b for b in bot.api.bodies(CHANNEL, root.ts))


async def test_the_bot_ignores_its_own_messages_and_other_threads(bot: RunningBot) -> None:
    thread = await start_etp(bot)
    posted = len(bot.api.messages)
    own = bot.workspace.message_event(
        "UBOT", CHANNEL, IDENTIFICATION[0], thread, bot_id="BBOT", subtype="bot_message"
    )
    await bot.workspace.send_event(own)
    own_plain = bot.workspace.message_event("UBOT", CHANNEL, IDENTIFICATION[0], thread)
    await bot.workspace.send_event(own_plain)
    # a thread someone else started, and a message in the channel itself: not ETP talk
    other = bot.workspace.message_event("U1", CHANNEL, "almoço?", "1700000099.000001")
    other["parent_user_id"] = "U2"
    await bot.workspace.send_event(other)
    await bot.workspace.say("U1", CHANNEL, "bom dia a todos")
    await bot.settle()
    assert len(bot.api.messages) == posted
    await say(bot, "U1", thread, IDENTIFICATION[0])  # the same words from a person count
    assert "Identificação · Unidade requisitante" in bot.api.bodies(CHANNEL, thread)[-1]


# --- DMs and the channel outside threads -------------------------------------------------


async def test_a_direct_message_conversation_is_private_and_threadless(bot: RunningBot) -> None:
    dm = "D1"
    await bot.workspace.say("U1", dm, "Bom dia")
    await bot.settle()
    assert "Não há ETP em andamento" in bot.api.bodies(dm)[-1]
    await bot.workspace.slash("U1", dm, "novo Cadeiras")
    await bot.settle()
    assert bot.api.roots(CHANNEL) == []
    assert "ETP nº 1 criado: Cadeiras" in bot.api.bodies(dm)[-2]
    await bot.workspace.say("U1", dm, IDENTIFICATION[0])
    await bot.settle()
    assert "Identificação · Unidade requisitante" in bot.api.bodies(dm)[-1]
    assert all(not p.thread_ts for p in bot.api.thread(dm))
    # another user's DM is another conversation
    await bot.workspace.say("U2", "D2", IDENTIFICATION[1])
    await bot.settle()
    assert "Não há ETP em andamento" in bot.api.bodies("D2")[-1]


async def test_channel_commands_outside_a_thread_answer_privately(bot: RunningBot) -> None:
    await start_etp(bot)
    roots = len(bot.api.roots(CHANNEL))
    await bot.workspace.slash("U2", CHANNEL, "status")
    await bot.workspace.slash("U1", CHANNEL, "listar")
    await bot.settle()
    hint, listing = bot.api.roots(CHANNEL)[roots:]
    assert hint.private_to == "U2" and "dentro da conversa do ETP" in hint.body
    assert listing.private_to == "U1" and "nº 1 — Papel A4" in listing.body
    assert len([r for r in bot.api.roots(CHANNEL) if not r.private_to]) == roots


async def test_a_mention_in_the_channel_starts_an_etp_in_a_thread(bot: RunningBot) -> None:
    await bot.workspace.mention("U2", CHANNEL, "Aquisição de cadeiras")
    await bot.settle()
    (root,) = bot.api.roots(CHANNEL)
    assert "João Souza abriu" in root.text
    assert "ETP nº 1 criado: Aquisição de cadeiras" in bot.api.bodies(CHANNEL, root.ts)[0]


# --- acknowledgement within 3 seconds while a slow draft is written ----------------------


async def test_every_request_is_acknowledged_quickly_while_a_draft_takes_10_seconds(
    sqlite_url: str, slack_api: FakeSlackApi
) -> None:
    async with running_bot(sqlite_url, slack_api, drafter=SlowDrafter(10)) as bot:
        took: list[float] = []

        async def timed(request: Awaitable[httpx.Response]) -> None:
            started = time.perf_counter()
            response = await request
            took.append(time.perf_counter() - started)
            assert response.status_code == 200
            await bot.channel.drain()  # the listener's replies; not the draft job

        await timed(bot.workspace.slash("U1", CHANNEL, "novo Papel A4"))
        thread = bot.api.roots(CHANNEL)[-1].ts
        for line in IDENTIFICATION:
            if line == "/aceitar":
                message = bot.api.with_button(CHANNEL, thread, "Concluir equipe")
                await timed(bot.workspace.press("U2", message, "Concluir equipe"))
            else:
                await timed(bot.workspace.say("U1", CHANNEL, line, thread))
        for text in GOOD_ANSWERS[1]:
            await timed(bot.workspace.say("U2", CHANNEL, text, thread))
        drafting = bot.api.thread(CHANNEL, thread)[-1]
        assert drafting.body.startswith("Redigindo a minuta da seção 1 — ")
        drafting_started = time.perf_counter()
        # while the drafter works: a mention, a DM, a slash command, a button
        await timed(bot.workspace.mention("U1", CHANNEL, "status", thread))
        await timed(bot.workspace.say("U3", "D3", "Bom dia"))
        await timed(bot.workspace.slash("U3", "D3", "ajuda"))
        message = bot.api.with_button(CHANNEL, thread, "Pular")  # the portaria prompt
        await timed(bot.workspace.press("U1", message, "Pular"))
        assert "redigindo" in bot.api.bodies(CHANNEL, thread)[-2]  # the status line, meanwhile
        assert max(took) < 3.0, took
        assert drafting.body.startswith("Redigindo")  # not replaced yet

        await bot.settle()
        assert time.perf_counter() - drafting_started > 5  # it did wait for the drafter
        updates = [c for c in slack_api.called("chat.update") if c.args["ts"] == drafting.ts]
        assert len(updates) == 1
        assert "Minuta lenta da seção 1." in drafting.body
        assert drafting.labels() == ["Aceitar", "Editar", "Refazer"]


# --- Block Kit limits --------------------------------------------------------------------


def test_long_texts_are_split_within_slack_limits() -> None:
    paragraph = "Texto da minuta com muitas palavras. " * 40  # ~1500 characters
    long_text = "\n\n".join(paragraph.strip() for _ in range(100))  # ~150k characters
    reply = Text(long_text, (Button("Aceitar", "/aceitar"), Button("Editar", "/editar")))
    messages = text_messages(reply)
    assert len(messages) >= 2
    for message in messages:
        assert len(message.blocks) <= MAX_BLOCKS
        for block in message.blocks:
            if block["type"] == "section":
                assert 0 < len(block["text"]["text"]) <= SECTION_LIMIT
    words = [b["text"]["text"] for msg in messages for b in msg.blocks if b["type"] == "section"]
    assert "".join(words).replace("\n", "").replace(" ", "") == long_text.replace("\n", "").replace(
        " ", ""
    )
    assert messages[-1].blocks[-1]["type"] == "actions"
    assert all(b["type"] != "actions" for msg in messages[:-1] for b in msg.blocks)

    view = form_view(TextRequest("/editar", "\n\n".join([paragraph] * 6)), {"channel": "C1"})
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert len(inputs) >= 4  # the draft in parts, and room to add
    assert all(len(b["element"].get("initial_value", "")) <= 3000 for b in inputs)


# --- multi-workspace: OAuth installation and the allow-list ------------------------------


async def install(bot: RunningBot, team: str) -> httpx.Response:
    """A workspace admin goes through /slack/install and Slack redirects back with a code."""
    started = await bot.http.get("/slack/install")
    assert started.status_code == 302
    location = httpx.URL(started.headers["location"])
    assert location.params["client_id"] == CLIENT_ID
    state = location.params["state"]
    cookie = started.headers["set-cookie"].split(";")[0]
    bot.api.oauth_codes[f"code-{team}"] = team
    return await bot.http.get(
        "/slack/oauth_redirect",
        params={"code": f"code-{team}", "state": state},
        headers={"Cookie": cookie},
    )


async def rows(bot: RunningBot, table: str, team: str) -> int:
    column = "chat_id" if table == "conversations" else "team_id"
    if table == "people":
        column = "external_id"
    async with bot.app.engine.connect() as conn:
        result = await conn.execute(
            sa.text(f"SELECT count(*) FROM {table} WHERE {column} LIKE :team"),
            {"team": f"{team}%"},
        )
        return int(result.scalar_one())


async def test_oauth_installs_a_workspace_whose_events_then_work(
    db_url: str, slack_api: FakeSlackApi
) -> None:
    async with running_bot(db_url, slack_api, oauth=True, allowed=frozenset({"T2"})) as bot:
        page = await install(bot, "T2")
        assert page.status_code == 200
        assert "O ETP Express foi instalado no espaço de trabalho Equipe T2" in page.text
        assert await rows(bot, "slack_installations", "T2") == 1
        assert await rows(bot, "slack_bots", "T2") == 1

        t2 = bot.team("T2")
        await t2.slash("U1", CHANNEL, "novo Papel")
        await bot.settle()
        root = bot.api.roots(CHANNEL)[-1]
        await t2.say("U2", CHANNEL, IDENTIFICATION[0], root.ts)
        await bot.settle()
        assert "Identificação · Unidade requisitante" in bot.api.bodies(CHANNEL, root.ts)[-1]
        posts = bot.api.called("chat.postMessage")
        assert posts and all(c.token == "xoxb-T2" for c in posts)


async def test_a_workspace_outside_the_allow_list_is_refused_and_nothing_is_stored(
    db_url: str, slack_api: FakeSlackApi
) -> None:
    async with running_bot(db_url, slack_api, oauth=True, allowed=frozenset({"T2"})) as bot:
        page = await install(bot, "T3")
        assert page.status_code == 403
        assert "não está autorizado a usar o ETP Express" in page.text
        assert await rows(bot, "slack_installations", "T3") == 0
        assert await rows(bot, "slack_bots", "T3") == 0
        assert [c.token for c in slack_api.called("auth.revoke")] == ["xoxb-T3"]

        t3 = bot.team("T3")
        answer = await t3.slash("U1", CHANNEL, "novo Papel")
        assert answer.status_code == 200
        assert answer.json() == {
            "response_type": "ephemeral",
            "text": "Este espaço de trabalho do Slack não está autorizado a usar o ETP Express. "
            "Fale com o administrador do sistema no seu órgão. Nada foi registrado.",
        }
        await t3.say("U1", "D9", "Bom dia")
        await bot.settle()
        assert await rows(bot, "people", "T3") == 0
        assert await rows(bot, "conversations", "T3") == 0
        assert bot.api.called("chat.postMessage") == []


async def test_the_single_token_mode_refuses_other_workspaces_too(
    sqlite_url: str, slack_api: FakeSlackApi
) -> None:
    async with running_bot(sqlite_url, slack_api, allowed=frozenset({"T1"})) as bot:
        refused = await bot.team("T7").slash("U1", CHANNEL, "novo Papel")
        assert "não está autorizado" in refused.json()["text"]
        await start_etp(bot)  # T1, the token's workspace, works
        assert await rows(bot, "people", "T7") == 0


# --- Socket Mode (`etp slack`) -----------------------------------------------------------


async def test_socket_mode_receives_envelopes_acks_them_and_answers(
    sqlite_url: str, slack_api: FakeSlackApi
) -> None:
    settings = settings_for(sqlite_url)
    override(
        settings,
        slack=SlackSettings(
            slack_bot_token=SecretStr("xoxb-T1"),
            slack_app_token=SecretStr("xapp-1"),
            slack_api_url=slack_api.url,
        ),
    )
    app = await build_app(settings, drafter=OfflineDrafter(), migrate=False)
    channel = build_slack(app)
    handler = AsyncSocketModeHandler(channel.bolt, "xapp-1")
    await handler.connect_async()  # type: ignore[no-untyped-call]
    try:
        async with httpx.AsyncClient() as unused:  # payloads only: Socket Mode needs no HTTP
            workspace = Workspace(unused, slack_api)
        command = parse_qs(workspace.slash_body("U1", "D1", "novo Cadeiras"))
        ack = await slack_api.deliver(
            {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": {key: values[0] for key, values in command.items()},
            }
        )
        assert ack["envelope_id"] == "env-1"
        event = workspace.message_event("U1", "D1", IDENTIFICATION[0])
        ack = await slack_api.deliver(
            {
                "envelope_id": "env-2",
                "type": "events_api",
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "payload": {
                    "team_id": "T1",
                    "api_app_id": "A1",
                    "event": event,
                    "type": "event_callback",
                    "event_id": "EvSocket1",
                    "event_time": int(time.time()),
                },
            }
        )
        assert ack == {"envelope_id": "env-2"}
        for _ in range(3):
            await channel.drain()
            await app.queue.drain()
        bodies = slack_api.bodies("D1")
        assert "ETP nº 1 criado: Cadeiras" in bodies[0]
        assert "Identificação · Unidade requisitante" in bodies[-1]
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
        await app.close()

"""The conversation rules, through the real service and a real database."""

from __future__ import annotations

from sqlalchemy import func, select, text

from conversations.catalogue import messages as m
from conversations.drafting import OfflineDrafter
from conversations.events import Inbound
from conversations.replies import Document, DraftingStarted, Text
from storage.models import AuditEvent, RevisionRow
from tests.helpers import GOOD_ANSWERS, SKIP_JUSTIFICATIONS, Chat, make_app, make_chat


async def snapshot(chat: Chat) -> list[tuple[object, ...]]:
    """Everything stored about ETPs and conversations, to prove an input changed nothing."""
    async with chat.app.engine.connect() as conn:
        rows: list[tuple[object, ...]] = []
        for table in ("etps", "section_entries", "conversations", "revisions"):
            result = await conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))
            rows += [tuple(r) for r in result]
        return rows


async def test_new_etp_starts_with_identification_then_section_one(chat: Chat) -> None:
    replies = await chat.say("/novo Compra de papel")
    assert "ETP nº 1 criado" in chat.texts(replies)[0]
    assert "Órgão/entidade" in chat.last_text()
    for line in [
        "Ministério X",
        "Unidade Y",
        "Campinas/SP",
        "123/2026",
        "/pular",  # no DFD
        "/pular",  # the órgão does not number its ETPs
        "Papel A4",
        "Ana; Analista; 1",
        "/aceitar",
    ]:
        await chat.say(line)
    assert "Portaria" in chat.last_text()
    await chat.say("/pular")
    assert chat.last_text().startswith("Seção 1 de 13 · Descrição da necessidade")


async def test_every_section_question_starts_with_its_position(chat: Chat) -> None:
    await chat.identify()
    for number in range(1, 14):
        question = chat.last_text()
        assert question.startswith(f"Seção {number} de 13 · "), question
        await chat.answer_section(number)
    assert "concluído" in chat.last_text()


async def test_the_offline_draft_comes_in_the_answer_and_accept_moves_on(chat: Chat) -> None:
    await chat.identify()
    for answer in GOOD_ANSWERS[1][:-1]:
        await chat.say(answer)
    # straight to the service, not chat.say: that waits for the queue to empty
    replies = await chat.service.handle(
        Inbound.from_text(chat.address, chat.author, GOOD_ANSWERS[1][-1])
    )
    assert not chat.queue._tasks  # nothing was queued (a job drafter's would be running)
    chat.received.extend(replies)
    # the offline drafter needs no job: the last answer is answered with the draft itself
    assert not any(isinstance(r, DraftingStarted) for r in replies)
    draft = chat.texts(replies)[-1]
    # the answer follows its label, its first letter lower-case after the colon
    assert "Minuta:" in draft and GOOD_ANSWERS[1][0][1:] in draft
    labels = [b.label for b in replies[-1].buttons]  # type: ignore[union-attr]
    assert labels == ["Aceitar", "Editar", "Refazer"]  # no skip on a mandatory section
    await chat.press("/aceitar")
    assert chat.last_text().startswith("Seção 2 de 13")


async def test_a_job_drafter_says_drafting_then_the_draft_arrives(db_url: str) -> None:
    app = await make_app(db_url, drafter=OfflineDrafter(inline=False))
    try:
        chat = make_chat(app)
        await chat.identify()
        for answer in GOOD_ANSWERS[1][:-1]:
            await chat.say(answer)
        replies = await chat.service.handle(
            Inbound.from_text(chat.address, chat.author, GOOD_ANSWERS[1][-1])
        )
        started = [r for r in replies if isinstance(r, DraftingStarted)]
        assert (
            started
            and "Redigindo a minuta da seção 1 — Descrição da necessidade" in started[0].text
        )
        assert [t.get_name() for t in chat.queue._tasks] == [started[0].job_id]  # queued
        chat.received.extend(replies)
        await chat.queue.drain()  # the job runs, and the Notifier delivers its draft
        late = chat.received[-1]
        assert isinstance(late, Text) and "Minuta:" in late.text
        assert late.replaces == started[0].job_id  # channels put it in place of the notice
        await chat.press("/aceitar")
        assert chat.last_text().startswith("Seção 2 de 13")
    finally:
        await app.close()


async def test_mandatory_section_cannot_be_skipped_and_nothing_changes(chat: Chat) -> None:
    await chat.identify()
    before = await snapshot(chat)
    replies = await chat.say("/pular Não se aplica")
    assert "é obrigatória" in chat.texts(replies)[0]
    assert await snapshot(chat) == before


async def test_optional_skip_needs_a_justification(chat: Chat) -> None:
    await chat.identify()
    await chat.answer_section(1)
    replies = await chat.say("/pular")
    assert "escreva a justificativa" in chat.texts(replies)[0]
    await chat.say("O órgão não elaborou PCA para 2026.")
    assert chat.last_text().startswith("Seção 3 de 13")
    await chat.say("/status")
    assert (
        "2. Previsão no plano de contratações anual — pulada · por Maria Silva" in chat.last_text()
    )


async def test_skip_justification_can_be_cancelled(chat: Chat) -> None:
    await chat.identify()
    await chat.answer_section(1)
    await chat.say("/pular")
    await chat.say("/cancelar")
    assert "Operação cancelada." in chat.texts()[-2]
    assert chat.last_text().startswith("Seção 2 de 13")
    await chat.say("Consta do PCA 2026, item 45.")
    assert "Pergunta 2 de 2" in chat.last_text()


async def test_failed_check_asks_follow_up_and_insisting_records_the_gap(chat: Chat) -> None:
    await chat.identify()
    await chat.answer_section(1)
    await chat.say("/secao 4")
    await chat.say("Bastante papel.")
    await chat.say("Sempre foi assim.")
    await chat.say("Nada muda.")
    assert "Informe a quantidade com número e unidade" in chat.last_text()
    await chat.say("/aceitar")  # insists: the answer stands
    assert any("pendência: quantidade com número e unidade" in t for t in chat.texts())
    assert "Explique como chegou a essa quantidade" in chat.last_text()
    await chat.say("Pelo histórico de consumo do almoxarifado.")
    # no quantity as data in the answers: asked for (section VI multiplies it); /aceitar
    # leaves it for section VI to ask
    assert "informe a quantidade total da seção IV" in chat.last_text()
    await chat.say("/aceitar")
    draft = chat.last_text()
    assert "Minuta:" in draft
    assert (
        "Pendência a complementar antes da aprovação deste estudo: quantidade com número e "
        "unidade." in draft
    )
    await chat.say("/aceitar")
    await chat.say("/status")
    assert "pendências: quantidade com número e unidade" in chat.last_text()


async def test_follow_up_answer_that_passes_clears_the_gap(chat: Chat) -> None:
    await chat.identify()
    await chat.say("/secao 13")
    await chat.say("Acho que sim.")  # no choice: asked again, nothing recorded
    assert chat.last_text() == m.VERDICT_NOT_A_CHOICE
    await chat.press("/conclusao viavel")
    await chat.say("Sim.")
    assert "Explique as razões do posicionamento" in chat.last_text()
    await chat.say("Evita a paralisação dos processos e o descumprimento dos prazos legais.")
    assert "declara que a contratação é viável e adequada" in chat.last_text()
    assert "Pendência" not in chat.last_text()


async def test_status_lists_all_sections_with_state_and_authors(chat: Chat) -> None:
    await chat.identify()
    await chat.answer_section(1)
    status = (await chat.say("/status"))[0]
    assert isinstance(status, Text)
    lines = status.text.splitlines()
    assert sum(1 for line in lines if " — " in line and ". " in line) == 13
    assert "1. Descrição da necessidade (obrigatória) — aceita · por Maria Silva" in status.text
    assert "13. Posicionamento conclusivo (obrigatória) — não iniciada" in status.text


async def test_back_and_section_navigation(chat: Chat) -> None:
    await chat.identify()
    await chat.answer_section(1)
    await chat.say("/voltar")
    assert "Texto aceito (por Maria Silva)" in chat.last_text()
    await chat.say("/voltar")
    assert "Portaria de designação" in chat.last_text()
    await chat.say("/secao 6")
    assert chat.last_text().startswith("Seção 6 de 13 · Estimativa do valor")
    for bad in ("/secao 99", "/secao 0", "/secao abc", "/secao"):
        reply = (await chat.say(bad))[0]
        assert isinstance(reply, Text)
        assert "seção" in reply.text.lower()


async def test_bad_input_gets_a_message_and_changes_nothing(chat: Chat) -> None:
    await chat.identify()
    await chat.say(GOOD_ANSWERS[1][0])
    before = await snapshot(chat)
    cases = {
        "": "vazia",
        "   \n\t ": "vazia",
        "\x00\x07\x1b": "vazia",
        "x" * 100_000: "limite",
        "/frobnicate": "Comando desconhecido: /frobnicate",
        "/secao 99": "A seção 99 não existe",
        "/aceitar": "Não há minuta para aceitar",
        "/pular": "é obrigatória",
        "/retomar 999": "Não encontrei o ETP nº 999",
        "/exportar xls": "Não reconheci xls. Use /exportar [docx|pdf|html|md|json] [lei|in58]",
        "/editar": "Não há texto para editar",
    }
    for said, expected in cases.items():
        replies = await chat.say(said)
        assert len(replies) == 1 and isinstance(replies[0], Text), said[:20]
        assert expected in replies[0].text, (said[:20], replies[0].text)
    assert await snapshot(chat) == before


async def test_control_characters_are_stripped_from_answers(chat: Chat) -> None:
    await chat.identify()
    await chat.say(
        "Falta\x00 papel\x1b nas unidades do órgão e prejudica o atendimento ao público."
    )
    await chat.say("/status")
    async with chat.app.engine.connect() as conn:
        answers = (
            await conn.execute(text("SELECT answers FROM section_entries WHERE number = 1"))
        ).scalar_one()
    stored = answers if isinstance(answers, list) else __import__("json").loads(answers)
    assert (
        stored[0]["text"]
        == "Falta papel nas unidades do órgão e prejudica o atendimento ao público."
    )


async def test_edit_replaces_the_draft_and_is_kept_as_a_revision(chat: Chat) -> None:
    await chat.identify()
    for answer in GOOD_ANSWERS[1]:
        await chat.say(answer)
    await chat.press("/editar")
    assert "Texto atual" in chat.last_text()
    await chat.say("/editar Texto redigido pela própria equipe sobre a necessidade.")
    assert "Seção 1 atualizada com o seu texto e aceita." in chat.texts()[-2]
    async with chat.app.engine.connect() as conn:
        kinds = (await conn.execute(select(RevisionRow.kind, RevisionRow.text))).all()
    assert ("edited", "Texto redigido pela própria equipe sobre a necessidade.") in kinds


async def test_redo_gives_another_wording_and_keeps_the_accepted_text(chat: Chat) -> None:
    await chat.identify()
    await chat.answer_section(1)
    await chat.say("/secao 1")
    accepted = chat.last_text()
    await chat.say("/refazer")
    first = chat.last_text()
    await chat.say("/refazer")
    second = chat.last_text()
    assert first != second and "Minuta:" in second
    export = (await chat.say("/exportar md"))[0]
    assert isinstance(export, Document)
    body = export.content.decode()
    assert accepted.split("\n\n", 1)[1][:60] in body  # the accepted text is still the one exported


async def test_text_during_review_is_a_complement_and_redrafts(chat: Chat) -> None:
    await chat.identify()
    for answer in GOOD_ANSWERS[1]:
        await chat.say(answer)
    replies = await chat.say("Também faltam envelopes timbrados.")
    assert "Informação registrada" in chat.texts(replies)[0]
    assert "Minuta:" in chat.last_text()
    assert "Informações complementares: também faltam envelopes timbrados." in chat.last_text()


async def test_list_and_resume_several_etps(chat: Chat) -> None:
    await chat.identify("Primeiro")
    await chat.answer_section(1)
    await chat.say("/novo Segundo")
    await chat.say("/listar")
    listing = chat.last_text()
    assert "nº 1 — Primeiro" in listing and "1/13 seções" in listing and "nº 2 — Segundo" in listing
    await chat.press("/retomar 1")
    assert "Retomando o ETP nº 1 — Primeiro." in chat.texts()[-2]
    assert chat.last_text().startswith("Seção 2 de 13")
    other = make_chat(chat.app, chat_id="chat-2", user_id="u2", name="Outra Pessoa")
    replies = await other.say("/retomar 1")
    assert "Não encontrei o ETP nº 1" in other.texts(replies)[0]


async def test_cancel_detaches_and_keeps_the_etp(chat: Chat) -> None:
    await chat.identify()
    await chat.say(GOOD_ANSWERS[1][0])
    await chat.say("/cancelar")
    assert "O ETP nº 1 foi guardado" in chat.last_text()
    assert "Não há ETP em andamento" in chat.texts(await chat.say("Olá"))[0]
    await chat.say("/retomar 1")
    assert "Pergunta 2 de 3" in chat.last_text()


async def test_whole_etp_concludes_and_offers_the_export(chat: Chat) -> None:
    await chat.identify()
    for number in range(1, 14):
        if number in (2, 11):
            await chat.say(f"/pular {SKIP_JUSTIFICATIONS[number]}")
        else:
            await chat.answer_section(number)
    concluded = chat.received[-1]
    assert isinstance(concluded, Text) and "ETP nº 1 concluído" in concluded.text
    assert any(b.command == "/exportar md" for b in concluded.buttons)
    doc = (await chat.say("/exportar json"))[0]
    assert isinstance(doc, Document) and doc.media_type == "application/json"
    data = __import__("json").loads(doc.content)
    assert data["status"] == "concluido" and data["complete"] is True
    assert data["sections"][1]["status"] == "skipped"
    assert data["sections"][1]["justification"] == SKIP_JUSTIFICATIONS[2]


async def test_export_at_any_time_marks_what_is_missing(chat: Chat) -> None:
    await chat.say("/novo Incompleto")
    doc = (await chat.say("/exportar md"))[0]
    assert isinstance(doc, Document) and doc.filename == "ETP-1.md"
    body = doc.content.decode()
    assert "MINUTA — incompleta" in body
    assert "Item 1 — Descrição da necessidade: obrigatória, sem texto aceito" in body


async def test_shared_chat_attributes_each_answer(db_url: str) -> None:
    app = await make_app(db_url)
    try:
        ana = make_chat(app, chat_id="group", user_id="a", name="Ana", shared=True)
        bruno = ana.as_user("b", "Bruno")
        await ana.identify()
        await ana.say(GOOD_ANSWERS[1][0])
        await bruno.say(GOOD_ANSWERS[1][1])
        await ana.say(GOOD_ANSWERS[1][2])
        await bruno.say("/aceitar")
        await bruno.say("/status")
        assert (
            "1. Descrição da necessidade (obrigatória) — aceita · por Ana, Bruno"
            in bruno.last_text()
        )
        await bruno.say("/listar")
        assert "nº 1 — Papel A4" in bruno.last_text()
    finally:
        await app.close()


async def test_duplicate_event_takes_effect_once(chat: Chat) -> None:
    await chat.identify()
    first = await chat.say(GOOD_ANSWERS[1][0], event_id="upd-1")
    again = await chat.say(GOOD_ANSWERS[1][0], event_id="upd-1")
    assert first and again == []
    async with chat.app.engine.connect() as conn:
        answers = (
            await conn.execute(text("SELECT answers FROM section_entries WHERE number = 1"))
        ).scalar_one()
    stored = answers if isinstance(answers, list) else __import__("json").loads(answers)
    assert len(stored) == 1


async def test_every_change_is_audited(chat: Chat) -> None:
    await chat.identify()
    await chat.answer_section(1)
    async with chat.app.engine.connect() as conn:
        actions = [
            r[0] for r in (await conn.execute(select(AuditEvent.action).order_by(AuditEvent.id)))
        ]
        count = (await conn.execute(select(func.count()).select_from(RevisionRow))).scalar_one()
    assert actions[0] == "etp.created"
    assert {"ident.answered", "section.answered", "section.drafted", "section.accepted"} <= set(
        actions
    )
    assert count == 1

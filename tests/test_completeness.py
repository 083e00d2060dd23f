"""Section XIII's verdict is the team's choice, an ETP with open gaps says so, weak answers
get their follow-up, a skip needs a real justification, and the checks cost little."""

from __future__ import annotations

import dataclasses
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversations.catalogue import messages as m
from conversations.catalogue.sections import (
    ANSWER_SLICE,
    BY_NUMBER,
    CHECK_SLICE,
    SECTIONS,
    Verdict,
    check_text,
    failed_checks,
)
from conversations.export.document import build_document, document_json
from conversations.export.text_formats import render_markdown
from conversations.model import (
    ETP_CONCLUDED,
    ETP_CONCLUDED_WITH_GAPS,
    ETP_STATUSES,
    Etp,
    Mode,
    Pendencia,
)
from conversations.replies import Text
from tests.helpers import SKIP_JUSTIFICATIONS
from tests.test_flow_pure import NOW, Session


@pytest.fixture
def s() -> Session:
    return Session()


def finish(s: Session, *, upto: int = 12) -> None:
    """Identify and resolve sections 1..upto (II and XI skipped with a justification)."""
    s.identify()
    for number in range(1, upto + 1):
        if number in SKIP_JUSTIFICATIONS:
            s.send(f"/pular {SKIP_JUSTIFICATIONS[number]}")
            continue
        s.answer(number)
        s.draft()
        s.send("/aceitar")


def texts(s: Session) -> list[str]:
    return [r.text for r in s.replies if isinstance(r, Text)]


# --- 1. the verdict is asked, never inferred ----------------------------------------------


def test_the_conclusion_is_asked_with_three_buttons(s: Session) -> None:
    finish(s)
    assert s.section == 13 and s.conv.mode == Mode.ASKING
    [asked] = [r for r in s.replies[-1:] if isinstance(r, Text)]
    assert asked.text.startswith("Seção 13 de 13 · Posicionamento conclusivo")
    assert [b.label for b in asked.buttons][:3] == ["Viável", "Não viável", "Viável com ressalvas"]
    assert [b.command for b in asked.buttons][:3] == [
        "/conclusao viavel",
        "/conclusao nao_viavel",
        "/conclusao viavel_com_ressalvas",
    ]


@pytest.mark.parametrize(
    "sentence",
    [
        "Entendemos que não há viabilidade orçamentária",
        "Não sei se é viável",
        "Viável, mas os benefícios não justificam o custo",
    ],
)
def test_a_sentence_is_not_taken_for_a_verdict(s: Session, sentence: str) -> None:
    finish(s)
    outcome = s.send(sentence)
    assert s.etp is not None and s.etp.section(13).verdict is None
    assert s.etp.section(13).answers == []  # nothing was recorded
    assert outcome.replies[0].text == m.VERDICT_NOT_A_CHOICE  # type: ignore[union-attr]
    assert s.conv.mode == Mode.ASKING and outcome.drafts == []


def test_not_viable_is_a_legitimate_outcome_that_exports_as_such(s: Session) -> None:
    finish(s)
    s.send("/conclusao nao_viavel", kind="action")
    assert s.etp is not None and s.etp.section(13).verdict is Verdict.NOT_VIABLE
    assert s.conv.mode == Mode.ASKING  # the reasons come next
    s.send(
        "Não há dotação orçamentária neste exercício e o custo supera o benefício esperado "
        "para a rede municipal."
    )
    s.draft()
    draft = s.etp.section(13).draft or ""
    assert draft.endswith(m.DRAFT_VERDICT["nao_viavel"])
    assert m.DRAFT_VERDICT["viavel"] not in draft
    s.send("/aceitar")
    assert s.etp.status == ETP_CONCLUDED and s.etp.pendencias() == []
    document = build_document(s.etp, now=NOW)
    assert document.complete and document_json(document)["verdict"] == "nao_viavel"
    assert m.DRAFT_VERDICT["nao_viavel"] in render_markdown(document).decode()


def test_changing_the_verdict_redrafts_with_the_new_closing_sentence(s: Session) -> None:
    finish(s, upto=13)
    assert s.etp is not None and s.etp.section(13).verdict is Verdict.VIABLE
    s.send("/secao 13")
    outcome = s.send("/conclusao viável com ressalvas")
    assert outcome.drafts  # drafted again at once: the reasons are there
    s.draft()
    assert (s.etp.section(13).draft or "").endswith(m.DRAFT_VERDICT["viavel_com_ressalvas"])
    assert "section.verdict" in [a.action for a in outcome.audits]


def test_the_verdict_command_works_only_in_the_conclusion(s: Session) -> None:
    s.identify()
    assert s.refused("/conclusao viavel") == m.VERDICT_ELSEWHERE


def test_an_etp_accepted_before_the_choice_existed_is_asked_for_it(s: Session) -> None:
    finish(s, upto=13)
    etp = s.etp
    assert etp is not None
    etp.section(13).verdict = None  # as migration 0008 leaves an ETP concluded before it
    s.etps[etp.id or 0] = etp
    assert etp.pendencias() == [Pendencia(13, m.PENDING_VERDICT, m.PENDING_VERDICT)]
    assert etp.completion_status() == ETP_CONCLUDED_WITH_GAPS
    s.send("/secao 13")
    assert texts(s)[-1] == m.VERDICT_MISSING
    s.send("/conclusao viavel")
    s.draft()
    s.send("/aceitar")
    assert s.etp is not None and s.etp.status == ETP_CONCLUDED


# --- 3. completeness is honest ----------------------------------------------------------


def test_an_etp_with_a_gap_in_a_mandatory_section_is_concluded_with_pendencias(
    s: Session,
) -> None:
    s.identify()
    for number in range(1, 14):
        if number in SKIP_JUSTIFICATIONS:
            s.send(f"/pular {SKIP_JUSTIFICATIONS[number]}")
            continue
        if number == 4:
            for answer in ("40 notebooks.", "Quantidade estimada pela chefia.", "Não muda."):
                s.send(answer)
            assert s.conv.mode == Mode.FOLLOWUP and s.conv.check == "calculation"
            s.send("/aceitar")  # the team insists: the gap is recorded
        else:
            s.answer(number)
        s.draft()
        s.send("/aceitar")
    etp = s.etp
    assert etp is not None and etp.complete()
    assert etp.status == ETP_CONCLUDED_WITH_GAPS
    gap = "memória de cálculo da quantidade"
    assert etp.pendencias() == [Pendencia(4, gap, gap)]
    said = texts(s)[-1]
    assert said.startswith("ETP nº 1 concluído com pendências")
    assert "Seção 4 — Estimativa das quantidades: memória de cálculo da quantidade" in said
    status = s.send("/status").replies[0].text  # type: ignore[union-attr]
    assert "· concluído com pendências" in status.splitlines()[0]
    assert "memória de cálculo da quantidade" in status
    document = build_document(etp, now=NOW)
    assert not document.complete  # the MINUTA mark stays
    assert document.missing == ()  # every section is there, with a point open in IV
    assert document.pendencias == (
        m.DOC_PENDING_GAP.format(
            position=4, title="Estimativa das quantidades", gap="memória de cálculo da quantidade"
        ),
    )
    markdown = render_markdown(document).decode()
    assert m.DOC_PENDING_MARK in markdown and document.pendencias[0] in markdown
    assert document_json(document)["status"] == ETP_CONCLUDED_WITH_GAPS
    # completing the calculation makes it concluded
    s.send("/secao 4")
    s.send("/editar 40 notebooks: 1 por sala de aula, 40 salas, conforme o censo escolar.")
    assert s.etp is not None and s.etp.status == ETP_CONCLUDED
    assert "ETP nº 1 concluído:" in texts(s)[-1]


def test_the_status_list_comes_from_the_engine() -> None:
    assert ETP_STATUSES == ("em_elaboracao", "concluido", "concluido_com_pendencias")
    assert set(m.STATUS_LABELS) == set(ETP_STATUSES)


@pytest.mark.parametrize(
    ("number", "weak", "check"),
    [
        (2, ["Não sei, talvez em 2025.", "Alinha-se à educação."], "pca"),
        (8, ["Sim, em itens.", "Será global porque é mais fácil."], "reason"),
        (10, ["Não há adequações.", "Até amanhã."], "actions"),
        (12, ["Nenhum.", "Nenhum."], "mitigation"),
        (4, ["40 notebooks.", "Quantidade estimada pela chefia.", "Nada muda."], "calculation"),
    ],
)
def test_a_weak_answer_gets_a_follow_up(
    s: Session, number: int, weak: list[str], check: str
) -> None:
    s.identify()
    s.send(f"/secao {number}")
    for answer in weak:
        s.send(answer)
    assert s.conv.mode == Mode.FOLLOWUP and s.conv.check == check
    follow_up = next(c.follow_up for c in BY_NUMBER[number].checks if c.id == check)
    assert follow_up in texts(s)[-1]


def test_a_follow_up_answer_is_filed_under_the_question_it_answers(s: Session) -> None:
    s.identify()
    s.send("/secao 4")
    for answer in ("40 notebooks.", "Quantidade estimada pela chefia.", "Nada muda."):
        s.send(answer)
    s.send("Um notebook por sala de aula: 40 salas, segundo o censo escolar de 2026.")
    [ready] = s.draft()
    assert (
        "Memória de cálculo: quantidade estimada pela chefia. Um notebook por sala de aula"
        in ready.text
    )
    assert m.DRAFT_COMPLEMENT not in ready.text


@pytest.mark.parametrize("justification", ["x", "n/a", "Não se aplica.", "pular pular pular"])
def test_a_skip_needs_a_justification_with_substance(s: Session, justification: str) -> None:
    s.identify()
    s.send("/secao 2")
    refusal = s.refused(f"/pular {justification}")
    assert refusal == m.SKIP_WEAK_JUSTIFICATION.format(n=2, title=BY_NUMBER[2].title, words=5)
    s.send("/pular")
    assert s.conv.mode == Mode.JUSTIFY
    assert s.refused(justification).startswith("A justificativa para pular a seção 2")
    assert s.conv.mode == Mode.JUSTIFY  # still waiting for a real one
    s.send(SKIP_JUSTIFICATIONS[2])
    assert s.etp is not None and s.etp.section(2).justification == SKIP_JUSTIFICATIONS[2]


# --- the checks are bounded in cost ---------------------------------------------------------

_ADVERSARIAL = st.text(alphabet="0123456789.,; \t\nR$xX×-•*ãoaeém", min_size=0, max_size=12_000)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    answers=st.lists(_ADVERSARIAL, min_size=1, max_size=3),
    tail=st.text(max_size=200),
)
def test_every_check_reads_a_bounded_slice_in_linear_time(answers: list[str], tail: str) -> None:
    text = check_text(answers)
    assert len(text) <= CHECK_SLICE
    # what lies beyond an answer's slice changes no result
    padded = check_text([a.ljust(ANSWER_SLICE, " ") + tail for a in answers])
    unpadded = check_text([a.ljust(ANSWER_SLICE, " ") for a in answers])
    for spec in SECTIONS:
        assert failed_checks(spec, padded) == failed_checks(spec, unpadded)
    started = time.perf_counter()
    for spec in SECTIONS:
        failed_checks(spec, text)
    # generous: linear patterns take milliseconds; the quadratic ones took seconds here
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("pathological", ["1" * 12_000, "1." * 6_000, "\n" * 12_000, " " * 12_000])
def test_a_long_pathological_answer_is_checked_quickly(pathological: str) -> None:
    text = check_text([pathological, pathological, pathological])
    started = time.perf_counter()
    for spec in SECTIONS:
        failed_checks(spec, text)
    assert time.perf_counter() - started < 1.0


def test_etp_pendencias_of_a_fresh_etp_name_the_identification_and_every_section() -> None:
    etp = Etp(id=1, title="Papel")
    items = etp.pendencias()
    assert [i.section for i in items][:5] == [None] * 5
    assert {i.section for i in items if i.section} == set(range(1, 14))
    assert Pendencia(1, m.PENDING_MANDATORY) in items and Pendencia(2, m.PENDING_OPTIONAL) in items


def test_the_llm_is_told_the_teams_choice_and_never_to_infer_one() -> None:
    from conversations.catalogue import prompts as p
    from conversations.ports import DraftContext
    from conversations.prompting import render

    context = DraftContext(
        section=13,
        attempt=1,
        objeto="Notebooks",
        processo="1",
        orgao="Prefeitura",
        answers=(("", "Não há dotação neste exercício."),),
        earlier=(),
        gaps=(),
        verdict="nao_viavel",
    )
    assert p.REQUEST_VERDICT.format(sentence=m.DRAFT_VERDICT["nao_viavel"]) in render(context)
    undecided = render(dataclasses.replace(context, verdict=""))
    assert p.REQUEST_NO_VERDICT in undecided and m.DRAFT_VERDICT["viavel"] not in undecided

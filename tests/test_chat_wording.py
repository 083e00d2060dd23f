"""The chat as an official reads it: the team line, one numbering, /novo, /secao during the
identification, what the law asks (/lei), and Slack's word for a thread."""

from __future__ import annotations

import pytest

from conversations.catalogue import messages as m
from conversations.catalogue.sections import BY_NUMBER
from conversations.commands import BY_WORD, help_text
from conversations.flow.identification import parse_team
from conversations.flow.text import InputError
from conversations.model import Step, TeamMember
from conversations.replies import Text
from tests.helpers import IDENTIFICATION
from tests.test_flow_pure import Session


@pytest.fixture
def s() -> Session:
    return Session()


def to_team(s: Session) -> None:
    s.send("/novo Notebooks para as escolas")
    for line in IDENTIFICATION:
        if s.conv.field == "equipe":
            break
        s.send(line)
    assert s.conv.field == "equipe"


def team(s: Session) -> list[TeamMember]:
    assert s.etp is not None
    return s.etp.identification.equipe


TWO = "Maria Souza – Analista (mat. 1.234-5); João Lima – Técnico (mat. 6.789-0)"


def test_a_team_line_with_two_members_keeps_both(s: Session) -> None:
    to_team(s)
    s.send(TWO)
    assert team(s) == [
        TeamMember("Maria Souza", "Analista", "1.234-5"),
        TeamMember("João Lima", "Técnico", "6.789-0"),
    ]
    assert "Maria Souza, João Lima" in s.last_text()


def test_members_one_per_line_in_any_of_the_formats() -> None:
    assert parse_team(
        "Maria Souza – Analista (mat. 1.234-5)\nJoão Lima, Técnico, 6.789-0\n"
        "Ana Reis; Assessora; matrícula 42"
    ) == [
        TeamMember("Maria Souza", "Analista", "1.234-5"),
        TeamMember("João Lima", "Técnico", "6.789-0"),
        TeamMember("Ana Reis", "Assessora", "42"),
    ]


@pytest.mark.parametrize(
    "line",
    [
        "Maria Souza – Analista (mat. 1.234-5); João Lima",
        "Maria Souza – Analista (mat. 1.234-5) e João Lima – Técnico (mat. 6.789-0)",
    ],
)
def test_a_member_it_cannot_read_is_refused_never_dropped(s: Session, line: str) -> None:
    to_team(s)
    refusal = s.refused(line)
    assert refusal.startswith(f'Não consegui ler "{line}"') and "Nada foi registrado" in refusal


def test_the_same_member_twice_is_refused_with_a_clear_message(s: Session) -> None:
    to_team(s)
    s.send(TWO)
    refusal = s.refused("João Lima – Técnico (mat. 6.789-0)")
    assert refusal == m.IDENT_TEAM_DUPLICATE.format(name="João Lima", matricula="6.789-0")
    assert len(team(s)) == 2
    with pytest.raises(InputError, match="Ana"):
        parse_team("Ana; Analista; 1\nAna Maria; Analista; 1")  # the same matrícula


def test_one_numbering_for_the_sections_in_every_message(s: Session) -> None:
    s.identify()
    assert s.last_text().startswith("Seção 1 de 13 · Descrição da necessidade")
    s.answer(1)
    s.draft()
    s.send("/aceitar")
    said = [r.text for r in s.replies if isinstance(r, Text)]
    assert m.ACCEPTED.format(n=1) in said and "Seção 1 aceita." in said
    assert s.last_text().startswith("Seção 2 de 13 · Previsão no plano de contratações anual")
    s.send("/pular O órgão ainda não elaborou o plano de contratações anual deste exercício.")
    assert "Seção 2 pulada com a justificativa registrada." in [
        r.text for r in s.replies if isinstance(r, Text)
    ]
    status = s.send("/status").replies[0].text  # type: ignore[union-attr]
    assert "✅ 1. Descrição da necessidade (obrigatória) — aceita" in status
    assert "✅ 2. Previsão no plano de contratações anual — pulada" in status
    # no roman numeral for a section anywhere in the chat's own words
    for text in (m.ACCEPTED, m.KEPT, m.EDITED, m.SKIPPED, m.DRAFTING, m.BTN_GOTO, m.STATUS_LINE):
        assert "{roman}" not in text


def test_new_without_a_title_asks_for_it_and_creates_nothing(s: Session) -> None:
    outcome = s.send("/novo")
    [asked] = outcome.replies
    assert isinstance(asked, Text) and asked.text == m.NEW_ASK_TITLE
    assert asked.request is not None and asked.request.command == "/novo"
    assert s.etp is None and s.etps == {}
    s.send("/novo Notebooks para as escolas")
    listing = s.send("/listar").replies[0].text  # type: ignore[union-attr]
    assert "nº 1 — Notebooks para as escolas · em elaboração" in listing
    assert "(sem título)" not in listing


def test_section_jump_during_the_identification_says_to_finish_it(s: Session) -> None:
    s.send("/novo Papel")
    s.send(IDENTIFICATION[0])
    refusal = s.refused("/secao 4")
    assert refusal == m.SECTION_IN_IDENT.format(label="Unidade requisitante")
    assert s.conv.step == Step.IDENT and s.conv.field == "unidade"


def test_law_shows_what_art_18_asks_of_a_section(s: Session) -> None:
    law = s.send("/lei 4").replies[0].text  # type: ignore[union-attr]
    assert law.startswith("Seção 4 de 13 · Estimativa das quantidades")
    assert "Art. 18, §1º, inciso IV, da Lei nº 14.133/2021" in law
    assert BY_NUMBER[4].statute in law and m.LAW_MANDATORY in law
    s.identify()
    s.send("/secao 2")
    question = s.replies[-1]
    assert isinstance(question, Text)
    assert ("O que a lei exige", "/lei 2") in [(b.label, b.command) for b in question.buttons]
    law = s.send("/lei").replies[0].text  # type: ignore[union-attr]
    assert BY_NUMBER[2].statute in law and m.LAW_OPTIONAL in law
    assert s.refused("/lei 14") == m.LAW_USAGE
    assert BY_WORD["lei"].name == "law" and "/lei [1-13]" in help_text("md")


def test_slack_strings_call_a_thread_a_conversa() -> None:
    for text in (m.SLACK_THREAD_ROOT, m.SLACK_USE_THREAD):
        assert "thread" not in text and "conversa" in text

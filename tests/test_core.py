"""The pure core: no platform import, a sound catalogue, a drafter that invents no number."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from conversations.catalogue.sections import (
    IN58_ORDER,
    MANDATORY,
    SECTIONS,
    Verdict,
    failed_checks,
    verdict_choice,
)
from conversations.commands import help_text
from conversations.drafting import OfflineDrafter
from conversations.events import command_addressee, parse_command
from conversations.ports import DraftContext

CORE = Path(__file__).resolve().parents[1] / "conversations"
FORBIDDEN = {
    "aiogram",
    "slack_bolt",
    "slack_sdk",
    "fastapi",
    "starlette",
    "sqlalchemy",
    "redis",
    "arq",
    "openai",
    "langchain_core",
    "langchain_openai",
    "storage",
    "bot",
    "api",
    "etp",
    "asyncpg",
    "aiosqlite",
    "httpx",
    "aiohttp",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(CORE)))
def test_core_imports_no_platform_or_infrastructure(path: Path) -> None:
    assert not (_imports(path) & FORBIDDEN)


def test_catalogue_follows_the_statute() -> None:
    assert [s.number for s in SECTIONS] == list(range(1, 14))
    assert {s.number for s in SECTIONS if s.mandatory} == MANDATORY == {1, 4, 6, 8, 13}
    assert SECTIONS[3].title == "Estimativa das quantidades"
    assert SECTIONS[12].title == "Posicionamento conclusivo"
    assert SECTIONS[10].title == "Contratações correlatas e/ou interdependentes"
    assert sorted(s.in58 for s in SECTIONS) == list(range(1, 14))
    assert IN58_ORDER[:5] == (1, 3, 5, 7, 4)
    for spec in SECTIONS:
        if spec.prices:
            # the price research is a table with its own rules (conversations.pricing)
            assert len(spec.questions) == 1 and not spec.checks
            continue
        assert 2 <= len(spec.questions) <= 4
        assert spec.checks
    for spec in SECTIONS:
        # a drafter reads the answers of earlier sections only (they are asked first)
        assert all(0 < n < spec.number for n in spec.depends_on), spec.number
    assert [s.number for s in SECTIONS if s.reads_skips] == [13]
    assert [s.number for s in SECTIONS if s.prices] == [6]
    assert [s.number for s in SECTIONS if s.quantity] == [4]


@pytest.mark.parametrize(
    ("number", "answer", "failing"),
    [
        (4, "Muitas resmas.", {"quantity", "calculation"}),
        (4, "1200 resmas, pela média do consumo histórico.", set()),
        # a quantity with an authority behind it is no calculation
        (4, "40 notebooks. Quantidade estimada pela chefia.", {"calculation"}),
        (4, "40 notebooks: 1 por sala, 40 salas de aula.", set()),
        (13, "Porque sim.", {"reasons"}),
        (
            13,
            "Os benefícios justificam o custo: sem os notebooks, 1.200 alunos ficam sem aulas.",
            set(),
        ),
        (8, "Vamos comprar.", {"decision", "reason"}),
        (8, "Por item, porque amplia a competição.", set()),
        (8, "Será global porque é mais fácil.", {"reason"}),
        (8, "Global, porque dividir perderia a economia de escala.", set()),
        (2, "Não sei, talvez em 2025.", {"pca"}),
        (2, "Consta do PCA 2026, item 45.", set()),
        (2, "Não consta.", {"pca"}),
        (2, "Não consta, pois o município ainda não elaborou o plano deste exercício.", set()),
        (10, "Até amanhã.", {"actions"}),
        (10, "Capacitação do fiscal pela Coordenação de Logística até março de 2027.", set()),
        (10, "Não há providências, pois a rede e o espaço já atendem.", set()),
        (12, "Nenhum.", {"mitigation"}),
        (12, "Nenhum impacto relevante, pois o serviço não gera resíduos.", set()),
        (12, "Descarte por logística reversa do fabricante.", set()),
    ],
)
def test_checks_catch_what_the_domain_requires(number: int, answer: str, failing: set[str]) -> None:
    assert {c.id for c in failed_checks(SECTIONS[number - 1], answer)} == failing


@pytest.mark.parametrize(
    ("typed", "choice"),
    [
        ("viável", Verdict.VIABLE),
        ("Viável.", Verdict.VIABLE),
        ("Não viável", Verdict.NOT_VIABLE),
        ("nao_viavel", Verdict.NOT_VIABLE),
        ("inviável", Verdict.NOT_VIABLE),
        ("Viável com ressalvas", Verdict.VIABLE_WITH_RESERVATIONS),
        # sentences are never read for a verdict (each was once read as "viável")
        ("Entendemos que não há viabilidade orçamentária", None),
        ("Não sei se é viável", None),
        ("Viável, mas os benefícios não justificam o custo", None),
        ("A contratação é viável.", None),
    ],
)
def test_a_verdict_is_a_choice_never_read_out_of_a_sentence(
    typed: str, choice: Verdict | None
) -> None:
    assert verdict_choice(typed) == choice


def _numbers(text: str) -> set[str]:
    return set(re.findall(r"\d+", text))


def _context(section: int, answers: tuple[tuple[str, str], ...], **extra: object) -> DraftContext:
    values: dict[str, object] = {
        "section": section,
        "attempt": 1,
        "objeto": "Aquisição de papel",
        "processo": "Processo Administrativo SEI nº 23000.9/2026",
        "orgao": "Órgão",
        "answers": answers,
        "earlier": ((1, "Texto aceito."),),
        "gaps": (),
    }
    values.update(extra)
    return DraftContext(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", SECTIONS, ids=lambda s: s.roman)
def test_offline_drafter_is_deterministic_and_invents_no_number(spec: object) -> None:
    section = SECTIONS.index(spec) + 1  # type: ignore[arg-type]
    answers = tuple(
        (q.text, f"Resposta {i} com 37 itens e R$ 1.250,00.")
        for i, q in enumerate(SECTIONS[section - 1].questions)
    )
    context = _context(section, answers, gaps=("algo",), verdict="viavel")
    drafter = OfflineDrafter()
    text = drafter.compose(context)
    assert text == drafter.compose(context)
    assert drafter.compose(dataclasses.replace(context, attempt=2)) != text
    assert _numbers(text) <= _numbers(" ".join(a for _, a in answers))


# The sentences the offline drafter writes of its own, per section: the opening names the
# element with its article, and its verb agrees in number ("Apresentam-se … os requisitos").
OPENINGS = {
    1: "Apresenta-se, a seguir, a descrição da necessidade da contratação",
    2: "Apresenta-se, a seguir, a demonstração da previsão da contratação no plano de "
    "contratações anual",
    3: "Apresentam-se, a seguir, os requisitos da contratação",
    4: "Apresentam-se, a seguir, as estimativas das quantidades para a contratação",
    5: "Apresenta-se, a seguir, o levantamento de mercado",
    6: "Apresenta-se, a seguir, a estimativa do valor da contratação",
    7: "Apresenta-se, a seguir, a descrição da solução como um todo",
    8: "Apresentam-se, a seguir, as justificativas para o parcelamento ou não da contratação",
    9: "Apresenta-se, a seguir, o demonstrativo dos resultados pretendidos",
    10: "Apresentam-se, a seguir, as providências prévias à celebração do contrato",
    11: "Apresentam-se, a seguir, as contratações correlatas e/ou interdependentes",
    12: "Apresenta-se, a seguir, a descrição dos possíveis impactos ambientais e das "
    "respectivas medidas mitigadoras",
    13: "Apresenta-se, a seguir, o posicionamento conclusivo sobre a adequação da contratação",
}
ALT_VERB = {
    "Apresenta-se, a seguir,": "Registra-se nesta seção",
    "Apresentam-se, a seguir,": "Registram-se nesta seção",
}


@pytest.mark.parametrize("spec", SECTIONS, ids=lambda s: s.roman)
def test_the_drafters_own_sentences_agree_and_no_lead_is_doubled(spec: object) -> None:
    from tests.helpers import GOOD_ANSWERS

    number = SECTIONS.index(spec) + 1  # type: ignore[arg-type]
    questions = SECTIONS[number - 1].questions
    given = GOOD_ANSWERS[number]
    # the answers as a person types them: each one starting with its own lead's words once
    answers = tuple((q.text, a) for q, a in zip(questions, given, strict=False))
    doubled = ((questions[-1].text, f"{questions[-1].lead}: repetido pelo usuário."),)
    context = _context(number, answers + doubled, verdict="viavel")
    text = OfflineDrafter().compose(context)
    paragraphs = text.split("\n\n")
    assert paragraphs[0] == (
        f"{OPENINGS[number]}, com base nas informações prestadas pela equipe de planejamento."
    )
    alt = OfflineDrafter().compose(dataclasses.replace(context, attempt=2)).split("\n\n")[0]
    for present, record in ALT_VERB.items():
        if OPENINGS[number].startswith(present):
            assert alt.startswith(OPENINGS[number].replace(present, record))
    # said once in the document, not in every section
    assert "art. 18" not in text and "papel" not in text.split("\n\n")[0]
    assert "23000" not in text and "contratação de aquisição" not in text
    for question in questions:
        label = question.lead
        assert text.count(f"{label}: {label}") == 0
        assert text.lower().count(label.lower() + ":") <= 1
    # no capital letter after a colon the drafter wrote, unless a name or acronym follows
    for paragraph in paragraphs[1:]:
        label, _, rest = paragraph.partition(": ")
        if rest and label in {q.lead for q in questions}:
            first = rest.split()[0]
            assert not (first[0].isupper() and first[1:].islower() and len(first) > 3) or (
                first in {"Painel", "Maria", "Coordenação"}
            ), paragraph
    assert "(a)" not in text and "seção I" not in text


def test_a_lead_is_not_doubled_when_the_answer_starts_with_it() -> None:
    spec = SECTIONS[6]  # VII: the label "Composição da solução"
    answer = "Composição da solução: 40 notebooks com mochila e garantia de 36 meses."
    text = OfflineDrafter().compose(_context(7, ((spec.questions[0].text, answer),)))
    assert answer in text
    assert "Composição da solução: Composição" not in text
    assert "Composição da solução: composição" not in text


def test_answers_land_under_their_own_question_whatever_the_order() -> None:
    spec = SECTIONS[3]
    answers = (
        (spec.questions[2].text, "A expansão da rede pode aumentar a demanda."),
        (spec.questions[0].text, "40 notebooks."),
        (spec.questions[1].text, "Um por sala de aula, 40 salas."),
        ("", "A demanda foi validada pela Secretaria de Educação."),
    )
    paragraphs = OfflineDrafter().compose(_context(4, answers)).split("\n\n")
    assert paragraphs[1:] == [
        "Quantidade estimada: 40 notebooks.",
        "Memória de cálculo: um por sala de aula, 40 salas.",
        "Fatores que podem alterar a demanda: a expansão da rede pode aumentar a demanda.",
        "Informações complementares: a demanda foi validada pela Secretaria de Educação.",
    ]


@pytest.mark.parametrize(
    ("choice", "closing"),
    [
        ("viavel", "declara que a contratação é viável e adequada ao atendimento"),
        ("nao_viavel", "declara que a contratação não é viável para o atendimento"),
        ("viavel_com_ressalvas", "declara que a contratação é viável, com as ressalvas"),
    ],
)
def test_the_conclusion_states_the_teams_choice_whatever_the_reasons_say(
    choice: str, closing: str
) -> None:
    spec = SECTIONS[12]
    reasons = ((spec.questions[1].text, "Entendemos que não há viabilidade orçamentária."),)
    text = OfflineDrafter().compose(_context(13, reasons, verdict=choice))
    last = text.split("\n\n")[-1]
    assert last.startswith("Diante do exposto, a equipe de planejamento " + closing)
    assert text.count("Diante do exposto") == 1


def test_a_draft_names_its_gaps_plainly() -> None:
    spec = SECTIONS[3]
    context = _context(
        4,
        ((spec.questions[0].text, "40 notebooks."),),
        gaps=("memória de cálculo da quantidade",),
    )
    assert (
        OfflineDrafter()
        .compose(context)
        .endswith(
            "Pendência a complementar antes da aprovação deste estudo: memória de cálculo da "
            "quantidade."
        )
    )


def test_commands_have_english_aliases() -> None:
    pairs = {
        "novo": "new",
        "listar": "list",
        "retomar": "resume",
        "secao": "section",
        "voltar": "back",
        "pular": "skip",
        "aceitar": "accept",
        "refazer": "redo",
        "editar": "edit",
        "exportar": "export",
        "cancelar": "cancel",
        "ajuda": "help",
    }
    for pt, en in pairs.items():
        assert parse_command(f"/{pt} x") == parse_command(f"/{en} x") == (en, "x")
    assert parse_command("/status@EtpBot") == ("status", "")
    assert command_addressee("/status@EtpBot") == "EtpBot"
    assert command_addressee("/status agora") is None
    # the argument on the next lines, as typed on a phone: "/editar", Enter, the new text
    assert parse_command("/editar\nNovo texto.\n\nSegundo parágrafo.") == (
        "edit",
        "Novo texto.\n\nSegundo parágrafo.",
    )
    assert parse_command("sem barra") is None


def test_help_lists_every_command() -> None:
    text = help_text("md|json")
    for word in (
        "/novo",
        "/listar",
        "/retomar",
        "/status",
        "/secao",
        "/voltar",
        "/pular",
        "/aceitar",
        "/refazer",
        "/editar",
        "/exportar",
        "/cancelar",
        "/ajuda",
    ):
        assert word in text

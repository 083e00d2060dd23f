"""The pure core: no platform import, a sound catalogue, a drafter that invents no number."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from conversations.catalogue.sections import IN58_ORDER, MANDATORY, SECTIONS, failed_checks, verdict
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
        assert 2 <= len(spec.questions) <= 4
        assert spec.checks


@pytest.mark.parametrize(
    ("number", "answer", "failing"),
    [
        (4, "Muitas resmas.", {"quantity", "calculation"}),
        (4, "1200 resmas, pela média do consumo histórico.", set()),
        (6, "Pesquisamos alguns preços.", {"money", "method", "three_prices"}),
        (6, "R$ 10,00; R$ 11,00; R$ 12,00, pela mediana.", set()),
        (13, "Talvez.", {"verdict"}),
        (13, "Não é viável no momento.", set()),
        (8, "Vamos comprar.", {"decision", "reason"}),
        (8, "Por item, porque amplia a competição.", set()),
    ],
)
def test_checks_catch_what_the_domain_requires(number: int, answer: str, failing: set[str]) -> None:
    assert {c.id for c in failed_checks(SECTIONS[number - 1], answer)} == failing


def test_verdict_reads_negatives_first() -> None:
    assert verdict("A contratação é viável.") is True
    assert verdict("A contratação não é viável.") is False
    assert verdict("Inviável pelo custo.") is False
    assert verdict("Depende.") is None


def _numbers(text: str) -> set[str]:
    return set(re.findall(r"\d+", text))


@pytest.mark.parametrize("spec", SECTIONS, ids=lambda s: s.roman)
def test_offline_drafter_is_deterministic_and_invents_no_number(spec: object) -> None:
    section = SECTIONS.index(spec) + 1  # type: ignore[arg-type]
    answers = tuple(
        (q.text, f"Resposta {i} com 37 itens e R$ 1.250,00.")
        for i, q in enumerate(SECTIONS[section - 1].questions)
    )
    context = DraftContext(
        section=section,
        attempt=1,
        objeto="Aquisição de papel",
        processo="23000.9/2026",
        orgao="Órgão",
        answers=answers,
        earlier=((1, "Texto aceito."),),
        gaps=("algo",),
    )
    drafter = OfflineDrafter()
    text = drafter.compose(context)
    assert text == drafter.compose(context)
    assert drafter.compose(dataclasses.replace(context, attempt=2)) != text
    legal = f"art. 18, §1º, inciso {SECTIONS[section - 1].roman}, da Lei nº 14.133/2021"
    assert legal in text
    allowed = (
        _numbers(" ".join(a for _, a in answers))
        | _numbers(context.processo)
        | {"18", "1", "14", "133", "2021"}
    )
    assert _numbers(text.replace(legal, "")) <= allowed


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

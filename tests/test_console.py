"""The console channel as a user runs it: `etp chat` with piped input, in a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conversations.catalogue import messages as m
from conversations.catalogue.sections import SECTIONS
from tests.helpers import GOOD_ANSWERS, IDENTIFICATION

ETP = Path(sys.executable).with_name("etp")


def run_chat(folder: Path, lines: list[str], user: str = "maria") -> str:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'etp.db'}",
        "LLM_PROVIDER": "offline",
    }
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [str(ETP), "chat", "--user", user],
        input="\n".join(lines) + "\n",
        text=True,
        capture_output=True,
        cwd=folder,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def whole_etp_lines() -> list[str]:
    lines = ["/novo Aquisição de papel A4", *IDENTIFICATION]
    for number in range(1, 14):
        if number == 11:
            lines.append("/pular Não há contratações correlatas nem interdependentes.")
            continue
        lines += GOOD_ANSWERS[number]
        lines.append(
            "2" if number == 3 else "1"
        )  # choices typed as numbers: [1] Aceitar [2] Editar
        if number == 3:
            lines.append(
                "/editar Requisitos definidos pela equipe: papel A4 75 g/m², certificação FSC."
            )
    lines.append("/exportar md")
    return lines


def test_whole_etp_through_piped_console_ends_in_markdown(tmp_path: Path) -> None:
    output = run_chat(tmp_path, whole_etp_lines())
    assert "ETP nº 1 concluído" in output
    exported = tmp_path / "ETP-1.md"
    assert exported.exists(), output[-2000:]
    assert str(exported) in output
    body = exported.read_text(encoding="utf-8")
    assert "MINUTA" not in body
    assert "**Processo:** nº 23000.001234/2026-11" in body
    positions = []
    for spec in SECTIONS:
        heading = f"## {spec.number}. {spec.title}"
        assert heading in body
        positions.append(body.index(heading))
        assert f"*Art. 18, §1º, inciso {spec.roman}, da Lei nº 14.133/2021*" in body
    assert positions == sorted(positions)  # law order
    section = lambda n: body[positions[n - 1] : positions[n] if n < 13 else len(body)]  # noqa: E731
    for number, answers in GOOD_ANSWERS.items():
        if number in (3, 6, 11):
            continue
        for answer in answers[1:] if number == 13 else answers:  # XIII's first: the choice
            # after its label, the answer's first letter is lower case
            assert answer.rstrip(".")[1:] in section(number), (number, answer)
    assert m.DRAFT_VERDICT["viavel"] in section(13)
    # section VI: the research's figures, computed (1.200 resmas x the mean R$ 25,20)
    assert "= valor total estimado de R$ 30.240,00" in section(6)
    assert "Requisitos definidos pela equipe: papel A4 75 g/m², certificação FSC." in section(3)
    assert "Não há contratações correlatas nem interdependentes." in section(11)
    assert "com a justificativa a seguir (art. 18, §2º" in section(11)
    assert "**Maria Silva**" in body and "Analista Administrativa · Matrícula 1234567" in body
    assert "Ato de designação da equipe de planejamento: Portaria nº 10/2026." in body
    assert "Local e data: Brasília/DF, " in body


def test_quitting_and_starting_again_resumes_where_the_user_was(tmp_path: Path) -> None:
    first = ["/novo Papel", *IDENTIFICATION, GOOD_ANSWERS[1][0], GOOD_ANSWERS[1][1]]
    run_chat(tmp_path, first)
    output = run_chat(tmp_path, ["/status"])
    assert "Retomando o ETP nº 1 — Papel." in output
    assert "Seção 1 de 13 · Descrição da necessidade (obrigatória)\nPergunta 3 de 3" in output
    output = run_chat(tmp_path, [GOOD_ANSWERS[1][2], "/aceitar"])
    assert GOOD_ANSWERS[1][0][1:] in output  # the answers of the first process are in the draft
    assert "Seção 1 aceita." in output


def test_numbered_choices_are_not_taken_from_answers(tmp_path: Path) -> None:
    # "1" answers a question when the bot expects text; it only picks a choice after buttons
    output = run_chat(tmp_path, ["/novo Papel", "1"])
    assert "Identificação · Unidade requisitante" in output

"""IN SEGES/ME nº 58/2022, art. 9º: the same 13 elements as the law's art. 18, §1º, in the order
and words of the federal Sistema ETP Digital, and the ones its §1º makes mandatory.

Keyed by the law's number of each section (`SectionSpec.number`); `SectionSpec.in58` is the
position of the same element in the IN.
"""

from __future__ import annotations

from conversations.catalogue.sections import SECTIONS

# Each element's name in the IN (the headings of a document in its order).
IN58_TITLES: dict[int, str] = {
    1: "Descrição da necessidade da contratação",
    2: "Alinhamento entre a contratação e o planejamento",
    3: "Descrição dos requisitos da contratação",
    4: "Estimativa das quantidades a serem contratadas",
    5: "Levantamento de mercado",
    6: "Estimativa do valor da contratação",
    7: "Descrição da solução como um todo",
    8: "Justificativa para o parcelamento ou não da solução",
    9: "Resultados pretendidos",
    10: "Providências a serem adotadas",
    11: "Contratações correlatas e/ou interdependentes",
    12: "Possíveis impactos ambientais",
    13: "Posicionamento conclusivo sobre a viabilidade e razoabilidade da contratação",
}

# Art. 9º, §1º: the ETP contains at least the elements of the IN's incisos I, IV, V, VI, VII and
# XIII (its own numbering), and justifies the others it leaves out: the law's five (art. 18,
# §2º) plus the description of the solution as a whole (the law's VII). Source: the IN as
# recalled in the project's domain notes (domain/etp-sections.md); its text could not be
# retrieved to check this paragraph when it was encoded.
IN58_MANDATORY_INCISOS: tuple[int, ...] = (1, 4, 5, 6, 7, 13)
IN58_MANDATORY: frozenset[int] = frozenset(
    s.number for s in SECTIONS if s.in58 in IN58_MANDATORY_INCISOS
)

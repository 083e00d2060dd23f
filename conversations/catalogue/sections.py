"""The 13 sections of Lei 14.133/2021, art. 18, §1º, as data (pt-BR user-facing text).

Numbering and titles follow the statute; `in58` is the position of the same element in
IN SEGES/ME nº 58/2022, art. 9. `checks` are the minimum a good answer has; a failed check
asks its follow-up question once, and if the user insists the gap is recorded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

LAW = "Lei nº 14.133/2021"
ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII")


@dataclass(frozen=True, slots=True)
class Question:
    """One guiding question and the phrase that introduces its answer in a draft."""

    text: str
    lead: str
    lead_alt: str


# A check reads at most the last CHECK_WINDOW characters of a section's answers (the latest
# answer, a follow-up's reply, comes last): its time is bounded whatever was stored.
CHECK_WINDOW = 24_000


@dataclass(frozen=True, slots=True)
class Check:
    """A minimum an answer must show; `gap` names what is missing in the document."""

    id: str
    test: Callable[[str], bool]
    follow_up: str
    gap: str

    def __post_init__(self) -> None:
        test = self.test
        object.__setattr__(self, "test", lambda text: test(text[-CHECK_WINDOW:]))


@dataclass(frozen=True, slots=True, kw_only=True)
class SectionSpec:
    """One element of art. 18, §1º. `mandatory`: art. 18, §2º requires it (it cannot be
    skipped); this flag is the only source of that rule (MANDATORY is derived from it).

    What a draft of it says besides the answers: `verdict`, the team's explicit conclusion on
    viability (the concluding section); `cites_earlier`, a reference to the earlier sections
    that are `cited` as context (the need, the quantities, the market and the estimated value).
    """

    number: int
    in58: int
    title: str
    statute: str
    mandatory: bool
    questions: tuple[Question, ...]
    checks: tuple[Check, ...]
    verdict: bool = False
    cites_earlier: bool = False
    cited: bool = False

    @property
    def roman(self) -> str:
        return ROMAN[self.number - 1]

    @property
    def legal_ref(self) -> str:
        return f"art. 18, §1º, inciso {self.roman}, da {LAW}"


# --- check helpers -----------------------------------------------------------------------

# Every pattern here is linear in the text: possessive quantifiers (Python 3.11) give nothing
# back, and a number is matched only from its first digit. "\d+(?:[.,]\d+)*" tried again from
# each digit of a 12,000-digit answer took 7 s (issue 17).
_NUMBER = r"(?<![\d.,])\d++(?:[.,]\d++)*+"
_MONEY = re.compile(r"R\$\s*+" + _NUMBER)


def _words(text: str) -> int:
    return len(re.findall(r"\w+", text))


def min_words(n: int) -> Callable[[str], bool]:
    return lambda text: _words(text) >= n


def has_any(*patterns: str) -> Callable[[str], bool]:
    compiled = [re.compile(p, re.IGNORECASE) for p in patterns]
    return lambda text: any(p.search(text) for p in compiled)


def _quantity_with_unit(text: str) -> bool:
    # a number followed by a word that is not a year-ish connective: "120 resmas", "3.500 litros"
    return bool(re.search(_NUMBER + r"\s*+(?!de\b|e\b|a\b|o\b|em\b)[A-Za-zÀ-ÿ²³]", text))


def _three_prices(text: str) -> bool:
    if len(_MONEY.findall(text)) >= 3:
        return True
    return bool(
        re.search(
            r"\b(3|três|tres|[4-9]|quatro|cinco|seis)\s+(cota[çc][õo]es|pre[çc]os|or[çc]amentos|fontes)",
            text,
            re.I,
        )
    )


def _alternatives(text: str) -> bool:
    kinds = (
        r"compra|aquisi[çc][ãa]o",
        r"loca[çc][ãa]o|alug",
        r"presta[çc][ãa]o de servi[çc]o|servi[çc]o|outsourcing|terceiriza",
        r"ata de registro|ades[ãa]o",
        r"comodato",
        r"desenvolvimento|produ[çc][ãa]o pr[óo]pria",
        r"leasing|assinatura|nuvem",
    )
    found = sum(1 for k in kinds if re.search(k, text, re.I))
    # an item starts a line: its indentation is spaces or tabs (\s* ran over every blank line
    # after each line break)
    enumerated = len(re.findall(r"(?:^|\n)[ \t]*+(?:\d++[).]|[-•*])\s", text)) >= 2
    return found >= 2 or enumerated or bool(re.search(r"alternativas?", text, re.I) and found >= 1)


_REASON = r"porque|pois|uma vez que|em raz[ãa]o|visto que|tendo em vista|dado que|j[áa] que|devido|por (?:ser|causa|se tratar)|a fim de|para (?:evitar|garantir|ampliar|manter|preservar)"
_NONE = r"n[ãa]o h[áa]|n[ãa]o se aplica|inexist|nenhum|n[ãa]o (?:consta|existe|possui|depende)"

SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec(
        number=1,
        in58=1,
        title="Descrição da necessidade",
        statute="descrição da necessidade da contratação, considerado o problema a ser resolvido sob a "
        "perspectiva do interesse público",
        mandatory=True,
        questions=(
            Question(
                "Que problema existe hoje?",
                "Quanto ao problema a ser resolvido, registra-se:",
                "No que se refere à situação atual, verifica-se:",
            ),
            Question("Quem é afetado por esse problema?", "São afetados:", "O problema atinge:"),
            Question(
                "O que acontece se nada for contratado?",
                "Caso a contratação não se realize:",
                "Na hipótese de não contratação:",
            ),
        ),
        checks=(
            Check(
                "detail",
                min_words(12),
                "Descreva o problema com um pouco mais de detalhe: o que falta hoje, quem é "
                "afetado e qual o impacto para o serviço público?",
                "descrição mais detalhada do problema, de quem é afetado e do impacto",
            ),
        ),
        cited=True,
    ),
    SectionSpec(
        number=2,
        in58=9,
        title="Previsão no plano de contratações anual",
        statute="demonstração da previsão da contratação no plano de contratações anual, sempre que "
        "elaborado, de modo a indicar o seu alinhamento com o planejamento da Administração",
        mandatory=False,
        questions=(
            Question(
                "A contratação consta do Plano de Contratações Anual (PCA)? De que ano e em "
                "qual item?",
                "Quanto à previsão no Plano de Contratações Anual:",
                "Relativamente ao Plano de Contratações Anual:",
            ),
            Question(
                "Com que objetivo estratégico ela se alinha? Se não consta do PCA, por quê?",
                "Quanto ao alinhamento com o planejamento:",
                "No tocante ao planejamento do órgão:",
            ),
        ),
        checks=(
            Check(
                "pca",
                has_any(
                    r"\b20\d\d\b",
                    r"n[ãa]o consta",
                    r"n[ãa]o (?:foi|h[áa]) (?:elaborad|plano)",
                    r"inexist",
                ),
                "Informe o ano e o item do PCA em que a contratação consta, ou explique por "
                "que ela não consta do plano.",
                "ano e item do PCA, ou o motivo da ausência",
            ),
        ),
    ),
    SectionSpec(
        number=3,
        in58=2,
        title="Requisitos da contratação",
        statute="requisitos da contratação",
        mandatory=False,
        questions=(
            Question(
                "Quais são as exigências mínimas (qualidade, normas técnicas, garantia)?",
                "Como requisitos mínimos, exigem-se:",
                "São requisitos necessários e suficientes:",
            ),
            Question(
                "Trata-se de serviço ou fornecimento contínuo? Há marca ou modelo indicado? "
                "Se houver, por quê?",
                "Quanto à natureza e à eventual indicação de marca:",
                "Sobre a continuidade e a indicação de marca:",
            ),
            Question(
                "Que critérios de sustentabilidade serão exigidos?",
                "Como critérios de sustentabilidade:",
                "No aspecto da sustentabilidade:",
            ),
        ),
        checks=(
            Check(
                "detail",
                min_words(10),
                "Detalhe os requisitos: que normas, padrões de qualidade ou garantias são "
                "indispensáveis, e por quê?",
                "detalhamento dos requisitos e de sua necessidade",
            ),
        ),
    ),
    SectionSpec(
        number=4,
        in58=5,
        title="Estimativa das quantidades",
        statute="estimativas das quantidades para a contratação, acompanhadas das memórias de cálculo e "
        "dos documentos que lhes dão suporte, que considerem interdependências com outras "
        "contratações, de modo a possibilitar economia de escala",
        mandatory=True,
        questions=(
            Question(
                "Qual a quantidade a contratar, e em que unidade?",
                "Estima-se a seguinte quantidade:",
                "A quantidade estimada é:",
            ),
            Question(
                "Como se chegou a esse número (histórico de consumo, público atendido, "
                "memória de cálculo)?",
                "A memória de cálculo é a seguinte:",
                "A estimativa fundamenta-se em:",
            ),
            Question(
                "Algo pode alterar a demanda (interdependências, sazonalidade, expansão)?",
                "Quanto a fatores que podem alterar a demanda:",
                "Sobre variações previsíveis da demanda:",
            ),
        ),
        checks=(
            Check(
                "quantity",
                _quantity_with_unit,
                "Informe a quantidade com número e unidade (por exemplo: 120 resmas, "
                "12 meses de serviço, 40 computadores).",
                "quantidade com número e unidade",
            ),
            Check(
                "calculation",
                has_any(
                    r"hist[óo]ric",
                    r"consumo",
                    r"m[ée]dia",
                    r"c[áa]lculo",
                    r"\bbase(?:ad|ia)?\b",
                    r"\d\s*[x×*]\s*\d",
                    r"multiplic",
                    r"servidores",
                    r"usu[áa]rios",
                    r"por (?:m[êe]s|ano|dia|semana|servidor|usu[áa]rio|aluno|unidade)",
                    r"estimad",
                    r"levantamento",
                    r"p[úu]blico",
                ),
                "Explique como chegou a essa quantidade: qual a memória de cálculo (histórico "
                "de consumo, número de usuários, consumo por período)?",
                "memória de cálculo da quantidade",
            ),
        ),
        cited=True,
    ),
    SectionSpec(
        number=5,
        in58=3,
        title="Levantamento de mercado",
        statute="levantamento de mercado, que consiste na análise das alternativas possíveis, e "
        "justificativa técnica e econômica da escolha do tipo de solução a contratar",
        mandatory=False,
        questions=(
            Question(
                "Que alternativas existem (comprar, alugar, contratar serviço, aderir a ata)?",
                "Foram identificadas as seguintes alternativas:",
                "O levantamento de mercado apontou as alternativas:",
            ),
            Question(
                "Quem fornece, e quais os prós, contras e custos de cada alternativa?",
                "Na comparação entre as alternativas:",
                "Quanto às vantagens, desvantagens e custos:",
            ),
            Question(
                "Qual alternativa foi escolhida e por quê?",
                "Quanto à solução escolhida:",
                "Justifica-se a escolha da solução porque:",
            ),
        ),
        checks=(
            Check(
                "alternatives",
                _alternatives,
                "Compare ao menos duas alternativas (por exemplo, compra e locação, ou "
                "contratação própria e adesão a ata) com prós e contras de cada uma.",
                "comparação de ao menos duas alternativas",
            ),
            Check(
                "choice",
                has_any(
                    r"escolh", r"\bopt", r"selecion", r"vantajos", r"adotad", r"prefer", _REASON
                ),
                "Qual alternativa foi escolhida, e qual a razão técnica e econômica da escolha?",
                "justificativa da alternativa escolhida",
            ),
        ),
        cited=True,
    ),
    SectionSpec(
        number=6,
        in58=6,
        title="Estimativa do valor",
        statute="estimativa do valor da contratação, acompanhada dos preços unitários referenciais, das "
        "memórias de cálculo e dos documentos que lhe dão suporte, que poderão constar de anexo "
        "classificado, se a Administração optar por preservar o seu sigilo até a conclusão da "
        "licitação",
        mandatory=True,
        questions=(
            Question(
                "Quais fontes de preço foram usadas (Painel de Preços, contratações "
                "similares, cotações) e de quando são?",
                "A pesquisa de preços utilizou as seguintes fontes:",
                "Foram consultadas as fontes:",
            ),
            Question(
                "Quais os preços obtidos (em R$) e qual o método (média, mediana ou menor preço)?",
                "Os preços obtidos e o método adotado são:",
                "Quanto aos valores e ao método de cálculo:",
            ),
            Question(
                "Algum preço foi descartado? Por qual critério? Qual o valor total estimado?",
                "Quanto aos valores descartados e ao total estimado:",
                "Sobre a exclusão de valores e o valor global:",
            ),
        ),
        checks=(
            Check(
                "money",
                lambda t: bool(_MONEY.search(t)),
                "Informe os valores em reais (R$), com o preço unitário de referência e o "
                "valor total estimado.",
                "valores em R$ (preço unitário e total)",
            ),
            Check(
                "method",
                has_any(r"m[ée]dia", r"mediana", r"menor (?:pre[çc]o|valor)"),
                "Qual método foi usado para chegar ao preço de referência: média, mediana ou "
                "menor preço?",
                "método de cálculo (média, mediana ou menor preço)",
            ),
            Check(
                "three_prices",
                _three_prices,
                "A IN SEGES nº 65/2021 pede ao menos 3 preços. Informe os 3 (ou mais) valores "
                "pesquisados, ou justifique por que foram menos.",
                "ao menos 3 preços pesquisados, ou a justificativa de exceção",
            ),
        ),
        cites_earlier=True,
        cited=True,
    ),
    SectionSpec(
        number=7,
        in58=4,
        title="Descrição da solução como um todo",
        statute="descrição da solução como um todo, inclusive das exigências relacionadas à manutenção e "
        "à assistência técnica, quando for o caso",
        mandatory=False,
        questions=(
            Question(
                "O que compõe a solução (bens, serviços, instalação, treinamento)?",
                "A solução compreende:",
                "Integram a solução:",
            ),
            Question(
                "Há garantia, manutenção ou assistência técnica? Em que condições?",
                "Quanto à garantia, manutenção e assistência técnica:",
                "No que diz respeito ao suporte durante o ciclo de vida:",
            ),
        ),
        checks=(
            Check(
                "lifecycle",
                has_any(r"garantia", r"manuten", r"assist[êe]ncia", r"suporte", _NONE),
                "Informe se há garantia, manutenção ou assistência técnica, ou declare que "
                "não há manutenção envolvida.",
                "garantia, manutenção e assistência técnica",
            ),
        ),
    ),
    SectionSpec(
        number=8,
        in58=7,
        title="Justificativas para o parcelamento ou não da contratação",
        statute="justificativas para o parcelamento ou não da contratação",
        mandatory=True,
        questions=(
            Question(
                "O objeto é divisível em itens ou lotes?",
                "Quanto à divisibilidade do objeto:",
                "Sobre a divisão do objeto:",
            ),
            Question(
                "A contratação será por item, por lote ou global? Por quê (economia de "
                "escala, sistema único, ampliação da competição)?",
                "Decide-se pela seguinte forma de contratação:",
                "A forma de adjudicação adotada é:",
            ),
        ),
        checks=(
            Check(
                "decision",
                has_any(
                    r"por item",
                    r"por lote",
                    r"\bglobal\b",
                    r"n[ãa]o (?:ser[áa] )?parcel",
                    r"parcelad",
                    r"itens",
                    r"lotes?\b",
                    r"[úu]nico",
                ),
                "Diga explicitamente a decisão: a contratação será por item, por lote ou "
                "global (sem parcelamento)?",
                "decisão explícita sobre o parcelamento",
            ),
            Check(
                "reason",
                has_any(
                    _REASON, r"economia de escala", r"competi", r"sistema [úu]nico", r"padroniza"
                ),
                "Qual a razão dessa decisão (economia de escala, integridade de um sistema "
                "único, ampliação da competição)?",
                "justificativa da decisão sobre o parcelamento",
            ),
        ),
    ),
    SectionSpec(
        number=9,
        in58=10,
        title="Resultados pretendidos",
        statute="demonstrativo dos resultados pretendidos em termos de economicidade e de melhor "
        "aproveitamento dos recursos humanos, materiais e financeiros disponíveis",
        mandatory=False,
        questions=(
            Question(
                "O que melhora depois da contratação?",
                "Com a contratação, espera-se:",
                "Os resultados pretendidos são:",
            ),
            Question(
                "Com que meta ou indicador o resultado será medido?",
                "A aferição dos resultados se dará por:",
                "Como meta ou indicador, adota-se:",
            ),
        ),
        checks=(
            Check(
                "measurable",
                has_any(r"\d", r"%", r"indicador", r"meta", r"redu[çz]", r"aument", r"economia"),
                "Indique ao menos um benefício mensurável: uma meta, um indicador ou um "
                "percentual de melhoria.",
                "benefício mensurável (meta ou indicador)",
            ),
        ),
        cites_earlier=True,
    ),
    SectionSpec(
        number=10,
        in58=11,
        title="Providências prévias ao contrato",
        statute="providências a serem adotadas pela Administração previamente à celebração do contrato, "
        "inclusive quanto à capacitação de servidores ou de empregados para fiscalização e "
        "gestão contratual",
        mandatory=False,
        questions=(
            Question(
                "É preciso adaptar espaço, energia ou rede, ou obter licenças?",
                "Quanto às adequações e licenças necessárias:",
                "Previamente à contratação, serão necessárias as seguintes adequações:",
            ),
            Question(
                "É preciso capacitar os fiscais e gestores do contrato? Quem faz cada "
                "providência, e até quando?",
                "Quanto à capacitação e aos responsáveis pelas providências:",
                "As providências, seus responsáveis e prazos são:",
            ),
        ),
        checks=(
            Check(
                "actions",
                has_any(r"respons[áa]vel", r"at[ée] ", r"prazo", r"capacita", r"treina", _NONE),
                "Para cada providência, informe quem a fará e até quando; se não houver "
                'nenhuma, diga "não há" e por quê.',
                "responsável e prazo de cada providência",
            ),
        ),
    ),
    SectionSpec(
        number=11,
        in58=8,
        title="Contratações correlatas e/ou interdependentes",
        statute="contratações correlatas e/ou interdependentes",
        mandatory=False,
        questions=(
            Question(
                "Esta contratação depende de outra, ou outra depende dela?",
                "Quanto a contratações interdependentes:",
                "Sobre a interdependência com outras contratações:",
            ),
            Question(
                "Há contrato vigente relacionado?",
                "Quanto a contratos vigentes relacionados:",
                "Relativamente a contratos em vigor:",
            ),
        ),
        checks=(
            Check(
                "listed",
                min_words(3),
                'Liste as contratações relacionadas, ou responda "não há" com o motivo.',
                "relação de contratações correlatas, ou declaração de inexistência",
            ),
        ),
    ),
    SectionSpec(
        number=12,
        in58=12,
        title="Impactos ambientais",
        statute="descrição de possíveis impactos ambientais e respectivas medidas mitigadoras, incluídos "
        "requisitos de baixo consumo de energia e de outros recursos, bem como logística reversa "
        "para desfazimento e reciclagem de bens e refugos, quando aplicável",
        mandatory=False,
        questions=(
            Question(
                "A contratação gera resíduos ou consumo relevante de energia ou de outros "
                "recursos?",
                "Quanto aos impactos ambientais:",
                "Os possíveis impactos ambientais são:",
            ),
            Question(
                "Como mitigar esses impactos, e como descartar os bens ao fim da vida útil "
                "(logística reversa)?",
                "Como medidas mitigadoras e de descarte:",
                "Para mitigação e desfazimento:",
            ),
        ),
        checks=(
            Check(
                "mitigation",
                has_any(
                    r"mitig",
                    r"descart",
                    r"log[íi]stica reversa",
                    r"recicl",
                    r"efici[êe]ncia",
                    r"consumo",
                    _NONE,
                ),
                "Para cada impacto, indique a medida mitigadora; se não houver impacto, "
                'diga "não se aplica" e por quê.',
                "medidas mitigadoras de cada impacto",
            ),
        ),
    ),
    SectionSpec(
        number=13,
        in58=13,
        title="Posicionamento conclusivo",
        statute="posicionamento conclusivo sobre a adequação da contratação para o atendimento da "
        "necessidade a que se destina",
        mandatory=True,
        questions=(
            Question(
                'A contratação é viável técnica e economicamente? Responda "viável" ou '
                '"não viável".',
                "Quanto à viabilidade:",
                "Em conclusão:",
            ),
            Question(
                "Os benefícios justificam o custo? Por quê?",
                "Quanto à relação entre benefícios e custo:",
                "Ponderados benefícios e custos:",
            ),
        ),
        checks=(
            Check(
                "verdict",
                lambda t: verdict(t) is not None,
                'O posicionamento precisa ser explícito: a contratação é "viável" ou "não viável"?',
                "declaração explícita de viabilidade",
            ),
        ),
        verdict=True,
        cites_earlier=True,
    ),
)

BY_NUMBER: dict[int, SectionSpec] = {s.number: s for s in SECTIONS}
MANDATORY: frozenset[int] = frozenset(s.number for s in SECTIONS if s.mandatory)
OPTIONAL: frozenset[int] = frozenset(s.number for s in SECTIONS if not s.mandatory)
IN58_ORDER: tuple[int, ...] = tuple(s.number for s in sorted(SECTIONS, key=lambda s: s.in58))


def verdict(text: str) -> bool | None:
    """True for an explicit 'viável', False for 'não viável'/'inviável', None when unclear."""
    negative = re.search(
        r"\b(n[ãa]o\s+(?:[ée]\s+|ser[áa]\s+|se\s+mostra\s+)?vi[áa]vel|invi[áa]vel|inviabilidade)",
        text,
        re.I,
    )
    if negative:
        return False
    if re.search(r"\b(vi[áa]vel|viabilidade)\b", text, re.I):
        return True
    return None


def failed_checks(spec: SectionSpec, text: str) -> list[Check]:
    return [c for c in spec.checks if not c.test(text)]

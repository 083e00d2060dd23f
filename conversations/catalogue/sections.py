"""The 13 sections of Lei 14.133/2021, art. 18, §1º, as data (pt-BR user-facing text).

Numbering and titles follow the statute; `in58` is the position of the same element in
IN SEGES/ME nº 58/2022, art. 9. `checks` are the minimum a good answer has; a failed check
asks its follow-up question once, and if the user insists the gap is recorded.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

LAW = "Lei nº 14.133/2021"
ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII")


@dataclass(frozen=True, slots=True)
class Question:
    """One guiding question, and the label that introduces its answer in an offline draft
    (`lead`; `lead_alt` on every other attempt). A label is a noun phrase ("Memória de
    cálculo"): it reads well before any answer, whatever words the answer starts with."""

    text: str
    lead: str
    lead_alt: str


ANSWER_SLICE = 2_000  # characters of each answer a check reads
# characters of a section's answers a check reads in all: the latest ones (a follow-up's reply,
# the answer to what a check asked, comes last)
CHECK_SLICE = 8_000


@dataclass(frozen=True, slots=True)
class Check:
    """A minimum an answer must show; `gap` names what is missing in the document.

    `question`: the guiding question the check is about (its follow-up's answer is filed
    under that question's label), or -1 for the section as a whole.
    """

    id: str
    test: Callable[[str], bool]
    follow_up: str
    gap: str
    question: int = -1

    def __post_init__(self) -> None:
        test = self.test
        # whatever a caller hands it, a check reads the latest CHECK_SLICE characters
        object.__setattr__(self, "test", lambda text: test(text[-CHECK_SLICE:]))


@dataclass(frozen=True, slots=True, kw_only=True)
class SectionSpec:
    """One element of art. 18, §1º. `mandatory`: art. 18, §2º requires it (it cannot be
    skipped); this flag is the only source of that rule (MANDATORY is derived from it).

    `noun`: the element as a noun phrase with its article ("os requisitos da contratação"),
    for sentences that name it; its article gives the agreement (gender and number).
    `verdict`: the concluding section, whose first question is the team's explicit choice
    among VERDICTS (asked with buttons, stored as data, never read from the answers' words).
    """

    number: int
    in58: int
    title: str
    noun: str
    statute: str
    mandatory: bool
    questions: tuple[Question, ...]
    checks: tuple[Check, ...]
    verdict: bool = False
    # the section whose total quantity is data (number and unit): the estimate multiplies it
    quantity: bool = False
    # the section of the price research (IN SEGES/ME nº 65/2021): a table of prices as data,
    # with its rules and figures (conversations.pricing), instead of free-text questions
    prices: bool = False
    # the sections whose answers its drafter also reads (law numbering)
    depends_on: tuple[int, ...] = ()
    # its drafter also reads why other sections were skipped (the conclusion weighs them all)
    reads_skips: bool = False

    @property
    def roman(self) -> str:
        return ROMAN[self.number - 1]

    @property
    def legal_ref(self) -> str:
        return f"art. 18, §1º, inciso {self.roman}, da {LAW}"

    @property
    def plural(self) -> bool:
        """Whether `noun` is plural (its article is "os" or "as")."""
        return self.noun.split(" ", 1)[0] in ("os", "as")


# --- check helpers -----------------------------------------------------------------------
# A check reads a bounded slice of the answers (check_text), with patterns that run in linear
# time: no nested or overlapping repetition, possessive quantifiers where a run of digits or
# blanks could otherwise be re-scanned from every position of a long paste.


_NUMBER = r"(?<![\d.,])\d++(?:[.,]\d++)*+"
_WORD = re.compile(r"\w++")


def check_text(answers: Iterable[str]) -> str:
    """What the checks read of a section's answers: a bounded slice of each, and of all."""
    return "\n".join(a[:ANSWER_SLICE] for a in answers)[-CHECK_SLICE:]


def _words(text: str) -> int:
    return len(_WORD.findall(text))


def min_words(n: int) -> Callable[[str], bool]:
    return lambda text: _words(text) >= n


def has_any(*patterns: str) -> Callable[[str], bool]:
    compiled = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
    return lambda text: compiled.search(text) is not None


def _quantity_with_unit(text: str) -> bool:
    # a number followed by a word that is not a connective: "120 resmas", "3.500 litros"
    return bool(
        re.search(_NUMBER + r"[ \t]*+(?!(?:de|e|a|o|em)\b)[A-Za-zÀ-ÿ²³]", text, re.IGNORECASE)
    )


_CALCULATION = has_any(
    r"hist[óo]ric",
    r"consumo",
    r"m[ée]dia",
    r"c[áa]lculo",
    r"\d[ \t]*+[x×*][ \t]*+\d",
    r"multiplic",
    r"servidores",
    r"usu[áa]rios",
    r"alunos|estudantes|escolas|turmas|salas|leitos|pacientes|professores",
    r"por (?:m[êe]s|ano|dia|semana|servidor|usu[áa]rio|aluno|escola|unidade|sala|turma)",
    r"per capita|propor[çc][ãa]o|\d[ \t]*+%",
    r"levantamento",
    r"p[úu]blico",
)


_KINDS = tuple(
    re.compile(k, re.IGNORECASE)
    for k in (
        r"compra|aquisi[çc][ãa]o",
        r"loca[çc][ãa]o|alug",
        r"presta[çc][ãa]o de servi[çc]o|servi[çc]o|outsourcing|terceiriza",
        r"ata de registro|ades[ãa]o",
        r"comodato",
        r"desenvolvimento|produ[çc][ãa]o pr[óo]pria",
        r"leasing|assinatura|nuvem",
    )
)
_ENUMERATED = re.compile(r"(?m)^[ \t]*+(?:\d++[).]|[-•*])[ \t]")


def _alternatives(text: str) -> bool:
    found = sum(1 for k in _KINDS if k.search(text))
    enumerated = len(_ENUMERATED.findall(text)) >= 2
    return found >= 2 or enumerated or bool(re.search(r"alternativas?", text, re.I) and found >= 1)


_REASON = (
    r"porque|pois|uma vez que|em raz[ãa]o|visto que|tendo em vista|dado que|j[áa] que|devido|"
    r"por (?:ser|causa|se tratar)|a fim de|para (?:evitar|garantir|ampliar|manter|preservar)"
)
_NONE = r"n[ãa]o h[áa]|n[ãa]o se aplica|inexist|nenhum|n[ãa]o (?:consta|existe|possui|depende)"
# doubt is no answer: "Não sei, talvez em 2025"
_UNSURE = re.compile(
    r"\bn[ãa]o sei\b|\btalvez\b|\bacho que\b|\bprovavelmente\b|\bn[ãa]o tenho certeza\b|"
    r"\ba (?:confirmar|verificar|definir)\b|\bsei l[áa]\b|\bn[ãa]o lembro\b",
    re.IGNORECASE,
)


def _explained_none(text: str) -> bool:
    """A "there is none" with its reason: "Não há, pois o espaço já atende." (not "nenhum")."""
    return bool(re.search(_NONE, text, re.I)) and (
        bool(re.search(_REASON, text, re.I)) or _words(text) >= 8
    )


_PCA_ITEM = re.compile(r"\bitem\b|\bn[º°o]\.?[ \t]*+\d|\bc[óo]digo\b|\bdfd\b|\bid\b", re.I)
_PCA_ABSENT = re.compile(
    r"n[ãa]o consta|n[ãa]o (?:foi|h[áa]) (?:elaborad|plano|pca)|inexist|n[ãa]o possui (?:plano|pca)",
    re.I,
)


def _pca(text: str) -> bool:
    """The PCA's year and item, or why the purchase is not in it (with a reason)."""
    if _UNSURE.search(text):
        return False
    if re.search(r"\b20\d\d\b", text) and _PCA_ITEM.search(text):
        return True
    return bool(_PCA_ABSENT.search(text)) and (
        bool(re.search(_REASON, text, re.I)) or _words(text) >= 8
    )


# art. 40 §§2º-3º and art. 47: the reasons that count for splitting or not; "é mais fácil" is none
_SPLIT_REASON = has_any(
    r"economia de escala",
    r"competi|concorr|amplia|participa[çc]|pequenas empresas|microempresa",
    r"sistema [úu]nico|integra[çc][ãa]o|integrad|compatib|padroniza",
    r"indivis|divis[íi]v|perda|preju[íi]z|risco",
    r"responsabilidade t[ée]cnica|garantia|manuten[çc]|assist[êe]ncia",
    r"gest[ãa]o (?:do|de um|dos) contrat|fiscaliza",
    r"vantaj|econ[ôo]mic|custo|t[ée]cnic|log[íi]stic|mercado|fornecedor",
)

_WHO = re.compile(
    r"respons[áa]vel|setor|coordena|secretaria|departamento|divis[ãa]o|ger[êe]ncia|diretoria|"
    r"n[úu]cleo|fiscal|gestor|equipe|servidor|unidade|assessoria|comiss[ãa]o|almoxarifado|"
    r"\bti\b|tecnologia da informa",
    re.IGNORECASE,
)
_WHEN = re.compile(
    r"\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b|\b20\d\d\b|janeiro|fevereiro|mar[çc]o|abril|maio|junho|"
    r"julho|agosto|setembro|outubro|novembro|dezembro|\b\d++[ \t]*+(?:dias|semanas|meses)\b|"
    r"antes d[ao] (?:assinatura|celebra[çc][ãa]o|contrata[çc][ãa]o|licita[çc][ãa]o|publica[çc][ãa]o|"
    r"in[íi]cio|entrega|recebimento)",
    re.IGNORECASE,
)


def _actions(text: str) -> bool:
    """Each action with who does it and by when ("até amanhã" names neither), or a reasoned none."""
    return bool(_WHO.search(text) and _WHEN.search(text)) or _explained_none(text)


_MITIGATION = has_any(
    r"mitig",
    r"descart",
    r"log[íi]stica reversa",
    r"recicl|reaproveit|reutiliz",
    r"efici[êe]ncia|selo|certifica|procel|inmetro",
    r"destina[çc][ãa]o|coleta",
)


def _mitigation(text: str) -> bool:
    return _MITIGATION(text) or _explained_none(text)


SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec(
        number=1,
        in58=1,
        title="Descrição da necessidade",
        noun="a descrição da necessidade da contratação",
        statute="descrição da necessidade da contratação, considerado o problema a ser resolvido sob a "
        "perspectiva do interesse público",
        mandatory=True,
        questions=(
            Question(
                "Que problema existe hoje?",
                "Problema a ser resolvido",
                "Situação atual",
            ),
            Question(
                "Quem é afetado por esse problema?", "Público afetado", "Afetados pelo problema"
            ),
            Question(
                "O que acontece se nada for contratado?",
                "Consequências da não contratação",
                "Efeitos da não contratação",
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
    ),
    SectionSpec(
        number=2,
        in58=9,
        title="Previsão no plano de contratações anual",
        noun="a demonstração da previsão da contratação no plano de contratações anual",
        statute="demonstração da previsão da contratação no plano de contratações anual, sempre que "
        "elaborado, de modo a indicar o seu alinhamento com o planejamento da Administração",
        mandatory=False,
        depends_on=(1,),
        questions=(
            Question(
                "A contratação consta do Plano de Contratações Anual (PCA)? De que ano e em "
                "qual item?",
                "Previsão no Plano de Contratações Anual",
                "Situação no Plano de Contratações Anual",
            ),
            Question(
                "Com que objetivo estratégico ela se alinha? Se não consta do PCA, por quê?",
                "Alinhamento com o planejamento",
                "Alinhamento com o planejamento do órgão",
            ),
        ),
        checks=(
            Check(
                "pca",
                _pca,
                "Informe o ano e o item do PCA em que a contratação consta, ou explique por "
                "que ela não consta do plano.",
                "ano e item do PCA, ou o motivo da ausência",
                question=0,
            ),
        ),
    ),
    SectionSpec(
        number=3,
        in58=2,
        title="Requisitos da contratação",
        noun="os requisitos da contratação",
        statute="requisitos da contratação",
        mandatory=False,
        depends_on=(1,),
        questions=(
            Question(
                "Quais são as exigências mínimas (qualidade, normas técnicas, garantia)?",
                "Requisitos mínimos",
                "Requisitos necessários e suficientes",
            ),
            Question(
                "Trata-se de serviço ou fornecimento contínuo? Há marca ou modelo indicado? "
                "Se houver, por quê?",
                "Natureza do fornecimento e indicação de marca",
                "Continuidade e indicação de marca ou modelo",
            ),
            Question(
                "Que critérios de sustentabilidade serão exigidos?",
                "Critérios de sustentabilidade",
                "Sustentabilidade",
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
        noun="as estimativas das quantidades para a contratação",
        statute="estimativas das quantidades para a contratação, acompanhadas das memórias de cálculo e "
        "dos documentos que lhes dão suporte, que considerem interdependências com outras "
        "contratações, de modo a possibilitar economia de escala",
        mandatory=True,
        depends_on=(1,),
        questions=(
            Question(
                "Qual a quantidade a contratar, e em que unidade?",
                "Quantidade estimada",
                "Quantidade a contratar",
            ),
            Question(
                "Como se chegou a esse número (histórico de consumo, público atendido, "
                "memória de cálculo)?",
                "Memória de cálculo",
                "Fundamento da estimativa",
            ),
            Question(
                "Algo pode alterar a demanda (interdependências, sazonalidade, expansão)?",
                "Fatores que podem alterar a demanda",
                "Variações previsíveis da demanda",
            ),
        ),
        checks=(
            Check(
                "quantity",
                _quantity_with_unit,
                "Informe a quantidade com número e unidade (por exemplo: 120 resmas, "
                "12 meses de serviço, 40 computadores).",
                "quantidade com número e unidade",
                question=0,
            ),
            Check(
                "calculation",
                _CALCULATION,
                "Explique como chegou a essa quantidade: qual a memória de cálculo (histórico "
                "de consumo, número de usuários, consumo por período)?",
                "memória de cálculo da quantidade",
                question=1,
            ),
        ),
        quantity=True,
    ),
    SectionSpec(
        number=5,
        in58=3,
        title="Levantamento de mercado",
        noun="o levantamento de mercado",
        statute="levantamento de mercado, que consiste na análise das alternativas possíveis, e "
        "justificativa técnica e econômica da escolha do tipo de solução a contratar",
        mandatory=False,
        depends_on=(1, 3, 4),
        questions=(
            Question(
                "Que alternativas existem (comprar, alugar, contratar serviço, aderir a ata)?",
                "Alternativas identificadas",
                "Alternativas de mercado",
            ),
            Question(
                "Quem fornece, e quais os prós, contras e custos de cada alternativa?",
                "Comparação entre as alternativas",
                "Vantagens, desvantagens e custos",
            ),
            Question(
                "Qual alternativa foi escolhida e por quê?",
                "Solução escolhida e justificativa",
                "Justificativa da escolha",
            ),
        ),
        checks=(
            Check(
                "alternatives",
                _alternatives,
                "Compare ao menos duas alternativas (por exemplo, compra e locação, ou "
                "contratação própria e adesão a ata) com prós e contras de cada uma.",
                "comparação de ao menos duas alternativas",
                question=0,
            ),
            Check(
                "choice",
                has_any(
                    r"escolh", r"\bopt", r"selecion", r"vantajos", r"adotad", r"prefer", _REASON
                ),
                "Qual alternativa foi escolhida, e qual a razão técnica e econômica da escolha?",
                "justificativa da alternativa escolhida",
                question=2,
            ),
        ),
    ),
    SectionSpec(
        number=6,
        in58=6,
        title="Estimativa do valor",
        noun="a estimativa do valor da contratação",
        statute="estimativa do valor da contratação, acompanhada dos preços unitários referenciais, das "
        "memórias de cálculo e dos documentos que lhe dão suporte, que poderão constar de anexo "
        "classificado, se a Administração optar por preservar o seu sigilo até a conclusão da "
        "licitação",
        mandatory=True,
        depends_on=(4, 5),
        # the research is a table of prices (conversations.pricing); this question is what
        # /lei and a complement's label show
        questions=(
            Question(
                "Quais preços foram pesquisados (fonte, identificação, data e valor unitário), "
                "qual o método (média, mediana ou menor preço) e qual o valor total estimado?",
                "Pesquisa de preços",
                "Pesquisa de preços realizada",
            ),
        ),
        # its rules are the research's (conversations.pricing.next_need), not text checks
        checks=(),
        prices=True,
    ),
    SectionSpec(
        number=7,
        in58=4,
        title="Descrição da solução como um todo",
        noun="a descrição da solução como um todo",
        statute="descrição da solução como um todo, inclusive das exigências relacionadas à manutenção e "
        "à assistência técnica, quando for o caso",
        mandatory=False,
        depends_on=(3, 5),
        questions=(
            Question(
                "O que compõe a solução (bens, serviços, instalação, treinamento)?",
                "Composição da solução",
                "Elementos da solução",
            ),
            Question(
                "Há garantia, manutenção ou assistência técnica? Em que condições?",
                "Garantia, manutenção e assistência técnica",
                "Suporte durante o ciclo de vida",
            ),
        ),
        checks=(
            Check(
                "lifecycle",
                has_any(r"garantia", r"manuten", r"assist[êe]ncia", r"suporte", _NONE),
                "Informe se há garantia, manutenção ou assistência técnica, ou declare que "
                "não há manutenção envolvida.",
                "garantia, manutenção e assistência técnica",
                question=1,
            ),
        ),
    ),
    SectionSpec(
        number=8,
        in58=7,
        title="Justificativas para o parcelamento ou não da contratação",
        noun="as justificativas para o parcelamento ou não da contratação",
        statute="justificativas para o parcelamento ou não da contratação",
        mandatory=True,
        depends_on=(4, 5, 7),
        questions=(
            Question(
                "O objeto é divisível em itens ou lotes?",
                "Divisibilidade do objeto",
                "Divisão do objeto",
            ),
            Question(
                "A contratação será por item, por lote ou global? Por quê (economia de "
                "escala, sistema único, ampliação da competição)?",
                "Forma de contratação e justificativa",
                "Decisão sobre o parcelamento",
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
                question=1,
            ),
            Check(
                "reason",
                _SPLIT_REASON,
                "Qual a razão dessa decisão (economia de escala, integridade de um sistema "
                "único, ampliação da competição)?",
                "justificativa da decisão sobre o parcelamento",
                question=1,
            ),
        ),
    ),
    SectionSpec(
        number=9,
        in58=10,
        title="Resultados pretendidos",
        noun="o demonstrativo dos resultados pretendidos",
        statute="demonstrativo dos resultados pretendidos em termos de economicidade e de melhor "
        "aproveitamento dos recursos humanos, materiais e financeiros disponíveis",
        mandatory=False,
        depends_on=(1, 6),
        questions=(
            Question(
                "O que melhora depois da contratação?",
                "Resultados esperados",
                "Benefícios pretendidos",
            ),
            Question(
                "Com que meta ou indicador o resultado será medido?",
                "Metas e indicadores",
                "Aferição dos resultados",
            ),
        ),
        checks=(
            Check(
                "measurable",
                has_any(r"\d", r"%", r"indicador", r"meta", r"redu[çz]", r"aument", r"economia"),
                "Indique ao menos um benefício mensurável: uma meta, um indicador ou um "
                "percentual de melhoria.",
                "benefício mensurável (meta ou indicador)",
                question=1,
            ),
        ),
    ),
    SectionSpec(
        number=10,
        in58=11,
        title="Providências prévias ao contrato",
        noun="as providências prévias à celebração do contrato",
        statute="providências a serem adotadas pela Administração previamente à celebração do contrato, "
        "inclusive quanto à capacitação de servidores ou de empregados para fiscalização e "
        "gestão contratual",
        mandatory=False,
        depends_on=(7,),
        questions=(
            Question(
                "É preciso adaptar espaço, energia ou rede, ou obter licenças?",
                "Adequações e licenças necessárias",
                "Providências de infraestrutura",
            ),
            Question(
                "É preciso capacitar os fiscais e gestores do contrato? Quem faz cada "
                "providência, e até quando?",
                "Capacitação, responsáveis e prazos",
                "Responsáveis e prazos",
            ),
        ),
        checks=(
            Check(
                "actions",
                _actions,
                "Para cada providência, informe quem a fará e até quando; se não houver "
                'nenhuma, diga "não há" e por quê.',
                "responsável e prazo de cada providência",
                question=1,
            ),
        ),
    ),
    SectionSpec(
        number=11,
        in58=8,
        title="Contratações correlatas e/ou interdependentes",
        noun="as contratações correlatas e/ou interdependentes",
        statute="contratações correlatas e/ou interdependentes",
        mandatory=False,
        depends_on=(1,),
        questions=(
            Question(
                "Esta contratação depende de outra, ou outra depende dela?",
                "Contratações interdependentes",
                "Interdependência com outras contratações",
            ),
            Question(
                "Há contrato vigente relacionado?",
                "Contratos vigentes relacionados",
                "Contratos em vigor",
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
        noun="a descrição dos possíveis impactos ambientais e das respectivas medidas mitigadoras",
        statute="descrição de possíveis impactos ambientais e respectivas medidas mitigadoras, incluídos "
        "requisitos de baixo consumo de energia e de outros recursos, bem como logística reversa "
        "para desfazimento e reciclagem de bens e refugos, quando aplicável",
        mandatory=False,
        depends_on=(3, 7),
        questions=(
            Question(
                "A contratação gera resíduos ou consumo relevante de energia ou de outros "
                "recursos?",
                "Impactos ambientais",
                "Possíveis impactos ambientais",
            ),
            Question(
                "Como mitigar esses impactos, e como descartar os bens ao fim da vida útil "
                "(logística reversa)?",
                "Medidas mitigadoras e descarte",
                "Mitigação e desfazimento",
            ),
        ),
        checks=(
            Check(
                "mitigation",
                _mitigation,
                "Para cada impacto, indique a medida mitigadora; se não houver impacto, "
                'diga "não se aplica" e por quê.',
                "medidas mitigadoras de cada impacto",
                question=1,
            ),
        ),
    ),
    SectionSpec(
        number=13,
        in58=13,
        title="Posicionamento conclusivo",
        noun="o posicionamento conclusivo sobre a adequação da contratação",
        statute="posicionamento conclusivo sobre a adequação da contratação para o atendimento da "
        "necessidade a que se destina",
        mandatory=True,
        depends_on=(1, 4, 6, 9),
        reads_skips=True,
        questions=(
            Question(
                "Qual é o posicionamento da equipe de planejamento sobre a contratação: viável, "
                "não viável ou viável com ressalvas? Escolha uma das opções.",
                "Posicionamento",
                "Posicionamento",
            ),
            Question(
                "Quais são as razões desse posicionamento? Os benefícios justificam o custo? "
                "Se houver ressalvas, quais são e o que deve ser feito antes de prosseguir?",
                "Fundamentação",
                "Razões do posicionamento",
            ),
        ),
        checks=(
            Check(
                "reasons",
                min_words(10),
                "Explique as razões do posicionamento: por que a contratação atende (ou não) à "
                "necessidade, e se os benefícios justificam o custo.",
                "fundamentação do posicionamento conclusivo",
                question=1,
            ),
        ),
        verdict=True,
    ),
)

BY_NUMBER: dict[int, SectionSpec] = {s.number: s for s in SECTIONS}
MANDATORY: frozenset[int] = frozenset(s.number for s in SECTIONS if s.mandatory)
OPTIONAL: frozenset[int] = frozenset(s.number for s in SECTIONS if not s.mandatory)
IN58_ORDER: tuple[int, ...] = tuple(s.number for s in sorted(SECTIONS, key=lambda s: s.in58))


VERDICT_QUESTION = 0  # in the concluding section, the question answered by the choice


class Verdict(StrEnum):
    """The team's conclusion in section XIII; the values are stored: never change one."""

    VIABLE = "viavel"
    NOT_VIABLE = "nao_viavel"
    VIABLE_WITH_RESERVATIONS = "viavel_com_ressalvas"


def _plain(text: str) -> str:
    """Lower case, no accents, words separated by one space: how a typed choice is compared."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    letters = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(re.findall(r"[a-z0-9]+", letters))


# The exact words (accents, case and punctuation aside) that name each choice: a choice is
# typed or pressed, never read out of a sentence ("não sei se é viável" names none).
_VERDICT_WORDS: dict[str, Verdict] = {
    "viavel": Verdict.VIABLE,
    "nao viavel": Verdict.NOT_VIABLE,
    "inviavel": Verdict.NOT_VIABLE,
    "viavel com ressalvas": Verdict.VIABLE_WITH_RESERVATIONS,
    "com ressalvas": Verdict.VIABLE_WITH_RESERVATIONS,
    "ressalvas": Verdict.VIABLE_WITH_RESERVATIONS,
}


def verdict_choice(text: str) -> Verdict | None:
    """The verdict `text` names exactly ("Não viável", "nao_viavel", "viável com ressalvas"),
    or None: a sentence is never read for one."""
    if len(text) > 40:
        return None
    plain = _plain(text.replace("_", " ").replace("-", " "))
    return _VERDICT_WORDS.get(plain) or next((v for v in Verdict if v.value == text), None)


def failed_checks(spec: SectionSpec, text: str) -> list[Check]:
    """The checks `text` (see check_text) fails."""
    return [c for c in spec.checks if not c.test(text)]

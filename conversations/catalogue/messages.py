"""Every user-facing sentence of ETP Express (pt-BR), in one place.

Channels and the engine take their text from here; nothing user-facing is written inline.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- identification step -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IdentField:
    """One question of the identification step. `optional`: /pular leaves it blank.
    `pending_when_blank`: the document lists it as a pendência while blank (the place is not:
    a document without it has a line to fill by hand, and ETPs begun before it was asked lack
    it)."""

    key: str
    label: str
    question: str
    optional: bool = False
    pending_when_blank: bool = True


IDENT_FIELDS: tuple[IdentField, ...] = (
    IdentField("orgao", "Órgão/entidade", "Qual é o órgão ou a entidade contratante?"),
    IdentField("unidade", "Unidade requisitante", "Qual é a unidade requisitante?"),
    IdentField(
        "municipio",
        "Município/UF",
        "Em que município fica a unidade? Informe o município e a UF, por exemplo: "
        "Campinas/SP. Ele aparece no local e data do documento.",
        pending_when_blank=False,
    ),
    IdentField(
        "processo", "Processo nº", "Qual é o número do processo administrativo (SEI ou similar)?"
    ),
    IdentField(
        "dfd",
        "Documento de formalização da demanda",
        "Qual é a referência do documento de formalização da demanda (DFD), por exemplo: "
        "DFD nº 45/2026 (SEI 1234567)? Use /pular se não houver.",
        optional=True,
    ),
    IdentField(
        "numero",
        "Número do ETP no órgão",
        "O órgão numera os seus ETPs? Informe o número deste, por exemplo: 7/2026. Use /pular "
        "para que o documento use o número do registro no ETP Express.",
        optional=True,
    ),
    IdentField("objeto", "Objeto", "Descreva o objeto da contratação em uma linha."),
    IdentField(
        "equipe",
        "Equipe de planejamento",
        "Informe os integrantes da equipe de planejamento, um por linha (ou um por mensagem), "
        "no formato:\nNome; Cargo; Matrícula",
    ),
    IdentField(
        "portaria",
        "Portaria de designação",
        "Informe a portaria que designou a equipe de planejamento, ou use /pular se não houver.",
        optional=True,
    ),
)
IDENT_BY_KEY = {f.key: f for f in IDENT_FIELDS}

IDENT_HEADER = "Identificação · {label}"
IDENT_TEAM_INVALID = (
    'Não consegui ler "{line}" como integrante da equipe. Informe um integrante por linha, no '
    "formato Nome; Cargo; Matrícula (por exemplo: Maria Souza; Analista; 1.234-5), ou vários "
    "na mesma linha separados por ponto e vírgula (Maria Souza – Analista (mat. 1.234-5); "
    "João Lima – Técnico (mat. 6.789-0)). Nada foi registrado."
)
IDENT_TEAM_DUPLICATE = (
    "{name} (matrícula {matricula}) já integra a equipe de planejamento. Nada foi registrado; "
    "envie outro integrante ou /aceitar para concluir a equipe."
)
IDENT_TEAM_LINE_TOO_LONG = (
    "Uma linha da equipe tem {size} caracteres; o limite é {limit} por integrante. Informe um "
    "integrante por linha. Nada foi registrado."
)
IDENT_TEAM_ADDED = (
    "Equipe de planejamento: {names}.\nEnvie outro integrante (Nome; Cargo; Matrícula) ou "
    "/aceitar para concluir a equipe."
)
IDENT_TEAM_EMPTY = "Informe ao menos um integrante da equipe, no formato Nome; Cargo; Matrícula."
IDENT_SAVED = "Identificação concluída. Vamos às 13 seções do art. 18, §1º, da Lei nº 14.133/2021."
IDENT_SKIPPED_PORTARIA = "Sem portaria de designação."
IDENT_PLACE_INVALID = (
    "Informe o município e a UF, separados por barra, por exemplo: Campinas/SP. Nada foi "
    "registrado."
)
IDENT_NUMBER_INVALID = (
    "O número do ETP deve começar por algarismos, por exemplo: 7/2026. Use /pular se o órgão "
    "não numera os seus ETPs. Nada foi registrado."
)

# --- general -----------------------------------------------------------------------------

WELCOME = (
    "Olá, {name}! Sou o ETP Express e ajudo a elaborar o Estudo Técnico Preliminar (ETP) "
    "previsto no art. 18 da Lei nº 14.133/2021.\n"
    "Use /novo <título> para começar um ETP, /listar para ver os seus ETPs ou /ajuda para "
    "ver todos os comandos."
)
RESUMING = "Retomando o ETP nº {id} — {title}."
NEW_ASK_TITLE = (
    "Qual é o título do novo ETP? Envie /novo seguido do título, por exemplo: /novo Aquisição "
    "de notebooks para as escolas municipais."
)
NO_ACTIVE_ETP = "Não há ETP em andamento nesta conversa. Use /novo <título> ou /listar."
EMPTY_TEXT = "A mensagem está vazia. Escreva a sua resposta, ou use /ajuda."
SECTION_ANSWERS_FULL = (
    "Esta seção já reúne {limit} respostas, o máximo. Nada foi registrado. Revise a minuta com "
    "/editar <texto>, aceite-a com /aceitar ou peça outra redação com /refazer."
)
IDENT_TEAM_TOO_LARGE = (
    "A equipe de planejamento pode ter no máximo {limit} integrantes. Nada foi registrado; "
    "envie a lista novamente, com até {limit} pessoas."
)
TEXT_TOO_LONG = (
    "A mensagem tem {size} caracteres; o limite é {limit}. Divida o texto em partes menores. "
    "Nada foi registrado."
)
UNKNOWN_COMMAND = "Comando desconhecido: /{command}. Use /ajuda para ver os comandos disponíveis."
BUSY_RETRY = "Não foi possível registrar a mensagem agora. Tente novamente em instantes."

# /ajuda and the command menu (e.g. Telegram's setMyCommands), per command of the registry
# (conversations/commands.py): what follows its name in /ajuda (`usage`), what /ajuda says it
# does, and its line in the menu (None: not in the menu).


@dataclass(frozen=True, slots=True)
class CommandText:
    usage: str
    help: str
    menu: str | None


HELP_HEADER = "Comandos do ETP Express:"
HELP_LINE = "/{name}{usage} — {help}"
HELP_MANDATORY = "Seções obrigatórias (art. 18, §2º): {romans}."
AND = " e "

CMD_NEW = CommandText("<título>", "começa um novo ETP", "Começa um novo ETP: /novo <título>")
CMD_LIST = CommandText("", "lista os seus ETPs", "Lista os seus ETPs")
CMD_RESUME = CommandText("<nº>", "retoma um ETP", "Retoma um ETP: /retomar <nº>")
CMD_STATUS = CommandText("", "mostra a situação das 13 seções", "Mostra a situação das 13 seções")
CMD_SECTION = CommandText("<1-13>", "vai para uma seção", "Vai para uma seção: /secao <1-13>")
CMD_BACK = CommandText("", "volta à etapa anterior", "Volta à etapa anterior")
CMD_SKIP = CommandText(
    "<justificativa>",
    "pula uma seção não obrigatória, com justificativa",
    "Pula uma seção não obrigatória, com justificativa",
)
CMD_ACCEPT = CommandText("", "aceita a minuta apresentada", "Aceita a minuta apresentada")
CMD_REDO = CommandText("", "redige a minuta novamente", "Redige a minuta novamente")
CMD_EDIT = CommandText(
    "<texto>",
    "substitui a minuta pelo seu texto",
    "Substitui a minuta pelo seu texto: /editar <texto>",
)
CMD_EXPORT = CommandText(
    "[{formats}] [lei|in58]",
    "gera o documento (na ordem da lei ou da IN SEGES/ME nº 58/2022)",
    "Gera o documento do ETP",
)
CMD_ORDER = CommandText(
    "[lei|in58]",
    "escolhe a ordem das seções no documento deste ETP",
    "Escolhe a ordem das seções no documento",
)
CMD_CANCEL = CommandText("", "cancela a operação em curso", "Cancela a operação em curso")
CMD_LAW = CommandText(
    "[1-13]",
    "mostra o que a lei exige em uma seção",
    "Mostra o que a lei exige na seção: /lei <1-13>",
)
CMD_VERDICT = CommandText(
    "<viável|não viável|viável com ressalvas>",
    "registra o posicionamento conclusivo (seção 13)",
    None,
)
CMD_PRICES = CommandText(
    "[remover N | corrigir N linha | concluir | reabrir | excluir N motivo | manter N motivo | "
    "metodo media|mediana|menor | sigilo sim|nao]",
    "mostra e altera a pesquisa de preços da seção 6 (IN SEGES/ME nº 65/2021)",
    "Pesquisa de preços da seção 6",
)
CMD_QUANTITY = CommandText(
    "<número> <unidade>",
    "registra a quantidade total da seção 4, que multiplica o preço de referência",
    None,
)
CMD_HELP = CommandText("", "mostra esta lista", "Mostra a lista de comandos")

# --- access and chat platforms -------------------------------------------------------------

ACCESS_DENIED = (
    "Desculpe, este assistente está disponível apenas para usuários autorizados pelo órgão. "
    "Se precisar de acesso, procure o responsável pelo ETP Express na sua unidade."
)
BUTTON_EXPIRED = "Este botão não está mais disponível. Use o comando correspondente ou /ajuda."
BUTTON_STALE = (
    "Este botão refere-se a uma minuta que não é mais a atual; nada foi alterado. Use os botões "
    "da mensagem mais recente ou /status."
)
TEXT_ONLY = (
    "No momento, leio apenas mensagens de texto. Escreva a sua resposta, por favor, "
    "ou use /ajuda para ver os comandos."
)
EDIT_NOT_APPLIED = (
    "A edição de uma mensagem já enviada não altera o ETP. Para corrigir uma resposta, use "
    "/voltar e responda novamente; para mudar a minuta, use /editar seguido do novo texto."
)

# --- buttons -----------------------------------------------------------------------------

BTN_ACCEPT = "Aceitar"
BTN_EDIT = "Editar"
BTN_REDO = "Refazer"
BTN_SKIP = "Pular"
BTN_NEXT = "Próxima seção"
BTN_STATUS = "Situação"
BTN_EXPORT = "Exportar {fmt}"
BTN_RESUME = "Retomar nº {id}"
BTN_TEAM_DONE = "Concluir equipe"
BTN_GOTO = "Ir para a seção {n}"
BTN_LAW = "O que a lei exige"
BTN_VERDICT = {
    "viavel": "Viável",
    "nao_viavel": "Não viável",
    "viavel_com_ressalvas": "Viável com ressalvas",
}

# --- new / list / resume -----------------------------------------------------------------

CREATED = "ETP nº {id} criado: {title}. Primeiro, a identificação."
LIST_EMPTY = "Você ainda não tem ETPs. Use /novo <título> para começar."
LIST_HEADER = "Seus ETPs:"
LIST_ITEM = "nº {id} — {title} · {status} · {done}/13 seções"
UNTITLED = "sem título informado"
RESUME_USAGE = "Informe o número do ETP: /retomar <nº>. Use /listar para ver os números."
RESUME_NOT_FOUND = "Não encontrei o ETP nº {id} entre os seus ETPs. Use /listar."
STATUS_LABELS = {
    "em_elaboracao": "em elaboração",
    "concluido": "concluído",
    "concluido_com_pendencias": "concluído com pendências",
}

# --- sections ----------------------------------------------------------------------------

SECTION_HEADER = "Seção {n} de 13 · {title}"
SECTION_MANDATORY = "(obrigatória)"
SECTION_OPTIONAL = "(pode ser pulada com justificativa)"
QUESTION = "{header}\nPergunta {i} de {total}: {question}"
FOLLOW_UP = "{header}\n{question}\nSe preferir manter a resposta como está, envie /aceitar."
GAP_RECORDED = "Resposta mantida. Ficou registrado como pendência: {gap}."
SECTION_USAGE = "Informe o número da seção, de 1 a 13: /secao <nº>."
SECTION_OUT_OF_RANGE = "A seção {n} não existe. As seções vão de 1 a 13."
SECTION_IN_IDENT = (
    "Conclua primeiro a identificação do ETP (falta: {label}); depois seguem as 13 seções. "
    "Responda à pergunta da identificação ou use /voltar."
)
SECTION_ACCEPTED_VIEW = "{header}\nTexto aceito (por {author}):\n\n{text}"
SECTION_SKIPPED_VIEW = "{header}\nSeção pulada. Justificativa (por {author}): {text}\nPara preenchê-la, responda às perguntas."

DRAFTING = "Redigindo a minuta da seção {n} — {title}…"
DRAFT_READY = "{header}\nMinuta:\n\n{text}\n\nAceite, edite, refaça ou envie mais informações."
DRAFT_READY_ELSEWHERE = (
    "A minuta da seção {n} — {title} está pronta. Use /secao {n} para revisá-la."
)
DRAFT_FAILED = "Não foi possível redigir a minuta agora. Suas respostas estão guardadas. Use /refazer para tentar de novo."
# The "Redigindo…" message while the draft appears (edited as the model writes)
DRAFT_STREAMING = "Redigindo a minuta…\n\n{text}"
DRAFT_IN_PROGRESS = "A minuta ainda está sendo redigida. Aguarde um instante."
COMPLEMENT_ADDED = "Informação registrada; a minuta será refeita."

NOTHING_TO_ACCEPT = "Não há minuta para aceitar nesta etapa."
ACCEPTED = "Seção {n} aceita."
KEPT = "Texto da seção {n} mantido."
EDITED = "Seção {n} atualizada com o seu texto e aceita."
EDIT_USAGE = "Envie /editar seguido do novo texto completo. Texto atual:\n\n{text}"
EDIT_NOTHING = "Não há texto para editar nesta etapa. Responda às perguntas da seção."
REDO_NOTHING = "Ainda não há respostas para redigir esta seção. Responda às perguntas."

SKIP_MANDATORY = (
    "A seção {n} — {title} é obrigatória (art. 18, §2º, da Lei nº 14.133/2021) e não pode "
    "ser pulada."
)
SKIP_ASK_JUSTIFICATION = (
    "Para pular a seção {n} — {title}, escreva a justificativa: por que este elemento não se "
    "aplica a esta contratação (art. 18, §2º). Ou use /cancelar."
)
SKIP_MANDATORY_IN58 = (
    "A seção {roman} — {title} é obrigatória no documento deste ETP, que segue a ordem da "
    "IN SEGES/ME nº 58/2022 (art. 9º, §1º), e não pode ser pulada. Para a ordem da lei, use "
    "/ordem lei."
)
SKIP_WEAK_JUSTIFICATION = (
    "A justificativa para pular a seção {n} — {title} precisa dizer por que este elemento não "
    "se aplica a esta contratação, em ao menos {words} palavras (art. 18, §2º). Por exemplo: "
    '"O órgão ainda não elaborou o plano de contratações anual deste exercício." '
    "Nada foi registrado."
)
SKIP_ACCEPTED = "A seção {n} já tem texto aceito e não pode ser pulada."
SKIPPED = "Seção {n} pulada com a justificativa registrada."
SKIP_NOTHING = "Não há seção para pular nesta etapa."

BACK_AT_START = "Você já está na primeira etapa."
CANCELLED_PENDING = "Operação cancelada."
DETACHED = "O ETP nº {id} foi guardado. Use /retomar {id} para continuar."

CONCLUDED = (
    "ETP nº {id} concluído: todas as seções obrigatórias foram aceitas e as demais, aceitas ou "
    "justificadas. Você já pode exportar o documento."
)
CONCLUDED_WITH_GAPS = (
    "ETP nº {id} concluído com pendências: todas as seções foram resolvidas, mas ainda há "
    "pontos a complementar antes da aprovação:\n{pendencias}\nO documento sai como minuta, com "
    "essas pendências listadas. Use /secao <nº> para complementá-las."
)
PENDING_LINE = "• {where}: {what}"
PENDING_SECTION = "Seção {n} — {title}"
PENDING_IDENT = "Identificação"
PENDING_IDENT_FIELD = "campo não preenchido ({label})"
PENDING_MANDATORY = "seção obrigatória sem texto aceito"
PENDING_OPTIONAL = "sem texto aceito nem justificativa"
PENDING_VERDICT = (
    "escolha explícita do posicionamento conclusivo (viável, não viável ou viável com ressalvas)"
)
ALL_DONE_REVIEW = "Todas as seções estão resolvidas. Use /secao <nº> para revisar ou /exportar."

EXPORT_UNKNOWN = (
    "Não reconheci {fmt}. Use /exportar [{formats}] [lei|in58]: o formato (docx se omitido) e "
    "a ordem das seções (a deste ETP se omitida)."
)
ORDER_NAMES = {
    "law": "a do art. 18, §1º, da Lei nº 14.133/2021",
    "in58": "a do art. 9º da IN SEGES/ME nº 58/2022",
}
ORDER_CURRENT = (
    "Ordem das seções no documento deste ETP: {order}{source}. Para mudar, use /ordem lei ou "
    "/ordem in58."
)
ORDER_DEFAULT_SOURCE = " (o padrão desta instalação)"
ORDER_SET = "Ordem das seções no documento deste ETP: {order}. Vale para as próximas exportações."
ORDER_USAGE = (
    "Não reconheci {order}. Use /ordem lei (a ordem do art. 18 da Lei nº 14.133/2021) ou "
    "/ordem in58 (a do art. 9º da IN SEGES/ME nº 58/2022). Nada foi alterado."
)
EXPORT_READY = "Documento do ETP nº {id} ({fmt}){incomplete}."
EXPORT_INCOMPLETE_NOTE = " — minuta incompleta, com as pendências marcadas"
EXPORT_FAILED = (
    "Não foi possível gerar o documento agora. Envie /exportar novamente em alguns instantes."
)

STATUS_HEADER = "ETP nº {id} — {title} · {status}"
STATUS_LINE = "{mark} {n}. {title}{mandatory} — {state}{authors}"
STATUS_STATES = {
    "pending": "não iniciada",
    "answering": "em resposta",
    "drafting": "redigindo",
    "drafted": "minuta pronta",
    "accepted": "aceita",
    "skipped": "pulada",
}
STATUS_BY = " · por {names}"
STATUS_IDENT = "Identificação: {state}"
STATUS_IDENT_DONE = "concluída"
STATUS_IDENT_PENDING = "pendente"
STATUS_GAPS = "   pendências: {gaps}"
STATUS_VERDICT = "Posicionamento conclusivo: {verdict}"
STATUS_PENDING_HEADER = "Pendências a complementar antes da aprovação:"
VERDICT_LABELS = {
    "viavel": "viável",
    "nao_viavel": "não viável",
    "viavel_com_ressalvas": "viável com ressalvas",
}

# --- documents ---------------------------------------------------------------------------

DOC_TITLE = "ESTUDO TÉCNICO PRELIMINAR nº {number}"
DOC_DRAFT_MARK = "MINUTA — incompleta"
DOC_PENDING_MARK = "MINUTA — com pendências"
DOC_MISSING = "Pendências"
DOC_MISSING_SECTION = "Item {position} — {title}: {what}"
DOC_MISSING_MANDATORY = "obrigatória, sem texto aceito"
DOC_MISSING_MANDATORY_IN58 = (
    "obrigatória (art. 9º, §1º, da IN SEGES/ME nº 58/2022), consta apenas justificativa"
)
DOC_MISSING_OPTIONAL = "sem texto aceito nem justificativa"
DOC_MISSING_IDENT = "Identificação — campo não preenchido: {label}"
DOC_PENDING_GAP = "Item {position} — {title}: a complementar — {gap}"
DOC_SKIPPED = (
    "Seção dispensada, com a justificativa a seguir (art. 18, §2º, da Lei nº 14.133/2021)."
)
DOC_SKIPPED_IN58 = (
    "Seção dispensada, com a justificativa a seguir (art. 18, §2º, da Lei nº 14.133/2021 e "
    "art. 9º, §1º, da IN SEGES/ME nº 58/2022)."
)
DOC_NOT_DONE = "[PENDENTE — seção obrigatória ainda não elaborada]"
DOC_NOT_DONE_OPTIONAL = "[PENDENTE — seção ainda não elaborada nem justificada]"
DOC_SECTION_HEADING = "{position}. {title}"
DOC_SUMMARY = "Resumo das seções"
DOC_SUMMARY_COLUMNS = ("Item", "Seção", "Obrigatória", "Situação")
DOC_YES = "Sim"
DOC_NO = "Não"
DOC_STATE = {
    "accepted": "Elaborada",
    "skipped": "Dispensada, com justificativa",
    "missing": "Pendente",
}
DOC_STATE_ACCEPTED_WITH_GAPS = "Elaborada, com pendências"
DOC_ROW_ORGAO = "Órgão/entidade"
DOC_ROW_UNIDADE = "Unidade requisitante"
DOC_ROW_MUNICIPIO = "Município/UF"
DOC_ROW_PROCESSO = "Processo"
DOC_ROW_DFD = "Documento de formalização da demanda (DFD)"
DOC_ROW_OBJETO = "Objeto"
DOC_ROW_PORTARIA = "Ato de designação da equipe"
DOC_ROW_BASIS = "Fundamento"
DOC_BASIS_LAW = "Art. 18 da Lei nº 14.133/2021"
DOC_BASIS_IN58 = "Art. 18 da Lei nº 14.133/2021 e art. 9º da IN SEGES/ME nº 58/2022"
DOC_TEAM = "Equipe de planejamento"
DOC_DESIGNATION = "Ato de designação da equipe de planejamento: {portaria}."
DOC_PLACE_DATE = "Local e data: {place}, {date}."
DOC_PLACE_BLANK = "____________________"
DOC_SIGNATURE = "Assinatura"
DOC_LEGAL_REF = "Art. 18, §1º, inciso {roman}, da Lei nº 14.133/2021"
DOC_AUTHORS = "Elaborado por: {names}"
DOC_LEGAL_REF_IN58 = (
    "Art. 9º, inciso {in58}, da IN SEGES/ME nº 58/2022 · "
    "art. 18, §1º, inciso {roman}, da Lei nº 14.133/2021"
)
# a reference to the law's inciso inside a section's text, in a document in IN 58 order
DOC_REF_IN58 = (
    "art. 9º, inciso {in58}, da IN SEGES/ME nº 58/2022 (art. 18, §1º, inciso {roman}, da Lei "
    "nº 14.133/2021)"
)
DOC_ORDER_IN58 = "Seções na ordem do art. 9º da IN SEGES/ME nº 58/2022."
DOC_ANNEXES = "Anexos"
DOC_ANNEX_LABEL = "Anexo {roman}"
DOC_ANNEX_LINE = "{label} — {title}{support}{where}"
DOC_ANNEX_SUPPORTS = " (item {item})"
DOC_ANNEX_TO_ATTACH = ": documento a juntar ao processo, SEI nº ____________."
DOC_ANNEX_BELOW = ": ao final deste documento."
DOC_ANNEX_PREPARED = "Elaborado por: {names}."
ANNEX_CALCULATION_MEMORY = "Memória de cálculo das quantidades e documentos que lhe dão suporte"
ANNEX_PRICE_MAP = "Mapa da pesquisa de preços (IN SEGES/ME nº 65/2021)"
ANNEX_QUOTATIONS = "Cotações e demais documentos da pesquisa de preços"
DOC_APPROVAL = "Aprovação"
DOC_APPROVAL_NOTE = (
    "Para preenchimento pela autoridade competente, quando o órgão exigir a aprovação."
)
DOC_APPROVAL_TEXT = "De acordo. Aprovo o presente Estudo Técnico Preliminar."
DOC_APPROVAL_DATE = "Local e data: ____________________, ____ de ______________ de ________."
DOC_APPROVAL_ROLE = "Autoridade competente"
DOC_APPROVAL_FIELDS = (
    "Nome: ________________________________________",
    "Cargo: _______________________________________",
)
DOC_IDENTIFICATION = "Identificação"
DOC_PAGE = "Página {page} de {pages}"
DOC_MEMBER_LINE = "{cargo} · Matrícula {matricula}"
DOC_CARGO = "Cargo"
DOC_MATRICULA = "Matrícula"
DOC_NO_TEAM = "[PENDENTE — equipe de planejamento não informada]"
DOC_SUBJECT = "Estudo Técnico Preliminar (art. 18 da Lei nº 14.133/2021)"
DOC_KEYWORDS = "ETP; estudo técnico preliminar; Lei nº 14.133/2021; processo {processo}"
DOC_CATEGORY = "Estudo Técnico Preliminar"
DOC_GENERATOR = "ETP Express"
MONTHS = (
    "janeiro",
    "fevereiro",
    "março",
    "abril",
    "maio",
    "junho",
    "julho",
    "agosto",
    "setembro",
    "outubro",
    "novembro",
    "dezembro",
)

# --- admin API (errors an admin reads) -----------------------------------------------------

API_UNAUTHORIZED = (
    "Token ausente, inválido ou revogado. Envie o cabeçalho Authorization: Bearer <token>."
)
API_FORBIDDEN = "Este token não tem permissão para esta operação (escopo exigido: {scope})."
API_ETP_NOT_FOUND = "ETP nº {id} não encontrado."
API_NOT_FOUND = "Recurso não encontrado."
API_RATE_LIMITED = "Limite de requisições excedido. Tente novamente em {seconds} s."
API_TOO_LARGE = "A requisição excede o limite de {limit} bytes."
API_UNAVAILABLE = "O banco de dados está indisponível. Tente novamente em instantes."
DOC_PERSONAL_OMITTED = "[dado pessoal omitido]"
API_UNKNOWN_PARAMETER = "Parâmetro desconhecido: {name!r}. Parâmetros aceitos: {known}."
API_DATE_OUT_OF_RANGE = "Data fora do intervalo representável."

# --- offline drafter ---------------------------------------------------------------------

# The frame the offline drafter puts around the answers. It writes no sentence of the user's:
# an opening that names the element (its noun phrase agrees in number through `verb`), one
# paragraph per question under its label, the conclusion the team chose, and what is missing.
DRAFT_OPENING = (
    "{verb}, a seguir, {noun}, com base nas informações prestadas pela equipe de planejamento."
)
DRAFT_OPENING_ALT = "{verb} nesta seção {noun}, conforme as informações da equipe de planejamento."
DRAFT_OPENING_VERBS = {
    "present": ("Apresenta-se", "Apresentam-se"),
    "record": ("Registra-se", "Registram-se"),
}
DRAFT_LABELED = "{label}: {text}"
DRAFT_COMPLEMENT = "Informações complementares"
DRAFT_GAP = "Pendência a complementar antes da aprovação deste estudo: {gaps}."
DRAFT_GAPS = "Pendências a complementar antes da aprovação deste estudo: {gaps}."
DRAFT_VERDICT = {
    "viavel": (
        "Diante do exposto, a equipe de planejamento declara que a contratação é viável e "
        "adequada ao atendimento da necessidade a que se destina."
    ),
    "nao_viavel": (
        "Diante do exposto, a equipe de planejamento declara que a contratação não é viável "
        "para o atendimento da necessidade a que se destina, pelas razões acima expostas."
    ),
    "viavel_com_ressalvas": (
        "Diante do exposto, a equipe de planejamento declara que a contratação é viável, com as "
        "ressalvas acima indicadas, que deverão ser atendidas antes do prosseguimento da "
        "contratação."
    ),
}
DRAFT_NO_VERDICT = (
    "Pendência a complementar antes da aprovação deste estudo: escolha explícita do "
    "posicionamento conclusivo (viável, não viável ou viável com ressalvas)."
)

# --- section XIII: the team's explicit choice -------------------------------------------

VERDICT_ASK = (
    "{header} (obrigatória)\nQual é o posicionamento da equipe de planejamento sobre a "
    "contratação? Escolha uma das opções abaixo (ou escreva exatamente: viável, não viável ou "
    "viável com ressalvas). Em seguida, pediremos as razões."
)
VERDICT_NOT_A_CHOICE = (
    "Para o posicionamento conclusivo, escolha uma das opções: viável, não viável ou viável "
    "com ressalvas. A decisão é da equipe e não é deduzida do texto; as razões vêm na próxima "
    "pergunta. Nada foi registrado."
)
VERDICT_SET = "Posicionamento registrado: {verdict}."
VERDICT_MISSING = (
    "Falta a escolha explícita do posicionamento conclusivo. Escolha uma das opções; a minuta "
    "será refeita com a conclusão correspondente."
)
VERDICT_ELSEWHERE = (
    "O posicionamento conclusivo é registrado na seção 13. Use /secao 13 e escolha uma das opções."
)
VERDICT_USAGE = (
    "Escolha: /conclusao viável, /conclusao não viável ou /conclusao viável com ressalvas."
)

# --- /lei: what the law asks of a section ---------------------------------------------------

LAW_TEXT = (
    "Seção {n} de 13 · {title}\nArt. 18, §1º, inciso {roman}, da Lei nº 14.133/2021: "
    "“{statute}”.\n{rule}"
)
LAW_MANDATORY = "Elemento obrigatório: o ETP deve contê-lo (art. 18, §2º)."
LAW_OPTIONAL = "Elemento que pode ser omitido, desde que com a devida justificativa (art. 18, §2º)."
LAW_USAGE = "Informe a seção, de 1 a 13: /lei <nº>. Dentro de uma seção, /lei mostra a seção atual."

LLM_FALLBACK = (
    "O serviço de redação automática está indisponível; a minuta foi redigida pelo redator local."
)
# What happened when the automatic drafting did not write the draft; the local drafter wrote it.
FALLBACK_BY_CAUSE = {
    "quota": (
        "O serviço de redação automática atingiu o limite de uso no momento; a minuta foi "
        "redigida pelo redator local. Use /refazer mais tarde para uma nova redação automática."
    ),
    "timeout": (
        "O serviço de redação automática não respondeu a tempo (tempo esgotado); a minuta foi "
        "redigida pelo redator local."
    ),
    "invalid": (
        "O serviço de redação automática devolveu uma resposta inválida ou incompleta; a minuta "
        "foi redigida pelo redator local."
    ),
    "unavailable": LLM_FALLBACK,
    "refused": (
        "O serviço de redação automática recusou o acesso (credencial ou configuração); a "
        "minuta foi redigida pelo redator local. Informe o administrador do sistema."
    ),
    "budget": (
        "Este ETP atingiu o limite de uso de redação automática definido pelo órgão "
        "(LLM_MAX_TOKENS_PER_ETP); a minuta foi redigida pelo redator local."
    ),
    "rate": (
        "Você atingiu o limite de minutas por hora da redação automática; esta minuta foi "
        "redigida pelo redator local. Tente /refazer mais tarde."
    ),
}
# /status: what the ETP's LLM drafts cost so far
STATUS_LLM = "Redação automática: {tokens} tokens utilizados (custo estimado US$ {cost})."
REDO_INSTRUCTION_TOO_LONG = (
    "A instrução para refazer a minuta tem {length} caracteres; o máximo é {limit}. Resuma o "
    "pedido (por exemplo, /refazer mais conciso)."
)
# Shown above a draft whose figures or citations were not found in the team's material.
GROUNDING_NOTE = "Verifique: {items}."
GROUNDING_FIGURE = 'o valor "{text}" não consta das respostas'
GROUNDING_CITATION = 'a citação "{text}" não foi encontrada na base de normas'
GROUNDING_SEP = "; "

# --- Slack -------------------------------------------------------------------------------

SLACK_THREAD_ROOT = (
    "{name} abriu uma conversa do ETP Express. Toda a equipe de planejamento pode responder "
    "nesta conversa; cada resposta, aceite e edição fica registrada com o nome de quem a fez."
)
SLACK_USE_THREAD = (
    "Neste canal, o comando {command} vale dentro da conversa do ETP: mencione o ETP Express "
    "na conversa (por exemplo, @ETP Express {command}) ou use os botões da conversa. Para "
    "começar um novo ETP, use /etp novo <título>."
)
SLACK_TEAM_NOT_ALLOWED = (
    "Este espaço de trabalho do Slack não está autorizado a usar o ETP Express. Fale com o "
    "administrador do sistema no seu órgão. Nada foi registrado."
)
SLACK_AUTHORIZE_ERROR = (
    "O ETP Express não está instalado neste espaço de trabalho. Peça ao administrador que o "
    "instale."
)
SLACK_FORM_TITLES = {"/editar": "Editar a minuta", "/pular": "Pular a seção", "/novo": "Novo ETP"}
SLACK_FORM_DEFAULT_TITLE = "ETP Express"
SLACK_FORM_HINTS = {
    "/editar": "Altere o texto da seção. Ao enviar, o texto substitui a minuta e é aceito.",
    "/pular": "Informe a justificativa para não elaborar esta seção (art. 18, §2º, da Lei nº "
    "14.133/2021).",
}
SLACK_FORM_LABELS = {"/editar": "Texto da seção", "/pular": "Justificativa", "/novo": "Título"}
SLACK_FORM_DEFAULT_LABEL = "Texto"
SLACK_FORM_MORE = "Continuação do texto"
SLACK_FORM_SUBMIT = "Enviar"
SLACK_FORM_CLOSE = "Cancelar"
SLACK_FORM_REFUSED = (
    "Este formulário não foi aberto para você neste local. Nada foi registrado; use os botões "
    "da conversa do ETP."
)
SLACK_INSTALL_OK_TITLE = "ETP Express instalado"
SLACK_INSTALL_OK = (
    "O ETP Express foi instalado no espaço de trabalho {team}. Volte ao Slack e use /etp novo "
    "<título> para começar um ETP."
)
SLACK_INSTALL_REFUSED_TITLE = "Instalação recusada"
SLACK_INSTALL_FAILED_TITLE = "Instalação não concluída"
SLACK_INSTALL_FAILED = "Não foi possível concluir a instalação ({reason}). Tente novamente."

# Drafts that lost their job (a process died, the queue lost it) and are written again
DRAFT_RESUMED = (
    "A redação da minuta da seção {n} — {title} havia sido interrompida e foi retomada agora."
)
DRAFT_INTERRUPTED = (
    "A redação da minuta da seção {n} — {title} foi interrompida por uma falha temporária do "
    "serviço. Suas respostas estão guardadas e a redação será retomada automaticamente; se "
    "preferir, use /refazer para recomeçá-la."
)

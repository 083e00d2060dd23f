"""The price research's sentences (section VI, IN SEGES/ME nº 65/2021), pt-BR."""

from __future__ import annotations

IN65 = "IN SEGES/ME nº 65/2021"
IN65_FULL = "Instrução Normativa SEGES/ME nº 65, de 7 de julho de 2021"

KIND_LABELS = {
    "painel": "Painel de Preços / banco de preços em saúde",
    "similar": "Contratação similar da Administração Pública",
    "midia": "Mídia especializada, tabela de referência ou sítio eletrônico",
    "fornecedor": "Pesquisa direta com fornecedor",
    "nfe": "Nota fiscal eletrônica",
}
KIND_DOC = {
    "painel": "sistemas oficiais de governo, como o Painel de Preços e o banco de preços em saúde",
    "similar": "contratações similares da Administração Pública",
    "midia": "mídia especializada, tabelas de referência ou sítios eletrônicos",
    "fornecedor": "pesquisa direta com fornecedores",
    "nfe": "base nacional de notas fiscais eletrônicas",
}
KIND_SHORT = {
    "painel": "Painel de Preços",
    "similar": "Contratação similar",
    "midia": "Mídia/sítio",
    "fornecedor": "Fornecedor",
    "nfe": "Nota fiscal",
}
# "menor valor", as art. 6º says: "menor preço" names an award criterion (Lei, art. 33, I)
METHOD_LABELS = {"media": "média", "mediana": "mediana", "menor": "menor valor"}
METHOD_NOUNS = {
    "media": "a média",
    "mediana": "a mediana",
    "menor": "o menor dos valores obtidos",
}

# --- parsing ---------------------------------------------------------------------------------
BAD_VALUE = (
    'Não consegui ler "{value}" como valor em reais. Use o formato brasileiro, por exemplo: '
    "R$ 4.189,00, 4.189 ou 25,90 (vírgula para os centavos, ponto para os milhares). Nada foi "
    "registrado."
)
VALUE_NOT_POSITIVE = 'O valor "{value}" não é positivo. Nada foi registrado.'
VALUE_TOO_LARGE = 'O valor "{value}" é grande demais para um preço unitário. Nada foi registrado.'
VALUE_TOO_PRECISE = (
    'O valor "{value}" tem mais de 4 casas decimais. Informe-o com até 4 casas. Nada foi '
    "registrado."
)
BAD_DATE = (
    'Não consegui ler "{value}" como data. Use dd/mm/aaaa, por exemplo: 10/11/2026 (para sítios '
    "eletrônicos, com a hora de acesso: 10/11/2026 14:30). Nada foi registrado."
)
FUTURE_DATE = 'A data "{value}" é futura. Informe a data do preço. Nada foi registrado.'
BAD_QUANTITY = (
    'Não consegui ler "{value}" como quantidade. Informe o número e a unidade, por exemplo: '
    "120 resmas ou 1.500 litros. Nada foi registrado."
)
BAD_LINE = (
    'Não consegui ler "{line}" como um preço. Informe um preço por linha, com os campos '
    "separados por ponto e vírgula:\nfonte; identificação; data; valor unitário\npor exemplo: "
    "fornecedor; Papelaria Alfa Ltda, CNPJ 12.345.678/0001-90; 10/11/2026; R$ 25,90\n"
    "Nada foi registrado."
)
NO_KIND = (
    'Falta a fonte do preço em "{line}". Comece a linha pela fonte (painel, similar, mídia, '
    "fornecedor ou nota fiscal), ou escolha a fonte no botão antes de enviar. Nada foi registrado."
)
NO_VALUE = 'Falta o valor unitário em reais em "{line}". Nada foi registrado.'
NO_DATE = 'Falta a data do preço (dd/mm/aaaa) em "{line}". Nada foi registrado.'
NO_SOURCE = (
    'Falta a identificação da fonte em "{line}" (o pregão ou a ata e o órgão, o fornecedor e o '
    "CNPJ, o sítio eletrônico). Nada foi registrado."
)
SOURCE_TOO_LONG = (
    "A identificação da fonte excede {limit} caracteres. Resuma-a. Nada foi registrado."
)
TABLE_FULL = "A tabela já tem {limit} preços, o máximo. Remova um antes de incluir outro."
NO_SUCH_LINE = "Não há preço nº {n} na tabela. Nada foi alterado."
REASON_TOO_SHORT = "Escreva a justificativa com ao menos {words} palavras. Nada foi registrado."
REASON_TOO_LONG = "A justificativa excede {limit} caracteres. Resuma-a. Nada foi registrado."
NO_VALID_PRICES = "Não há preço válido na tabela para calcular a estimativa."
PAINEL_CEILING = (
    "Com preços apenas dos sistemas oficiais (art. 5º, I), o valor estimado não pode superar a "
    "mediana do item nos sistemas consultados (art. 6º, § 6º, da " + IN65 + "), aqui a mediana "
    "dos preços informados: {value} supera {median}. Escolha a mediana ou o menor valor."
)
WARN_NO_TIME = "falta a hora de acesso ao sítio (art. 5º, III)"
WARN_NO_CNPJ = "falta o CNPJ ou o CPF do fornecedor (art. 5º, § 2º, II, b)"
GAP_NO_TIME = "hora de acesso aos sítios eletrônicos ({lines} da pesquisa)"
GAP_NO_CNPJ = "CNPJ ou CPF do fornecedor ({lines} da pesquisa)"
LINE_ONE = "preço nº {n}"
LINE_MANY = "preços nºs {n}"

# --- the chat ------------------------------------------------------------------------------
HEADER = "Pesquisa de preços (" + IN65 + ")"
COLLECT = (
    "Informe os preços pesquisados, um por linha (pode colar vários de uma vez), no formato:\n"
    "fonte; identificação; data; valor unitário\n"
    "Fontes (art. 5º): painel (I), similar (II), mídia ou sítio (III), fornecedor (IV), nota "
    "fiscal (V). Exemplos:\n"
    "painel; Pregão 12/2026, UASG 160123; 03/10/2026; R$ 24,50\n"
    "fornecedor; Papelaria Alfa Ltda., CNPJ 12.345.678/0001-90; 10/11/2026; 25,90\n"
    "sítio; www.loja.com.br; 20/11/2026 14:30; 26,10\n"
    "Dê prioridade aos sistemas oficiais e às contratações similares (art. 5º, § 1º), informe "
    "os valores já atualizados pelo índice correspondente, quando houver (art. 5º, I e II), e "
    "compare preços em condições comerciais equivalentes (art. 4º). Quando a tabela estiver "
    "completa, use o botão Concluir a tabela (ou /precos concluir)."
)
COLLECT_KIND = "Fonte escolhida: {kind}. Envie agora: identificação; data; valor unitário."
TABLE_TITLE = "Tabela de preços ({count}):"
COLLECT_MORE = (
    "Envie o próximo preço (fonte; identificação; data; valor unitário) ou conclua a tabela."
)
TABLE_EMPTY = "A tabela de preços está vazia."
TABLE_LINE = "{n}. {kind} (inc. {inciso}) · {source} · {date}{time} · {value}{flags}"
FLAG_EXPIRED = " · fora do prazo do inciso {inciso} ({months} meses): desconsiderado"
FLAG_EXCLUDED = " · desconsiderado: {reason}"
FLAG_KEPT = " · assinalado e mantido: {reason}"
FLAG_CANDIDATE = " · assinalado para análise ({share} da mediana)"
FLAG_WARNING = " · atenção: {warning}"
TABLE_FOOTER = (
    "Para remover: /precos remover N. Para corrigir: /precos corrigir N fonte; identificação; "
    "data; valor."
)
ADDED = "Preço registrado ({count} na tabela)."
ADDED_MANY = "{count} preços registrados ({total} na tabela)."
REMOVED = "Preço nº {n} removido da tabela."
CORRECTED = "Preço nº {n} corrigido."
CLOSE_EMPTY = "A tabela não tem preço válido. Informe ao menos um preço antes de concluí-la."
CLOSED = "Tabela de preços concluída em {date}, com {prices}."
REOPENED = (
    "A tabela de preços foi reaberta: inclua, corrija ou remova preços e conclua-a novamente. O "
    "texto da seção VI será redigido outra vez com os novos números."
)
STATS = (
    "Considerados {valid}, obtiveram-se: média de {mean}; mediana de {median}; menor valor de "
    "{lowest}; maior valor de {highest}{spread}."
)
STATS_ONE = "Único preço válido: {lowest}."
VALID_MANY = "os {n} ({words}) preços válidos"
VALID_COUNT_ONE = "1 (um) preço válido"
VALID_COUNT_MANY = "{n} ({words}) preços válidos"
PRICES_ONE = "1 (um) preço"
PRICES_MANY = "{n} ({words}) preços"
STATS_SPREAD = "; desvio-padrão de {stdev}; coeficiente de variação de {cv}"
DECIDE = (
    "O preço nº {n} ({value}, {kind}) corresponde a {share} da mediana da série ({median}): o "
    "critério adotado assinala os preços abaixo de {low} ou acima de {high} da mediana, que podem "
    "ser inexequíveis, inconsistentes ou excessivamente elevados (art. 6º da " + IN65 + "). A "
    "equipe o desconsidera ou o mantém? Escolha e informe o motivo, por exemplo: excluir, pois a "
    "proposta inclui serviço de instalação não previsto no objeto."
)
DECIDE_REASON = "Informe o motivo para {choice} o preço nº {n}."
DECIDE_NOT_A_CHOICE = (
    "Comece a resposta por excluir ou manter, seguido do motivo, ou use os botões. Nada foi "
    "registrado."
)
DECIDED_EXCLUDED = "Preço nº {n} desconsiderado no cálculo. Motivo registrado."
DECIDED_KEPT = "Preço nº {n} mantido no cálculo. Motivo registrado."
CHOICE_EXCLUDE = "excluir"
CHOICE_KEEP = "manter"
FEWER = (
    "A pesquisa tem {valid}; a " + IN65 + " (art. 6º) exige ao menos 3. Somente em caráter "
    "excepcional se admite estimativa com menos de três preços, mediante justificativa do gestor "
    "responsável e aprovação da autoridade competente (art. 6º, § 5º). Justifique, ou use "
    "/precos reabrir para incluir mais preços."
)
SOURCES = (
    "Nenhum preço válido vem dos sistemas oficiais (inciso I) nem de contratações similares "
    "(inciso II), parâmetros cuja priorização a " + IN65 + " determina (art. 5º, § 1º). Explique "
    "por que não foi possível usá-los."
)
SUPPLIERS = (
    "Como os fornecedores consultados foram escolhidos (art. 5º, IV, e art. 3º, VIII, da "
    + IN65
    + ")? A pesquisa direta exige ao menos 3 fornecedores consultados; registre também os que "
    "não responderam (art. 5º, § 2º, IV)."
)
METHOD = (
    "Qual método define o preço de referência (art. 6º)? Média: {mean}; mediana: {median}; "
    "menor valor: {lowest}. {suggestion}"
)
METHOD_SUGGESTION = (
    "Sugestão (prática usual, não regra da instrução): com coeficiente de variação de {cv}, "
    "{suggested}."
)
METHOD_SUGGESTION_NONE = "Com um só preço, os três métodos dão o mesmo valor."
SUGGEST_MEAN = "a média (coeficiente até 25%)"
SUGGEST_MEDIAN = "a mediana (coeficiente acima de 25%: a série é dispersa)"
METHOD_NOT_A_CHOICE = (
    "Responda média, mediana ou menor valor, ou use os botões. Nada foi registrado."
)
METHOD_SET = "Método: {method}. Preço unitário de referência: {unit}."
METHOD_REASON = (
    "A prática usual sugeria {suggested}; a equipe escolheu {chosen}. Registre o motivo (art. 3º, "
    "VI, da " + IN65 + ")."
)
QUANTITY = (
    "Para o valor total, informe a quantidade total da seção IV e a unidade, por exemplo: "
    "120 resmas."
)
QUANTITY_IN_IV = QUANTITY + " Use /aceitar para seguir sem ela; a seção VI a pedirá."
QUANTITY_SET = "Quantidade registrada: {quantity}."
CONFIDENTIAL = (
    "O valor estimado deve constar do corpo do ETP, ou de anexo classificado, sigiloso até a "
    "conclusão da licitação (art. 18, § 1º, VI, e art. 24 da Lei nº 14.133/2021)? O sigilo "
    "depende de justificativa, não prevalecerá para os órgãos de controle interno e externo "
    "(art. 24, I) e não cabe quando o critério de julgamento for o maior desconto (art. 24, "
    "parágrafo único)."
)
CONFIDENTIAL_REASON = (
    "Justifique o sigilo do orçamento estimado (art. 24 da Lei nº 14.133/2021), por exemplo: o "
    "valor de referência, se divulgado, tenderia a orientar as propostas e a reduzir a disputa."
)
CONFIDENTIAL_NOT_A_CHOICE = "Escolha público ou sigiloso, ou use os botões. Nada foi registrado."
CONFIDENTIAL_SET_PUBLIC = "O valor estimado constará do corpo do ETP."
CONFIDENTIAL_SET_SECRET = (
    "O valor estimado constará de anexo sigiloso; o texto da seção VI não o apresentará."
)
SUMMARY = (
    "Preço unitário de referência ({method} de {prices}): {unit}. Quantidade (seção IV): "
    "{quantity}. Valor total estimado: {unit} × {amount} = {total}."
)
TOTAL_CHANGED = "O valor total estimado da seção VI mudou: de {old} para {new}."
TOTAL_CHANGED_BECAUSE = "O valor total estimado da seção VI mudou: de {old} para {new} ({reason})."
TOTAL_CHANGED_QUANTITY = "a quantidade passou a {quantity}"
TEXT_STALE = (
    "O texto aceito da seção VI traz os números anteriores. Use /secao 6 e /refazer para "
    "redigi-lo com os números atuais; até lá, o documento aponta a pendência."
)
PENDING_STALE = "texto da seção VI a atualizar: os preços ou a quantidade mudaram depois do aceite"
NOT_IN_RESEARCH = "A pesquisa de preços é feita na seção VI. Use /secao 6."
UNKNOWN_ACTION = (
    "Não reconheci “{action}”. Use /precos para ver a tabela; /precos remover N; /precos "
    "corrigir N linha; /precos concluir; /precos reabrir; /precos metodo media|mediana|menor; "
    "/precos sigilo sim|nao."
)

# --- buttons ---------------------------------------------------------------------------------
BTN_KIND = {
    "painel": "Painel de Preços (I)",
    "similar": "Contratação similar (II)",
    "midia": "Mídia ou sítio (III)",
    "fornecedor": "Fornecedor (IV)",
    "nfe": "Nota fiscal (V)",
}
BTN_CLOSE = "Concluir a tabela"
BTN_EXCLUDE = "Excluir o nº {n}"
BTN_KEEP = "Manter o nº {n}"
BTN_METHOD = {"media": "Média", "mediana": "Mediana", "menor": "Menor valor"}
BTN_PUBLIC = "No corpo do ETP"
BTN_SECRET = "Em anexo sigiloso"
CONFIDENTIAL_WORDS = {
    "publico": False,
    "nao": False,
    "no corpo do etp": False,
    "corpo": False,
    "sigiloso": True,
    "sim": True,
    "em anexo sigiloso": True,
    "anexo sigiloso": True,
}

# --- the document ----------------------------------------------------------------------------
ANNEX_TITLE = "Mapa comparativo de preços (" + IN65 + ")"
ANNEX_TITLE_SECRET = (
    "Mapa comparativo de preços (" + IN65 + ") — ANEXO SIGILOSO (art. 24 da Lei nº 14.133/2021)"
)
ANNEX_HEAD = ("Nº", "Fonte (art. 5º)", "Identificação", "Data", "Valor unitário", "Situação")
ANNEX_VALID = "válido"
ANNEX_EXPIRED = "desconsiderado: fora do prazo do inciso {inciso}"
ANNEX_EXCLUDED = "desconsiderado: {reason}"
ANNEX_KEPT = "mantido: {reason}"
ANNEX_SECRET_NOTE = (
    "Anexo de caráter sigiloso até a conclusão da licitação (art. 18, § 1º, VI, e art. 24 da Lei "
    "nº 14.133/2021); o sigilo não prevalece para os órgãos de controle interno e externo (art. "
    "24, I). Justificativa do sigilo: {reason}."
)
DOC_RESEARCH = (
    "A pesquisa de preços, concluída em {date}, reuniu {prices}, provenientes das seguintes "
    "fontes previstas no art. 5º da " + IN65_FULL + ": {kinds}, conforme o mapa comparativo de "
    "preços anexo a este estudo."
)
DOC_RESEARCH_ANNEX = (
    "A pesquisa de preços, concluída em {date}, reuniu {prices}, provenientes das seguintes "
    "fontes previstas no art. 5º da " + IN65_FULL + ": {kinds}."
)
DOC_OBJECT = "Objeto: {objeto}. Quantidade (seção IV): {quantity}."
DOC_CRITERION = (
    "Critério adotado pela equipe de planejamento para a análise crítica dos preços (art. 6º, "
    "§§ 3º e 4º): foram assinalados os valores abaixo de {low} ou acima de {high} da mediana da "
    "série coletada ({median}), como possivelmente inexequíveis ou excessivamente elevados; cada "
    "preço assinalado foi mantido ou desconsiderado por decisão motivada da equipe."
)
DOC_AGES = (
    "Limites temporais das fontes (art. 5º): sistemas oficiais (inciso I), sem prazo fixado; "
    "contratações similares (inciso II), até 1 (um) ano anterior à data da pesquisa de preços; "
    "mídia especializada, tabelas de referência e sítios eletrônicos (inciso III) e cotações de "
    "fornecedores (inciso IV), até 6 (seis) meses, e notas fiscais eletrônicas (inciso V), até 1 "
    "(um) ano, de antecedência da data de divulgação do edital. Neste estudo, os prazos foram "
    "aferidos na data da pesquisa e deverão ser verificados novamente na divulgação do edital."
)
DOC_DEADLINE = (
    "Para que todos os preços válidos das fontes dos incisos III a V permaneçam no prazo, o "
    "edital deverá ser divulgado até {date}."
)
DOC_EXCLUDED = (
    "O preço nº {n} ({value}, {kind}){position} foi desconsiderado pela equipe de planejamento "
    "(art. 6º, caput e § 3º): {reason}."
)
DOC_POSITION = ", correspondente a {share} da mediana da série,"
DOC_EXPIRED = (
    "O preço nº {n} ({value}, {kind}, de {date}) foi desconsiderado por exceder o prazo previsto "
    "no inciso {inciso} do art. 5º."
)
DOC_KEPT = (
    "O preço nº {n} ({value}), correspondente a {share} da mediana da série e assinalado pelo "
    "critério, foi mantido no cálculo pelo seguinte motivo: {reason}."
)
DOC_METHOD = "Método adotado (art. 6º, caput): {method}."
DOC_METHOD_REASON = "Justificativa do método (art. 3º, VI): {reason}."
DOC_METHOD_WHY_MEAN = (
    "Justificativa do método (art. 3º, VI): o coeficiente de variação da série, de {cv}, não "
    "excede 25%, o que indica série homogênea, adequadamente representada pela média."
)
DOC_METHOD_WHY_MEDIAN = (
    "Justificativa do método (art. 3º, VI): o coeficiente de variação da série, de {cv}, excede "
    "25%, o que indica série dispersa; adota-se a mediana, menos sensível a valores extremos."
)
DOC_FEWER = (
    "Justificativa para a adoção de menos de três preços (art. 6º, § 5º), submetida à aprovação "
    "da autoridade competente: {reason}."
)
DOC_SOURCES = (
    "Justificativa para a não utilização dos parâmetros dos incisos I e II do art. 5º (art. 5º, "
    "§ 1º): {reason}."
)
DOC_SUPPLIERS = (
    "Justificativa da escolha dos fornecedores consultados (art. 3º, VIII, e art. 5º, IV): "
    "{reason}."
)
DOC_MEMORY = (
    "Memória de cálculo: preço unitário de referência de {unit} ({how}) × quantidade de "
    "{quantity} = valor total estimado de {total} ({words})."
)
HOW_MEAN = "média: ({values}) ÷ {n}"
HOW_MEDIAN = "mediana dos valores ordenados: {values}"
HOW_LOWEST = "menor dos valores válidos"
DOC_SECRET = (
    "O valor estimado da contratação, os preços unitários referenciais e a memória de cálculo "
    "constam do mapa comparativo de preços, em anexo sigiloso até a conclusão da licitação, "
    "nos termos do art. 18, § 1º, VI, e do art. 24 da Lei nº 14.133/2021. Justificativa do "
    "sigilo: {reason}."
)
FACT_QUANTITY = (
    "Quantidade total a contratar, considerada no valor estimado (seção VI): {quantity}."
)

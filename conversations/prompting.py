"""A section's context as prompt blocks: the task, the user's material fenced as data, and the
request (first draft, redo with the previous text and an instruction, redraft without the
unsupported items). Pure text; etp/llm.py puts it into its langchain-core templates."""

from __future__ import annotations

from conversations.catalogue import messages as m
from conversations.catalogue import prompts as p
from conversations.catalogue.sections import BY_NUMBER, ROMAN
from conversations.fencing import escape, fence
from conversations.ports import DraftContext

# A section's draft runs to a few paragraphs; asked for in words, bounded in tokens by max_tokens.
WORDS = 350


def _roman(n: int) -> str:
    return ROMAN[n - 1]


def blocks(context: DraftContext) -> dict[str, str]:
    """tarefa, dados and pedido of the HUMAN template."""
    spec = BY_NUMBER[context.section]
    tarefa = p.TASK.format(
        roman=spec.roman, title=spec.title, ref=spec.legal_ref, statute=spec.statute
    )
    ident = [
        (p.IDENTIFICATION_FIELDS["orgao"], context.orgao),
        (p.IDENTIFICATION_FIELDS["unidade"], context.unidade),
        (p.IDENTIFICATION_FIELDS["processo"], context.processo),
        (p.IDENTIFICATION_FIELDS["objeto"], context.objeto),
        (p.IDENTIFICATION_FIELDS["data"], context.date),
    ]
    parts = [fence("identificacao", [({"campo": k}, v) for k, v in ident if v])]
    parts.append(
        fence(
            "respostas",
            [({"secao": spec.roman, "pergunta": q or p.COMPLEMENT}, a) for q, a in context.answers],
        )
    )
    if context.depends:
        parts.append(
            fence(
                "respostas_relacionadas",
                [
                    ({"secao": _roman(n), "pergunta": q or p.COMPLEMENT}, a)
                    for n, q, a in context.depends
                ],
            )
        )
    if context.skipped:
        parts.append(
            fence(
                "secoes_dispensadas",
                [({"secao": _roman(n)}, why) for n, why in context.skipped],
            )
        )
    if context.earlier:
        parts.append(
            fence("textos_aceitos", [({"secao": _roman(n)}, text) for n, text in context.earlier])
        )
    if context.facts:
        parts.append(fence("dados_calculados", [({}, fact) for fact in context.facts]))
    if context.gaps:
        parts.append(fence("pendencias", [({}, gap) for gap in context.gaps]))
    if context.mandatory:
        parts.append(
            escape(p.MANDATORY.format(sections=", ".join(_roman(n) for n in context.mandatory)))
        )
    if context.previous:
        parts.append(fence("versao_anterior", [({}, context.previous)]))
    pedido = [p.REQUEST.format(words=WORDS)]
    if context.facts:
        pedido.append(p.REQUEST_FACTS)
    if context.previous:
        pedido.append(p.REQUEST_REDO.format(attempt=context.attempt))
    if context.instruction:
        # the instruction is the user's too: escaped, and it cannot close the data block
        pedido.append(p.REQUEST_INSTRUCTION.format(instruction=escape(context.instruction)))
    if context.findings:
        pedido.append(p.REQUEST_FINDINGS.format(items="; ".join(context.findings)))
    if spec.verdict:
        # the team's explicit choice, never the model's reading of the answers
        closing = m.DRAFT_VERDICT.get(context.verdict)
        pedido.append(
            p.REQUEST_VERDICT.format(sentence=closing) if closing else p.REQUEST_NO_VERDICT
        )
    return {"tarefa": tarefa, "dados": "\n".join(parts), "pedido": "\n".join(pedido)}


def render(context: DraftContext) -> str:
    """The whole prompt as text (the system part and the human part), for sizes and benches."""
    return p.SYSTEM + "\n\n" + p.HUMAN.format(**blocks(context))


def material(context: DraftContext) -> str:
    """Everything the draft may take a fact from, as one text, for the grounding check."""
    texts = [context.objeto, context.processo, context.orgao, context.unidade, context.date]
    texts += [a for _, a in context.answers]
    texts += [a for _, _, a in context.depends]
    texts += [t for _, t in context.earlier]
    texts += [t for _, t in context.skipped]
    texts += list(context.gaps)
    texts += list(context.facts)
    return "\n\n".join(t for t in texts if t)


def user_texts(context: DraftContext) -> list[str]:
    """The texts the users typed, for the injection check."""
    return (
        [a for _, a in context.answers]
        + [a for _, _, a in context.depends]
        + ([context.instruction] if context.instruction else [])
    )

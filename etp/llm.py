"""The OpenAI drafter: langchain-core prompt + langchain-openai chat model, a DraftWriter adapter."""

from __future__ import annotations

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI

from conversations.catalogue.sections import BY_NUMBER
from conversations.ports import Draft, DraftContext
from etp.settings import LlmSettings

SYSTEM = (
    "Você redige Estudos Técnicos Preliminares (art. 18 da Lei nº 14.133/2021) para a "
    "Administração Pública brasileira. Escreva em português formal, impessoal e claro, em "
    "parágrafos, sem títulos nem listas de marcadores. Use somente os fatos fornecidos: nunca "
    "invente números, valores, datas, nomes ou fontes. Se faltar uma informação, registre que "
    "ela deverá ser complementada."
)


class OpenAiDrafter:
    """Drafts with an OpenAI-compatible chat model; OPENAI_BASE_URL may point at any server."""

    name = "openai"
    inline = False  # seconds per draft: a background job

    def __init__(self, settings: LlmSettings, *, timeout: float = 60.0) -> None:
        self.model = ChatOpenAI(
            model=settings.openai_model,
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            timeout=timeout,
            max_retries=1,
            temperature=0.2,
        )

    async def write(self, context: DraftContext) -> Draft:
        spec = BY_NUMBER[context.section]
        lines = [
            f"Seção {spec.roman} — {spec.title} ({spec.legal_ref}).",
            f"O que a lei pede: {spec.statute}.",
            f"Objeto: {context.objeto}. Processo: {context.processo or 'não informado'}. "
            f"Órgão: {context.orgao or 'não informado'}.",
            "Respostas da equipe:",
        ]
        lines += [f"- {q or 'Complemento'}: {a}" for q, a in context.answers]
        if context.earlier:
            lines.append("Seções já aceitas (para coerência):")
            lines += [f"- Seção {BY_NUMBER[n].roman}: {text[:1500]}" for n, text in context.earlier]
        if context.gaps:
            lines.append("Pendências a registrar: " + "; ".join(context.gaps))
        if context.attempt > 1:
            lines.append("Redija uma nova versão, com redação diferente da anterior.")
        reply = await self.model.ainvoke([SystemMessage(SYSTEM), HumanMessage("\n".join(lines))])
        text = reply.content if isinstance(reply.content, str) else str(reply.content)
        if not text.strip():
            raise ValueError("the model answered with an empty draft")
        usage = getattr(reply, "usage_metadata", None) or {}
        return Draft(text.strip(), self.name, tokens=int(usage.get("total_tokens", 0)))

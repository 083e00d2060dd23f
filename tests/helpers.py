"""Small test helpers: a collecting channel over the real service, and keyword-only factories."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings
from sqlalchemy import text

from conversations.drafting import OfflineDrafter
from conversations.events import Address, Author, Inbound
from conversations.model import Etp
from conversations.ports import Draft, DraftContext, DraftWriter
from conversations.replies import Document, DraftingStarted, Reply, Text
from conversations.service import EtpService, InProcessDraftQueue
from etp.container import App, build_app
from etp.settings import DatabaseSettings, Settings


def drafter_for(server: Any, url: str) -> DraftWriter:
    """The OpenAI drafter of the settings for `url`, aimed at the local test server `server`."""
    from pydantic import SecretStr

    from etp.container import build_drafter
    from etp.settings import LlmSettings

    settings = settings_for(url)
    override(
        settings,
        llm=LlmSettings(
            llm_provider="auto", openai_api_key=SecretStr("sk-test-key"), openai_base_url=server.url
        ),
    )
    return build_drafter(settings)


def days_ago(days: int) -> str:
    return (date.today() - timedelta(days=days)).strftime("%d/%m/%Y")


def dated(text: str) -> str:
    """`text` with {dNN} as the date NN days ago (prices stay within their age limits)."""
    return text.format(**{f"d{n}": days_ago(n) for n in (5, 10, 20, 40, 60, 90, 200, 400)})


GOOD_ANSWERS: dict[int, list[str]] = {
    1: [
        "Faltam resmas de papel para a impressão de processos e ofícios nas unidades.",
        "Todas as unidades administrativas e o público atendido no protocolo.",
        "Os processos físicos ficam parados e os prazos legais são descumpridos.",
    ],
    2: [
        "Consta do PCA 2026, item 45.",
        "Alinha-se ao objetivo estratégico de eficiência administrativa.",
    ],
    3: [
        "Papel A4 75 g/m², alvura mínima de 90%, conforme norma ABNT NBR 15755.",
        "Fornecimento não contínuo, sem indicação de marca.",
        "Papel com certificação FSC ou reciclado.",
    ],
    4: [
        "1200 resmas de papel A4.",
        "Média do consumo histórico dos últimos 3 anos: 100 resmas por mês.",
        "A digitalização de processos pode reduzir a demanda.",
    ],
    5: [
        "1) Compra direta por pregão; 2) adesão a ata de registro de preços; 3) locação de impressão.",
        "A compra tem menor custo unitário; a ata depende de saldo; a locação inclui impressoras.",
        "Escolhida a compra por pregão, por ser mais vantajosa economicamente.",
    ],
    # the price research: a table of three prices (their dates a few weeks back, so that no
    # source is ever past its age limit), closed; how the supplier was chosen; the mean; the
    # value in the body of the ETP. 1.200 resmas (section IV) x R$ 25,20 = R$ 30.240,00
    6: [
        dated(
            "painel; Pregão eletrônico 12/2026, UASG 160123; {d40}; R$ 24,50\n"
            "similar; Ata de registro de preços 5/2026, Prefeitura de Campinas; {d60}; 25,10\n"
            "fornecedor; Papelaria Alfa Ltda, CNPJ 12.345.678/0001-90; {d20}; R$ 26,00"
        ),
        "/precos concluir",
        "Fornecedores do ramo cadastrados no SICAF; três foram consultados por e-mail e um "
        "respondeu.",
        "média",
        "público",
    ],
    7: [
        "Fornecimento de papel com entrega nas unidades.",
        "Garantia de troca de lotes com defeito, sem manutenção.",
    ],
    8: [
        "O objeto é um único item.",
        "Contratação por item único, porque dividir perderia economia de escala.",
    ],
    9: [
        "Redução de 20% no tempo de tramitação.",
        "Indicador: número de processos parados por falta de papel.",
    ],
    10: [
        "Não há adequações de espaço.",
        "Capacitação do fiscal pela Coordenação de Logística até março de 2027.",
    ],
    11: ["Não há contratação interdependente.", "Não há contrato vigente relacionado."],
    12: [
        "Consumo de papel gera resíduos.",
        "Mitigação por reciclagem e logística reversa das embalagens.",
    ],
    13: [
        "viável",
        "Os benefícios justificam o custo, pois evitam a paralisação dos processos e o "
        "descumprimento de prazos legais.",
    ],
}

IDENTIFICATION = [
    "Ministério da Gestão e da Inovação",
    "Coordenação-Geral de Logística",
    "Brasília/DF",
    "23000.001234/2026-11",
    "DFD nº 45/2026",
    "ETP nº 7/2026",
    "Aquisição de papel A4 para impressão",
    "Maria Silva; Analista Administrativa; 1234567",
    "/aceitar",
    "Portaria nº 10/2026",
]


def override(settings: Settings, **parts: BaseSettings | dict[str, Any]) -> Settings:
    """`settings` with these parts in place of those read from the environment: a part whole
    (`redis=RedisSettings(...)`) or some of its fields (`telegram={"telegram_bot_rate": 2.0}`).
    Settings reads each part once (a cached property); an override must come before the code
    under test reads it."""
    for name, part in parts.items():
        if not isinstance(getattr(Settings, name, None), cached_property):
            raise AttributeError(f"Settings has no part {name!r}")
        if isinstance(part, dict):
            part = getattr(settings, name).model_copy(update=part)
        settings.__dict__[name] = part
    return settings


def settings_for(db_url: str, **database: Any) -> Settings:
    return override(Settings(), database=DatabaseSettings(database_url=db_url, **database))


@dataclass
class Chat:
    """A collecting channel: what a user says and everything the bot answers, in order."""

    app: App
    address: Address
    author: Author
    received: list[Reply] = field(default_factory=list)
    counter: int = 0
    progress: list[tuple[str, str]] = field(default_factory=list)  # (job id, draft so far)

    @property
    def service(self) -> EtpService:
        return self.app.service

    @property
    def queue(self) -> InProcessDraftQueue:
        return self.app.queue

    def as_user(self, user_id: str, name: str) -> Chat:
        return Chat(
            self.app, self.address, Author(self.author.platform, user_id, name), self.received
        )

    async def send(self, inbound: Inbound) -> list[Reply]:
        replies = await self.service.handle(inbound)
        self.received.extend(replies)
        if replies:
            await self.service.delivered(inbound)  # as a channel says once they are sent
        await self.queue.drain()
        return replies

    async def say(self, text: str, *, event_id: str | None = None) -> list[Reply]:
        return await self.send(Inbound.from_text(self.address, self.author, text, event_id))

    async def press(self, command: str) -> list[Reply]:
        return await self.send(Inbound.from_text(self.address, self.author, command, kind="action"))

    def texts(self, replies: Sequence[Reply] | None = None) -> list[str]:
        source = self.received if replies is None else replies
        return [r.text for r in source if isinstance(r, (Text, DraftingStarted))]

    def last_text(self) -> str:
        return self.texts()[-1]

    def documents(self) -> list[Document]:
        return [r for r in self.received if isinstance(r, Document)]

    async def identify(self, title: str = "Papel A4") -> None:
        await self.say(f"/novo {title}")
        for line in IDENTIFICATION:
            await self.say(line)

    async def answer_section(self, number: int, *, accept: bool = True) -> None:
        for answer in GOOD_ANSWERS[number]:
            await self.say(answer)
        if accept:
            await self.say("/aceitar")


class SlowDrafter:
    """A drafter that takes `seconds`, like a slow LLM (so its drafts are jobs)."""

    name = "slow"
    inline = False

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def write(self, context: DraftContext) -> Draft:
        await asyncio.sleep(self.seconds)
        return Draft(f"Minuta lenta da seção {context.section}.", self.name)


class CollectingNotifier:
    def __init__(self, chats: list[Chat]) -> None:
        self.chats = chats

    async def notify(self, address: Address, replies: Sequence[Reply]) -> None:
        for chat in self.chats:
            if chat.address == address:
                chat.received.extend(replies)
                return

    async def still_drafting(self, address: Address) -> None:
        """Nothing to show: a test chat reads its replies, not signs of work."""

    async def drafting_progress(self, address: Address, job_id: str, text: str) -> None:
        for chat in self.chats:
            if chat.address == address:
                chat.progress.append((job_id, text))
                return


async def count(app: App, table: str) -> int:
    """Rows in `table` of the app's database."""
    async with app.engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def make_app(db_url: str, *, drafter: DraftWriter | None = None, **database: Any) -> App:
    """The app on `db_url`; `database`: other DatabaseSettings (etp_store_connections=2)."""
    settings = settings_for(db_url, **database)
    return await build_app(settings, drafter=drafter or OfflineDrafter(), migrate=False)


async def scratch_app(prefix: str = "etp-bench-") -> App:
    """The app on a new, migrated SQLite file in a temporary folder (benchmarks, demos)."""
    import tempfile

    from storage.migrate import upgrade_async

    url = f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix=prefix)}/etp.db"
    await upgrade_async(url)
    return await make_app(url)


def make_chat(
    app: App,
    *,
    channel: str = "test",
    chat_id: str = "chat-1",
    user_id: str = "u1",
    name: str = "Maria Silva",
    shared: bool = False,
    thread_id: str = "",
) -> Chat:
    chat = Chat(app, Address(channel, chat_id, thread_id, shared), Author(channel, user_id, name))
    existing: Any = app.notifier._channels.get(channel)
    if existing is None:
        existing = CollectingNotifier([])
        app.notifier.register(channel, existing)
    existing.chats.append(chat)
    return chat


SKIP_JUSTIFICATIONS = {
    2: "O órgão ainda não publicou o plano de contratações anual deste exercício.",
    11: "Não há contratações correlatas nem interdependentes.",
}


async def resolve_sections(chat: Chat, numbers: Iterable[int]) -> None:
    """Answer and accept each section of `numbers`; II and XI skipped with a justification."""
    for number in numbers:
        if number in SKIP_JUSTIFICATIONS:
            await chat.say(f"/pular {SKIP_JUSTIFICATIONS[number]}")
        else:
            await chat.answer_section(number)


async def finish_etp(chat: Chat, *, title: str = "Papel A4", upto: int = 13) -> None:
    """Identify and resolve sections 1..upto: II and XI skipped with a justification."""
    await chat.identify(title)
    await resolve_sections(chat, range(1, upto + 1))


async def load_etp(app: App, etp_id: int) -> Etp:
    async with app.service.store.transaction() as tx:
        etp = await tx.load_etp(etp_id)
    assert etp is not None
    return etp


def running(pid: int) -> bool:
    """Alive and not a zombie (an exited process that nobody has reaped yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


async def wait_until_stopped(pids: Iterable[int], seconds: float = 30) -> None:
    """Until none of `pids` runs; TimeoutError after `seconds` (another process's state)."""
    async with asyncio.timeout(seconds):
        while any(running(pid) for pid in pids):  # noqa: ASYNC110 (other processes)
            await asyncio.sleep(0.05)

"""Random sequences of commands, texts and button presses never raise and never lose an accepted text."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from conversations.replies import Text
from storage.migrate import upgrade
from tests.helpers import GOOD_ANSWERS, make_app, make_chat

_TEMPLATE: Path | None = None


def template() -> Path:
    global _TEMPLATE
    if _TEMPLATE is None:
        _TEMPLATE = Path(tempfile.mkdtemp()) / "template.db"
        upgrade(f"sqlite+aiosqlite:///{_TEMPLATE}")
    return _TEMPLATE


COMMANDS = [
    "/novo Teste",
    "/listar",
    "/retomar 1",
    "/retomar 2",
    "/status",
    "/voltar",
    "/pular",
    "/pular Motivo qualquer.",
    "/aceitar",
    "/refazer",
    "/editar",
    "/editar Texto novo da seção.",
    "/exportar md",
    "/exportar json",
    "/cancelar",
    "/ajuda",
    "/secao 1",
    "/secao 4",
    "/secao 13",
    "/secao 99",
    "/xyz",
    "/start",
]
TEXTS = st.one_of(
    st.sampled_from([a for answers in GOOD_ANSWERS.values() for a in answers]),
    st.text(max_size=40),
    st.sampled_from(["", " ", "1", "2", "Maria; Analista; 1", "\x00", "x" * 13_000]),
)


class EtpConversation(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.folder = Path(tempfile.mkdtemp())
        shutil.copy(template(), self.folder / "etp.db")
        self.app = self.loop.run_until_complete(
            make_app(f"sqlite+aiosqlite:///{self.folder / 'etp.db'}")
        )
        self.chat = make_chat(self.app)
        self.accepted: dict[tuple[int, int], str] = {}

    def _say(self, text: str, action: bool = False) -> None:
        coro = self.chat.press(text) if action else self.chat.say(text)
        replies = self.loop.run_until_complete(coro)
        assert replies or text == "", text  # every input gets an answer
        self.loop.run_until_complete(self._record())

    async def _record(self) -> None:
        async with self.app.service.store.transaction() as tx:
            for etp_id in (1, 2, 3):
                etp = await tx.load_etp(etp_id)
                if etp is None:
                    continue
                for number, entry in etp.sections.items():
                    key = (etp_id, number)
                    if key in self.accepted:
                        assert entry.accepted_text, f"accepted text of {key} was lost"
                    if entry.accepted_text:
                        self.accepted[key] = entry.accepted_text

    @rule(command=st.sampled_from(COMMANDS))
    def command(self, command: str) -> None:
        self._say(command)

    @rule(text=TEXTS)
    def text(self, text: str) -> None:
        self._say(text)

    @precondition(
        lambda self: any(isinstance(r, Text) and r.buttons for r in self.chat.received[-3:])
    )
    @rule(data=st.data())
    def button(self, data: st.DataObject) -> None:
        with_buttons = [r for r in self.chat.received[-3:] if isinstance(r, Text) and r.buttons]
        button = data.draw(st.sampled_from(with_buttons[-1].buttons))
        self._say(button.command, action=True)

    @invariant()
    def accepted_texts_survive(self) -> None:
        self.loop.run_until_complete(self._record())

    def teardown(self) -> None:
        self.loop.run_until_complete(self.app.close())
        self.loop.close()
        shutil.rmtree(self.folder, ignore_errors=True)


EtpConversation.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestEtpConversation = EtpConversation.TestCase

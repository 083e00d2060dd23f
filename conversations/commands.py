"""The commands, each once: the words that call it, its /ajuda and menu lines, where it works.

/ajuda, the chat platforms' command menu, Slack's routing and the parsing of command words are
generated from `COMMANDS`; each command's handler is registered against its name in
`conversations.flow.handlers` (a test holds the two to the same set).
"""

from __future__ import annotations

from dataclasses import dataclass

from conversations.catalogue import messages as m
from conversations.catalogue.sections import ROMAN, SECTIONS


@dataclass(frozen=True, slots=True)
class Command:
    """One command. `name` is the engine's (English) name, `pt` the one users see and type;
    `aliases`, the other words that call it (English, spellings with and without accents).

    `text` gives its /ajuda line and menu line (None: in neither, the platforms' own /start).
    `opens_etp`: it starts or resumes an ETP (in a Slack channel, it opens a thread of its own);
    `needs_etp`: it acts on the conversation's ETP (refused without one; in a Slack channel, only
    inside an ETP's thread). A command with neither works anywhere (in a channel, privately).
    """

    name: str
    pt: str
    text: m.CommandText | None
    aliases: tuple[str, ...] = ()
    opens_etp: bool = False
    needs_etp: bool = False

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.pt, self.name, *self.aliases)))


# in the order /ajuda and the menu list them
COMMANDS: tuple[Command, ...] = (
    Command(name="new", pt="novo", text=m.CMD_NEW, opens_etp=True),
    Command(name="list", pt="listar", text=m.CMD_LIST),
    Command(name="resume", pt="retomar", text=m.CMD_RESUME, opens_etp=True),
    Command(
        name="status",
        pt="status",
        text=m.CMD_STATUS,
        aliases=("situacao", "situação"),
        needs_etp=True,
    ),
    Command(name="section", pt="secao", text=m.CMD_SECTION, aliases=("seção",), needs_etp=True),
    Command(name="back", pt="voltar", text=m.CMD_BACK, needs_etp=True),
    Command(name="skip", pt="pular", text=m.CMD_SKIP, needs_etp=True),
    Command(name="accept", pt="aceitar", text=m.CMD_ACCEPT, needs_etp=True),
    Command(name="redo", pt="refazer", text=m.CMD_REDO, needs_etp=True),
    Command(name="edit", pt="editar", text=m.CMD_EDIT, needs_etp=True),
    Command(name="export", pt="exportar", text=m.CMD_EXPORT, needs_etp=True),
    Command(name="order", pt="ordem", text=m.CMD_ORDER, needs_etp=True),
    Command(
        name="verdict",
        pt="conclusao",
        text=m.CMD_VERDICT,
        aliases=("conclusão", "verdict"),
        needs_etp=True,
    ),
    Command(
        name="prices", pt="precos", text=m.CMD_PRICES, aliases=("preços", "prices"), needs_etp=True
    ),
    Command(name="quantity", pt="quantidade", text=m.CMD_QUANTITY, needs_etp=True),
    Command(name="cancel", pt="cancelar", text=m.CMD_CANCEL, needs_etp=True),
    Command(name="law", pt="lei", text=m.CMD_LAW, aliases=("law",)),
    Command(name="help", pt="ajuda", text=m.CMD_HELP),
    Command(name="start", pt="start", text=None, aliases=("iniciar",)),
)

BY_NAME: dict[str, Command] = {c.name: c for c in COMMANDS}
BY_WORD: dict[str, Command] = {word: c for c in COMMANDS for word in c.words}


def canonical(word: str) -> str:
    """A typed command word's engine name ('novo' -> 'new'); an unknown word is kept."""
    command = BY_WORD.get(word.lower())
    return command.name if command else word


def is_known_command(name: str | None) -> bool:
    return name in BY_NAME


def help_text(formats: str) -> str:
    """/ajuda: every command's line, then the sections that cannot be skipped."""
    lines = [m.HELP_HEADER]
    for command in COMMANDS:
        if command.text is not None:
            usage = command.text.usage.format(formats=formats)
            lines.append(
                m.HELP_LINE.format(
                    name=command.pt, usage=f" {usage}" if usage else "", help=command.text.help
                )
            )
    romans = [ROMAN[s.number - 1] for s in SECTIONS if s.mandatory]
    joined = f"{', '.join(romans[:-1])}{m.AND}{romans[-1]}" if len(romans) > 1 else romans[0]
    lines.append(m.HELP_MANDATORY.format(romans=joined))
    return "\n".join(lines)


def menu() -> tuple[tuple[str, str], ...]:
    """The command menu chat platforms show: (command word, description)."""
    return tuple(
        (c.pt, c.text.menu) for c in COMMANDS if c.text is not None and c.text.menu is not None
    )

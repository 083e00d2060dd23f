"""The identification step: órgão, unidade, processo, objeto, the team and its portaria."""

from __future__ import annotations

import re
from collections.abc import Sequence

from conversations.catalogue import messages as m
from conversations.catalogue.sections import SECTIONS
from conversations.flow.presentation import prompt
from conversations.flow.sections import advance, enter_section
from conversations.flow.state import Turn
from conversations.flow.text import MAX_TEAM, MAX_TITLE, InputError
from conversations.identification import designation_given, parse_etp_number, parse_place
from conversations.model import Step, TeamMember
from conversations.ports import AuditEntry
from conversations.replies import Button

KEYS: tuple[str, ...] = tuple(f.key for f in m.IDENT_FIELDS)
# " - " between a member's name, cargo and matrícula; matched from the first space of a run
# only (a regular expression split re-tried from every space of a long run was quadratic:
# 3.4 s on one 12,000-character line)
_TEAM_DASH = re.compile(r"(?<!\s)\s++[-–—]\s++")
TEAM_CHECK = "team"  # conv.check while the team is being entered: a message adds to it


MAX_MEMBER_LINE = 400  # characters of one line of the team (several members fit in one)
# "(mat. 1.234-5)", "(matrícula nº 1234)" closing a member: "Maria Souza – Analista (mat. 1.234-5)"
_MATRICULA_NOTE = re.compile(
    r"\(\s*(?:matr[íi]cula|matr|mat)\.?\s*(?:n[º°o]\.?\s*)?:?\s*([^()]{1,40})\)\s*$", re.I
)
_MATRICULA_MARKS = re.compile(r"\(\s*(?:matr[íi]cula|matr|mat)\b", re.I)
_MATRICULA_LABEL = re.compile(r"^(?:matr[íi]cula|matr|mat)\.?\s*(?:n[º°o]\.?\s*)?:?\s*", re.I)
_SEPARATORS = (r"\s*[;|]\s*", r"\s*,\s*", r"\s+[-–—]\s+")
_PROCESSO_LABEL = re.compile(r"^processo\s++(?:administrativo\s++)?", re.I)


def _split(text: str, parts: int) -> list[str] | None:
    """`text` cut into exactly `parts` pieces by the first separator that does so."""
    for separator in _SEPARATORS:
        pieces = [p.strip() for p in re.split(separator, text) if p.strip()]
        if len(pieces) == parts:
            return pieces
    return None


def _member(text: str) -> TeamMember | None:
    """One member written on its own: "Nome; Cargo; Matrícula" (or "|", "," or " – " between
    the three), or "Nome – Cargo (mat. Matrícula)". None when it is not exactly one member."""
    text = text.strip(" -•*\t")
    if len(_MATRICULA_MARKS.findall(text)) > 1:
        return None  # two people run together ("… (mat. 1) e João … (mat. 2)")
    note = _MATRICULA_NOTE.search(text)
    if note is not None:
        head = _split(text[: note.start()].strip(" ,;–—-"), 2)
        return TeamMember(head[0], head[1], note.group(1).strip()) if head else None
    parts = _split(text, 3)
    if parts is None:
        return None
    return TeamMember(parts[0], parts[1], _MATRICULA_LABEL.sub("", parts[2]))


def _line_members(line: str) -> list[TeamMember]:
    """The members of one line: several complete members separated by ";", or one."""
    chunks = [c for c in line.split(";") if c.strip()]
    if len(chunks) >= 2:
        several = [_member(c) for c in chunks]
        if all(member is not None for member in several):
            return [member for member in several if member is not None]
    one = _member(line)
    if one is None:
        raise InputError(m.IDENT_TEAM_INVALID.format(line=line[:120]))
    return [one]


def member_key(member: TeamMember) -> str:
    """Who a member is, for duplicates: the matrícula's digits, else the name."""
    digits = "".join(c for c in member.matricula if c.isdigit())
    return digits or " ".join(member.name.casefold().split())


def parse_team(text: str, current: Sequence[TeamMember] = ()) -> list[TeamMember]:
    """The members in `text`: one a line, or several on a line separated by ";" between
    complete members. Raises InputError naming what it cannot read (nobody is dropped
    silently) or a member already in `current` or twice in `text` (nobody is added twice)."""
    members: list[TeamMember] = []
    seen = {member_key(member) for member in current}
    for line in (ln.strip(" -•*\t") for ln in text.split("\n")):
        if not line:
            continue
        if len(line) > MAX_MEMBER_LINE:
            raise InputError(
                m.IDENT_TEAM_LINE_TOO_LONG.format(size=len(line), limit=MAX_MEMBER_LINE)
            )
        for member in _line_members(line):
            key = member_key(member)
            if key in seen:
                raise InputError(
                    m.IDENT_TEAM_DUPLICATE.format(name=member.name, matricula=member.matricula)
                )
            seen.add(key)
            members.append(member)
    return members


def bare_processo(text: str) -> str:
    """The process number without the word "Processo" the user may have typed before it
    ("Processo Administrativo SEI nº 23000.1/2026" -> "SEI nº 23000.1/2026"): the document
    prints its own "Processo:" label and keeps the system's name."""
    bare = _PROCESSO_LABEL.sub("", text, count=1).strip()
    return bare if any(c.isdigit() for c in bare) else text


def enter_ident(t: Turn, key: str) -> None:
    t.conv.step, t.conv.field = Step.IDENT, key
    t.conv.section = t.conv.mode = t.conv.check = t.conv.return_mode = None
    prompt(t)


def ident_answer(t: Turn, text: str) -> None:
    etp = t.require_etp()
    key = t.conv.field or KEYS[0]
    ident = etp.identification
    if key == "equipe":
        # the first message after entering the step replaces the team; later ones add to it
        kept = ident.equipe if t.conv.check == TEAM_CHECK else []
        team = kept + parse_team(text, kept)
        if len(team) > MAX_TEAM:
            raise InputError(m.IDENT_TEAM_TOO_LARGE.format(limit=MAX_TEAM))
        ident.equipe = team
        t.conv.check = TEAM_CHECK
        ident.add_author(t.author)
        etp.touch()
        t.out.say(
            m.IDENT_TEAM_ADDED.format(names=", ".join(member.name for member in ident.equipe)),
            Button(m.BTN_TEAM_DONE, "/aceitar"),
            expects_text=True,
        )
        return
    value = bare_processo(text)[:500] if key == "processo" else text[:500]
    if key == "municipio":
        value = parse_place(value) or ""
        if not value:
            raise InputError(m.IDENT_PLACE_INVALID)
    elif key == "numero":
        value = parse_etp_number(value) or ""
        if not value:
            raise InputError(m.IDENT_NUMBER_INVALID)
    elif key == "portaria" and not designation_given(value):
        # "Não há portaria" answers the question: there is none, as /pular says
        value = ""
        t.out.say(m.IDENT_SKIPPED_PORTARIA)
    setattr(ident, key, value)
    if key == "objeto" and not etp.title:
        etp.title = text[:MAX_TITLE]
    ident.add_author(t.author)
    etp.touch()
    t.out.audits.append(AuditEntry("ident.answered", {"field": key}))
    after_ident_field(t, key)


def after_ident_field(t: Turn, key: str) -> None:
    etp = t.require_etp()
    index = KEYS.index(key)
    if index + 1 < len(KEYS):
        enter_ident(t, KEYS[index + 1])
        return
    t.out.say(m.IDENT_SAVED)
    open_sections = [s for s in SECTIONS if not etp.section(s.number).done]
    if open_sections:
        enter_section(t, open_sections[0].number)
    else:
        advance(t)

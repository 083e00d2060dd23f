"""The identification step: órgão, unidade, processo, objeto, the team and its portaria."""

from __future__ import annotations

import re

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


def parse_team(text: str) -> list[TeamMember]:
    """One member a line, "Nome; Cargo; Matrícula" (or "|", "," or " - " between the three);
    list bullets are ignored. Raises InputError naming the first line it cannot read."""
    members: list[TeamMember] = []
    for line in (ln.strip(" -•*\t") for ln in text.split("\n")):
        if not line:
            continue
        parts = [p.strip() for p in line.replace("|", ";").split(";") if p.strip()]
        if len(parts) < 3:
            parts = [
                p.strip() for piece in line.split(",") for p in _TEAM_DASH.split(piece) if p.strip()
            ]
        if len(parts) != 3:
            raise InputError(m.IDENT_TEAM_INVALID.format(line=line[:80]))
        members.append(TeamMember(*parts))
    return members


def enter_ident(t: Turn, key: str) -> None:
    t.conv.step, t.conv.field = Step.IDENT, key
    t.conv.section = t.conv.mode = t.conv.check = t.conv.return_mode = None
    prompt(t)


def ident_answer(t: Turn, text: str) -> None:
    etp = t.require_etp()
    key = t.conv.field or KEYS[0]
    ident = etp.identification
    if key == "equipe":
        members = parse_team(text)
        # the first message after entering the step replaces the team; later ones add to it
        team = (ident.equipe if t.conv.check == TEAM_CHECK else []) + members
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
    value = text[:500]
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

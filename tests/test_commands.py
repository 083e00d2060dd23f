"""The command registry: every command is reachable, documented and handled."""

from __future__ import annotations

from conversations.commands import BY_NAME, BY_WORD, COMMANDS, help_text, is_known_command, menu
from conversations.events import parse_command
from conversations.flow.handlers import HANDLERS


def test_every_command_is_in_the_help_but_the_platforms_start() -> None:
    lines = help_text("md|json").splitlines()
    for command in COMMANDS:
        listed = [line for line in lines if line.split(" ")[0] == f"/{command.pt}"]
        if command.name == "start":
            assert command.text is None and not listed  # Telegram's own /start
            continue
        assert command.text is not None, f"{command.name} has no /ajuda line"
        assert listed == [
            line
            for line in lines
            if line.startswith(f"/{command.pt}") and command.text.help in line
        ]
        assert len(listed) == 1, f"/{command.pt} is not listed once in /ajuda"


def test_the_menu_holds_the_commands_flagged_for_it() -> None:
    expected = [c.pt for c in COMMANDS if c.text is not None and c.text.menu is not None]
    assert [word for word, _ in menu()] == expected
    assert all(description for _, description in menu())


def test_every_word_parses_to_its_command() -> None:
    for command in COMMANDS:
        for word in command.words:
            assert parse_command(f"/{word} x") == (command.name, "x"), word
            assert parse_command(f"/{word.upper()}") == (command.name, "")
        assert is_known_command(command.name)
    assert sum(len(c.words) for c in COMMANDS) == len(BY_WORD)  # no word calls two commands
    assert parse_command("/xyz a") == ("xyz", "a") and not is_known_command("xyz")


def test_every_command_has_a_handler() -> None:
    assert set(HANDLERS) == set(BY_NAME)


def test_a_command_opens_an_etp_or_needs_one_not_both() -> None:
    assert not [c.name for c in COMMANDS if c.opens_etp and c.needs_etp]

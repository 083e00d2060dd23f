"""Block Kit rendering of the engine's replies, within Slack's limits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot import common
from conversations.catalogue import messages as m
from conversations.replies import Button, Text, TextRequest, button_value

SECTION_LIMIT = 3000  # characters in a section block's text
MAX_BLOCKS = 50  # blocks in one message
BUTTON_LABEL_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
INPUT_LIMIT = 3000  # characters in one plain_text_input
MAX_BUTTONS = 25  # elements in one actions block

ACTION_PREFIX = "etp_cmd_"
FORM_CALLBACK = "etp_text_form"
FORM_INPUT = "text"

Block = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Message:
    """One Slack message: notification text and its blocks."""

    text: str
    blocks: list[Block]


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """`text` in pieces Slack accepts (a blank text is refused: it becomes one space)."""
    return [p if p.strip() else " " for p in common.split_text(text, limit)]


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "plain_text", "text": text, "emoji": False}}


def button_elements(buttons: tuple[Button, ...]) -> list[Block]:
    return [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": b.label[:BUTTON_LABEL_LIMIT]},
            "action_id": f"{ACTION_PREFIX}{i}",
            "value": button_value(b)[:BUTTON_VALUE_LIMIT],
        }
        for i, b in enumerate(buttons[:MAX_BUTTONS])
    ]


def text_messages(reply: Text) -> list[Message]:
    """A Text as one or more messages: its text in sections, its buttons under the last one."""
    sections = [section(piece) for piece in split_text(reply.text)]
    actions = (
        [{"type": "actions", "elements": button_elements(reply.buttons)}] if reply.buttons else []
    )
    room = MAX_BLOCKS - 1  # leave a place for the buttons
    groups = [sections[i : i + room] for i in range(0, len(sections), room)]
    groups[-1] = groups[-1] + actions
    return [Message(group[0]["text"]["text"], group) for group in groups]


def plain_message(text: str) -> Message:
    return text_messages(Text(text))[0]


def form_view(request: TextRequest, metadata: dict[str, str]) -> dict[str, Any]:
    """A modal that asks for the text a command takes; long current texts span several inputs."""
    label = m.SLACK_FORM_LABELS.get(request.command, m.SLACK_FORM_DEFAULT_LABEL)
    parts = split_text(request.current, INPUT_LIMIT) if request.current else [""]
    blocks: list[Block] = []
    hint = m.SLACK_FORM_HINTS.get(request.command)
    if hint:
        blocks.append(section(hint))
    for i, part in enumerate([*parts, ""] if request.current else parts):
        element: Block = {
            "type": "plain_text_input",
            "action_id": FORM_INPUT,
            "multiline": True,
            "max_length": INPUT_LIMIT,
        }
        if part.strip():
            element["initial_value"] = part
        blocks.append(
            {
                "type": "input",
                "block_id": f"part_{i}",
                "optional": i > 0,
                "label": {"type": "plain_text", "text": label if i == 0 else m.SLACK_FORM_MORE},
                "element": element,
            }
        )
    return {
        "type": "modal",
        "callback_id": FORM_CALLBACK,
        "title": {
            "type": "plain_text",
            "text": m.SLACK_FORM_TITLES.get(request.command, m.SLACK_FORM_DEFAULT_TITLE)[:24],
        },
        "submit": {"type": "plain_text", "text": m.SLACK_FORM_SUBMIT},
        "close": {"type": "plain_text", "text": m.SLACK_FORM_CLOSE},
        "private_metadata": json.dumps({"command": request.command, **metadata}),
        "blocks": blocks,
    }


def form_text(view: dict[str, Any]) -> str:
    """The text typed in a form_view, its parts joined in order."""
    values = view.get("state", {}).get("values", {})
    parts = []
    for block_id in sorted(values, key=lambda b: int(b.split("_")[-1]) if b[-1].isdigit() else 0):
        value = values[block_id].get(FORM_INPUT, {}).get("value")
        if value:
            parts.append(value)
    return "\n".join(parts)


def form_metadata(view: dict[str, Any]) -> dict[str, str]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

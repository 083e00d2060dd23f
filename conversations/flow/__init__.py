"""The conversation flow: a pure step from (position, ETP, event) to (changes, replies).

No I/O here. The service loads what `needs()` asks for, calls `step()`, saves the result and
hands the requested drafts to the queue. By job: `text` cleans input, `step` dispatches,
`handlers` holds the commands, `identification` and `sections` the two stages, and
`presentation` what the user is shown.
"""

from conversations.flow.presentation import draft_ref, review_buttons, section_header
from conversations.flow.state import Needs, Outcome, PendingRevision, StepContext
from conversations.flow.step import apply_draft, needs, step
from conversations.flow.text import (
    MAX_ANSWERS,
    MAX_TEAM,
    MAX_TEXT,
    MAX_TITLE,
    InputError,
    clean,
    clean_text,
)

__all__ = [
    "MAX_ANSWERS",
    "MAX_TEAM",
    "MAX_TEXT",
    "MAX_TITLE",
    "InputError",
    "Needs",
    "Outcome",
    "PendingRevision",
    "StepContext",
    "apply_draft",
    "clean",
    "clean_text",
    "draft_ref",
    "needs",
    "review_buttons",
    "section_header",
    "step",
]

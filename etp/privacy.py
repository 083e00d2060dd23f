"""Personal data kept out of logs and error reports: CPF, CNPJ, e-mail and phone numbers are
replaced wherever a message or an exception's text is written (issue 17).

Not conversations.privacy's Masker: that one puts reversible placeholders in what goes to an
LLM and takes any 10-11 digit run for a phone; here nothing is restored, and the ids operators
read in logs (Telegram's run to 10 digits, or -100 and 10) must stay readable."""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

REDACTED = "[dado pessoal]"

# Linear patterns (no nested quantifiers). Bare digit runs are taken only at the lengths of a
# CPF (11) or CNPJ (14); Telegram's ids (up to 10 digits, or -100 and 10) stay readable.
_PATTERNS = [
    # e-mail
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
    # CNPJ: 12.345.678/0001-90 or 14 digits
    r"(?<![\w/.-])\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}(?!\w)",
    r"(?<![\w.-])\d{14}(?![\w-])",
    # CPF: 123.456.789-09 or 11 digits
    r"(?<![\w.-])\d{3}\.\d{3}\.\d{3}-\d{2}(?!\w)",
    r"(?<![\w.-])\d{11}(?![\w-])",
    # phone: (61) 99999-9999, 61 3333-4444, +55 61 999999999
    r"(?:\+55[ ]?)?\(\d{2}\)[ ]?9?\d{4}-?\d{4}(?!\d)",
    r"(?<![\w.-])(?:\+55[ ]?)?\d{2}[ .-]9?\d{4}[ -]\d{4}(?!\d)",
    r"\+55[ ]?\d{2}[ ]?\d{8,9}(?!\d)",
]
_PERSONAL = re.compile("|".join(f"(?:{p})" for p in _PATTERNS))


def scrub_text(text: str) -> str:
    """`text` with every CPF, CNPJ, e-mail and phone number replaced."""
    return _PERSONAL.sub(REDACTED, text)


def scrub_value(value: Any) -> Any:
    return scrub_text(value) if isinstance(value, str) else value


_factory = logging.getLogRecordFactory()


def _scrubbing_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _factory(*args, **kwargs)
    try:
        message = record.getMessage()
    except Exception:  # a malformed call is logging's to report, as it would without us
        return record
    scrubbed = scrub_text(message)
    if scrubbed != message:
        record.msg, record.args = scrubbed, ()
    if record.exc_info and record.exc_info[1] is not None:
        # the formatter writes exc_text as it is: an exception's message holds what failed
        record.exc_text = scrub_text("".join(traceback.format_exception(*record.exc_info)))
        record.exc_text = record.exc_text.rstrip("\n")
    return record


def install_log_scrubbing() -> None:
    """Every log record, whichever handler writes it (ours, uvicorn's, Sentry's), is scrubbed
    when it is made. Idempotent."""
    if logging.getLogRecordFactory() is not _scrubbing_factory:
        logging.setLogRecordFactory(_scrubbing_factory)

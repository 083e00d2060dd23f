"""Export: one document model, one renderer per format."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from conversations.export.document import (
    ORDER_IN58,
    ORDER_LAW,
    ORDERS,
    EtpDocument,
    build_document,
    resolve_order,
)
from conversations.export.docx_format import render_docx
from conversations.export.html_format import render_html
from conversations.export.pdf_format import render_pdf
from conversations.export.text_formats import render_json, render_markdown
from conversations.model import Etp


@dataclass(frozen=True, slots=True)
class Format:
    name: str
    extension: str
    media_type: str
    render: Callable[[EtpDocument], bytes]
    # Takes milliseconds of CPU: rendered in a worker process (etp/rendering.py). The light ones
    # take under one, less than sending the document to another process, and stay in place.
    heavy: bool = False


DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# Insertion order is the order of the export buttons in the chat.
FORMATS: dict[str, Format] = {
    "docx": Format("docx", "docx", DOCX_MEDIA_TYPE, render_docx, heavy=True),
    "pdf": Format("pdf", "pdf", "application/pdf", render_pdf, heavy=True),
    "html": Format("html", "html", "text/html; charset=utf-8", render_html),
    "md": Format("md", "md", "text/markdown; charset=utf-8", render_markdown),
    "json": Format("json", "json", "application/json", render_json),
}
DEFAULT_FORMAT = "docx"
HEAVY_FORMATS = frozenset(f.name for f in FORMATS.values() if f.heavy)
# The law's order of the sections, or that of IN SEGES 58/2022 (ORDERS, from the document
# model); the first is the default.
DEFAULT_ORDER = ORDERS[0]
# The words a user types for each order (/exportar … in58, /ordem lei).
ORDER_WORDS: dict[str, str] = {
    "lei": ORDER_LAW,
    "law": ORDER_LAW,
    "in58": ORDER_IN58,
    "in-58": ORDER_IN58,
    "in_58": ORDER_IN58,
}
__all__ = [
    "DEFAULT_FORMAT",
    "DEFAULT_ORDER",
    "FORMATS",
    "HEAVY_FORMATS",
    "ORDERS",
    "ORDER_IN58",
    "ORDER_LAW",
    "ORDER_WORDS",
    "EtpDocument",
    "Format",
    "InlineRenderer",
    "Rendered",
    "build_document",
    "export",
    "render",
    "resolve_order",
]


@dataclass(frozen=True, slots=True)
class Rendered:
    filename: str
    content: bytes
    media_type: str
    complete: bool


def export(etp: Etp, fmt: str, *, now: datetime, order: str = ORDER_LAW) -> Rendered:
    """Render the ETP in one format; KeyError for an unknown format."""
    spec = FORMATS[fmt]
    doc = build_document(etp, order=order, now=now)
    return Rendered(doc.filename(spec.extension), spec.render(doc), spec.media_type, doc.complete)


def render(fmt: str, document: EtpDocument) -> bytes:
    """The document's bytes in one format (a plain function: worker processes run it too)."""
    return FORMATS[fmt].render(document)


class InlineRenderer:
    """The DocumentRenderer that renders in the caller's thread, on its event loop: with
    ETP_RENDER_PROCESSES=0, and the default of an EtpService built without one (tests)."""

    async def render(self, fmt: str, document: EtpDocument) -> bytes:
        return render(fmt, document)

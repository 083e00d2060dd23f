"""Small wording rules shared by the drafters and the documents (pt-BR typography)."""

from __future__ import annotations

import re

_CAPITALISED = re.compile(r"[A-ZÀ-Ý][a-zà-ÿ]*(?:-[a-zà-ÿ]+)*")


def after_colon(text: str) -> str:
    """The answer as it continues a label and a colon: a lower-case first letter, unless its
    first word is a name or an acronym ("Painel de Preços", "PCA 2026", "Maria Souza")."""
    words = text.split(None, 4)
    if not words or not _CAPITALISED.fullmatch(words[0].rstrip(",.;:")):
        return text
    # a capitalised word among the next three: a proper name ("Coordenação de Logística")
    if any(_CAPITALISED.fullmatch(w.rstrip(",.;:")) and len(w) > 2 for w in words[1:4]):
        return text
    return text[0].lower() + text[1:]

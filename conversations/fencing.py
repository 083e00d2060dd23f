"""The user's text as data: fenced and escaped for the prompt, and flagged when it reads as an
instruction to the model (pt-BR and English patterns)."""

from __future__ import annotations

import html
import re

# Phrases that address the model rather than describe the purchase. A hit changes nothing in
# the draft (the text stays fenced as data either way); it is recorded in the audit.
_SUSPICIOUS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        # pt-BR
        r"\b(ignore|ignorem|desconsidere|desconsiderem|esque[çc]a|esque[çc]am)\b.{0,40}"
        r"\b(instru[çc](ão|ões)|regras|orienta[çc](ão|ões)|comandos|acima|anteriores)",
        r"\bnovas instru[çc]ões\b",
        r"\ba partir de agora,? (você|voce)\b",
        r"\b(você|voce) (agora )?(é|e|deve agir como|passa a ser)\b.{0,30}\b(assistente|modelo|ia|sistema)\b",
        r"\b(aja|atue|finja) como\b",
        r"\b(prompt|mensagem) (do|de) sistema\b",
        r"\bdeclare\b.{0,60}\b(vi[áa]vel|valor|R\$)",
        r"\b(revele|mostre|repita) (o|as|suas) (prompt|instru[çc]ões)\b",
        # English
        r"\b(ignore|disregard|forget)\b.{0,40}\b(instructions|rules|above|previous|prior)\b",
        r"\byou are now\b",
        r"\bact as\b",
        r"\bsystem prompt\b",
        r"\bnew instructions\b",
        # markup that tries to close our fence or open a chat turn
        r"</?\s*(respostas|resposta|dados|system|assistant|user|instructions?)\s*>",
        r"<\|\s*(im_start|im_end|system|endoftext)\s*\|>",
        r"^\s*#{2,}\s*(system|instru[çc](ão|ões)|instructions?)\b",
        r"^\s*(system|assistant)\s*:",
    )
]


def suspicious(text: str) -> list[str]:
    """The pieces of `text` that look like instructions to the model (empty when none)."""
    found: list[str] = []
    for pattern in _SUSPICIOUS:
        for match in pattern.finditer(text):
            found.append(match.group().strip()[:80])
            break
    return found


def escape(text: str) -> str:
    """Text that cannot close or open a tag of the prompt: <, > and & become entities."""
    return html.escape(text, quote=False)


def fence(tag: str, items: list[tuple[dict[str, str], str]]) -> str:
    """A block <tag>…</tag> of <item> elements, attributes and bodies escaped."""
    lines = [f"<{tag}>"]
    for attributes, body in items:
        attrs = "".join(f' {k}="{html.escape(v, quote=True)}"' for k, v in attributes.items())
        lines.append(f"<item{attrs}>{escape(body)}</item>")
    lines.append(f"</{tag}>")
    return "\n".join(lines)

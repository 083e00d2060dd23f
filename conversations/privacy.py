"""Personal data out of the model's reach: placeholders in the request, real values in the draft.

CPF, CNPJ, e-mail addresses, phone numbers, matrículas and the names of the planning team (and
of whoever answered) become placeholders such as [CPF_1] before a text leaves for an LLM; the
same value always gets the same placeholder within one request, so the model can still refer
to it, and `restore` puts the real values back in what it wrote.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Iterable

from conversations.ports import DraftContext

_CNPJ = re.compile(r"(?<!\d)\d{2}\.?\d{3}\.?\d{3}/?\d{4}-?\d{2}(?!\d)")
_CPF = re.compile(r"(?<![\d./])\d{3}\.\d{3}\.\d{3}-\d{2}(?![\d])|(?<![\d./-])\d{9}-\d{2}(?!\d)")
# starts only where a run of address characters starts: tried from inside every run, a long
# word without "@" would cost quadratic time
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]+(?:\.[\w-]+)+")
# Brazilian phones: optional +55, a two-digit area code (in brackets or not), 8 or 9 digits
_PHONE = re.compile(
    r"(?<![\d/.,])(?:\+?55[\s.-]?)?(?:\(\s*\d{2}\s*\)|\d{2})[\s.-]?9?\d{4}[\s.-]?\d{4}(?![\d/.,])"
)
# "matrícula 123456", "mat. 1234567-8", "SIAPE nº 1234567"
_MATRICULA = re.compile(
    r"(?i)\b(matr[íi]cula|mat\.|siape)(\s*(?:n[º°o.]*\s*)?:?\s*)([\dA-Z][\d.\-/A-Z]{2,})"
)
# A person's name the team did not list: two or more capitalised words ("João Carlos da
# Silva") right after a role ("o servidor", "Sra.") or right before their personal data.
_NAME = r"[A-ZÀ-Ý][a-zà-ÿ]+(?:\s+(?:d[aeo]s?\s+|e\s+)?[A-ZÀ-Ý][a-zà-ÿ]+)+"
_ROLE = (
    r"(?i:servidora?|sr\.?|sra\.?|senhora?|respons[áa]vel|fiscal|gestora?|pregoeira?|"
    r"t[ée]cnica?|analista|coordenadora?|diretora?|chefe|secret[áa]ria?|colega|nome|"
    r"assinad[oa] por|contato)"
)
_NAME_AFTER_ROLE = re.compile(rf"(?<=\b)({_ROLE})(\s*:?\s+)({_NAME})")
# A run of capitalised words taken whole (possessive, and finditer resumes after it), then the
# data looked for once at its end: searched from every word of a long run, it was quadratic.
_NAME_RUN = re.compile(r"[A-ZÀ-Ý][a-zà-ÿ]++(?:\s++(?:d[aeo]s?\s++|e\s++)?+[A-ZÀ-Ý][a-zà-ÿ]++)++")
_DATA_NEXT = re.compile(
    r"\s*+[(,;-]?+\s*+(?:\[(?:CPF|EMAIL|TELEFONE|MATRICULA)_|(?i:cpf|matr[íi]cula|siape))"
)
_PLACEHOLDER = re.compile(r"\[(CPF|CNPJ|EMAIL|TELEFONE|MATRICULA|PESSOA)_(\d+)\]")
# a placeholder cut in half at the end of a streamed piece ("[CPF_")
_PARTIAL = re.compile(r"\[[A-Z]*_?\d*$")


def _fold(text: str) -> str:
    """Lower case without accents, for matching names however they were typed."""
    return "".join(
        c for c in unicodedata.normalize("NFD", text.lower()) if unicodedata.category(c) != "Mn"
    )


class Masker:
    """Replaces personal data with placeholders, remembering each to restore it afterwards."""

    def __init__(self, names: Iterable[str] = (), matriculas: Iterable[str] = ()) -> None:
        self._by_value: dict[tuple[str, str], str] = {}
        self._by_placeholder: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        # longest first, so that "João Carlos da Silva" is taken before "João Carlos"
        self._names = sorted(
            {n.strip() for n in names if len(n.strip()) >= 3}, key=len, reverse=True
        )
        self._matriculas = sorted(
            {m.strip() for m in matriculas if len(m.strip()) >= 3}, key=len, reverse=True
        )

    def _placeholder(self, kind: str, value: str) -> str:
        key = (kind, _fold(value) if kind == "PESSOA" else re.sub(r"\W", "", value.lower()))
        found = self._by_value.get(key)
        if found is None:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            found = f"[{kind}_{self._counts[kind]}]"
            self._by_value[key] = found
            self._by_placeholder[found] = value
        return found

    def mask(self, text: str) -> str:
        if not text:
            return text
        text = _EMAIL.sub(lambda m: self._placeholder("EMAIL", m.group()), text)
        text = _CNPJ.sub(lambda m: self._placeholder("CNPJ", m.group()), text)
        text = _CPF.sub(lambda m: self._placeholder("CPF", m.group()), text)
        text = _MATRICULA.sub(
            lambda m: m.group(1) + m.group(2) + self._placeholder("MATRICULA", m.group(3)), text
        )
        for matricula in self._matriculas:
            pattern = re.compile(rf"(?<![\w]){re.escape(matricula)}(?![\w])")
            text = pattern.sub(lambda m: self._placeholder("MATRICULA", m.group()), text)
        text = _PHONE.sub(lambda m: self._placeholder("TELEFONE", m.group()), text)
        for name in self._names:
            text = self._mask_name(text, name)
        found = [m.group(3) for m in _NAME_AFTER_ROLE.finditer(text)]
        found += [m.group() for m in _NAME_RUN.finditer(text) if _DATA_NEXT.match(text, m.end())]
        for name in sorted(set(found), key=len, reverse=True):
            if name not in self._names:
                self._names.append(name)
            text = self._mask_name(text, name)
        return text

    def _mask_name(self, text: str, name: str) -> str:
        # match on the accent-free, lower-case text; positions are the same in both
        folded = _fold(text)
        if len(folded) != len(text):  # a character that folds into several: match as typed
            folded, needle = text, name
        else:
            needle = _fold(name)
        out: list[str] = []
        at = 0
        for match in re.finditer(rf"(?<!\w){re.escape(needle)}(?!\w)", folded):
            out.append(text[at : match.start()])
            out.append(self._placeholder("PESSOA", name))
            at = match.end()
        out.append(text[at:])
        return "".join(out)

    def restore(self, text: str, *, partial: bool = False) -> str:
        """The real values back in place of the placeholders (`partial`: a piece of a stream,
        whose last placeholder may be cut: that end is held back)."""
        if partial:
            text = _PARTIAL.sub("", text)
        return _PLACEHOLDER.sub(lambda m: self._by_placeholder.get(m.group(), m.group()), text)

    @property
    def values(self) -> list[str]:
        """Every value masked so far (a test asserts none of them left)."""
        return list(self._by_placeholder.values())


def mask_context(context: DraftContext, masker: Masker) -> DraftContext:
    """The same context with every text masked (what may leave for an LLM)."""
    mask = masker.mask
    return dataclasses.replace(
        context,
        objeto=mask(context.objeto),
        processo=context.processo,
        orgao=mask(context.orgao),
        unidade=mask(context.unidade),
        answers=tuple((q, mask(a)) for q, a in context.answers),
        earlier=tuple((n, mask(t)) for n, t in context.earlier),
        gaps=context.gaps,
        depends=tuple((n, q, mask(a)) for n, q, a in context.depends),
        skipped=tuple((n, mask(t)) for n, t in context.skipped),
        previous=mask(context.previous),
        instruction=mask(context.instruction),
        # a supplier may be a person (an MEI's name, a CPF): the facts are masked like answers
        facts=tuple(mask(f) for f in context.facts),
    )

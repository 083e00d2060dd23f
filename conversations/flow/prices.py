"""Section VI's price research in the chat, and section IV's quantity as data.

What the research asks next is derived from its data (`pricing.next_need`); this module shows
it, reads the answer, and stores it. A change never half-happens: a pasted block with one bad
line registers nothing, and the message names the line.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from conversations.catalogue import messages as m
from conversations.catalogue import pricing as pt
from conversations.catalogue.sections import BY_NUMBER
from conversations.flow.state import Turn
from conversations.flow.text import InputError, parse_int
from conversations.model import PRICE_SECTION
from conversations.pricing import (
    MAX_PRICES,
    OUTLIER_HIGH,
    OUTLIER_LOW,
    Method,
    Need,
    PriceInputError,
    Quantity,
    Research,
    SourceKind,
    check_reason,
    kind_named,
    method_allowed,
    method_named,
    money,
    next_need,
    parse_line,
    parse_quantity,
    percent,
    plain,
    prices_count,
    stats_text,
    table_text,
    valid_count,
)
from conversations.replies import Button


def today(t: Turn) -> date:
    return t.ctx.now.date()


def need(t: Turn) -> Need:
    etp = t.require_etp()
    return next_need(etp.research(), etp.quantity(), today(t))


def save(t: Turn, research: Research) -> None:
    """Store the research; whoever changed it is one of the people who prepared it."""
    if t.author.name and t.author.name not in research.authors:
        research.authors.append(t.author.name)
    t.require_etp().save_research(research)


def _refuse(error: PriceInputError) -> InputError:
    return InputError(str(error))


def kind_buttons() -> tuple[Button, ...]:
    return tuple(Button(pt.BTN_KIND[k.value], f"/precos fonte {k.value}") for k in SourceKind)


# what the research asks in one sentence, the answer a text
_ASKS = {
    Need.SOURCES: pt.SOURCES,
    Need.SUPPLIERS: pt.SUPPLIERS,
    Need.QUANTITY: pt.QUANTITY,
    Need.CONFIDENTIAL_REASON: pt.CONFIDENTIAL_REASON,
}


def show(t: Turn) -> bool:
    """Say what the research needs next. True when it needs nothing more (time to draft)."""
    etp = t.require_etp()
    research, quantity = etp.research(), etp.quantity()
    on = research.date_of_research(today(t))
    what = next_need(research, quantity, today(t))
    spec = BY_NUMBER[PRICE_SECTION]
    header = m.SECTION_HEADER.format(n=spec.number, title=spec.title) + f"\n{pt.HEADER}"
    if what == Need.COLLECT:
        text = f"{header}\n{table_text(research, on)}"
        if research.quotes:
            text += f"\n{pt.TABLE_FOOTER}\n\n{pt.COLLECT_MORE}"
        else:
            text += f"\n\n{pt.COLLECT}"
        if research.pending_kind is not None:
            text += "\n" + pt.COLLECT_KIND.format(kind=pt.KIND_LABELS[research.pending_kind])
        t.out.say(
            text, *kind_buttons(), Button(pt.BTN_CLOSE, "/precos concluir"), expects_text=True
        )
    elif what == Need.DECIDE:
        index = (
            research.pending_decision[0]
            if research.pending_decision is not None
            else research.undecided(on)[0]
        )
        if research.pending_decision is not None:
            choice = (
                pt.CHOICE_EXCLUDE if research.pending_decision[1] == "excluded" else pt.CHOICE_KEEP
            )
            t.out.say(pt.DECIDE_REASON.format(choice=choice, n=index + 1), expects_text=True)
            return False
        stats = research.figures(on)
        median = money(stats.median) if stats is not None else "—"
        quote = research.quotes[index]
        t.out.say(
            f"{header}\n{table_text(research, on)}\n\n"
            + pt.DECIDE.format(
                n=index + 1,
                share=research.share(index, on),
                value=money(quote.value),
                kind=pt.KIND_SHORT[quote.kind],
                median=median,
                low=percent(OUTLIER_LOW, 0),
                high=percent(OUTLIER_HIGH, 0),
            ),
            Button(pt.BTN_EXCLUDE.format(n=index + 1), f"/precos excluir {index + 1}"),
            Button(pt.BTN_KEEP.format(n=index + 1), f"/precos manter {index + 1}"),
            expects_text=True,
        )
    elif what == Need.FEWER:
        t.out.say(
            f"{header}\n" + pt.FEWER.format(valid=valid_count(len(research.valid(on)))),
            expects_text=True,
        )
    elif what in _ASKS:
        t.out.say(f"{header}\n{_ASKS[what]}", expects_text=True)
    elif what == Need.METHOD:
        stats = research.figures(on)
        assert stats is not None  # METHOD comes after a valid price
        if stats.cv is None:
            suggestion = pt.METHOD_SUGGESTION_NONE
        else:
            suggested = pt.SUGGEST_MEAN if stats.suggested is Method.MEAN else pt.SUGGEST_MEDIAN
            suggestion = pt.METHOD_SUGGESTION.format(cv=percent(stats.cv), suggested=suggested)
        t.out.say(
            f"{header}\n{stats_text(stats)}\n"
            + pt.METHOD.format(
                mean=money(stats.mean.quantize(Decimal("0.01"))),
                median=money(stats.median.quantize(Decimal("0.01"))),
                lowest=money(stats.lowest),
                suggestion=suggestion,
            ),
            *(Button(pt.BTN_METHOD[m.value], f"/precos metodo {m.value}") for m in Method),
            expects_text=True,
        )
    elif what == Need.METHOD_REASON:
        stats = research.figures(on)
        assert stats is not None and research.method is not None
        t.out.say(
            f"{header}\n"
            + pt.METHOD_REASON.format(
                suggested=pt.METHOD_NOUNS[stats.suggested],
                chosen=pt.METHOD_NOUNS[research.method],
            ),
            expects_text=True,
        )
    elif what == Need.CONFIDENTIAL:
        t.out.say(
            f"{header}\n{summary(t)}\n\n{pt.CONFIDENTIAL}",
            Button(pt.BTN_PUBLIC, "/precos sigilo nao"),
            Button(pt.BTN_SECRET, "/precos sigilo sim"),
            expects_text=True,
        )
    else:
        return True
    return False


def summary(t: Turn) -> str:
    etp = t.require_etp()
    research, quantity = etp.research(), etp.quantity()
    on = research.date_of_research(today(t))
    unit, total = research.unit_price(on), research.total(quantity, on)
    if unit is None or total is None or quantity is None or research.method is None:
        return ""
    return pt.SUMMARY.format(
        method=pt.METHOD_LABELS[research.method],
        prices=prices_count(len(research.valid(on))),
        unit=money(unit),
        quantity=quantity.text(),
        amount=quantity.text(),
        total=money(total),
    )


def total_now(t: Turn) -> Decimal | None:
    etp = t.require_etp()
    research = etp.research()
    return research.total(etp.quantity(), research.date_of_research(today(t)))


def tell_total(t: Turn, before: Decimal | None, reason: str = "") -> None:
    """The total follows any change of prices, method or quantity: say so when it moved, and
    mark section VI's written text as out of date when one exists. Called after the change
    is saved (it saves the research again)."""
    after = total_now(t)
    if before is None or after is None or before == after:
        return
    etp = t.require_etp()
    if reason:
        t.out.say(
            pt.TOTAL_CHANGED_BECAUSE.format(old=money(before), new=money(after), reason=reason)
        )
    else:
        t.out.say(pt.TOTAL_CHANGED.format(old=money(before), new=money(after)))
    entry = etp.section(PRICE_SECTION)
    if entry.accepted_text is not None or entry.draft:
        research = etp.research()
        research.stale = True
        save(t, research)
        t.out.say(pt.TEXT_STALE)


# --- text in the research --------------------------------------------------------------------


# the needs answered by the team's words, and the field of the research that keeps them
_REASONS = {
    Need.FEWER: "fewer_reason",
    Need.SOURCES: "sources_reason",
    Need.SUPPLIERS: "supplier_choice",
    Need.METHOD_REASON: "method_reason",
    Need.CONFIDENTIAL_REASON: "confidential_reason",
}


def research_text(t: Turn, text: str) -> None:
    """A free text while the research is open: a price line (or several), or the answer to
    what the research asked. Raises InputError, changing nothing, when it cannot be read."""
    etp = t.require_etp()
    research = etp.research()
    what = next_need(research, etp.quantity(), today(t))
    try:
        if what == Need.COLLECT:
            _add_lines(t, research, text)
            return
        if what == Need.DECIDE:
            _decide_text(t, research, text)
            return
        if what in _REASONS:
            setattr(research, _REASONS[what], check_reason(text))
        elif what == Need.METHOD:
            method = method_named(text)
            if method is None:
                raise InputError(pt.METHOD_NOT_A_CHOICE)
            _set_method(t, research, method)
            return
        elif what == Need.QUANTITY:
            set_quantity(t, parse_quantity(text))
            return
        elif what == Need.CONFIDENTIAL:
            secret = pt.CONFIDENTIAL_WORDS.get(plain(text))
            if secret is None:
                raise InputError(pt.CONFIDENTIAL_NOT_A_CHOICE)
            _set_confidential(t, research, secret)
            return
    except PriceInputError as error:
        raise _refuse(error) from None
    save(t, research)


def _add_lines(t: Turn, research: Research, text: str) -> None:
    lines = [line for line in text.splitlines() if line.strip()]
    on = today(t)
    added = []
    for line in lines:
        try:
            quote = parse_line(line, on, research.pending_kind)
        except PriceInputError as error:
            raise _refuse(error) from None
        quote.by = t.author.name
        added.append(quote)
    if len(research.quotes) + len(added) > MAX_PRICES:
        raise InputError(pt.TABLE_FULL.format(limit=MAX_PRICES))
    research.quotes.extend(added)
    save(t, research)
    if len(added) == 1:
        t.out.say(pt.ADDED.format(count=len(research.quotes)))
    else:
        t.out.say(pt.ADDED_MANY.format(count=len(added), total=len(research.quotes)))


_CHOICE = re.compile(
    r"^\s*(excluir|exclua|excluo|manter|mantenha|mantemos|mantenho)\b[\s,.:;–—-]*", re.I
)


def _decide_text(t: Turn, research: Research, text: str) -> None:
    on = research.date_of_research(today(t))
    if research.pending_decision is not None:
        index, choice = research.pending_decision
        decide(t, research, index, choice, text)
        return
    match = _CHOICE.match(text)
    if match is None:
        raise InputError(pt.DECIDE_NOT_A_CHOICE)
    choice = "excluded" if match.group(1).lower().startswith("exclu") else "kept"
    index = research.undecided(on)[0]
    reason = text[match.end() :].strip()
    if not reason:
        research.pending_decision = (index, choice)
        save(t, research)
        return
    decide(t, research, index, choice, reason)


def decide(t: Turn, research: Research, index: int, choice: str, reason: str) -> None:
    """The team keeps or excludes price `index` (0-based), for `reason`."""
    before = total_now(t)
    research.quotes[index].reason = check_reason(reason)
    research.quotes[index].decision = choice
    research.pending_decision = None
    save(t, research)
    message = pt.DECIDED_EXCLUDED if choice == "excluded" else pt.DECIDED_KEPT
    t.out.say(message.format(n=index + 1))
    tell_total(t, before)


def _set_method(t: Turn, research: Research, method: Method) -> None:
    on = research.date_of_research(today(t))
    try:
        method_allowed(research, method, on)
    except PriceInputError as error:
        raise _refuse(error) from None
    before = total_now(t)
    if research.method is not method:
        research.method_reason = ""
    research.method = method
    save(t, research)
    unit = research.unit_price(on)
    t.out.say(
        pt.METHOD_SET.format(method=pt.METHOD_LABELS[method], unit=money(unit) if unit else "—")
    )
    tell_total(t, before)


def _set_confidential(t: Turn, research: Research, secret: bool) -> None:
    if research.confidential is not secret:
        research.confidential_reason = ""
    research.confidential = secret
    save(t, research)
    t.out.say(pt.CONFIDENTIAL_SET_SECRET if secret else pt.CONFIDENTIAL_SET_PUBLIC)


def set_quantity(t: Turn, quantity: Quantity, *, announce: bool = True) -> None:
    """Section IV's total quantity; the estimate's total follows it. `announce`: say it was
    registered (not when it is the answer the user just typed, word for word)."""
    before = total_now(t)
    etp = t.require_etp()
    etp.save_quantity(quantity)
    if announce:
        t.out.say(pt.QUANTITY_SET.format(quantity=quantity.text()))
    tell_total(t, before, pt.TOTAL_CHANGED_QUANTITY.format(quantity=quantity.text()))


# --- /precos -------------------------------------------------------------------------------


def research_command(t: Turn, args: str) -> bool:
    """/precos <ação>: change the table or a choice. True when the research must be shown
    (or drafted) again afterwards; raises InputError, changing nothing, when refused."""
    etp = t.require_etp()
    research = etp.research()
    on = research.date_of_research(today(t))
    words = args.strip().split(None, 2)
    action = plain(words[0]) if words else ""
    rest = args.strip()[len(words[0]) :].strip() if words else ""
    try:
        if action in ("", "tabela", "ver"):
            return True
        if action == "fonte":
            kind = kind_named(rest)
            if kind is None:
                raise InputError(pt.NO_KIND.format(line=rest[:60]))
            research.pending_kind = kind
            save(t, research)
            return True
        if action == "concluir":
            # the research's date is today's: its prices' ages are counted to it
            if not research.quotes or not Research(quotes=research.quotes, on=today(t)).valid(
                today(t)
            ):
                raise InputError(pt.CLOSE_EMPTY)
            research.closed = True
            research.on = today(t)
            research.pending_kind = None
            save(t, research)
            t.out.say(
                pt.CLOSED.format(
                    date=research.on.strftime("%d/%m/%Y"), prices=prices_count(len(research.quotes))
                )
            )
            return True
        if action == "reabrir":
            reopen(t, research)
            return True
        if action in ("remover", "corrigir", "excluir", "manter"):
            number_text, _, tail = rest.partition(" ")
            n = parse_int(number_text)
            if n is None or not 1 <= n <= len(research.quotes):
                raise InputError(pt.NO_SUCH_LINE.format(n=number_text[:10] or "?"))
            index = n - 1
            before = total_now(t)
            if action == "remover":
                del research.quotes[index]
                research.pending_decision = None
                save(t, research)
                t.out.say(pt.REMOVED.format(n=n))
            elif action == "corrigir":
                quote = parse_line(tail, today(t), research.quotes[index].kind)
                quote.by = t.author.name
                research.quotes[index] = quote
                save(t, research)
                t.out.say(pt.CORRECTED.format(n=n))
            else:
                choice = "excluded" if action == "excluir" else "kept"
                if tail.strip():
                    decide(t, research, index, choice, tail)
                    return True
                research.pending_decision = (index, choice)
                save(t, research)
                return True
            tell_total(t, before)
            return True
        if action == "metodo":
            method = method_named(rest)
            if method is None:
                raise InputError(pt.METHOD_NOT_A_CHOICE)
            _set_method(t, research, method)
            return True
        if action == "sigilo":
            secret = pt.CONFIDENTIAL_WORDS.get(plain(rest))
            if secret is None:
                raise InputError(pt.CONFIDENTIAL_NOT_A_CHOICE)
            _set_confidential(t, research, secret)
            return True
    except PriceInputError as error:
        raise _refuse(error) from None
    del on
    raise InputError(pt.UNKNOWN_ACTION.format(action=args.strip()[:40]))


def reopen(t: Turn, research: Research) -> None:
    etp = t.require_etp()
    research.closed = False
    research.on = None
    entry = etp.section(PRICE_SECTION)
    if entry.accepted_text is not None or entry.draft:
        research.stale = True
    save(t, research)
    t.out.say(pt.REOPENED)

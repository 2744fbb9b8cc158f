"""Why deals were lost, as customers said it: confirmed customer-stated reasons, each opportunity once."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import and_, func, or_, select

from app.codebook.models import ReasonCode
from app.codebook.themes import Theme, codes_by_id, themes_by_code
from app.coding.models import Coding, CodingStatus, OpportunityReason
from app.crm.models import Account, Opportunity
from app.extensions import db
from app.money.service import NotConverted, Rates, as_money, month_start, reporting_currency
from app.reports.filters import DealScope, ReportFilters, deal_scope, month_starts, room_for_aggregates
from app.tables import PageLinks
from surveys.models import Answer, Option, Question, Response

TREND_REASONS = 3  # the reasons that get a column of their own in the trend
DRILL_PAGE = 50  # deals per drill-down page
DRILL_CSV_MAX = 5_000  # deals in a drill-down CSV: a bigger export is a database export, not a report


@dataclass(frozen=True)
class Deal:
    id: int
    name: str
    account_name: str
    owner: str | None
    close_date: date | None
    amount: Decimal | None
    currency: str
    converted: Decimal | None  # in the reporting currency; None: no rate for its close month
    crm_loss_reason: str | None


@dataclass
class ReasonBar:
    code_id: int
    code: str
    label: str
    deals: int = 0
    amount: Decimal = Decimal(0)  # converted deals only

    def value(self, weight: str) -> Decimal | int:
        return self.amount if weight == "amount" else self.deals


@dataclass
class ThemeBar:
    """A theme and its codes: the theme counts each deal once, however many of its codes the deal gave."""

    theme: Theme
    deals: int = 0
    amount: Decimal = Decimal(0)  # converted deals only
    children: list[ReasonBar] = field(default_factory=list)  # the theme's codes, the theme's own included

    @property
    def code(self) -> str:
        return self.theme.code

    @property
    def label(self) -> str:
        return self.theme.label

    def value(self, weight: str) -> Decimal | int:
        return self.amount if weight == "amount" else self.deals


@dataclass(frozen=True)
class TrendRow:
    month: date
    deals: int
    amount: Decimal
    by_reason: tuple[int, ...]  # deals per TREND_REASONS reason, in the order of trend_reasons


@dataclass
class LossReasonsReport:
    filters: ReportFilters
    currency: str
    lost_deals: int  # every lost deal the filters keep, with or without a customer-stated reason
    deals_with_reasons: int
    amount: Decimal  # converted amount of the deals with reasons
    bars: list[ReasonBar]
    not_converted: list[NotConverted]
    trend: list[TrendRow]
    trend_reasons: list[ReasonBar] = field(default_factory=list)
    themes: list[ThemeBar] = field(default_factory=list)  # the codes rolled up, the page's default view


def deal_columns(scope: DealScope):
    return (
        Opportunity.id,
        Opportunity.name,
        Account.name.label("account_name"),
        Opportunity.owner,
        Opportunity.close_date,
        Opportunity.amount,
        scope.conversion.currency.label("currency"),
        scope.converted.label("converted"),
        Opportunity.crm_loss_reason,
    )


def deal_of(row) -> Deal:
    return Deal(
        id=row.id,
        name=row.name,
        account_name=row.account_name,
        owner=row.owner,
        close_date=row.close_date,
        amount=row.amount,
        currency=row.currency,
        converted=None if row.converted is None else as_money(row.converted),
        crm_loss_reason=row.crm_loss_reason,
    )


def loss_reasons_report(filters: ReportFilters, *, rates: Rates | None = None) -> LossReasonsReport:
    """The deals with a customer-stated reason by reason, theme and month, among every lost deal the filters
    keep (_reason_rows).
    """
    quote = rates.quote if rates else reporting_currency()
    rows, lost_deals = _reason_rows(deal_scope(filters, quote))
    codes = codes_by_id() if rows else {}
    bars: dict[int, ReasonBar] = {}
    firsts: dict[int, list] = {}  # per code: deals and amount of the rows first in their theme
    months = month_starts(filters.start, filters.end)
    per_month: dict[date, list] = {m: [0, Decimal(0)] for m in months}
    per_month_reason: dict[tuple[date, int], int] = defaultdict(int)
    not_converted: dict[str, list] = {}
    deals_with_reasons, amount = 0, Decimal(0)
    for code_id, primary, first, row_month, currency, deals, with_amount, summed in rows:
        money = as_money(summed) if currency is None else Decimal(0)
        bar = bars.get(code_id)
        if bar is None:
            bar = bars[code_id] = ReasonBar(code_id, codes[code_id].code, codes[code_id].label)
        bar.deals += deals
        bar.amount += money
        per_month_reason[(row_month, code_id)] += deals
        if first:
            sums = firsts.setdefault(code_id, [0, Decimal(0)])
            sums[0] += deals
            sums[1] += money
        if not primary:
            continue
        deals_with_reasons += deals
        amount += money
        entry = per_month.get(row_month)
        if entry is not None:
            entry[0] += deals
            entry[1] += money
        if currency is not None and with_amount:  # not converted: counted apart
            pending = not_converted.setdefault(currency, [Decimal(0), 0])
            pending[0] += as_money(summed)
            pending[1] += with_amount
    weight = filters.weight
    ordered = sorted(bars.values(), key=lambda bar: (-bar.value(weight), bar.code))
    top = ordered[:TREND_REASONS]
    trend = [
        TrendRow(m, d, a, tuple(per_month_reason.get((m, bar.code_id), 0) for bar in top))
        for m, (d, a) in per_month.items()
    ]
    return LossReasonsReport(
        filters=filters,
        currency=quote,
        lost_deals=lost_deals,
        deals_with_reasons=deals_with_reasons,
        amount=amount,
        bars=ordered,
        not_converted=[NotConverted(c, a, n) for c, (a, n) in sorted(not_converted.items())],
        trend=trend,
        trend_reasons=top,
        themes=_theme_bars(firsts, ordered, weight, codes),
    )


def _reason_rows(scope: DealScope) -> tuple[list, int]:
    """The reasons aggregated in the database, and the lost deals counted (with or without a reason).

    One row per (reason, primary or not, first of its theme or not, month, currency left unconverted):
    deals, deals with an amount, and their amount. Each opportunity holds each of its reasons once
    (OpportunityReason is unique on both), exactly one of them as primary (refresh_opportunity_reasons), so
    the primary rows count each deal once, and exactly one of each theme's as first (mark_first_in_theme),
    so those rows count each deal once per theme.
    """
    room_for_aggregates()
    # Plain grouping keys, not the converted amount; the currency only where the amount has no rate, which
    # the page shows apart (the converted amounts of every currency are one row: half the rows to read). The
    # month has statistics of its own on PostgreSQL (migration 0047), which let it plan the groups as few.
    groups = (
        OpportunityReason.reason_code_id,
        OpportunityReason.is_primary,
        OpportunityReason.first_in_theme,
        month_start(Opportunity.close_date).label("month"),
        scope.conversion.unconverted.label("currency"),
    )
    aggregate = scope.select(
        *groups,
        func.count().label("deals"),
        func.count(Opportunity.amount).label("with_amount"),
        # One sum: the amounts in the reporting currency, or in a row of an unconverted currency the amounts
        # in that currency (a second sum, of the raw amounts, cost ~8 % of this pass).
        func.sum(func.coalesce(scope.converted, Opportunity.amount)).label("amount"),
    ).group_by(*groups)
    gave = OpportunityReason.opportunity_id == Opportunity.id
    if scope.filters.band:
        # A band converts every deal's amount to place it: the deals without a reason come along in this
        # pass (left-joined, no reason: NULL) to be counted, where a count of its own converted them all
        # again (~40 ms at 100k deals, against ~5 here).
        rows = db.session.execute(aggregate.outerjoin(OpportunityReason, gave)).all()
        lost_deals = sum(row.deals for row in rows if row.reason_code_id is None or row.is_primary)
        return [row for row in rows if row.reason_code_id is not None], lost_deals
    # Without a band, the lost deals are counted apart, from the deals alone (at 100k deals 10 ms, 3 from the
    # lost deals' index once vacuumed), where left-joining the deals without a reason (30k of 90k) into this
    # pass cost it ~30 ms more.
    rows = db.session.execute(aggregate.join(OpportunityReason, gave)).all()
    return rows, db.session.scalar(scope.select(func.count(), rates=False)) or 0


def _theme_bars(firsts: dict[int, list], bars: list[ReasonBar], weight: str, codes: dict) -> list[ThemeBar]:
    """The code bars rolled up into their themes (themes_by_code): each deal once per theme, counted from
    each code's deals and amount in the rows of each deal's first reason in the theme (`firsts`); the codes
    kept beside as the theme's children.
    """
    if not bars:
        return []
    themes = themes_by_code(codes)
    result: dict[int, ThemeBar] = {}
    for code_id, (deals, amount) in firsts.items():
        theme = themes[code_id]
        bar = result.setdefault(theme.id, ThemeBar(theme))
        bar.deals += deals
        bar.amount += amount
    for bar in bars:  # already in the page's order
        result[themes[bar.code_id].id].children.append(bar)
    return sorted(result.values(), key=lambda bar: (-bar.value(weight), bar.code))


@dataclass(frozen=True)
class Verbatim:
    opportunity_id: int
    question: str
    text: str
    channel: str


@dataclass
class ReasonDrillDown(PageLinks):
    code: ReasonCode
    currency: str
    deals: list[Deal]  # one page of them, newest close first
    verbatims: dict[int, list[Verbatim]]  # by opportunity
    total: int = 0  # every deal behind the bar
    page: int = 1
    per_page: int = DRILL_PAGE
    whole_theme: bool = False  # the deals that gave any code of the theme `code` heads, each once
    theme_codes: list[ReasonCode] = field(default_factory=list)  # the theme's codes (its own first)
    theme: Theme | None = None  # the theme of `code`
    codes_of: dict[int, list[str]] = field(default_factory=dict)  # by deal: the codes it gave, of this bar

    def codes(self, deal_id: int) -> str:
        return ", ".join(self.codes_of.get(deal_id, [])) or self.code.code

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def reason_drill_down(
    filters: ReportFilters,
    code: ReasonCode,
    *,
    page: int = 1,
    per_page: int = DRILL_PAGE,
    rates: Rates | None = None,
    whole_theme: bool = False,
) -> ReasonDrillDown:
    """The deals behind one bar, a page at a time, and the answers coded with its reason, word for word.

    `whole_theme`: the bar of the theme `code` heads: the deals that gave any of its codes, each once.
    """
    quote = rates.quote if rates else reporting_currency()
    scope = deal_scope(filters, quote)
    # A top-level code is its own theme: the codebook is read only for a child code or a whole theme.
    themes = themes_by_code() if whole_theme or code.parent_id is not None else {}
    theme_codes = _theme_codes(code, themes) if whole_theme else [code]
    code_ids = [c.id for c in theme_codes]
    gave = (
        OpportunityReason.reason_code_id == code.id
        if len(code_ids) == 1
        else OpportunityReason.reason_code_id.in_(code_ids)
    )
    columns = deal_columns(scope)
    if len(code_ids) == 1:  # one reason: each deal holds it at most once, a join keeps the index walk
        behind = scope.select(*columns, accounts=True).join(
            OpportunityReason, and_(OpportunityReason.opportunity_id == Opportunity.id, gave)
        )
    else:  # a deal may have given several codes of the theme: it is shown once
        behind = scope.select(*columns, accounts=True).where(
            select(OpportunityReason.opportunity_id)
            .where(OpportunityReason.opportunity_id == Opportunity.id, gave)
            .exists()
        )
    deals, total, page = _page_of_deals(scope, behind, gave, len(code_ids) == 1, page=page, per_page=per_page)
    ids = [deal.id for deal in deals]
    verbatims: dict[int, list[Verbatim]] = defaultdict(list)
    if ids:
        # Looked up answer by answer (the codings' answer index): an IN over every answer coded with the
        # reason made PostgreSQL scan all the answers.
        coded = (
            select(Coding.id)
            .where(
                Coding.answer_id == Answer.id,
                Coding.reason_code_id.in_(code_ids) if whole_theme else Coding.reason_code_id == code.id,
                Coding.status == CodingStatus.CONFIRMED,
            )
            .exists()
        )
        # The answers coded with the reason, and the customer's own words in the same responses (answers
        # to coded questions: a vendor's name or a contact detail is not what the customer said of it).
        rows = db.session.execute(
            select(
                Answer.question_id,
                Response.opportunity_id,
                Question.text,
                Answer.text,
                Answer.choices,
                Response.channel,
            )
            .join(Answer, Answer.response_id == Response.id)
            .join(Question, Question.id == Answer.question_id)
            .where(
                Response.opportunity_id.in_(ids),
                or_(coded, and_(Question.coded, func.length(Answer.text) > 0)),
            )
            .order_by(Response.opportunity_id, Response.id, Question.position)
        ).all()
        labels = {
            (question_id, value): label
            for question_id, value, label in db.session.execute(
                select(Option.question_id, Option.value, Option.label).where(
                    Option.question_id.in_({row[0] for row in rows})
                )
            )
        }
        for question_id, opportunity_id, question, text, choices, channel in rows:
            said = text or ", ".join(labels.get((question_id, str(c)), str(c)) for c in choices or [])
            verbatims[opportunity_id].append(Verbatim(opportunity_id, question, said, str(channel)))
    return ReasonDrillDown(
        code=code,
        currency=quote,
        deals=deals,
        verbatims=verbatims,
        total=total,
        page=page,
        per_page=per_page,
        whole_theme=whole_theme,
        theme_codes=theme_codes if whole_theme else [],
        theme=themes.get(code.id) or Theme(code.id, code.code, code.label),
        codes_of=_codes_of(ids, code_ids) if whole_theme else {},
    )


def _page_of_deals(
    scope: DealScope, behind, gave, one_code: bool, *, page: int, per_page: int
) -> tuple[list[Deal], int, int]:
    """A page of the deals `behind` a bar (newest close first), how many deals there are, the page shown."""
    page = max(1, page)
    if scope.filters.band:
        # With a band (on the converted amount, which it cannot estimate) PostgreSQL looked up a rate for
        # nearly every lost deal of the period when it walked the deals' close-date index for a few of them
        # (130 ms instead of 20 at 100k deals); ordered by an expression the index cannot give, it joins the
        # few deals behind the bar first, then sorts them, and counts them on the way (a window), instead of
        # a second pass from the reasons' side (28 of 52 ms). A page past the last (no row) is ranked below.
        newest = func.coalesce(Opportunity.close_date, Opportunity.close_date)
        rows = db.session.execute(
            behind.add_columns(func.count().over().label("behind"))
            .order_by(newest.desc(), Opportunity.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()
        if rows or page == 1:
            return [deal_of(row) for row in rows], rows[0].behind if rows else 0, page
    ids, total, page = _ranked(
        scope,
        gave if one_code else and_(gave, OpportunityReason.first_in_theme.is_(True)),
        page=page,
        per_page=per_page,
    )
    found = (
        {
            row.id: deal_of(row)
            for row in db.session.execute(
                scope.select(*deal_columns(scope), accounts=True).where(Opportunity.id.in_(ids))
            )
        }
        if ids
        else {}
    )
    return [found[deal_id] for deal_id in ids], total, page


def _ranked(scope: DealScope, gave, *, page: int, per_page: int) -> tuple[list[int], int, int]:
    """The ids of a page of the deals that gave the reason (each once: `gave` keeps one reason per deal),
    newest close first, how many there are, and the page shown (the last when `page` is past it).

    Found from the reason's side (its index), each deal checked against the filters and its close date read
    by one probe of its key (a scalar subquery, which PostgreSQL keeps a probe; as EXISTS or a join it
    hashed every lost deal of the period, 90k, for 3k reasons: 55 ms instead of 20), then ranked and
    counted in the same statement (a window): 20 ms at 100k deals where a count and the page's query
    took 30. The probes are materialised so that PostgreSQL runs each once.
    """
    closed = (
        scope.select(Opportunity.close_date, rates=False)
        .where(Opportunity.id == OpportunityReason.opportunity_id)
        .limit(1)
        .scalar_subquery()
    )
    probed = (
        select(OpportunityReason.opportunity_id.label("id"), closed.label("closed"))
        .where(gave)
        .cte("probed")
        .prefix_with("MATERIALIZED")
    )

    def ranks(page: int) -> list:
        return db.session.execute(
            select(probed.c.id, probed.c.closed, func.count(probed.c.closed).over().label("behind"))
            .order_by(probed.c.closed.desc().nulls_last(), probed.c.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()

    rows = ranks(page)
    if not rows and page > 1:  # past every reason: the count is read from the first page
        first = ranks(1)
        total = first[0].behind if first else 0
    else:
        total = rows[0].behind if rows else 0
    last = max(1, -(-total // per_page))
    if page > last:
        page, rows = last, ranks(last)
    # A deal the filters leave out has no close date (the period is always set): ranked last, not shown.
    return [row.id for row in rows if row.closed is not None], total, page


def _codes_of(deal_ids: list[int], code_ids: list[int]) -> dict[int, list[str]]:
    """The codes among `code_ids` each deal gave (a page of deals)."""
    found: dict[int, list[str]] = defaultdict(list)
    if deal_ids:
        for deal_id, code in db.session.execute(
            select(OpportunityReason.opportunity_id, ReasonCode.code)
            .join(ReasonCode, ReasonCode.id == OpportunityReason.reason_code_id)
            .where(
                OpportunityReason.opportunity_id.in_(deal_ids), OpportunityReason.reason_code_id.in_(code_ids)
            )
            .order_by(OpportunityReason.opportunity_id, ReasonCode.code)
        ):
            found[deal_id].append(code)
    return found


def _theme_codes(theme: ReasonCode, themes: dict[int, Theme]) -> list[ReasonCode]:
    """The codes of the theme `theme` heads (themes_by_code), the theme's own code first."""
    ids = [code_id for code_id, found in themes.items() if found.id == theme.id] or [theme.id]
    codes = db.session.scalars(select(ReasonCode).where(ReasonCode.id.in_(ids))).all()
    return sorted(codes, key=lambda c: (c.id != theme.id, c.code))

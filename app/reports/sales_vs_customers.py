"""What sales recorded (the CRM loss reason, mapped to a code) next to the customer's primary reason.

Compared by reason category (the code's top level: `price.too_high` is in `price`), since sales usually map
their picklist to broad categories while customers' answers are coded finely. Only comparable categories are
compared: a category no CRM loss reason maps to ("Competitor strengths") could never agree, so its deals are
shown apart and left out of the agreement rate.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import and_, case, func, select

from app.codebook.models import ReasonCode
from app.codebook.themes import themes_by_code
from app.coding.models import OpportunityReason
from app.crm.models import LossReasonMapping, Opportunity
from app.extensions import db
from app.money.service import Rates, reporting_currency
from app.reports.filters import DealScope, ReportFilters, deal_scope, room_for_aggregates
from app.reports.loss_reasons import Deal, deal_columns, deal_of

MISMATCH_EXAMPLES = 3
MISMATCHES_SHOWN = 5
EXAMPLE_SCAN = 40  # mismatched deals read per pair shown, largest first, before reading them all


@dataclass(frozen=True)
class Category:
    code: str
    label: str


@dataclass(frozen=True)
class OwnerAgreement:
    owner: str
    compared: int
    agreed: int

    @property
    def rate(self) -> float:
        return self.agreed / self.compared if self.compared else 0.0


@dataclass(frozen=True)
class Mismatch:
    sales: Category
    customer: Category
    deals: int
    examples: list[tuple[Deal, str]]  # (deal, the customer's primary reason label)


@dataclass
class SalesVsCustomersReport:
    filters: ReportFilters
    sales_categories: list[Category]
    customer_categories: list[Category]
    matrix: dict[tuple[str, str], int]  # (sales category code, customer category code) → deals
    compared: int
    agreed: int
    not_mapped: int  # deals with a customer reason whose CRM reason is empty or not mapped to a code
    owners: list[OwnerAgreement]
    # Customer categories with no CRM counterpart (no CRM loss reason maps to them), and their deals:
    # shown apart, never compared.
    not_comparable: list[tuple[Category, int]] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.agreed / self.compared if self.compared else 0.0


def _categories() -> tuple[dict[int, Category], dict[int, ReasonCode]]:
    """Each code's category: its theme (themes_by_code, the rollup every report of codes uses)."""
    codes = {code.id: code for code in db.session.scalars(select(ReasonCode))}
    return {code_id: Category(theme.code, theme.label) for code_id, theme in themes_by_code().items()}, codes


def crm_categories(category_of: dict[int, Category]) -> set[str]:
    """The categories sales can record: those some CRM loss reason is mapped to. Only they are comparable."""
    mapped = db.session.scalars(
        select(LossReasonMapping.reason_code_id)
        .distinct()
        .where(LossReasonMapping.reason_code_id.is_not(None))
    )
    return {category_of[code_id].code for code_id in mapped if code_id in category_of}


def sales_vs_customers_report(
    filters: ReportFilters, *, rates: Rates | None = None, example_scan: int = EXAMPLE_SCAN
) -> SalesVsCustomersReport:
    """Aggregated in the database: deals per (owner, sales code, customer's primary code), folded into
    categories here; then the largest deals of the biggest mismatches, a few per mismatch, in one query."""
    quote = rates.quote if rates else reporting_currency()
    scope = deal_scope(filters, quote)
    room_for_aggregates()
    category_of, codes = _categories()
    comparable = crm_categories(category_of)
    apart: Counter[Category] = Counter()
    sales_code = LossReasonMapping.reason_code_id
    owner = func.coalesce(Opportunity.owner, "No owner").label("owner")
    compared = (
        scope.select(owner, sales_code, OpportunityReason.reason_code_id, func.count(), rates=False)
        .join(
            OpportunityReason,
            and_(OpportunityReason.opportunity_id == Opportunity.id, OpportunityReason.is_primary.is_(True)),
        )
        .outerjoin(LossReasonMapping, LossReasonMapping.raw_value == Opportunity.crm_loss_reason)
        .group_by(owner, sales_code, OpportunityReason.reason_code_id)
    )
    matrix: Counter[tuple[str, str]] = Counter()
    owners: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    sales_seen: dict[str, Category] = {}
    customer_seen: dict[str, Category] = {}
    not_mapped = total = agreed = 0
    for name, sales_id, customer_id, deals in db.session.execute(compared):
        if sales_id is None:  # the CRM reason is empty, unknown, or known but not mapped to a code
            not_mapped += deals
            continue
        sales, customer = category_of[sales_id], category_of[customer_id]
        if customer.code not in comparable:  # sales has no way to record it: it could never agree
            apart[customer] += deals
            continue
        sales_seen[sales.code], customer_seen[customer.code] = sales, customer
        matrix[(sales.code, customer.code)] += deals
        total += deals
        owners[name][0] += deals
        if sales.code == customer.code:
            agreed += deals
            owners[name][1] += deals
    biggest = sorted(
        ((s, c, n) for (s, c), n in matrix.items() if s != c),
        key=lambda m: (-m[2], m[0], m[1]),
    )[:MISMATCHES_SHOWN]
    examples = _examples(scope, [(s, c) for s, c, _ in biggest], category_of, codes, scan=example_scan)
    return SalesVsCustomersReport(
        filters=filters,
        sales_categories=sorted(sales_seen.values(), key=lambda c: c.code),
        customer_categories=sorted(customer_seen.values(), key=lambda c: c.code),
        matrix=dict(matrix),
        compared=total,
        agreed=agreed,
        not_mapped=not_mapped,
        owners=sorted(
            (OwnerAgreement(name, n, a) for name, (n, a) in owners.items()),
            key=lambda o: (-o.compared, o.owner),
        ),
        mismatches=[
            Mismatch(sales_seen[s], customer_seen[c], n, examples.get((s, c), [])) for s, c, n in biggest
        ],
        not_comparable=sorted(apart.items(), key=lambda item: (-item[1], item[0].code)),
    )


def _examples(
    scope: DealScope,
    pairs: list[tuple[str, str]],
    category_of: dict[int, Category],
    codes: dict[int, ReasonCode],
    *,
    scan: int,
) -> dict[tuple[str, str], list[tuple[Deal, str]]]:
    """The largest deals (converted amount, none counting as 0) of each (sales, customer) category pair."""
    if not pairs:
        return {}

    def in_category(column, category: str):
        return column.in_([code_id for code_id, c in category_of.items() if c.code == category])

    sales_code = LossReasonMapping.reason_code_id
    customer_code = OpportunityReason.reason_code_id
    pair = case(
        *(
            (and_(in_category(sales_code, s), in_category(customer_code, c)), index)
            for index, (s, c) in enumerate(pairs)
        )
    )
    # The mismatched deals, largest first, on narrow rows (the names and accounts of the few kept are read
    # after). The first EXAMPLE_SCAN rows nearly always hold enough of each pair: the database then keeps
    # only the top rows instead of ranking every mismatch; when they do not, all the rows are read.
    ordered = (
        scope.select(Opportunity.id.label("id"), customer_code.label("customer_code"), pair.label("pair"))
        .join(
            OpportunityReason,
            and_(OpportunityReason.opportunity_id == Opportunity.id, OpportunityReason.is_primary.is_(True)),
        )
        .join(LossReasonMapping, LossReasonMapping.raw_value == Opportunity.crm_loss_reason)
        .where(pair.is_not(None))
        .order_by(func.coalesce(scope.converted, 0).desc(), Opportunity.id)
    )

    def first_of_each(rows) -> list:
        taken: Counter[int] = Counter()
        chosen = []
        for row in rows:
            if taken[row.pair] < MISMATCH_EXAMPLES:
                taken[row.pair] += 1
                chosen.append(row)
        return chosen

    scan *= len(pairs)
    rows = db.session.execute(ordered.limit(scan)).all()
    kept = first_of_each(rows)
    if len(rows) == scan and len(kept) < MISMATCH_EXAMPLES * len(pairs):
        kept = first_of_each(db.session.execute(ordered))
    kept.sort(key=lambda row: row.pair)  # stable: largest first within each pair
    ids = [row.id for row in kept]
    deals = {
        row.id: deal_of(row)
        for row in db.session.execute(
            scope.select(*deal_columns(scope), accounts=True).where(Opportunity.id.in_(ids))
        )
    }
    result: dict[tuple[str, str], list[tuple[Deal, str]]] = defaultdict(list)
    for row in kept:
        result[pairs[row.pair]].append((deals[row.id], codes[row.customer_code].label))
    return result

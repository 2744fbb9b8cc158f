"""What sales recorded (the CRM loss reason, mapped to a code) next to the customer's primary reason.

Compared by reason category (the code's top level: `price.too_high` is in `price`), since sales usually map
their picklist to broad categories while customers' answers are coded finely.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select

from app.codebook.models import ReasonCode
from app.coding.models import OpportunityReason
from app.crm.importing.models import LossReasonMapping
from app.crm.models import Opportunity
from app.extensions import db
from app.money.service import Rates
from app.reports.filters import ReportFilters
from app.reports.loss_reasons import Deal, load_deals

MISMATCH_EXAMPLES = 3
MISMATCHES_SHOWN = 5


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
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.agreed / self.compared if self.compared else 0.0


def _categories() -> tuple[dict[int, Category], dict[int, ReasonCode]]:
    codes = {code.id: code for code in db.session.scalars(select(ReasonCode))}
    by_code = {code.code: code for code in codes.values()}
    result = {}
    for code_id, code in codes.items():
        top = by_code.get(code.code.split(".", 1)[0], code)
        result[code_id] = Category(top.code, top.label)
    return result, codes


def sales_vs_customers_report(
    filters: ReportFilters, *, rates: Rates | None = None
) -> SalesVsCustomersReport:
    deals = load_deals(filters, rates or Rates.load())
    category_of, codes = _categories()
    mapped = dict(
        db.session.execute(
            select(LossReasonMapping.raw_value, LossReasonMapping.reason_code_id).where(
                LossReasonMapping.reason_code_id.is_not(None)
            )
        ).all()
    )
    primary = dict(
        db.session.execute(
            select(OpportunityReason.opportunity_id, OpportunityReason.reason_code_id)
            .join(Opportunity, Opportunity.id == OpportunityReason.opportunity_id)
            .where(
                OpportunityReason.is_primary.is_(True),
                Opportunity.close_date >= filters.start,
                Opportunity.close_date <= filters.end,
            )
        ).all()
    )
    matrix: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], list[tuple[Deal, str]]] = defaultdict(list)
    owners: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    sales_seen: dict[str, Category] = {}
    customer_seen: dict[str, Category] = {}
    not_mapped = compared = agreed = 0
    for deal in sorted(deals.values(), key=lambda d: (-(d.converted or 0), d.id)):
        customer_code = primary.get(deal.id)
        if customer_code is None:
            continue
        sales_code = mapped.get(deal.crm_loss_reason) if deal.crm_loss_reason else None
        if sales_code is None:
            not_mapped += 1
            continue
        sales, customer = category_of[sales_code], category_of[customer_code]
        sales_seen[sales.code], customer_seen[customer.code] = sales, customer
        matrix[(sales.code, customer.code)] += 1
        compared += 1
        owner = owners[deal.owner or "No owner"]
        owner[0] += 1
        if sales.code == customer.code:
            agreed += 1
            owner[1] += 1
        elif len(examples[(sales.code, customer.code)]) < MISMATCH_EXAMPLES:
            examples[(sales.code, customer.code)].append((deal, codes[customer_code].label))
    mismatches = sorted(
        (
            Mismatch(sales_seen[s], customer_seen[c], n, examples[(s, c)])
            for (s, c), n in matrix.items()
            if s != c
        ),
        key=lambda m: (-m.deals, m.sales.code, m.customer.code),
    )[:MISMATCHES_SHOWN]
    return SalesVsCustomersReport(
        filters=filters,
        sales_categories=sorted(sales_seen.values(), key=lambda c: c.code),
        customer_categories=sorted(customer_seen.values(), key=lambda c: c.code),
        matrix=dict(matrix),
        compared=compared,
        agreed=agreed,
        not_mapped=not_mapped,
        owners=sorted(
            (OwnerAgreement(name, n, a) for name, (n, a) in owners.items()),
            key=lambda o: (-o.compared, o.owner),
        ),
        mismatches=mismatches,
    )

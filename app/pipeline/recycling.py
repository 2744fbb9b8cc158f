"""Back to the CRM and back again: the export of accepted requalifications, the CRM's id for the new
opportunity, the link of a later import's opportunity, and the figures (recovered revenue counted once)."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased, selectinload

from app.audit.service import record_event
from app.crm.importing.values import WINBACK_ID, winback_number
from app.crm.models import Opportunity, Origin
from app.downloads import GuardedCsvWriter
from app.errors import Conflict, ValidationError
from app.extensions import db
from app.money.service import money_total_of, reporting_currency, sql_conversion
from app.pipeline.crm_push import crm_stage, expected_close_date
from app.pipeline.models import Requalification, RequalificationStatus
from app.pipeline.recovered import accepted_requalification, in_open_pipeline, recovered_deals, won_back

ENTITY = "requalification"
FORMATS = ("salesforce", "hubspot")

SALESFORCE_COLUMNS = [
    WINBACK_ID,
    "Opportunity Name",
    "Account ID",
    "Account Name",
    "Stage",
    "Amount",
    "Currency",
    "Close Date",
    "Opportunity Owner",
    "Next Step",
    "Lead Source",
    "Original Opportunity ID",
]
HUBSPOT_COLUMNS = [
    WINBACK_ID,
    "Deal Name",
    "Associated Company ID",
    "Associated Company",
    "Deal Stage",
    "Pipeline",
    "Amount",
    "Deal Currency Code",
    "Close Date",
    "Deal Owner",
    "Next Step",
    "Original Deal ID",
]


def _row(requalification: Requalification, export_format: str, *, now: datetime) -> list[str]:
    account = requalification.account
    original = requalification.opportunity
    amount = requalification.expected_amount
    if amount is None and original is not None:
        amount = original.amount
    name = f"{account.name} – recycled" if original is None else f"{original.name} (recycled)"
    close = expected_close_date(requalification, now=now).isoformat()
    currency = original.currency if original is not None else "USD"
    values = {
        "id": requalification.winback_id,
        "name": name,
        "account_id": account.crm_id,
        "account": account.name,
        "amount": f"{amount:.2f}" if amount is not None else "",
        "currency": currency,
        "close": close,
        "owner": requalification.owner or "",
        "next_step": requalification.next_step or "",
        "original": original.crm_id if original is not None else "",
    }
    if export_format == "salesforce":
        return [
            values["id"],
            values["name"],
            values["account_id"],
            values["account"],
            crm_stage("salesforce"),
            values["amount"],
            values["currency"],
            values["close"],
            values["owner"],
            values["next_step"],
            "Winback",
            values["original"],
        ]
    return [
        values["id"],
        values["name"],
        values["account_id"],
        values["account"],
        crm_stage("hubspot"),
        "default",
        values["amount"],
        values["currency"],
        values["close"],
        values["owner"],
        values["next_step"],
        values["original"],
    ]


def export_csv(
    export_format: str, *, now: datetime, since: date | None = None, include_all: bool = False
) -> tuple[str, int]:
    """Accepted requalifications (decided on or after `since`) as a CRM import file; marks them exported.

    By default only the new ones: not exported yet, and with no CRM deal (linked, or its id known from the
    API or the live sync). include_all sends every accepted one again.
    """
    if export_format not in FORMATS:
        raise ValidationError("The format must be salesforce or hubspot.", field="format")
    query = (
        select(Requalification)
        .where(accepted_requalification())
        .options(selectinload(Requalification.account), selectinload(Requalification.opportunity))
        .order_by(Requalification.id)
    )
    if since is not None:
        query = query.where(func.date(Requalification.decided_at) >= since)
    if not include_all:
        query = query.where(
            Requalification.exported_at.is_(None),
            Requalification.recycled_opportunity_id.is_(None),
            Requalification.crm_opportunity_id.is_(None),
        )
    rows = db.session.scalars(query).all()
    out = io.StringIO()
    writer = GuardedCsvWriter(out)
    writer.writerow(SALESFORCE_COLUMNS if export_format == "salesforce" else HUBSPOT_COLUMNS)
    for requalification in rows:
        writer.writerow(_row(requalification, export_format, now=now))
        if requalification.exported_at is None:
            requalification.exported_at = now
    record_event(
        "requalification.exported",
        ENTITY,
        None,
        actor_label="export",
        details={
            "format": export_format,
            "count": len(rows),
            "ids": [r.id for r in rows],
            "all": include_all,
        },
        now=now,
    )
    db.session.flush()
    return out.getvalue(), len(rows)


def set_crm_opportunity_id(
    requalification: Requalification, crm_id: str, *, actor_label: str, now: datetime
) -> None:
    """The CRM's id for the opportunity made from an accepted requalification; a later import links it."""
    crm_id = (crm_id or "").strip() if isinstance(crm_id, str) else ""
    if not crm_id or len(crm_id) > 255:
        raise ValidationError(
            "crm_opportunity_id must be a non-empty string of at most 255 characters.",
            field="crm_opportunity_id",
        )
    if requalification.status is not RequalificationStatus.ACCEPTED:
        raise Conflict(
            f"{requalification.winback_id} is {requalification.status.value}: only an accepted one "
            "goes to the CRM."
        )
    if requalification.recycled_opportunity_id is not None:
        _keep_link(requalification, crm_id)
        return  # the same id again: nothing changes
    requalification.crm_opportunity_id = crm_id
    requalification.updated_at = now
    record_event(
        "requalification.crm_id",
        ENTITY,
        requalification.id,
        actor_label=actor_label,
        details={"crm_opportunity_id": crm_id},
        now=now,
    )
    link_recycled(now=now)


def _keep_link(requalification: Requalification, crm_id: str) -> None:
    """A linked requalification keeps its CRM id: it is that of the deal it is linked to, and another
    one would point the API's id and the link at two different deals."""
    linked = requalification.recycled_opportunity
    linked_id = linked.crm_id if linked is not None else requalification.crm_opportunity_id
    if crm_id != linked_id:
        raise Conflict(
            f"{requalification.winback_id} is already linked to the CRM's opportunity {linked_id}: "
            f"its CRM id cannot become {crm_id}.",
            field="crm_opportunity_id",
        )


def linked_crm_ids(numbers: set[int]) -> dict[int, str]:
    """{Winback number: CRM id of the deal its requalification is linked to}, for the linked ones."""
    rows = db.session.execute(
        select(Requalification.id, Opportunity.crm_id)
        .join(Opportunity, Opportunity.id == Requalification.recycled_opportunity_id)
        .where(Requalification.id.in_(list(numbers)))
    )
    return dict(rows.all())


def link_recycled(*, now: datetime) -> int:
    """Link the CRM's new opportunities to their accepted requalifications, by Winback ID or CRM id."""
    waiting = db.session.scalars(
        select(Requalification).where(
            accepted_requalification(),
            Requalification.recycled_opportunity_id.is_(None),
        )
    ).all()
    if not waiting:
        return 0
    by_number = {r.id: r for r in waiting}
    by_crm_id = {r.crm_opportunity_id: r for r in waiting if r.crm_opportunity_id}
    taken = set(
        db.session.scalars(
            select(Requalification.recycled_opportunity_id).where(
                Requalification.recycled_opportunity_id.is_not(None)
            )
        )
    )
    linked = 0
    tagged = db.session.execute(
        select(Opportunity.id, Opportunity.raw[WINBACK_ID].as_string()).where(
            Opportunity.raw[WINBACK_ID].as_string().is_not(None)
        )
    ).all()
    pairs: list[tuple[Requalification, int]] = []
    for opportunity_id, value in tagged:
        number = winback_number(value)  # None for a malformed id stored before it was checked
        if number in by_number:
            pairs.append((by_number[number], opportunity_id))
    if by_crm_id:
        for opportunity_id, crm_id in db.session.execute(
            select(Opportunity.id, Opportunity.crm_id).where(Opportunity.crm_id.in_(list(by_crm_id)))
        ):
            pairs.append((by_crm_id[crm_id], opportunity_id))
    for requalification, opportunity_id in pairs:
        if requalification.recycled_opportunity_id is not None or opportunity_id in taken:
            continue
        opportunity = db.session.get(Opportunity, opportunity_id)
        requalification.recycled_opportunity_id = opportunity_id
        # The linked deal's id is the CRM id from now on, whatever was sent before: the two never disagree.
        requalification.crm_opportunity_id = opportunity.crm_id
        # The CRM has the deal: the owner's first touch is done, within its service level or not.
        requalification.first_touch_at = requalification.first_touch_at or now
        opportunity.origin = Origin.RECYCLED
        opportunity.recycled_from_id = requalification.opportunity_id
        taken.add(opportunity_id)
        linked += 1
        record_event(
            "requalification.linked",
            ENTITY,
            requalification.id,
            actor_label="import",
            details={"opportunity": opportunity_id, "crm_id": opportunity.crm_id},
            now=now,
        )
    db.session.flush()
    return linked


def pipeline_stats() -> dict:
    """The pipeline's figures; recovered revenue is the won recycled opportunities' amounts, each once,
    in the reporting currency (amounts without a rate for their close month are listed apart)."""
    counts = dict(
        db.session.execute(
            select(Requalification.status, func.count()).group_by(Requalification.status)
        ).all()
    )
    exported = db.session.scalar(
        select(func.count()).select_from(Requalification).where(Requalification.exported_at.is_not(None))
    )
    recycled = aliased(Opportunity)
    recycled_open, recycled_won = db.session.execute(
        select(
            func.count().filter(and_(recycled.id.is_not(None), in_open_pipeline(recycled))),
            func.count().filter(won_back(recycled)),
        )
        .select_from(Requalification)
        .join(recycled, recycled.id == Requalification.recycled_opportunity_id)
    ).one()
    revenue = money_total_of(recovered_deals())
    return {
        "pending": counts.get(RequalificationStatus.PENDING, 0),
        "accepted": counts.get(RequalificationStatus.ACCEPTED, 0),
        "rejected": counts.get(RequalificationStatus.REJECTED, 0),
        "deferred": counts.get(RequalificationStatus.DEFERRED, 0),
        "exported": exported or 0,
        "recycled_open": recycled_open or 0,
        "recycled_won": recycled_won or 0,
        "recovered_revenue": f"{revenue.total:.2f}",
        "currency": revenue.currency,
        "not_converted": [
            {"currency": item.currency, "amount": f"{item.amount:.2f}", "deals": item.deals}
            for item in revenue.not_converted
        ],
    }


def requalification_amount(
    requalification: Requalification, recycled: Opportunity | None
) -> tuple[Decimal | None, str]:
    """What a requalification is worth, in its deal's own currency (amount, currency).

    The recycled deal's amount once the CRM has it, the amount sales expected on accepting until then
    (in the lost deal's currency), else the lost deal's amount: the rule the funnel applies in SQL.
    """
    original = requalification.opportunity
    if recycled is not None and recycled.amount is not None:
        return recycled.amount, recycled.currency
    currency = original.currency if original is not None else reporting_currency()
    if requalification.expected_amount is not None:
        return requalification.expected_amount, currency
    return (original.amount if original is not None else None), currency


def recovered_by(column_name: str) -> list[tuple[str, int, Decimal, int]]:
    """Recovered revenue credited to each campaign (marketing) or owner (sales), in the reporting
    currency: (name, deals won, converted amount, deals without a rate for their close month)."""
    from campaigns.models import Campaign

    deals = recovered_deals().subquery()
    conversion = sql_conversion(deals.c.amount, deals.c.currency, deals.c.close_date)
    figures = (
        func.count(),
        func.coalesce(func.sum(conversion.amount), 0),
        func.count(deals.c.amount) - func.count(conversion.amount),
    )
    if column_name == "campaign":
        label = func.coalesce(Campaign.name, "(no campaign)")
        query = select(label, *figures).outerjoin(Campaign, Campaign.id == deals.c.campaign_id)
    else:
        label = func.coalesce(deals.c.owner, "(no owner)")
        query = select(label, *figures)
    rows = db.session.execute(
        query.select_from(deals)
        .outerjoin(conversion.rate, conversion.onclause)
        .group_by(label)
        .order_by(label)
    ).all()
    return [
        (name, count, Decimal(str(amount)).quantize(Decimal("0.01")), missing)
        for name, count, amount, missing in rows
    ]


def rejections_by_reason(campaign_id: int) -> list[tuple[str, int]]:
    """Why sales turned down this campaign's requalifications: the feedback to marketing."""
    rows = db.session.execute(
        select(Requalification.reject_reason, func.count())
        .where(
            Requalification.campaign_id == campaign_id,
            Requalification.status == RequalificationStatus.REJECTED,
        )
        .group_by(Requalification.reject_reason)
        .order_by(func.count().desc(), Requalification.reject_reason)
    ).all()
    return [(reason or "other", count) for reason, count in rows]

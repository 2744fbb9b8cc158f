"""Targeting as set-based SQL: which (lost opportunity, contact) pairs a campaign's rules match, and
whether each pair is suppressed and why. One statement for the whole CRM, never a loop per row."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import (
    ColumnElement,
    Select,
    case,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    true,
)

from app.crm.deals import lost_deal, open_deal
from app.crm.models import Account, Contact, Opportunity
from app.db_types import UTCDateTime
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.models import DoNotContactEntry, DoNotContactKind, MessageStatus, OutboundMessage
from app.money.service import sql_conversion
from campaigns.models import Campaign, Enrollment, EnrollmentStatus, EnrollmentSuppression


@dataclass(frozen=True)
class TargetingRules:
    """The rules of a campaign, as a value: the edit form previews them before they are saved."""

    channel: Channel = Channel.EMAIL
    lost_within_days: int | None = None
    wait_days_after_close: int = 0
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    loss_reasons: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    competitor_ids: tuple[int, ...] = ()
    owners: tuple[str, ...] = ()
    title_keywords: tuple[str, ...] = ()
    max_contacts_per_account: int = 1
    cooldown_days: int = 90
    exclude_campaign_id: int | None = field(default=None, compare=False)

    @classmethod
    def of(cls, campaign: Campaign) -> TargetingRules:
        return cls(
            channel=campaign.contact_channel,
            lost_within_days=campaign.lost_within_days,
            wait_days_after_close=campaign.wait_days_after_close or 0,
            amount_min=campaign.amount_min,
            amount_max=campaign.amount_max,
            loss_reasons=tuple(campaign.loss_reasons or ()),
            segments=tuple(campaign.segments or ()),
            regions=tuple(campaign.regions or ()),
            competitor_ids=tuple(campaign.competitor_ids or ()),
            owners=tuple(campaign.owners or ()),
            title_keywords=tuple(campaign.title_keywords or ()),
            max_contacts_per_account=campaign.max_contacts_per_account or 1,
            cooldown_days=campaign.cooldown_days or 0,
        )


def matched_opportunities(
    rules: TargetingRules, *, now: datetime, account_range: tuple[int, int] | None = None
) -> Select:
    """Lost opportunities the rules select (id, account, primary contact, close date).

    `account_range` (first and last account id) narrows it to a chunk of accounts: every rule, the
    ranking of contacts and the suppressions are decided within one account, so chunks by account
    together give exactly what one statement would.
    """
    opp = Opportunity.__table__
    acct = Account.__table__
    today = now.date()
    query = (
        select(opp.c.id, opp.c.account_id, opp.c.primary_contact_id, opp.c.close_date)
        .select_from(opp.join(acct, acct.c.id == opp.c.account_id))
        .where(lost_deal(opp.c))
    )
    if account_range is not None:
        query = query.where(opp.c.account_id.between(*account_range))
    if rules.lost_within_days is not None:
        query = query.where(opp.c.close_date >= today - timedelta(days=rules.lost_within_days))
    if rules.wait_days_after_close:
        query = query.where(opp.c.close_date <= today - timedelta(days=rules.wait_days_after_close))
    if rules.amount_min is not None or rules.amount_max is not None:
        # In the reporting currency, with the rate of the close month: a deal without one cannot match.
        conversion = sql_conversion(opp.c.amount, opp.c.currency, opp.c.close_date)
        query = query.outerjoin(conversion.rate, conversion.onclause)
        if rules.amount_min is not None:
            query = query.where(conversion.amount >= rules.amount_min)
        if rules.amount_max is not None:
            query = query.where(conversion.amount <= rules.amount_max)
    if rules.loss_reasons:
        query = query.where(opp.c.crm_loss_reason.in_(rules.loss_reasons))
    if rules.segments:
        query = query.where(acct.c.segment.in_(rules.segments))
    if rules.regions:
        query = query.where(acct.c.region.in_(rules.regions))
    if rules.competitor_ids:
        query = query.where(opp.c.competitor_id.in_(rules.competitor_ids))
    if rules.owners:
        query = query.where(opp.c.owner.in_(rules.owners))
    return query


def deals_without_rate(rules: TargetingRules, *, now: datetime) -> int:
    """The deals the other rules match that an amount rule must leave out: no rate for their close month."""
    if rules.amount_min is None and rules.amount_max is None:
        return 0
    others = matched_opportunities(replace(rules, amount_min=None, amount_max=None), now=now).subquery()
    opp = Opportunity.__table__
    conversion = sql_conversion(opp.c.amount, opp.c.currency, opp.c.close_date)
    return (
        db.session.scalar(
            select(func.count())
            .select_from(opp.join(others, others.c.id == opp.c.id))
            .outerjoin(conversion.rate, conversion.onclause)
            .where(opp.c.amount.is_not(None), conversion.amount.is_(None))
        )
        or 0
    )


def _email_domain(email: ColumnElement) -> ColumnElement:
    if db.session.get_bind().dialect.name == "postgresql":
        return func.split_part(email, "@", 2)
    return func.substr(email, func.instr(email, "@") + 1)


def candidates(
    rules: TargetingRules,
    *,
    now: datetime,
    campaign_id: int | None = None,
    account_range: tuple[int, int] | None = None,
) -> Select:
    """(opportunity_id, contact_id, status, suppression_reason) for every pair the rules match.

    With campaign_id, pairs already enrolled in that campaign are left out; with account_range, only
    the accounts in that range are considered.
    """
    contact = Contact.__table__
    dnc = DoNotContactEntry.__table__
    opps = matched_opportunities(rules, now=now, account_range=account_range).subquery("matched")

    is_primary = case((contact.c.id == opps.c.primary_contact_id, 0), else_=1)
    opt_out_column = contact.c[f"{rules.channel.value}_opt_out_at"]
    address = contact.c.email if rules.channel is Channel.EMAIL else contact.c.phone
    pairs = (
        select(
            opps.c.id.label("opportunity_id"),
            opps.c.account_id,
            opps.c.close_date,
            contact.c.id.label("contact_id"),
            contact.c.email,
            contact.c.phone,
            contact.c.erased_at,
            opt_out_column.label("opt_out_at"),
            address.label("address"),
            func.row_number()
            .over(partition_by=opps.c.id, order_by=(is_primary, contact.c.id))
            .label("account_rank"),
        )
        .select_from(opps.join(contact, contact.c.account_id == opps.c.account_id))
        .where(
            or_(*(contact.c.title.ilike(f"%{word}%") for word in rules.title_keywords))
            if rules.title_keywords
            else true()
        )
    ).subquery("pairs")

    # A contact matched through several deals is reached once: the most recent deal wins.
    ranked = (
        select(
            pairs,
            func.row_number()
            .over(
                partition_by=pairs.c.contact_id,
                order_by=(pairs.c.close_date.desc().nulls_last(), pairs.c.opportunity_id.desc()),
            )
            .label("contact_rank"),
        ).where(pairs.c.account_rank <= rules.max_contacts_per_account)
    ).subquery("ranked")

    on_list = or_(
        exists().where(dnc.c.kind == DoNotContactKind.EMAIL.value, dnc.c.value == ranked.c.email),
        exists().where(
            dnc.c.kind == DoNotContactKind.DOMAIN.value, dnc.c.value == _email_domain(ranked.c.email)
        ),
        exists().where(dnc.c.kind == DoNotContactKind.PHONE.value, dnc.c.value == ranked.c.phone),
    )
    others = Opportunity.__table__.alias("others")
    open_opportunity = exists().where(
        others.c.account_id == ranked.c.account_id,
        open_deal(others.c),  # written so that the only usable index is the account's (see open_deal)
    )
    since = now - timedelta(days=rules.cooldown_days)
    enrolled = Enrollment.__table__.alias("recent")
    messages = OutboundMessage.__table__
    recently_contacted = or_(
        ranked.c.contact_rank > 1,
        exists().where(
            enrolled.c.contact_id == ranked.c.contact_id,
            # Suppressed and excluded (left out at approval) enrollments never reached the contact.
            enrolled.c.status.not_in((EnrollmentStatus.SUPPRESSED.value, EnrollmentStatus.EXCLUDED.value)),
            enrolled.c.enrolled_at >= literal(since, UTCDateTime()),
        )
        if rules.cooldown_days
        else false(),
        exists().where(
            messages.c.contact_id == ranked.c.contact_id,
            messages.c.status == MessageStatus.SENT.value,
            messages.c.sent_at >= literal(since, UTCDateTime()),
        )
        if rules.cooldown_days
        else false(),
    )
    reason = case(
        (ranked.c.erased_at.is_not(None), EnrollmentSuppression.ERASED.value),
        (ranked.c.opt_out_at.is_not(None), EnrollmentSuppression.OPTED_OUT.value),
        (or_(ranked.c.address.is_(None), ranked.c.address == ""), EnrollmentSuppression.NO_ADDRESS.value),
        (on_list, EnrollmentSuppression.DO_NOT_CONTACT.value),
        (open_opportunity, EnrollmentSuppression.OPEN_OPPORTUNITY.value),
        (recently_contacted, EnrollmentSuppression.COOL_DOWN.value),
        else_=null(),
    )
    query = select(ranked.c.opportunity_id, ranked.c.contact_id, reason.label("suppression_reason"))
    if campaign_id is not None:
        mine = Enrollment.__table__.alias("mine")
        query = query.where(
            ~exists().where(
                mine.c.campaign_id == campaign_id,
                mine.c.opportunity_id == ranked.c.opportunity_id,
                mine.c.contact_id == ranked.c.contact_id,
            )
        )
    else:
        query = query.where(true())
    return query


def status_for(reason: ColumnElement, *, pending: bool = False) -> ColumnElement:
    """Suppressed when there is a reason; else active, or pending when the campaign wants approval."""
    reachable = EnrollmentStatus.PENDING if pending else EnrollmentStatus.ACTIVE
    return case((reason.is_(None), reachable.value), else_=EnrollmentStatus.SUPPRESSED.value)

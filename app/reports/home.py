"""Each role's home: the sections the core dashboard shows, filled from the insight layer.

The dashboard (core) renders `panels("home.<role>", user)`; this module registers them (the core never
imports the insight layer). The caller's queue page shows the caller's numbers of today the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from flask import Flask, render_template
from sqlalchemy import case, func, select

from app.auth.models import Role, User
from app.coding.agreement import kappa_label, measure_agreement
from app.coding.marks import not_codable_count
from app.coding.models import Coding, CodingStatus
from app.coding.service import QueueFilter, queue_size
from app.crm.deals import lost_deal
from app.crm.importing.models import BatchStatus, ImportBatch
from app.crm.models import Account, Opportunity
from app.crm.service import lost_deals_since
from app.db_types import utcnow
from app.extensions import db
from app.messaging.models import MessageStatus, OutboundMessage
from app.money.service import (
    MoneyTotal,
    NotConverted,
    as_money,
    money_total_of,
    reporting_currency,
    sql_conversion,
)
from app.pipeline.models import Requalification
from app.pipeline.queue import QueueFilters, is_overdue, queue_query
from app.pipeline.recovered import recovered_deals
from app.pipeline.teams import COMPANY, TeamScope, scope_for
from app.reports.aggregates import GroupMoney
from app.reports.callers import CallerRow, callers_report
from app.reports.filters import room_for_aggregates
from app.reports.funnel import (
    REQUALIFICATION_COUNTS,
    FunnelRow,
    _enrollment_counts,
    _enrollments,
    _fill,
    _requalifications,
)
from app.reports.targets import target_status
from app.templating import add_panel
from campaigns.calls.models import CallTask, TaskStatus
from campaigns.models import Campaign, CampaignStatus

TEAM_LOSS_DAYS = 90
PENDING_SHOWN = 8


# --------------------------------------------------------------------------------------------- admin


@dataclass(frozen=True)
class DataHealth:
    last_import: ImportBatch | None
    failed_rows_last_30_days: int
    messages_failed: int
    messages_retrying: int
    messages_next_hour: int
    calls_next_hour: list[tuple[str, int]]  # (campaign, call tasks due within the hour)


def data_health(*, now: datetime) -> DataHealth:
    """Last import, failed rows, failing messages and the campaigns about to contact people."""
    last_import = db.session.scalar(
        select(ImportBatch)
        .where(ImportBatch.dry_run.is_(False), ImportBatch.status != BatchStatus.DRAFT)
        .order_by(ImportBatch.created_at.desc(), ImportBatch.id.desc())
        .limit(1)
    )
    failed_rows = db.session.scalar(
        select(func.coalesce(func.sum(ImportBatch.failed), 0)).where(
            ImportBatch.dry_run.is_(False), ImportBatch.created_at >= now - timedelta(days=30)
        )
    )
    soon = now + timedelta(hours=1)
    failed, retrying, next_hour = db.session.execute(
        select(
            func.count(OutboundMessage.id).filter(OutboundMessage.status == MessageStatus.FAILED),
            func.count(OutboundMessage.id).filter(
                OutboundMessage.status == MessageStatus.QUEUED, OutboundMessage.attempts > 0
            ),
            func.count(OutboundMessage.id).filter(
                OutboundMessage.status == MessageStatus.QUEUED, OutboundMessage.next_attempt_at <= soon
            ),
        )
    ).one()
    calls = db.session.execute(
        select(Campaign.name, func.count(CallTask.id))
        .join(CallTask, CallTask.campaign_id == Campaign.id)
        .where(
            Campaign.status == CampaignStatus.ACTIVE,
            CallTask.status == TaskStatus.READY,
            CallTask.due_at <= soon,
        )
        .group_by(Campaign.name)
        .order_by(func.count(CallTask.id).desc(), Campaign.name)
    ).all()
    return DataHealth(
        last_import=last_import,
        failed_rows_last_30_days=int(failed_rows or 0),
        messages_failed=failed or 0,
        messages_retrying=retrying or 0,
        messages_next_hour=next_hour or 0,
        calls_next_hour=[(name, count) for name, count in calls],
    )


@dataclass(frozen=True)
class FunnelSummary:
    start: date
    end: date
    overall: FunnelRow
    requalified: int
    accepted: int
    won: int
    recovered: MoneyTotal


def funnel_summary(today: date, *, days: int = 90) -> FunnelSummary:
    """The recovery funnel report's overall row for the enrollments of the last `days`.

    Built from the report's own pieces (its enrollments, requalifications and step counts), so the home
    and the report never disagree; without what the home does not show (the rows per campaign, the
    medians, the channels, the open pipeline): one query counts the enrollment steps, one the
    requalification steps with the recovered revenue (grouped by plain columns: won or not, currency,
    with an amount or not, with a rate or not).
    """
    start = today - timedelta(days=days - 1)
    quote = reporting_currency()
    room_for_aggregates()
    overall = FunnelRow("All campaigns")
    enrollments = _enrollments(start, today, None).alias("enrollments_of_period")
    steps = {step: _enrollment_counts()[step] for step in ("enrolled", "reached", "responded")}
    figures = db.session.execute(
        select(*(build(enrollments.c).label(name) for name, build in steps.items()))
    ).one()
    _fill(overall, dict(figures._mapping))
    r = _requalifications(_enrollments(start, today, None, requalified_only=True)).c
    conversion = sql_conversion(r.amount, r.currency, r.close_date, quote=quote)
    keys = (
        r.won.label("won_back"),
        conversion.currency.label("deal_currency"),
        r.amount.is_(None).label("no_amount"),
        conversion.rate.rate.is_(None).label("no_rate"),
    )
    counted = {name: 0 for name in REQUALIFICATION_COUNTS}
    total, converted_deals, apart = Decimal(0), 0, {}
    for row in db.session.execute(
        select(
            *keys,
            *(build(r).label(name) for name, build in REQUALIFICATION_COUNTS.items()),
            func.sum(r.amount).label("amount"),
            func.sum(conversion.amount).label("converted"),
        )
        .outerjoin(conversion.rate, conversion.onclause)
        .group_by(*keys)
    ).mappings():
        for name in counted:
            counted[name] += row[name] or 0
        if not row["won_back"] or row["no_amount"]:
            continue
        if row["no_rate"] and row["deal_currency"] != quote:  # not converted: counted apart
            entry = apart.setdefault(row["deal_currency"], [Decimal(0), 0])
            entry[0] += as_money(row["amount"])
            entry[1] += row["won"]
        else:
            total += as_money(row["converted"])
            converted_deals += row["won"]
    _fill(overall, counted)
    not_converted = [NotConverted(c, a, n) for c, (a, n) in sorted(apart.items())]
    overall.recovered = GroupMoney(total, converted_deals, not_converted)
    return FunnelSummary(
        start=start,
        end=today,
        overall=overall,
        requalified=overall.requalified,
        accepted=overall.accepted,
        won=overall.won,
        recovered=MoneyTotal(quote, total, converted_deals, not_converted),
    )


def _admin_home(user: User) -> str:
    now = utcnow()
    return render_template(
        "reports/home/admin.html",
        scope=COMPANY,
        status=target_status(now.date()),
        funnel=funnel_summary(now.date()),
        health=data_health(now=now),
    )


# ------------------------------------------------------------------------------------- sales manager


@dataclass(frozen=True)
class TeamHome:
    scope: TeamScope  # every figure below is the team's, or company-wide without a team
    pending: list[Requalification]  # overdue first
    pending_total: int
    overdue: int
    losses: int
    lost_revenue: MoneyTotal
    top_reasons: list[tuple[str, int]]
    recovered_won: int
    recovered: MoneyTotal


def team_home(manager: User, *, now: datetime, loss_days: int = TEAM_LOSS_DAYS) -> TeamHome:
    """Pending reviews (overdue first), the team's recent losses and the revenue won back for it."""
    queue = queue_query(QueueFilters(), manager=manager, now=now)
    overdue_flag = Requalification.decision_due_at < now
    rows = queue.order_by(None).subquery()
    pending_total, overdue = db.session.execute(
        select(func.count(), func.count().filter(rows.c.decision_due_at < now)).select_from(rows)
    ).one()
    pending = list(
        db.session.scalars(
            queue.order_by(None)
            .order_by(
                case((overdue_flag, 0), else_=1),
                Requalification.decision_due_at.nulls_last(),
                Requalification.id,
            )
            .limit(PENDING_SHOWN)
        )
    )
    scope = scope_for(manager)
    since = now.date() - timedelta(days=loss_days)
    lost = lost_deals_since(since).join(Account, Account.id == Opportunity.account_id)
    reasons = (
        select(Opportunity.crm_loss_reason, func.count())
        .join(Account, Account.id == Opportunity.account_id)
        .where(lost_deal(), Opportunity.close_date >= since, Opportunity.crm_loss_reason.is_not(None))
        .group_by(Opportunity.crm_loss_reason)
        .order_by(func.count().desc(), Opportunity.crm_loss_reason)
        .limit(5)
    )
    if scope.is_team:
        lost = lost.where(scope.condition(Opportunity.owner, Account.region))
        reasons = reasons.where(scope.condition(Opportunity.owner, Account.region))
    # Won back for the team: the recycled deal counts for the team that lost the original.
    recovered = recovered_deals(scope=scope)
    lost_revenue = money_total_of(lost)
    recovered_total = money_total_of(recovered)
    return TeamHome(
        scope=scope,
        pending=pending,
        pending_total=pending_total or 0,
        overdue=overdue or 0,
        losses=db.session.scalar(select(func.count()).select_from(lost.subquery())) or 0,
        lost_revenue=lost_revenue,
        top_reasons=[(reason, count) for reason, count in db.session.execute(reasons)],
        recovered_won=recovered_total.converted_deals + recovered_total.not_converted_deals,
        recovered=recovered_total,
    )


def _sales_home(user: User) -> str:
    now = utcnow()
    return render_template(
        "reports/home/sales_manager.html",
        home=team_home(user, now=now),
        company=COMPANY,
        status=target_status(now.date()),
        now=now,
        is_overdue=is_overdue,
        loss_days=TEAM_LOSS_DAYS,
    )


# -------------------------------------------------------------------------------------------- caller


def caller_today(user: User, today: date) -> CallerRow:
    """The caller's calls, connects, completes, requalified and talk time today (UTC), zeros if none."""
    for row in callers_report(today, today):
        if row.caller == user.name:
            return row
    return CallerRow(user.name, 0, 0, 0, 0, 0)


def _caller_today_panel(user: User) -> str:
    if user.role is not Role.CALLER:
        return ""
    return render_template("reports/home/caller_today.html", today=caller_today(user, utcnow().date()))


def _caller_home(user: User) -> str:
    now = utcnow()
    queue_ready = db.session.scalar(
        select(func.count(CallTask.id))
        .join(Campaign, Campaign.id == CallTask.campaign_id)
        .where(
            Campaign.status == CampaignStatus.ACTIVE,
            Campaign.callers.any(User.id == user.id),
            CallTask.status == TaskStatus.READY,
            CallTask.due_at <= now,
        )
    )
    return render_template(
        "reports/home/caller.html", today=caller_today(user, now.date()), queue_ready=queue_ready or 0
    )


# ------------------------------------------------------------------------------------------- analyst


@dataclass(frozen=True)
class CodingHome:
    backlog: int  # codable answers no one confirmed a code for
    not_codable: int  # answers a coder marked Not codable
    suggested: int  # suggestions waiting for a person
    confirmed_this_week: int
    kappa: float
    kappa_label: str
    coders: tuple[str, str] | None
    double_coded: int


def _coder_name(key: str) -> str:
    """ "user:7" → the user's name; "import:Jane" → Jane."""
    kind, _, rest = key.partition(":")
    if kind == "user" and rest.isdigit():
        found = db.session.get(User, int(rest))
        return found.name if found else key
    return rest or key


def coding_home(user: User, *, now: datetime) -> CodingHome:
    agreement = measure_agreement()
    suggested, confirmed = db.session.execute(
        select(
            func.count(Coding.id).filter(Coding.status == CodingStatus.SUGGESTED),
            func.count(Coding.id).filter(
                Coding.status == CodingStatus.CONFIRMED,
                func.coalesce(Coding.decided_at, Coding.created_at) >= now - timedelta(days=7),
            ),
        )
    ).one()
    return CodingHome(
        backlog=queue_size(QueueFilter(), coder_id=user.id),
        not_codable=not_codable_count(),
        suggested=suggested or 0,
        confirmed_this_week=confirmed or 0,
        kappa=agreement.overall_kappa,
        kappa_label=kappa_label(agreement.overall_kappa),
        coders=tuple(_coder_name(key) for key in agreement.coders) if agreement.coders else None,
        double_coded=agreement.answers,
    )


def _analyst_home(user: User) -> str:
    return render_template("reports/home/analyst.html", coding=coding_home(user, now=utcnow()))


def register_home_panels(app: Flask) -> None:
    add_panel(app, "home.admin", _admin_home)
    add_panel(app, "home.sales_manager", _sales_home)
    add_panel(app, "home.caller", _caller_home)
    add_panel(app, "home.analyst", _analyst_home)
    add_panel(app, "calls.queue", _caller_today_panel)

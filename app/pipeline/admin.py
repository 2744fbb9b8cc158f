"""What the admin sets: the service levels, the sales teams, and each campaign's requalification rule."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.audit.service import record_event
from app.auth.models import User
from app.errors import ValidationError
from app.extensions import db
from app.pipeline.models import PipelineSettings, RequalificationRule, SalesTeam
from app.pipeline.scoring import qualifies, score_response
from app.pipeline.sla import BusinessCalendar
from campaigns.models import Enrollment
from surveys.models import Answer, Question, Response, ResponseStatus

RULE_FIELDS = (
    "enabled",
    "min_score",
    "open_to_talk_points",
    "contract_end_months",
    "contract_end_points",
    "low_satisfaction_max",
    "low_satisfaction_points",
)


def parse_days(text: str) -> list[str]:
    days = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            days.append(date.fromisoformat(line).isoformat())
        except ValueError:
            raise ValidationError(
                f"Line {number} of the extra days is not a date (YYYY-MM-DD): {line[:40]}",
                field="extra_holidays",
            ) from None
    return sorted(set(days))


def save_settings(settings: PipelineSettings, values: dict, *, actor: User, now: datetime) -> None:
    country = values["holiday_country"].strip().upper()
    BusinessCalendar(country)  # an unknown country is refused here, not at the next requalification
    settings.decision_business_days = values["decision_business_days"]
    settings.first_touch_business_days = values["first_touch_business_days"]
    settings.holiday_country = country
    settings.extra_holidays = parse_days(values.get("extra_holidays") or "")
    url = (values.get("webhook_url") or "").strip()
    if url and not url.startswith(("https://", "http://")):
        raise ValidationError("The webhook address must start with https:// or http://", field="webhook_url")
    settings.webhook_url = url or None
    if values.get("webhook_secret"):
        settings.webhook_secret = values["webhook_secret"]
    if settings.webhook_url and not settings.webhook_secret:
        raise ValidationError("Set the shared secret the webhook is signed with.", field="webhook_secret")
    hidden = {"csrf_token", "webhook_secret"}
    record_event(
        "pipeline.settings",
        "pipeline_settings",
        settings.id,
        actor=actor,
        details={k: str(v) for k, v in values.items() if k not in hidden} | {"holiday_country": country},
        now=now,
    )
    db.session.flush()


def _names(text: str) -> list[str]:
    return sorted({part.strip()[:255] for part in (text or "").replace("\n", ",").split(",") if part.strip()})


def save_team(manager: User, *, owners: str, regions: str, actor: User, now: datetime) -> SalesTeam:
    team = db.session.get(SalesTeam, manager.id)
    if team is None:
        team = SalesTeam(manager_id=manager.id)
        db.session.add(team)
    team.owners = _names(owners)
    team.regions = _names(regions)
    record_event(
        "pipeline.team",
        "user",
        manager.id,
        actor=actor,
        details={"owners": team.owners, "regions": team.regions},
        now=now,
    )
    db.session.flush()
    return team


def rule_of(campaign_id: int) -> RequalificationRule:
    rule = db.session.get(RequalificationRule, campaign_id)
    if rule is None:
        from app.pipeline.scoring import default_rule

        rule = default_rule()
        rule.campaign_id = campaign_id
    return rule


def save_rule(campaign_id: int, values: dict, *, actor: User, now: datetime) -> RequalificationRule:
    rule = db.session.get(RequalificationRule, campaign_id)
    if rule is None:
        rule = RequalificationRule(campaign_id=campaign_id)
        db.session.add(rule)
    for name in RULE_FIELDS:
        setattr(rule, name, values[name])
    rule.updated_at = now
    record_event(
        "pipeline.rule",
        "campaign",
        campaign_id,
        actor=actor,
        details={n: values[n] for n in RULE_FIELDS},
        now=now,
    )
    db.session.flush()
    return rule


def preview_rule(
    campaign_id: int, rule: RequalificationRule, *, today: date, limit: int = 5000
) -> tuple[int, int]:
    """How many of the campaign's completed responses (of the latest `limit`) the rule would requalify."""
    responses = db.session.scalars(
        select(Response)
        .join(Enrollment, Enrollment.invitation_id == Response.invitation_id)
        .where(Enrollment.campaign_id == campaign_id, Response.status == ResponseStatus.COMPLETE)
        .options(selectinload(Response.answers).selectinload(Answer.question).selectinload(Question.options))
        .order_by(Response.id.desc())
        .limit(limit)
    ).all()
    qualifying = sum(
        1 for response in responses if qualifies(score_response(response, rule, today=today), rule)
    )
    return qualifying, len(responses)

"""Requalifications from survey responses: the rule, the score and its reasons, the evidence, one open
per account (also under concurrency), the evaluate command, business days."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import delete, func, select
from werkzeug.datastructures import MultiDict

from app.audit.models import AuditEvent
from app.auth.models import Role
from app.extensions import db
from app.pipeline.models import (
    Requalification,
    RequalificationEvidence,
    RequalificationSource,
    RequalificationStatus,
)
from app.pipeline.scoring import Score, default_rule, score_call, score_response
from app.pipeline.service import add_signal
from app.pipeline.sla import BusinessCalendar
from surveys.builder import OptionSpec, QuestionSpec
from surveys.models import QuestionKind as K
from surveys.responding import record_phone_response
from tests.pipeline.conftest import NOW
from tests.survey_helpers import published_survey


def requalifications() -> list[Requalification]:
    db.session.expire_all()
    return list(db.session.scalars(select(Requalification).order_by(Requalification.id)))


def test_an_open_customer_choosing_a_weighted_option_is_requalified_with_score_reasons_and_evidence(respond):
    response = respond(when="within_month", open_to_talk="yes", rating="2", contract_end="2027-03-01")

    [requalification] = requalifications()
    assert requalification.status is RequalificationStatus.PENDING
    assert requalification.source is RequalificationSource.SURVEY
    assert requalification.account_id == response.opportunity.account_id
    assert requalification.opportunity_id == response.opportunity_id
    # 3 for the option, 3 for open to talk, 2 for the contract ending within 6 months, 2 for unhappy.
    assert requalification.score == 10
    assert requalification.score_reasons == [
        "Chose “Within a month” (+3)",
        "Open to a conversation (+3)",
        "Unhappy with the chosen vendor (rated 2) (+2)",
        "Contract ends 2027-03-01, within 6 months (+2)",
    ]
    [evidence] = requalification.evidence
    assert evidence.response_id == response.id
    assert {"question": "Anything else?", "answer": "We regret it"} in evidence.details
    assert {"question": "When could we talk?", "answer": "Within a month"} in evidence.details


def test_a_response_below_the_rule_requalifies_nothing(respond):
    respond(when="never", open_to_talk="no", rating="5", contract_end="2030-01-01")
    assert requalifications() == []


def test_the_decision_is_due_two_business_days_later_skipping_thanksgiving(respond):
    respond(now=datetime(2026, 11, 25, 15, 0, tzinfo=UTC))  # Wednesday before Thanksgiving
    [requalification] = requalifications()
    # Thursday 26th is Thanksgiving, then Friday 27th, weekend, Monday 30th.
    assert requalification.decision_due_at == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


def test_a_second_signal_on_the_same_account_adds_evidence_to_the_open_requalification(
    respond, make_opportunity
):
    first = respond()
    second_deal = make_opportunity(account=first.opportunity.account)
    second = respond(opportunity=second_deal, when="later")

    [requalification] = requalifications()
    assert [e.response_id for e in requalification.evidence] == [first.id, second.id]
    assert requalification.score == 6 + 4
    assert requalification.opportunity_id == first.opportunity_id


def test_a_new_signal_after_a_decision_opens_a_new_requalification(respond, make_user):
    from app.auth.models import Role
    from app.pipeline.service import reject

    first = respond()
    [requalification] = requalifications()
    reject(requalification, reviewer=make_user(Role.SALES_MANAGER), reason="bad_timing", text="", now=NOW)
    db.session.commit()
    respond(opportunity=first.opportunity)
    assert [r.status for r in requalifications()] == [
        RequalificationStatus.REJECTED,
        RequalificationStatus.PENDING,
    ]


def test_evaluate_requalifies_earlier_responses_once_and_is_safe_to_repeat(respond, runner):
    respond()
    respond()
    respond(when="never", open_to_talk="no")
    # As if the responses had been completed before the pipeline existed.
    db.session.execute(delete(AuditEvent))
    db.session.execute(delete(RequalificationEvidence))
    db.session.execute(delete(Requalification))
    db.session.commit()

    result = runner.invoke(args=["pipeline", "evaluate"])
    assert result.exit_code == 0, result.output
    assert "3 responses evaluated: 2 new requalifications" in result.output
    assert len(requalifications()) == 2

    again = runner.invoke(args=["pipeline", "evaluate"])
    assert again.exit_code == 0, again.output
    assert "0 new requalifications" in again.output
    assert len(requalifications()) == 2
    assert db.session.scalar(select(func.count()).select_from(RequalificationEvidence)) == 2


def test_a_caller_requalified_form_scores_with_its_fields():
    score = score_call({"what_changed": "New CFO", "budget": "50k", "timeline": "Q1", "next_step": "Demo"})
    assert score.points == 7
    assert score.reasons == [
        "A caller marked the deal requalified (+5)",
        "Budget known (+1)",
        "Timeline known (+1)",
    ]
    assert {"question": "What changed", "answer": "New CFO"} in score.details


def test_two_signals_at_once_on_postgresql_create_exactly_one(app, make_opportunity):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite has one writer)")
    opportunity = make_opportunity()
    account_id, opportunity_id = opportunity.account_id, opportunity.id
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def signal(points: int) -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                add_signal(
                    account_id=account_id,
                    opportunity_id=opportunity_id,
                    campaign_id=None,
                    source=RequalificationSource.CALL,
                    score=Score(points=points, reasons=[f"r{points}"]),
                    now=NOW,
                )
                db.session.commit()
                db.session.remove()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=signal, args=(n,)) for n in (4, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    [requalification] = requalifications()
    assert requalification.score == 9
    assert len(requalification.evidence) == 2


def test_the_database_refuses_a_second_open_requalification_for_an_account(make_opportunity):
    from sqlalchemy.exc import IntegrityError

    opportunity = make_opportunity()
    for _ in range(2):
        db.session.add(
            Requalification(
                account_id=opportunity.account_id,
                source=RequalificationSource.CALL,
                created_at=NOW,
                updated_at=NOW,
            )
        )
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_business_days_skip_weekends_holidays_and_extra_days():
    calendar = BusinessCalendar("US", ["2026-12-28"])
    friday = datetime(2026, 12, 24, 9, 0, tzinfo=UTC)
    # Christmas (Fri 25th), the weekend, the extra day Mon 28th: Tue 29th, then Wed 30th.
    assert calendar.add_business_days(friday, 1) == datetime(2026, 12, 29, 9, 0, tzinfo=UTC)
    assert calendar.add_business_days(friday, 2) == datetime(2026, 12, 30, 9, 0, tzinfo=UTC)
    assert not calendar.is_business_day(date(2026, 12, 26))
    assert BusinessCalendar("DE").is_business_day(date(2026, 11, 26))  # no Thanksgiving in Germany


def test_an_unknown_holiday_country_is_a_clear_error():
    from app.errors import ValidationError

    with pytest.raises(ValidationError, match="No public holidays are known"):
        BusinessCalendar("ZZ")


def test_the_evidence_reads_a_multiple_choice_answer_as_the_survey_results_do(make_user, make_contact):
    survey = published_survey(
        [
            QuestionSpec(
                K.MULTIPLE,
                "What else mattered?",
                allow_other=True,
                options=[OptionSpec("Support"), OptionSpec("Integrations")],
            )
        ],
        name="Evidence",
    )
    version = survey.published
    name = version.questions[0].html_id
    form = MultiDict([(name, "support"), (name, "integrations"), (f"{name}_other", "Their roadmap")])
    response, errors = record_phone_response(
        version, form, caller=make_user(Role.CALLER), contact=make_contact(), now=NOW
    )
    assert errors == {}
    score = score_response(response, default_rule(), today=NOW.date())
    # Labels, not ids: "__other__" is never shown to the sales manager.
    assert score.details == [
        {"question": "What else mattered?", "answer": "Support; Integrations; Other: Their roadmap"}
    ]

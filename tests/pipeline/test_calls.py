"""A caller's requalified disposition creates a requalification with the short form as its evidence."""

from __future__ import annotations

from sqlalchemy import delete, select

from app.audit.models import AuditEvent
from app.auth.models import Role
from app.extensions import db
from app.pipeline.models import (
    Requalification,
    RequalificationEvidence,
    RequalificationSource,
    RequalificationStatus,
)
from campaigns.calls.dispositions import record_disposition
from campaigns.calls.models import Disposition
from campaigns.calls.queue import claim_next_task
from tests.calls.conftest import LEASE, NOW

FORM = {
    "what_changed": "New CFO, unhappy with Globex",
    "budget": "$40k",
    "timeline": "Q1",
    "decision_maker": "",
    "next_step": "Demo on Friday",
}


def _requalify(queue):
    task = claim_next_task(queue.caller, now=NOW, lease_seconds=LEASE)
    db.session.commit()
    attempt = record_disposition(
        task,
        queue.caller,
        Disposition.REQUALIFIED,
        now=NOW,
        lease_seconds=LEASE,
        notes="Call back after the board meeting",
        requalification=FORM,
    )
    db.session.commit()
    return task, attempt


def test_a_requalified_call_creates_a_requalification_with_the_callers_form_as_evidence(make_queue):
    queue = make_queue(1)
    task, attempt = _requalify(queue)

    [requalification] = db.session.scalars(select(Requalification)).all()
    assert requalification.status is RequalificationStatus.PENDING
    assert requalification.source is RequalificationSource.CALL
    assert requalification.opportunity_id == task.enrollment.opportunity_id
    assert requalification.account_id == task.enrollment.opportunity.account_id
    assert requalification.campaign_id == task.campaign_id
    assert requalification.score == 7  # 5 for the call, 1 each for budget and timeline
    [evidence] = requalification.evidence
    assert evidence.call_attempt_id == attempt.id
    assert {"question": "What changed", "answer": "New CFO, unhappy with Globex"} in evidence.details
    assert {"question": "Call notes", "answer": "Call back after the board meeting"} in evidence.details


def test_evaluate_picks_up_requalified_calls_recorded_earlier_once(make_queue, runner):
    queue = make_queue(1)
    _requalify(queue)
    db.session.execute(delete(AuditEvent))
    db.session.execute(delete(RequalificationEvidence))
    db.session.execute(delete(Requalification))
    db.session.commit()

    result = runner.invoke(args=["pipeline", "evaluate"])
    assert result.exit_code == 0, result.output
    assert "1 requalified calls" in result.output
    again = runner.invoke(args=["pipeline", "evaluate"])
    assert "0 requalified calls" in again.output
    assert len(db.session.scalars(select(Requalification)).all()) == 1


def test_a_sales_manager_reads_the_call_history_on_the_requalification(make_queue, make_user, login, client):
    queue = make_queue(1)
    _requalify(queue)
    requalification = db.session.scalar(select(Requalification))
    login(make_user(Role.SALES_MANAGER))
    html = client.get(f"/pipeline/requalifications/{requalification.id}").get_data(as_text=True)
    assert "Call back after the board meeting" in html
    assert "New CFO, unhappy with Globex" in html
    assert queue.caller.name in html


def test_answers_taken_on_a_call_requalify_the_deal_for_the_calls_campaign(make_queue, survey):
    """The call script's answers cross the rule: the requalification belongs to the call's campaign, so the
    recovery funnel counts it for that campaign (the phone response has no invitation to say so)."""
    from werkzeug.datastructures import MultiDict

    from campaigns.calls.script import complete_script, save_script

    queue = make_queue(1, survey_version=survey.published)
    task = claim_next_task(queue.caller, now=NOW, lease_seconds=LEASE)
    q = [question.id for question in survey.published.questions]
    form = MultiDict([(f"q{q[0]}", "within_month"), (f"q{q[1]}", "yes"), (f"q{q[4]}", "Call us in May")])
    assert save_script(task, queue.caller, form, now=NOW) == {}
    complete_script(task, now=NOW)
    record_disposition(task, queue.caller, Disposition.COMPLETED, now=NOW, lease_seconds=LEASE)
    db.session.commit()

    [requalification] = db.session.scalars(select(Requalification)).all()
    assert requalification.source is RequalificationSource.SURVEY
    assert requalification.opportunity_id == task.enrollment.opportunity_id
    assert requalification.campaign_id == queue.campaign.id

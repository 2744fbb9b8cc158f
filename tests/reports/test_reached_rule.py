"""Reached is "a call connected or a survey opened" (issue #14), everywhere: a contact whose only calls were
no answer, busy or failed is neither reached nor responded on the funnel, its drill-downs and CSVs, the admin
home or `reports figures` (issue #18)."""

from __future__ import annotations

import json
from datetime import date

from app.auth.models import Role
from app.extensions import db
from app.reports.funnel import funnel_report, step_deals
from app.reports.home import funnel_summary
from campaigns.calls.models import CallAttempt, CallTask, Disposition
from campaigns.models import Campaign, Enrollment
from tests.reports.test_recovery_funnel import ARGS, NOV, _steps, at


def _only_failed_calls(recovery, make_user, make_account, make_contact, make_opportunity, respond):
    """Deal G, enrolled in "Calls" 11-02, called three times: no answer (a machine picked up, and the caller
    opened the script and noted a word), busy, and a call that failed before ringing."""
    caller = make_user(Role.CALLER, name="Bo Caller")
    calls: Campaign = recovery["calls"]
    opportunity = make_opportunity(make_account(name="G Inc"), name="G")
    enrollment = Enrollment(
        campaign=calls,
        contact=make_contact(account=opportunity.account),
        opportunity=opportunity,
        enrolled_at=at(2),
    )
    db.session.add(enrollment)
    db.session.flush()
    noted = respond("Left a message").response.id
    task = CallTask(
        campaign_id=calls.id, enrollment_id=enrollment.id, contact_id=enrollment.contact_id, due_at=at(3)
    )
    db.session.add(task)
    db.session.flush()
    for started, answered, disposition, response_id in (
        (at(3), at(3), Disposition.NO_ANSWER, noted),
        (at(4), None, Disposition.BUSY, None),
        (at(5), None, None, None),  # failed: Twilio never rang it, no disposition
    ):
        db.session.add(
            CallAttempt(
                task_id=task.id,
                campaign_id=calls.id,
                contact_id=enrollment.contact_id,
                caller_id=caller.id,
                phone="+14155550125",
                started_at=started,
                answered_at=answered,
                disposition=disposition,
                response_id=response_id,
            )
        )
    db.session.commit()
    return calls


def test_a_contact_whose_calls_all_failed_is_neither_reached_nor_responded(
    recovery, make_user, make_account, make_contact, make_opportunity, respond, login, runner
):
    calls = _only_failed_calls(recovery, make_user, make_account, make_contact, make_opportunity, respond)

    report = funnel_report(*NOV)
    row = next(r for r in report.campaigns if r.campaign_id == calls.id)
    assert _steps(row) == (3, 2, 2, 2, 1, 1)  # G is enrolled, not reached
    assert _steps(report.overall) == (7, 5, 4, 4, 3, 2)
    phone = next(c for c in report.channels if c.channel == "phone")
    assert (phone.contacted, phone.reached, phone.responded) == (3, 2, 2)
    assert "G" not in {d.name for d in step_deals("reached", *NOV)}
    assert "G" not in {d.name for d in step_deals("responded", *NOV)}
    assert "G" in {d.name for d in step_deals("enrolled", *NOV)}

    client = login(make_user(Role.ANALYST))
    for step in ("reached", "responded"):
        lines = client.get(f"/reports/funnel/{step}.csv?{ARGS}").get_data(as_text=True).splitlines()
        assert not any(line.startswith("G,") for line in lines)
    funnel_csv = client.get(f"/reports/funnel.csv?{ARGS}").get_data(as_text=True).splitlines()
    assert funnel_csv[1].startswith("All campaigns,7,5,4,4,3,2,")

    summary = funnel_summary(date(2026, 11, 30), days=30)
    assert _steps(summary.overall) == (7, 5, 4, 4, 3, 2)

    result = runner.invoke(
        args=["reports", "figures", "--from", "2026-11-01", "--to", "2026-11-30", "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert (figures["enrolled"], figures["reached"], figures["responded"]) == (7, 5, 4)
    assert figures["channels"]["phone"] == {"contacted": 3, "reached": 2, "responded": 2}

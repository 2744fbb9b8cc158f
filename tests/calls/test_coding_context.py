"""The coding workbench shows an answer's call notes: what the caller heard is context for the coder."""

from __future__ import annotations

from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.auth.models import Role
from app.extensions import db
from campaigns.calls.models import CallAttempt, CallTask, Disposition
from surveys.responding import record_phone_response
from tests.calls.conftest import NOW


def test_an_answer_on_the_workbench_shows_the_notes_of_calls_to_its_contact(
    make_queue, survey_version, make_user, login
):
    queue = make_queue(size=2)
    contact, other = queue.contacts
    task = db.session.scalar(select(CallTask).where(CallTask.contact_id == contact.id))
    other_task = db.session.scalar(select(CallTask).where(CallTask.contact_id == other.id))
    db.session.add_all(
        [
            CallAttempt(
                task=task,
                campaign_id=queue.campaign.id,
                contact_id=contact.id,
                phone=contact.phone,
                caller=queue.caller,
                started_at=NOW,
                disposition=Disposition.CALLBACK,
                notes="Renewal with Globex is in March; ask about SSO",
            ),
            CallAttempt(
                task=other_task,
                campaign_id=queue.campaign.id,
                contact_id=other.id,
                phone=other.phone,
                caller=queue.caller,
                started_at=NOW,
                notes="Someone else entirely",
            ),
        ]
    )
    text_question = next(q for q in survey_version.questions if q.kind.value == "long_text")
    response, errors = record_phone_response(
        survey_version,
        MultiDict([(f"q{text_question.id}", "Their onboarding was faster")]),
        caller=queue.caller,
        contact=contact,
        opportunity=queue.enrollments[0].opportunity,
        now=NOW,
    )
    db.session.commit()
    answer = next(a for a in response.answers if a.question_id == text_question.id)

    page = login(make_user(Role.ANALYST)).get(f"/coding/answers/{answer.id}").get_data(as_text=True)

    assert "Call notes" in page
    assert "Renewal with Globex is in March; ask about SSO" in page
    assert "Someone else entirely" not in page

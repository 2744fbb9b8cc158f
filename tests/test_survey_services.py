"""Services: tokens, invitations and reminders, closing stale responses, versions, the phone channel."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.models import MessageStatus, OutboundMessage
from surveys.builder import (
    OptionSpec,
    QuestionSpec,
    add_question,
    delete_question,
    editable_version,
    move_question,
    publish,
    update_question,
)
from surveys.invitations import (
    DEFAULT_TEMPLATES,
    InvitationNotSendable,
    MessageTemplates,
    close_stale_responses,
    find_invitation,
    invitation_link,
    queue_invitation_message,
    send_due_reminders,
)
from surveys.models import Invitation, QuestionKind, Response, ResponseChannel, ResponseStatus, VersionStatus
from surveys.responding import (
    ResponseIncomplete,
    complete_response,
    record_phone_response,
    save_page,
    start_response,
)
from surveys.tokens import hash_token
from tests.survey_helpers import NOW, invite, published_survey, question_ids, win_loss_survey


def test_token_has_256_bits_only_its_hash_is_stored_and_it_finds_the_invitation(make_contact):
    version = published_survey().published
    invitation, token = invite(version, make_contact())
    assert len(base64.urlsafe_b64decode(token + "=")) == 32
    assert len(bytes.fromhex(invitation.nonce)) == 16
    row = db.session.execute(select(Invitation.__table__)).mappings().one()
    assert token not in {str(value) for value in row.values()}
    assert row["token_hash"] == hash_token(token)
    assert find_invitation(token) is invitation
    assert find_invitation(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert invitation_link(invitation) == f"http://winback.test/s/{token}"


def test_invitation_message_goes_to_the_outbox_once_with_merge_fields(make_contact):
    version = published_survey().published
    contact = make_contact(first_name="Ada", last_name="Lovelace")
    invitation, token = invite(version, contact)
    first = queue_invitation_message(invitation, DEFAULT_TEMPLATES, kind="invitation", now=NOW, sender="Kim")
    again = queue_invitation_message(invitation, DEFAULT_TEMPLATES, kind="invitation", now=NOW, sender="Kim")
    db.session.commit()
    assert first.id == again.id
    assert first.idempotency_key == f"invitation:{invitation.id}:invitation:0"
    assert first.recipient == contact.email
    assert f"/s/{token}" in first.body_text
    assert "Hello Ada," in first.body_text
    assert f'href="http://winback.test/s/{token}"' in first.body_html
    assert first.meta["unsubscribe_url"].startswith("http://winback.test/unsubscribe/")
    assert first.meta["unsubscribe_url"] in first.body_text
    assert invitation.sent_at == NOW


def test_sms_invitation_uses_the_sms_text(make_contact):
    version = published_survey().published
    invitation, token = invite(version, make_contact(), channel=Channel.SMS)
    templates = MessageTemplates("s", "t", None, "Hi {{ first_name }} {{ survey_link }} {{ sender }}")
    message = queue_invitation_message(invitation, templates, kind="invitation", now=NOW, sender="Acme")
    assert message.channel is Channel.SMS
    assert message.body_text == f"Hi Pat http://winback.test/s/{token} Acme"


def test_reminders_follow_the_rules_and_reuse_the_same_link(make_contact):
    version = published_survey().published
    fresh, fresh_token = invite(version, make_contact(), reminder_max=2, reminder_min_days=3)
    done, _ = invite(version, make_contact())
    opted_out_contact = make_contact()
    opted, _ = invite(version, opted_out_contact)
    expired, _ = invite(version, make_contact(), expires_at=NOW + timedelta(days=2))
    never_sent, _ = invite(version, make_contact())
    for invitation in (fresh, done, opted, expired):
        queue_invitation_message(invitation, DEFAULT_TEMPLATES, kind="invitation", now=NOW, sender="Kim")
    done.completed_at = NOW + timedelta(days=1)
    opted_out_contact.email_opt_out_at = NOW
    db.session.commit()

    assert send_due_reminders(now=NOW + timedelta(days=2), sender="Kim") == 0
    assert send_due_reminders(now=NOW + timedelta(days=3), sender="Kim") == 1
    assert send_due_reminders(now=NOW + timedelta(days=4), sender="Kim") == 0
    assert send_due_reminders(now=NOW + timedelta(days=6), sender="Kim") == 1
    assert send_due_reminders(now=NOW + timedelta(days=30), sender="Kim") == 0
    db.session.commit()
    reminders = db.session.scalars(
        select(OutboundMessage).where(OutboundMessage.template == "reminder").order_by(OutboundMessage.id)
    ).all()
    assert [m.idempotency_key for m in reminders] == [
        f"invitation:{fresh.id}:reminder:1",
        f"invitation:{fresh.id}:reminder:2",
    ]
    assert all(f"/s/{fresh_token}" in m.body_text for m in reminders)
    assert all(m.status is MessageStatus.QUEUED for m in reminders)
    assert fresh.reminders_sent == 2
    assert never_sent.sent_at is None
    with pytest.raises(InvitationNotSendable):
        queue_invitation_message(opted, DEFAULT_TEMPLATES, kind="reminder", now=NOW, sender="Kim")


def test_stale_responses_are_closed_and_stay_partial(make_contact, client):
    version = published_survey().published
    invitation, token = invite(version, make_contact())
    response = start_response(version, channel=ResponseChannel.WEB, now=NOW, invitation=invitation)
    q = question_ids(version)
    save_page(response, 1, MultiDict({f"q{q[0]}": "price"}), now=NOW)
    db.session.commit()
    assert close_stale_responses(now=NOW + timedelta(days=13)) == 0
    assert close_stale_responses(now=NOW + timedelta(days=14)) == 1
    db.session.commit()
    response = db.session.get(Response, response.id)
    assert response.status is ResponseStatus.CLOSED
    assert len(response.answers) == 1
    assert client.get(f"/s/{token}").status_code == 410  # the link no longer opens: it says it closed
    queue_invitation_message(invitation, DEFAULT_TEMPLATES, kind="invitation", now=NOW, sender="K")
    db.session.commit()
    assert send_due_reminders(now=NOW + timedelta(days=20), sender="K") == 0


def test_editing_a_published_version_makes_a_new_draft_and_keeps_responses_on_theirs(make_contact):
    survey = published_survey()
    v1 = survey.published
    invitation, _ = invite(v1, make_contact())
    start_response(v1, channel=ResponseChannel.WEB, now=NOW, invitation=invitation)
    db.session.commit()
    draft = editable_version(survey, now=NOW)
    assert draft is not v1
    assert draft.status is VersionStatus.DRAFT
    assert draft.number == 2
    assert [q.text for q in draft.questions] == [q.text for q in v1.questions]
    date_question = draft.questions[5]
    assert date_question.show_if_question is draft.questions[4]  # logic points inside the copy
    add_question(draft, QuestionSpec(QuestionKind.SHORT_TEXT, "New question", page=4))
    assert editable_version(survey, now=NOW) is draft  # further edits go to the same draft
    with pytest.raises(Exception, match="edit a new draft"):
        add_question(v1, QuestionSpec(QuestionKind.SHORT_TEXT, "Sneaky", page=4))
    assert len(v1.questions) == 8
    publish(draft, now=NOW)
    db.session.commit()
    assert v1.status is VersionStatus.RETIRED
    assert survey.published is draft
    assert db.session.scalar(select(Response.version_id)) == v1.id


def test_builder_edits_moves_and_deletes_questions():
    survey = published_survey()
    version = editable_version(survey, now=NOW)
    q = version.questions
    update_question(
        q[0],
        QuestionSpec(
            QuestionKind.SINGLE,
            "Main reason, really?",
            page=1,
            required=True,
            options=[OptionSpec("Price", reason_code="price.too_high", weight=2), OptionSpec("Other")],
        ),
    )
    assert q[0].options[0].reason_code.code == "price.too_high"
    assert q[0].options[0].requalification_weight == 2
    move_question(q[1], -1)
    db.session.expire_all()
    assert [x.text for x in version.questions][:2] == ["Other factors?", "Main reason, really?"]
    with pytest.raises(Exception, match="depends on"):
        move_question(version.questions[5], -1)  # the date question depends on the yes/no above
    delete_question(version.questions[4])
    db.session.expire_all()
    assert len(version.questions) == 7
    assert [x.position for x in version.questions] == list(range(1, 8))
    assert version.questions[4].show_if_question_id is None


def test_a_caller_fills_the_same_version_as_a_phone_response(make_contact, make_user):
    survey = win_loss_survey()
    version = survey.published
    caller = make_user()
    q = question_ids(version)
    form = MultiDict(
        {
            f"q{q[0]}": "price",
            f"q{q[3]}": "2",
            f"q{q[5]}": "yes",
            f"q{q[6]}": "within_month",
            f"q{q[7]}": "Ok",
        }
    )
    response, errors = record_phone_response(version, form, caller=caller, contact=make_contact(), now=NOW)
    db.session.commit()
    assert errors == {}
    assert response.channel is ResponseChannel.PHONE
    assert response.status is ResponseStatus.COMPLETE
    assert response.caller_id == caller.id
    assert {a.question_id for a in response.answers} == {q[0], q[3], q[5], q[6], q[7]}
    missing, errors = record_phone_response(version, MultiDict({}), caller=caller, now=NOW)
    assert missing.status is ResponseStatus.IN_PROGRESS
    assert set(errors) == {q[0], q[5]}


def test_completion_requires_every_visible_required_answer(make_contact):
    version = published_survey().published
    invitation, _ = invite(version, make_contact())
    response = start_response(version, channel=ResponseChannel.WEB, now=NOW, invitation=invitation)
    with pytest.raises(ResponseIncomplete) as info:
        complete_response(response, now=NOW)
    assert info.value.page == 1
    assert db.session.scalar(select(func.count()).select_from(Response)) == 1

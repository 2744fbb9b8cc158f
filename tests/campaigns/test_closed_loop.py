"""The wiring of the loop: `flask worker --once` enrolls, invites and delivers, with no other step."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default
from pathlib import Path

from sqlalchemy import select

from app.codebook.service import ensure_default_codebook
from app.extensions import db
from app.messaging.models import MessageStatus, OutboundMessage
from campaigns.models import CampaignKind, Enrollment, EnrollmentStatus
from surveys.builder import publish
from surveys.library import WIN_LOSS, create_from_template

from .conftest import NOW


def test_the_worker_enrolls_invites_and_delivers_a_survey_email(
    app, runner, make_campaign, make_contact, make_opportunity
):
    ensure_default_codebook()
    survey = create_from_template(WIN_LOSS, now=NOW, name="Win/loss")
    version = publish(survey.versions[0], now=NOW)
    db.session.commit()
    contact = make_contact(first_name="Ines", email="ines@lostcustomer.example")
    make_opportunity(account=contact.account, primary_contact=contact)
    make_campaign(kind=CampaignKind.SURVEY, survey_version_id=version.id)
    mail_dir = Path(app.config["INSTANCE_DIR"]) / "mail"
    before = set(mail_dir.glob("*.eml")) if mail_dir.exists() else set()

    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output

    enrollment = db.session.scalars(select(Enrollment)).one()
    assert enrollment.status is EnrollmentStatus.ACTIVE
    message = db.session.scalars(select(OutboundMessage)).one()
    assert message.status is MessageStatus.SENT
    assert message.recipient == "ines@lostcustomer.example"
    [written] = set(mail_dir.glob("*.eml")) - before
    email = message_from_bytes(written.read_bytes(), policy=default)
    assert email["To"] == "ines@lostcustomer.example"
    assert "/unsubscribe/" in email["List-Unsubscribe"]
    assert "/s/" in email.get_body(preferencelist=("plain",)).get_content()

    again = runner.invoke(args=["worker", "--once"])
    assert again.exit_code == 0, again.output
    assert len(db.session.scalars(select(OutboundMessage)).all()) == 1

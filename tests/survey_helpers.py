"""Builders shared by the survey tests: a published survey with every question kind, invitations."""

from __future__ import annotations

from datetime import UTC, datetime

from app.codebook.service import ensure_default_codebook
from app.extensions import db
from app.messaging.channels import Channel
from surveys.builder import OptionSpec, QuestionSpec, build_version, create_survey, publish
from surveys.invitations import create_invitation, invitation_token
from surveys.library import WIN_LOSS, create_from_template
from surveys.models import QuestionKind as K
from surveys.models import Signal

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

ALL_KINDS = [
    QuestionSpec(
        K.SINGLE,
        "Main reason?",
        page=1,
        required=True,
        options=[OptionSpec("Price", reason_code="price"), OptionSpec("Timing", reason_code="timing")],
    ),
    QuestionSpec(
        K.MULTIPLE,
        "Other factors?",
        page=1,
        allow_other=True,
        options=[OptionSpec("Support"), OptionSpec("Integrations")],
    ),
    QuestionSpec(K.RATING, "How is it going?", page=2, signal=Signal.VENDOR_SATISFACTION),
    QuestionSpec(K.NPS, "Would you recommend us?", page=2),
    QuestionSpec(K.YES_NO, "Open to a talk?", page=2, required=True, signal=Signal.OPEN_TO_TALK),
    QuestionSpec(
        K.DATE, "When?", page=3, show_if_position=5, show_if_value="yes", signal=Signal.CONTRACT_END
    ),
    QuestionSpec(K.SHORT_TEXT, "Which vendor?", page=4, help_text="Optional."),
    QuestionSpec(K.LONG_TEXT, "Anything else?", page=4),
]


def published_survey(specs=None, *, name="Kinds"):
    ensure_default_codebook()
    survey = create_survey(
        name, title="Tell us", introduction="Two minutes.", thank_you="Thanks a lot.", now=NOW
    )
    build_version(survey.versions[0], specs or ALL_KINDS)
    publish(survey.versions[0], now=NOW)
    db.session.commit()
    return survey


def win_loss_survey():
    ensure_default_codebook()
    survey = create_from_template(WIN_LOSS, now=NOW)
    publish(survey.versions[0], now=NOW)
    db.session.commit()
    return survey


def invite(version, contact, *, channel=Channel.EMAIL, now=NOW, **kwargs):
    invitation = create_invitation(version, contact, channel=channel, now=now, **kwargs)
    db.session.commit()
    return invitation, invitation_token(invitation)


def question_ids(version):
    return [q.id for q in version.questions]

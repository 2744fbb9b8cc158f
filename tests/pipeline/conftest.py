"""A survey whose answers can requalify a lost deal, and a way to answer it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from werkzeug.datastructures import MultiDict

from app.auth.models import Role
from app.extensions import db
from campaigns.models import Enrollment
from surveys.builder import OptionSpec, QuestionSpec
from surveys.models import QuestionKind as K
from surveys.models import Response, Signal
from surveys.responding import record_phone_response
from tests.calls.conftest import make_queue  # noqa: F401 (a fixture)
from tests.campaigns.conftest import make_campaign  # noqa: F401 (a fixture)
from tests.messaging.conftest import smtp_server  # noqa: F401 (a fixture)
from tests.survey_helpers import invite, published_survey

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday; Thanksgiving is on the 26th

SPECS = [
    QuestionSpec(
        K.SINGLE,
        "When could we talk?",
        page=1,
        options=[
            OptionSpec("Within a month", "within_month", weight=3),
            OptionSpec("Later", "later", weight=1),
            OptionSpec("Never", "never"),
        ],
    ),
    QuestionSpec(K.YES_NO, "Open to a conversation?", page=1, signal=Signal.OPEN_TO_TALK),
    QuestionSpec(K.RATING, "How is your chosen vendor?", page=1, signal=Signal.VENDOR_SATISFACTION),
    QuestionSpec(K.DATE, "When does your contract end?", page=1, signal=Signal.CONTRACT_END),
    QuestionSpec(K.LONG_TEXT, "Anything else?", page=1),
]


@pytest.fixture
def survey():
    return published_survey(SPECS, name="Requalify")


@pytest.fixture
def respond(survey, make_user, make_contact, make_opportunity) -> Callable[..., Response]:
    """Complete a phone response for a lost deal (a new account unless one is given)."""
    caller = make_user(Role.CALLER)

    def factory(
        *,
        when: str = "within_month",
        open_to_talk: str = "yes",
        rating: str = "",
        contract_end: str = "",
        text: str = "We regret it",
        opportunity=None,
        campaign=None,
        now: datetime = NOW,
    ) -> Response:
        opportunity = opportunity or make_opportunity(owner="Dana Owner", crm_loss_reason="Price")
        version = survey.published
        q = [question.id for question in version.questions]
        form = MultiDict(
            [
                (f"q{q[0]}", when),
                (f"q{q[1]}", open_to_talk),
                (f"q{q[2]}", rating),
                (f"q{q[3]}", contract_end),
                (f"q{q[4]}", text),
            ]
        )
        contact = make_contact(account=opportunity.account)
        invitation = None
        if campaign is not None:  # answered through the campaign's invitation
            invitation, _ = invite(version, contact, now=now, opportunity=opportunity)
            db.session.add(
                Enrollment(
                    campaign=campaign, opportunity=opportunity, contact=contact, invitation_id=invitation.id
                )
            )
            db.session.commit()
        response, errors = record_phone_response(
            version,
            form,
            caller=caller,
            contact=contact,
            opportunity=opportunity,
            invitation=invitation,
            now=now,
        )
        assert errors == {}
        db.session.commit()
        return response

    return factory

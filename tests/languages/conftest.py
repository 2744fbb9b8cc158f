"""A win/loss survey translated into German (and, unless asked, French), and contacts who speak them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.codebook.service import ensure_default_codebook
from app.extensions import db
from surveys.builder import publish
from surveys.demo_translations import translate_win_loss
from surveys.library import WIN_LOSS, create_from_template
from surveys.models import SurveyVersion
from tests.campaigns.conftest import make_campaign  # noqa: F401 (the campaign factory)
from tests.messaging.conftest import smtp_server, smtp_transport  # noqa: F401 (the real local SMTP server)
from tests.survey_helpers import NOW


@pytest.fixture
def translated() -> Callable[..., SurveyVersion]:
    def factory(languages: tuple[str, ...] = ("de", "fr")) -> SurveyVersion:
        ensure_default_codebook()
        survey = create_from_template(WIN_LOSS, now=NOW, name=f"Win/loss {'+'.join(languages) or 'en'}")
        translate_win_loss(survey.versions[0], now=NOW, languages=languages)
        version = publish(survey.versions[0], now=NOW)
        db.session.commit()
        return version

    return factory

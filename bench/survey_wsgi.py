"""The product app for the survey bench, plus a minimal "hello" route as the baseline (bench only)."""

from __future__ import annotations

import os

from app import create_app
from app.auth.guard import public
from config import config_from_env

settings = vars(type(config_from_env())).copy()
settings = {key: value for key, value in settings.items() if key.isupper()}
settings.update(
    SQLALCHEMY_DATABASE_URI=os.environ["DATABASE_URL"],
    SECRET_KEY=os.environ["SECRET_KEY"],
    PUBLIC_BASE_URL="http://127.0.0.1",
    # The bench measures the pages, not the limiter refusing them; the limiter still runs on every request.
    SURVEY_IP_RATE_LIMIT="1000000 per minute",
    SURVEY_TOKEN_RATE_LIMIT="1000000 per minute",  # noqa: S106 (a rate, not a secret)
)
app = create_app(settings)


@app.get("/bench/hello")
@public
def hello():
    return "hello"

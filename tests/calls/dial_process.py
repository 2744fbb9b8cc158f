"""A real process that presses Call through the dial view while Twilio never answers (killed by the test).

Run as `python -m tests.calls.dial_process` with DATABASE_URL (the suite's database), DIAL_TASK_ID,
DIAL_CALLER_EMAIL and DIAL_RECORD (where the Calls API request is written). The app is the test app on
that database; the real twilio library sends through `NeverAnswers`, which writes the request down and
then blocks for ever, as a Twilio that hangs would: the test kill -9s the process there.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from twilio.http import HttpClient

from app import create_app
from config import TestingConfig
from tests.calls.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, TWILIO_FROM
from tests.conftest import PASSWORD

CALLS_API_FIELDS = ("To", "From", "Url", "StatusCallback")


class NeverAnswers(HttpClient):
    """The Calls API request is recorded (written whole, then renamed into place); no answer ever comes."""

    def __init__(self, record: Path) -> None:
        super().__init__(logger=logging.getLogger("twilio-never-answers"), is_async=False)
        self.record = record

    def request(self, method, uri, params=None, data=None, headers=None, auth=None, **options):
        sent = {"method": method, "uri": uri, **{name: (data or {}).get(name) for name in CALLS_API_FIELDS}}
        partial = self.record.with_suffix(".partial")
        partial.write_text(json.dumps(sent))
        partial.replace(self.record)
        threading.Event().wait()  # Twilio never answers: only SIGKILL ends this


def main() -> None:
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = os.environ["DATABASE_URL"]
        INSTANCE_DIR = os.environ["WINBACK_INSTANCE_DIR"]
        TWILIO_ACCOUNT_SID = ACCOUNT_SID
        TWILIO_AUTH_TOKEN = AUTH_TOKEN
        TWILIO_FROM = TWILIO_FROM

    app = create_app(Config)
    app.extensions["twilio_http_client"] = NeverAnswers(Path(os.environ["DIAL_RECORD"]))
    client = app.test_client()
    signed_in = client.post("/login", data={"email": os.environ["DIAL_CALLER_EMAIL"], "password": PASSWORD})
    assert signed_in.status_code == 302, signed_in.get_data(as_text=True)
    response = client.post(f"/calls/tasks/{os.environ['DIAL_TASK_ID']}/dial")
    raise SystemExit(f"the dial returned {response.status_code}: Twilio was never asked, or answered")


if __name__ == "__main__":
    main()

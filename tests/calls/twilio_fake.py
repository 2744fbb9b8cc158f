"""A fake transport for the real twilio library: the Calls API, recorded; or a network error, raised."""

from __future__ import annotations

import json
import logging

from twilio.http import HttpClient
from twilio.http.response import Response

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "twilio-test-auth-token"
TWILIO_FROM = "+14155550000"
CALL_SID = "CA" + "f" * 32


class FakeTwilioVoice(HttpClient):
    """Answers the Calls API like Twilio and records every request; `before_answer` runs first."""

    def __init__(self, *, error: Exception | None = None, before_answer=None) -> None:
        super().__init__(logger=logging.getLogger("fake-twilio-voice"), is_async=False)
        self.requests: list[dict] = []
        self.error = error
        self.before_answer = before_answer

    def request(
        self,
        method,
        uri,
        params=None,
        data=None,
        headers=None,
        auth=None,
        timeout=None,
        allow_redirects=False,
    ):
        self.requests.append({"method": method, "url": uri, "data": data, "auth": auth})
        if self.before_answer is not None:
            self.before_answer()
        if self.error is not None:
            raise self.error
        if method == "POST" and uri.endswith("/Calls.json"):
            body = {"sid": CALL_SID, "account_sid": ACCOUNT_SID, "to": data["To"], "status": "queued"}
            return Response(201, json.dumps(body))
        if method == "POST" and uri.endswith("/Recordings.json"):  # start recording a call
            call_sid = uri.rsplit("/Calls/", 1)[1].split("/", 1)[0]
            body = {
                "sid": "RE" + "e" * 32,
                "account_sid": ACCOUNT_SID,
                "call_sid": call_sid,
                "status": "in-progress",
            }
            return Response(201, json.dumps(body))
        if method == "POST" and "/Calls/CA" in uri:  # update: hang up, or new TwiML (voicemail drop)
            sid = uri.rsplit("/", 1)[1].removesuffix(".json")
            return Response(
                200,
                json.dumps(
                    {"sid": sid, "account_sid": ACCOUNT_SID, "status": data.get("Status", "in-progress")}
                ),
            )
        return Response(404, json.dumps({"code": 20404, "message": "no fake", "status": 404}))

    def hang_ups(self) -> list[str]:
        return [
            request["url"].rsplit("/", 1)[1].removesuffix(".json")
            for request in self.requests
            if "/Calls/CA" in request["url"] and request["data"].get("Status") == "completed"
        ]

    def updates(self, call_sid: str) -> list[dict]:
        """The updates posted to one call (new TwiML, or a hang-up)."""
        return [
            request["data"]
            for request in self.requests
            if request["method"] == "POST" and request["url"].endswith(f"/Calls/{call_sid}.json")
        ]

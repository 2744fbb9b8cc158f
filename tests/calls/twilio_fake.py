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
        if method == "POST" and "/Calls/CA" in uri:  # update: hang up
            sid = uri.rsplit("/", 1)[1].removesuffix(".json")
            return Response(
                200, json.dumps({"sid": sid, "account_sid": ACCOUNT_SID, "status": data["Status"]})
            )
        return Response(404, json.dumps({"code": 20404, "message": "no fake", "status": 404}))

    def hang_ups(self) -> list[str]:
        return [
            request["url"].rsplit("/", 1)[1].removesuffix(".json")
            for request in self.requests
            if "/Calls/CA" in request["url"] and request["data"].get("Status") == "completed"
        ]

"""Real parts for messaging tests: an aiosmtpd SMTP server on localhost and the twilio library with its
HTTP transport replaced by one that records requests and answers like Twilio's API."""

from __future__ import annotations

import email
import email.policy
import itertools
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlparse

import pytest
from aiosmtpd.controller import Controller
from twilio.http import HttpClient
from twilio.http.response import Response

from app.messaging.transports import SmtpTransport, TwilioSmsTransport

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "twilio-test-auth-token"
TWILIO_FROM = "+14155550000"


@dataclass
class ReceivedEmail:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.content, policy=email.policy.default)


@dataclass
class SmtpSink:
    """An aiosmtpd handler: keeps every message; refuses recipients listed in `refuse` with a 550."""

    received: list[ReceivedEmail] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.lock:
            self.received.append(ReceivedEmail(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 Ok: queued"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[tuple[SmtpSink, int]]:
    sink = SmtpSink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


@pytest.fixture
def smtp_transport(smtp_server) -> Iterator[SmtpTransport]:
    _, port = smtp_server
    transport = SmtpTransport(
        "127.0.0.1", port, mail_from="Winback <surveys@winback.example>", starttls=False
    )
    yield transport
    transport.close()


class FakeTwilioHttp(HttpClient):
    """Answers the Messages API like Twilio: create, fetch, list; `fail_next` simulates error codes."""

    def __init__(self) -> None:
        super().__init__(logger=logging.getLogger("fake-twilio"), is_async=False)
        self.requests: list[dict] = []
        self.messages: dict[str, dict] = {}
        self.fail_next: list[tuple[int, int, str]] = []  # (HTTP status, Twilio code, message)
        self._sids = itertools.count(1)

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
        self.requests.append({"method": method, "url": uri, "params": params, "data": data, "auth": auth})
        path = urlparse(uri).path
        if method == "POST" and path.endswith("/Messages.json"):
            if self.fail_next:
                status, code, text = self.fail_next.pop(0)
                body = {
                    "code": code,
                    "message": text,
                    "more_info": f"https://www.twilio.com/docs/errors/{code}",
                    "status": status,
                }
                return Response(status, json.dumps(body))
            sid = f"SM{next(self._sids):032x}"
            record = {
                "sid": sid,
                "account_sid": ACCOUNT_SID,
                "to": data["To"],
                "from": data.get("From"),
                "messaging_service_sid": data.get("MessagingServiceSid"),
                "body": data["Body"],
                "status": "queued",
                "date_sent": None,
            }
            self.messages[sid] = record
            return Response(201, json.dumps(record))
        if method == "GET" and path.endswith("/Messages.json"):
            found = [m for m in self.messages.values() if not params or m["to"] == params.get("To", m["to"])]
            return Response(
                200, json.dumps({"messages": found, "next_page_uri": None, "page": 0, "page_size": 50})
            )
        if method == "GET" and "/Messages/" in path:
            sid = path.rsplit("/", 1)[-1].removesuffix(".json")
            if sid in self.messages:
                return Response(200, json.dumps(self.messages[sid]))
            return Response(404, json.dumps({"code": 20404, "message": "Not found", "status": 404}))
        return Response(
            404, json.dumps({"code": 20404, "message": f"no fake for {method} {path}", "status": 404})
        )

    @property
    def creates(self) -> list[dict]:
        return [r for r in self.requests if r["method"] == "POST"]


@pytest.fixture
def twilio_http() -> FakeTwilioHttp:
    return FakeTwilioHttp()


@pytest.fixture
def sms_transport(twilio_http) -> TwilioSmsTransport:
    return TwilioSmsTransport(
        ACCOUNT_SID,
        AUTH_TOKEN,
        from_number=TWILIO_FROM,
        status_callback="http://winback.test/twilio/sms/status",
        http_client=twilio_http,
    )

"""The CRM webhook: signed JSON through the outbox to a real local HTTP server; a 5xx is retried, a 4xx
stops the retries and shows on the settings page."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from app.auth.models import Role
from app.extensions import db
from app.messaging.delivery import claim_due_messages, deliver_claimed
from app.messaging.models import MessageStatus, OutboundMessage
from app.messaging.transports import LogSmsTransport, Transports, WebhookTransport
from app.pipeline.models import Requalification
from app.pipeline.service import accept, pipeline_settings
from tests.pipeline.conftest import NOW

SECRET = "a-shared-secret-of-some-length"


class Receiver:
    def __init__(self) -> None:
        self.answers: list[int] = []  # status codes to give, in order; then 200 (a 3xx points to /moved)
        self.received: list[tuple[dict, bytes]] = []
        self.fetched: list[str] = []  # GETs: where a followed redirect would land


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append((dict(self.headers), body))
            status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "/moved")
            self.end_headers()

        def do_GET(self):  # noqa: N802
            state.fetched.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_port}/hooks/winback"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _accept_one(respond, make_user, url: str) -> Requalification:
    settings = pipeline_settings()
    settings.webhook_url = url
    settings.webhook_secret = SECRET
    respond()
    requalification = db.session.scalar(select(Requalification))
    accept(
        requalification,
        reviewer=make_user(Role.SALES_MANAGER),
        owner="Dana Owner",
        expected_amount=None,
        next_step="Demo",
        next_step_date=None,
        now=NOW,
    )
    db.session.commit()
    return requalification


def _deliver(now):
    transports = Transports(
        email=LogSmsTransport(), sms=LogSmsTransport(), webhook=WebhookTransport(timeout=5)
    )
    ids = claim_due_messages(worker_id="w1", now=now)
    stats = deliver_claimed(ids, transports, worker_id="w1", clock=lambda: now)
    db.session.expire_all()
    return stats


def test_the_accepted_requalification_reaches_the_crm_signed_after_a_retry(respond, make_user, receiver):
    state, url = receiver
    state.answers = [503]
    requalification = _accept_one(respond, make_user, url)

    assert _deliver(NOW).retried == 1
    message = db.session.scalar(select(OutboundMessage))
    assert message.status is MessageStatus.QUEUED
    assert _deliver(NOW + timedelta(hours=1)).sent == 1
    assert message.status is MessageStatus.SENT

    assert len(state.received) == 2
    headers, body = state.received[-1]
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Winback-Signature"], expected)
    assert headers["Content-Type"] == "application/json"
    data = json.loads(body)
    assert data["event"] == "requalification.accepted"
    assert data["winback_id"] == requalification.winback_id
    assert data["owner"] == "Dana Owner"
    assert data["original_opportunity"]["crm_id"] == requalification.opportunity.crm_id


def test_a_4xx_answer_stops_the_retries_and_shows_on_the_settings_page(
    respond, make_user, receiver, client, login
):
    state, url = receiver
    state.answers = [410]
    _accept_one(respond, make_user, url)
    assert _deliver(NOW).failed == 1
    assert _deliver(NOW + timedelta(hours=7)).sent == 0
    assert len(state.received) == 1
    message = db.session.scalar(select(OutboundMessage))
    assert message.status is MessageStatus.FAILED
    login(make_user(Role.ADMIN))
    html = client.get("/pipeline/settings").get_data(as_text=True)
    assert "The receiver answered HTTP 410" in html


@pytest.mark.parametrize("status", [301, 302, 303, 307])
def test_a_redirect_is_a_failure_that_is_retried_not_a_silent_get(respond, make_user, receiver, status):
    state, url = receiver
    state.answers = [status]
    _accept_one(respond, make_user, url)

    assert _deliver(NOW).retried == 1
    message = db.session.scalar(select(OutboundMessage))
    assert message.status is MessageStatus.QUEUED  # not marked sent: the receiver never had the body
    assert state.fetched == []  # the redirect was not followed as a bodiless GET
    assert f"The receiver answered HTTP {status}, a redirect to /moved (not followed)" in message.error
    assert _deliver(NOW + timedelta(hours=1)).sent == 1  # the retry POSTs the same signed body again
    assert message.status is MessageStatus.SENT
    assert [body for _, body in state.received][0] == state.received[1][1]
    assert state.fetched == []


def test_no_webhook_is_queued_without_an_address(respond, make_user):
    respond()
    accept(
        db.session.scalar(select(Requalification)),
        reviewer=make_user(Role.SALES_MANAGER),
        owner="Dana Owner",
        expected_amount=None,
        next_step="",
        next_step_date=None,
        now=NOW,
    )
    db.session.commit()
    assert db.session.scalar(select(OutboundMessage)) is None


def test_a_webhook_address_needs_a_secret(client, login, make_user):
    login(make_user(Role.ADMIN))
    response = client.post(
        "/pipeline/settings",
        data={
            "decision_business_days": "2",
            "first_touch_business_days": "3",
            "holiday_country": "US",
            "webhook_url": "https://crm.example/hooks",
        },
    )
    assert "Set the shared secret the webhook is signed with." in response.get_data(as_text=True)

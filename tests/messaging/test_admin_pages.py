"""The admin pages: do-not-contact list, outbox, banner."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.models import DoNotContactEntry, MessageStatus
from app.messaging.service import enqueue_message

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _entries():
    db.session.expire_all()
    return sorted((e.kind.value, e.value) for e in db.session.scalars(select(DoNotContactEntry)))


def test_an_admin_adds_an_entry_with_csrf_on(make_app, make_user):
    csrf_app = make_app(WTF_CSRF_ENABLED=True)
    admin = make_user()
    client = csrf_app.test_client()
    login_page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    client.post(
        "/login", data={"email": admin.email, "password": "correct horse battery", "csrf_token": token}
    )
    page = client.get("/do-not-contact").get_data(as_text=True)
    token = re.search(r'id="add-csrf_token" name="add-csrf_token" type="hidden" value="([^"]+)"', page).group(
        1
    )
    refused = client.post("/do-not-contact", data={"add-value": "a@b.example"})
    assert refused.status_code in (200, 400)
    assert _entries() == []
    response = client.post(
        "/do-not-contact",
        data={
            "add-csrf_token": token,
            "add-value": "(415) 555-0199",
            "add-kind": "",
            "add-note": "asked by phone",
        },
        follow_redirects=True,
    )
    assert "+14155550199 is on the list." in response.get_data(as_text=True)
    assert _entries() == [("phone", "+14155550199")]
    entry = db.session.scalars(select(DoNotContactEntry)).one()
    assert entry.source == f"admin: {admin.email}"
    assert entry.note == "asked by phone"


def test_a_bad_value_shows_why_and_adds_nothing(login, make_user):
    client = login(make_user())
    page = client.post("/do-not-contact", data={"add-value": "not a thing!"}).get_data(as_text=True)
    assert "is not a domain name" in page
    assert _entries() == []


def test_import_keeps_good_values_and_reports_bad_lines(login, make_user):
    client = login(make_user())
    client.post("/do-not-contact", data={"add-value": "Dup@Example.com"})
    csv = "email,name\njane@customer.example,Jane\nnot-an-email@,Bad\ndup@example.com,Dup\n"
    response = client.post(
        "/do-not-contact/import",
        data={
            "import-file": (io.BytesIO(csv.encode()), "optouts.csv"),
            "import-pasted": "rival.example\n+44 20 7946 0958\n12345",
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "Added 3; 1 were already on the list." in page
    assert "Line 3:" in page
    assert "not-an-email@" in page
    assert "12345" in page
    assert _entries() == [
        ("domain", "rival.example"),
        ("email", "dup@example.com"),
        ("email", "jane@customer.example"),
        ("phone", "+442079460958"),
    ]
    sources = set(db.session.scalars(select(DoNotContactEntry.source)))
    assert any(s.startswith("import: optouts.csv, pasted list") for s in sources)
    search = client.get("/do-not-contact?q=rival").get_data(as_text=True)
    assert "rival.example" in search
    assert "jane@customer.example" not in search


def test_an_admin_removes_an_entry(login, make_user):
    client = login(make_user())
    client.post("/do-not-contact", data={"add-value": "x@y.example"})
    entry_id = db.session.scalar(select(DoNotContactEntry.id))
    response = client.post(f"/do-not-contact/{entry_id}/delete", follow_redirects=True)
    assert "x@y.example is no longer on the list." in response.get_data(as_text=True)
    assert _entries() == []


def test_removing_an_entry_asks_first_on_a_page_that_works_without_js(login, make_user):
    client = login(make_user())
    client.post("/do-not-contact", data={"add-value": "x@y.example"})
    entry_id = db.session.scalar(select(DoNotContactEntry.id))

    listing = client.get("/do-not-contact").get_data(as_text=True)
    confirm = client.get(f"/do-not-contact/{entry_id}/delete")

    assert f'href="/do-not-contact/{entry_id}/delete"' in listing
    assert confirm.status_code == 200
    page = confirm.get_data(as_text=True)
    assert "Remove x@y.example from the do-not-contact list?" in page
    assert "campaigns may email, text or call this address again" in page
    assert f'action="/do-not-contact/{entry_id}/delete"' in page
    assert [value for _, value in _entries()] == ["x@y.example"]


def test_the_outbox_filters_by_status_and_shows_errors_and_provider_ids(login, make_user, make_contact):
    contact = make_contact()
    sent = enqueue_message(
        channel=Channel.SMS,
        recipient="+14155550101",
        body_text="Hi there",
        idempotency_key="a",
        contact=contact,
        now=NOW,
    )
    failed = enqueue_message(
        channel=Channel.EMAIL,
        recipient="gone@customer.example",
        subject="Quick question",
        body_text="Hi",
        idempotency_key="b",
        contact=contact,
        now=NOW,
    )
    sent.status, sent.provider_id = MessageStatus.SENT, "SM0123456789abcdef"
    failed.status, failed.error = MessageStatus.FAILED, "Recipient refused: 550 User unknown"
    db.session.commit()
    client = login(make_user())
    page = client.get("/outbox").get_data(as_text=True)
    assert "SM0123456789abcdef" in page
    assert "Recipient refused: 550 User unknown" in page
    only_failed = client.get("/outbox?status=failed").get_data(as_text=True)
    assert "gone@customer.example" in only_failed
    assert "SM0123456789abcdef" not in only_failed
    client.post(f"/outbox/{failed.id}/resend")
    db.session.expire_all()
    assert failed.status is MessageStatus.QUEUED


def test_admins_see_that_messages_are_not_really_sent(login, make_user, client, make_contact):
    from app.auth.models import Role

    page = login(make_user(Role.ADMIN)).get("/dashboard").get_data(as_text=True)
    assert "Messages are not really being sent" in page
    assert "emails are written to instance/mail/" in page


@pytest.mark.parametrize("role", ["caller", "sales_manager", "analyst"])
def test_other_roles_do_not_see_the_setup_banner(role, login, make_user):
    from app.auth.models import Role

    page = login(make_user(Role(role))).get("/dashboard").get_data(as_text=True)
    assert "deals lost" in page
    assert "Messages are not really being sent" not in page


def test_no_banner_when_smtp_and_twilio_are_configured(make_app, make_user):
    real = make_app(
        SMTP_HOST="smtp.example.com",
        TWILIO_ACCOUNT_SID="AC1",
        TWILIO_AUTH_TOKEN="t",
        TWILIO_FROM="+14155550000",
    )
    user = make_user()
    client = real.test_client()
    client.post("/login", data={"email": user.email, "password": "correct horse battery"})
    page = client.get("/dashboard").get_data(as_text=True)
    assert "deals lost" in page
    assert "Messages are not really being sent" not in page


def test_demo_data_fills_the_messaging_pages(demo, client):
    from app.auth.models import User

    password = next(line.split()[2] for line in demo.output.splitlines() if line.startswith("admin "))
    admin = db.session.scalar(select(User).where(User.email == "admin@winback.demo"))
    client.post("/login", data={"email": admin.email, "password": password})
    assert "User unknown" in client.get("/outbox?status=failed").get_data(as_text=True)
    assert "competitor-rival.example" in client.get("/do-not-contact").get_data(as_text=True)
    assert "Who is this?" in client.get("/replies").get_data(as_text=True)

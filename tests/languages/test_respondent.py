"""A German contact gets the German invitation, pages, errors and footer; the answers are the same data."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import select

from app.extensions import db
from app.messaging.delivery import claim_due_messages, deliver_claimed
from app.messaging.models import OutboundMessage
from app.messaging.transports import LogSmsTransport, Transports
from app.organisation.service import forget_brand, update_organisation
from surveys.invitations import DEFAULT_TEMPLATES, queue_invitation_message
from surveys.models import Answer
from surveys.results import responses_for, summarise
from tests.survey_helpers import NOW, invite


def _page1(version, reason="price"):
    q = [question.id for question in version.questions]
    return {"page": "1", "action": "next", f"q{q[0]}": reason}


def test_a_german_contact_receives_the_german_invitation_by_real_smtp(
    translated, make_account, make_contact, smtp_server, smtp_transport
):
    sink, _port = smtp_server
    version = translated()
    anna = make_contact(make_account(country="DE"), first_name="Anna", email="anna@kunde.example")
    invitation, token = invite(version, anna)
    queue_invitation_message(invitation, DEFAULT_TEMPLATES, kind="invitation", now=NOW, sender="Morgan")
    db.session.commit()
    ids = claim_due_messages(worker_id="w1", now=NOW)
    stats = deliver_claimed(ids, Transports(email=smtp_transport, sms=LogSmsTransport()), worker_id="w1")
    assert stats.sent == 1
    [received] = sink.received
    message = received.message
    assert received.rcpt_tos == ["anna@kunde.example"]
    assert message["Subject"] == "Zwei Minuten zu Ihrer Entscheidung für einen anderen Anbieter?"
    body = message.get_body(("plain",)).get_content()
    assert body.startswith("Guten Tag Anna,")
    assert f"/s/{token}" in body
    assert "Sie möchten diese E-Mails nicht mehr erhalten?" in body
    assert "\nAbmelden: http" in body  # the legal footer's unsubscribe line, in German too
    assert db.session.scalar(select(OutboundMessage)).meta["language"] == "de"


def test_the_survey_shows_german_chrome_questions_and_required_message(
    translated, make_account, make_contact, client
):
    version = translated()
    _, token = invite(version, make_contact(make_account(country="AT")))
    page = client.get(f"/s/{token}").get_data(as_text=True)
    assert '<html lang="de"' in page
    assert "Helfen Sie uns, Ihre Entscheidung zu verstehen" in page
    assert "Was war der Hauptgrund für Ihre Entscheidung für eine andere Lösung?" in page
    assert "Seite 1 von etwa 4" in page
    assert "(Pflichtfeld)" in page
    assert ">Weiter</button>" in page
    assert "Sonstiges, bitte angeben" in page
    assert 'hreflang="fr"' in page
    assert 'hreflang="en"' in page
    refused = client.post(f"/s/{token}", data={"page": "1", "action": "next"})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "Diese Frage muss beantwortet werden." in html
    assert "Bitte prüfen Sie diese Antwort" in html
    assert "This question needs an answer" not in html


def test_lang_on_any_survey_link_shows_that_language_where_the_survey_has_it(
    translated, make_account, make_contact, client
):
    version = translated(("de",))
    _, token = invite(version, make_contact(make_account(country="DE")))
    french = client.get(f"/s/{token}?lang=fr").get_data(as_text=True)  # no French: the contact's German
    assert '<html lang="de"' in french
    assert "Seite 1 von" in french
    english = client.get(f"/s/{token}?lang=en").get_data(as_text=True)
    assert '<html lang="en"' in english
    assert "Help us understand your decision" in english
    # The chosen language stays on the next page: the form and the redirect carry it.
    assert f'action="/s/{token}?lang=en"' in english
    moved = client.post(f"/s/{token}?lang=en", data=_page1(version))
    assert moved.headers["Location"].endswith("page=2&lang=en")
    assert "Page 2 of" in client.get(moved.headers["Location"]).get_data(as_text=True)


def test_a_german_answer_counts_in_the_same_reports_as_an_english_one(
    translated, make_account, make_contact, client
):
    version = translated()
    _, german = invite(version, make_contact(make_account(country="DE"), language="de"))
    _, english = invite(version, make_contact(make_account(country="US")))
    for token in (german, english):
        assert client.post(f"/s/{token}", data=_page1(version)).status_code == 302
    stored = db.session.scalars(
        select(Answer.choices).where(Answer.question_id == version.questions[0].id)
    ).all()
    assert stored == [["price"], ["price"]]  # by option key, whatever label was shown
    summary = summarise(version, responses_for(version))[0]
    assert dict(summary.counts)["Price"] == 2


def test_the_unsubscribe_page_speaks_the_contacts_language(translated, make_account, make_contact, client):
    version = translated()
    _, token = invite(version, make_contact(make_account(country="FR")))
    survey_page = client.get(f"/s/{token}").get_data(as_text=True)
    assert "Se désabonner de ces messages" in survey_page
    link = re.search(r'href="(http[^"]*/unsubscribe/[^"]+)"', survey_page).group(1)
    page = client.get(urlsplit(link).path).get_data(as_text=True)
    assert '<html lang="fr"' in page
    assert "Souhaitez-vous ne plus recevoir d’e-mails de notre part ?" in page
    assert "Oui, me désabonner" in page
    staff = client.get("/login").get_data(as_text=True)  # the next page is no longer French
    assert '<html lang="en"' in staff


def test_translated_chrome_escapes_what_it_fills_in(translated, make_account, make_contact, client):
    update_organisation(name="<b>Müller & Söhne</b>", brand_colour="", postal_address="", now=NOW)
    db.session.commit()
    try:
        version = translated()
        _, token = invite(version, make_contact(make_account(country="DE")))
        page = client.get(f"/s/{token}").get_data(as_text=True)
        assert "Ihre Antworten sieht nur &lt;b&gt;Müller &amp; Söhne&lt;/b&gt;." in page
    finally:
        forget_brand()


def test_a_closed_link_gives_its_date_as_the_contacts_language_writes_dates(
    translated, make_account, make_contact, client
):
    version = translated()
    closed = NOW - timedelta(days=1)
    _, german = invite(version, make_contact(make_account(country="DE")), expires_at=closed)
    _, french = invite(version, make_contact(make_account(country="FR")), expires_at=closed)
    _, english = invite(version, make_contact(make_account(country="US")), expires_at=closed)
    assert "Dieser Link war bis zum 1. November 2026 gültig" in client.get(f"/s/{german}").get_data(
        as_text=True
    )
    assert "Ce lien était ouvert jusqu’au 1 novembre 2026" in client.get(f"/s/{french}").get_data(
        as_text=True
    )
    assert "This link was open until November 1, 2026" in client.get(f"/s/{english}").get_data(as_text=True)

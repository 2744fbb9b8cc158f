"""Customers see who is asking: organisation name, logo, brand colour and postal address; campaign senders."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from app.auth.models import Role
from app.errors import ValidationError
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.models import OutboundMessage
from app.messaging.optout import opt_out_url
from app.messaging.transports import build_email
from app.organisation.models import Organisation
from app.organisation.service import (
    LOGO_MAX_BYTES,
    contrast_ratio,
    forget_brand,
    normalise_colour,
    update_organisation,
)
from campaigns.models import Campaign, CampaignKind, CampaignStatus
from surveys.invitations import DEFAULT_TEMPLATES, queue_invitation_message
from tests.survey_helpers import NOW, invite, published_survey

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _fresh_brand(app):
    forget_brand()
    yield
    forget_brand()  # the next test's empty tables must not meet this test's cached brand


@pytest.fixture
def admin(login, make_user):
    return login(make_user(Role.ADMIN))


def _settings(**fields):
    return {
        "name": "Acme Analytics",
        "brand_colour": "",
        "postal_address": "1 Main St\nSpringfield",
        **fields,
    }


def test_contrast_is_computed_as_wcag_defines_it():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21)
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    assert normalise_colour("#767676") == "#767676"
    assert normalise_colour("1D4ED8") == "#1d4ed8"
    assert normalise_colour("#03c") == "#0033cc"
    assert normalise_colour("  ") is None


def test_a_colour_below_4_5_to_1_on_white_is_refused_with_a_darker_suggestion():
    with pytest.raises(ValidationError) as refused:
        normalise_colour("#ffcc00")
    message = refused.value.message
    assert "#ffcc00 has a contrast of 1.5:1 on white" in message
    suggestion = re.search(r"Try (#[0-9a-f]{6})", message).group(1)
    assert contrast_ratio(suggestion, "#ffffff") >= 4.5
    with pytest.raises(ValidationError):
        normalise_colour("red")


def test_admin_saves_the_organisation_with_a_logo_served_from_the_app(admin, client):
    response = admin.post(
        "/settings/organisation",
        data={**_settings(brand_colour="#1d4ed8"), "logo": (io.BytesIO(PNG), "logo.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    organisation = db.session.get(Organisation, 1)
    assert (organisation.name, organisation.brand_colour) == ("Acme Analytics", "#1d4ed8")
    assert organisation.logo_type == "image/png"
    served = client.get("/brand/logo")
    assert served.status_code == 200
    assert served.data == PNG
    assert served.mimetype == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    css = client.get("/brand.css").get_data(as_text=True)
    assert "--pico-primary-background: #1d4ed8;" in css


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "must be a PNG, JPEG"),
        (PNG + b"\x00" * LOGO_MAX_BYTES, "keep it under 200 KB"),
    ],
)
def test_a_logo_of_the_wrong_type_or_size_is_refused(admin, upload, message):
    response = admin.post(
        "/settings/organisation",
        data={**_settings(), "logo": (io.BytesIO(upload), "logo.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    stored = db.session.get(Organisation, 1)
    assert stored is None or stored.logo is None


def test_a_light_brand_colour_is_refused_on_the_page_and_nothing_changes(admin):
    response = admin.post("/settings/organisation", data=_settings(brand_colour="#ffcc00"))
    assert response.status_code == 422
    assert "needs at least 4.5:1" in response.get_data(as_text=True) or "at least 4.5:1" in response.get_data(
        as_text=True
    )
    stored = db.session.get(Organisation, 1)
    assert stored is None or stored.brand_colour is None


def test_only_admins_open_the_settings(login, make_user):
    assert login(make_user(Role.ANALYST)).get("/settings/organisation").status_code == 403


def test_survey_pages_show_the_organisation(client, make_contact):
    update_organisation(
        name="Acme Analytics", brand_colour="#1d4ed8", postal_address="1 Main St", logo=PNG, now=NOW
    )
    db.session.commit()
    version = published_survey().published
    invitation, token = invite(version, make_contact())
    html = client.get(f"/s/{token}").get_data(as_text=True)
    assert "Acme Analytics" in html
    assert 'class="brand-logo" src="/brand/logo?v=' in html
    assert 'alt="Acme Analytics"' in html
    assert "/brand.css" in html
    assert " style=" not in html  # the colour comes from a stylesheet: no inline styles


def test_survey_pages_without_settings_show_no_brand(client, make_contact):
    version = published_survey().published
    invitation, token = invite(version, make_contact())
    html = client.get(f"/s/{token}").get_data(as_text=True)
    assert "brand-logo" not in html
    assert "/brand.css" not in html
    assert client.get("/brand/logo").status_code == 404


def test_emails_end_with_the_organisation_name_and_postal_address(make_contact):
    update_organisation(
        name="Acme Analytics", brand_colour="", postal_address="1 Main St\nSpringfield", now=NOW
    )
    version = published_survey().published
    invitation, _ = invite(version, make_contact())
    message = queue_invitation_message(
        invitation, DEFAULT_TEMPLATES, kind="invitation", now=NOW, sender="Kim"
    )
    unsubscribe = opt_out_url(invitation.contact, Channel.EMAIL)
    assert message.body_text.rstrip().endswith(
        f"--\nAcme Analytics\n1 Main St\nSpringfield\nUnsubscribe: {unsubscribe}"
    )
    assert "Acme Analytics<br>1 Main St<br>Springfield<br>" in message.body_html
    assert f'<a href="{unsubscribe}">Unsubscribe</a>' in message.body_html
    assert "<img" not in message.body_html  # no logo uploaded


def test_html_emails_show_the_logo_from_the_app(make_contact, app):
    update_organisation(name="Acme & Co", brand_colour="", postal_address="1 Main St", logo=PNG, now=NOW)
    version = published_survey().published
    invitation, _ = invite(version, make_contact())
    message = queue_invitation_message(
        invitation, DEFAULT_TEMPLATES, kind="invitation", now=NOW, sender="Kim"
    )
    base = app.config["PUBLIC_BASE_URL"].rstrip("/")
    assert message.body_html.startswith(f'<p><img src="{base}/brand/logo?v=')
    assert 'alt="Acme &amp; Co"' in message.body_html


def test_campaign_emails_come_from_the_campaign_sender_with_its_reply_to(make_contact, make_opportunity, app):
    from campaigns.enrollment import enroll_campaign

    version = published_survey().published
    contact = make_contact()
    make_opportunity(account=contact.account, primary_contact=contact)
    campaign = Campaign(
        name="Spring",
        kind=CampaignKind.SURVEY,
        status=CampaignStatus.ACTIVE,
        survey_channel=Channel.EMAIL,
        survey_version_id=version.id,
        cooldown_days=90,
        max_contacts_per_account=1,
        from_name="Morgan at Acmé",
        from_email="morgan@acme.example",
        reply_to="team@acme.example",
    )
    db.session.add(campaign)
    db.session.commit()
    enroll_campaign(campaign, now=NOW)
    db.session.commit()
    message = db.session.scalars(select(OutboundMessage)).one()
    email = build_email(message, mail_from=app.config["MAIL_FROM"])
    assert "morgan@acme.example" in email["From"]
    assert "=?utf-8?" in email["From"]  # the accented name is encoded, not raw
    assert email["Reply-To"] == "team@acme.example"
    assert email["Message-ID"].endswith("@localhost>")  # the app's domain still signs the Message-ID


def test_without_a_campaign_sender_the_app_default_is_used(make_contact, app):
    version = published_survey().published
    invitation, _ = invite(version, make_contact())
    message = queue_invitation_message(
        invitation, DEFAULT_TEMPLATES, kind="invitation", now=NOW, sender="Kim"
    )
    email = build_email(message, mail_from="Winback <winback@localhost>")
    assert email["From"] == "Winback <winback@localhost>"
    assert email["Reply-To"] is None


def test_a_line_break_never_reaches_the_from_header(make_contact):
    version = published_survey().published
    invitation, _ = invite(version, make_contact())
    message = queue_invitation_message(
        invitation,
        DEFAULT_TEMPLATES,
        kind="invitation",
        now=NOW,
        sender="Kim",
        from_address="Eve\r\nBcc: all@example.com <eve@acme.example>",
    )
    email = build_email(message, mail_from="Winback <winback@localhost>")
    assert "\n" not in str(email["From"])
    assert email["Bcc"] is None


def test_the_campaign_form_stores_the_sender_fieldset(login, make_user):
    from tests.campaigns.test_views import FORM

    admin = login(make_user(Role.ADMIN))
    fields = {"from_name": "Morgan", "from_email": "morgan@acme.example", "reply_to": "team@acme.example"}
    assert admin.post("/campaigns/new", data={**FORM, **fields}).status_code == 302
    campaign = db.session.scalars(select(Campaign)).one()
    assert campaign.from_address("winback@localhost") == "Morgan <morgan@acme.example>"
    assert campaign.reply_to == "team@acme.example"
    bad = admin.post("/campaigns/new", data={**FORM, "from_email": "not an address", "from_name": "A\r\nB"})
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "Enter an email address" in page
    assert "Letters, not &lt;, &gt; or quotes." in page or "Letters, not" in page


def test_there_is_only_ever_one_organisation():
    from sqlalchemy.exc import IntegrityError

    update_organisation(name="Acme", brand_colour="", postal_address="", now=NOW)
    db.session.commit()
    db.session.add(Organisation(id=2, name="Other", postal_address=""))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_the_campaign_page_says_who_its_emails_come_from(login, make_user):
    version = published_survey().published
    campaign = Campaign(
        name="Spring",
        kind=CampaignKind.SURVEY,
        status=CampaignStatus.DRAFT,
        survey_channel=Channel.EMAIL,
        survey_version_id=version.id,
        cooldown_days=90,
        max_contacts_per_account=1,
        from_name="Morgan",
        from_email="morgan@acme.example",
        reply_to="team@acme.example",
    )
    db.session.add(campaign)
    db.session.commit()
    html = login(make_user(Role.ADMIN)).get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "Morgan &lt;morgan@acme.example&gt;, replies to team@acme.example" in html

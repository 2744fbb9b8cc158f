"""Campaign pages: roles, the form with template errors and preview, status changes, CSRF."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.auth.models import Role
from app.extensions import db
from campaigns.models import Campaign, CampaignStateError, CampaignStatus, Enrollment

from .conftest import NOW

FORM = {
    "name": "Lost on price, Q4",
    "kind": "both",
    "survey_channel": "email",
    "survey_version_id": "0",
    "lost_within_days": "365",
    "wait_days_after_close": "0",
    "max_contacts_per_account": "1",
    "cooldown_days": "90",
    "from_name": "Morgan at Winback",
    "email_subject": "{{ first_name }}, a question about {{ company }}",
    "email_text": "Hi {{ first_name }},\n{{ survey_link }}\nStop: {{ opt_out_link }}\n{{ sender }}",
    "reminder_max": "2",
    "reminder_min_days": "3",
    "call_max_attempts": "3",
    "retry_no_answer": "4",
    "retry_busy": "1",
    "retry_voicemail": "24",
    "calling_window_start": "09:00",
    "calling_window_end": "17:30",
}


@pytest.fixture
def admin_client(make_user, login):
    return login(make_user(Role.ADMIN))


def _deal(make_contact, make_opportunity, **contact_fields):
    contact = make_contact(**contact_fields)
    make_opportunity(account=contact.account, primary_contact=contact)
    return contact


def test_admin_creates_a_campaign_with_every_setting_stored(admin_client, make_user):
    caller = make_user(Role.CALLER, name="Casey Caller")
    response = admin_client.post("/campaigns/new", data={**FORM, "callers": [str(caller.id)]})

    assert response.status_code == 302
    campaign = db.session.scalars(select(Campaign)).one()
    assert campaign.status is CampaignStatus.DRAFT
    assert campaign.kind.value == "both"
    assert campaign.lost_within_days == 365
    assert campaign.call_retry_hours == {"no_answer": 4, "busy": 1, "voicemail": 24}
    assert campaign.calling_window_end.strftime("%H:%M") == "17:30"
    assert [user.name for user in campaign.callers] == ["Casey Caller"]
    assert campaign.email_subject == FORM["email_subject"]


def test_an_unknown_merge_field_is_shown_in_the_form_and_nothing_is_saved(admin_client):
    response = admin_client.post("/campaigns/new", data={**FORM, "email_text": "Hi {{ frist_name }}"})

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Unknown merge field: &#39;frist_name&#39; is undefined" in page
    assert 'aria-invalid="true"' in page
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_a_template_syntax_error_is_an_error_too(admin_client):
    response = admin_client.post("/campaigns/new", data={**FORM, "sms_text": "Hi {{ first_name"})
    assert "syntax error on line 1" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_edit_page_previews_templates_with_a_real_contact(
    admin_client, make_campaign, make_contact, make_opportunity, make_account
):
    contact = _deal(
        make_contact, make_opportunity, first_name="Ingrid", account=make_account(name="Fjord Foods")
    )
    campaign = make_campaign(
        status=CampaignStatus.DRAFT,
        email_subject="{{ first_name }} at {{ company }}",
        email_text="{{ survey_link }}",
    )

    page = admin_client.get(f"/campaigns/{campaign.id}/edit").get_data(as_text=True)

    assert f"As <strong>{contact.full_name}</strong> (Fjord Foods)" in page
    assert "Ingrid at Fjord Foods" in page
    assert "http://winback.test/s/preview" in page


def test_preview_json_and_server_rendered_page_give_the_same_numbers(
    admin_client, make_campaign, make_contact, make_opportunity
):
    _deal(make_contact, make_opportunity)
    _deal(make_contact, make_opportunity)
    _deal(make_contact, make_opportunity, erased_at=NOW)
    campaign = make_campaign(status=CampaignStatus.DRAFT, lost_within_days=3650, kind="call")

    page = admin_client.get(f"/campaigns/{campaign.id}/edit").get_data(as_text=True)
    data = admin_client.post(
        "/campaigns/preview", data={**FORM, "kind": "call", "lost_within_days": "3650"}
    ).get_json()

    assert data["deals"] == 3
    assert data["contacts"] == 3
    assert data["eligible"] == 2
    assert data["by_reason"] == {"erased": 1}
    numbers = dict(re.findall(r'data-preview="(\w+)">(\d+)<', page))
    assert numbers == {"deals": "3", "contacts": "3", "eligible": "2", "suppressed": "1"}
    assert "Contact erased: 1" in page


def test_preview_json_reports_template_errors_beside_the_counts(admin_client, make_contact, make_opportunity):
    _deal(make_contact, make_opportunity, first_name="Ana")
    data = admin_client.post("/campaigns/preview", data={**FORM, "email_subject": "{{ nope }}"}).get_json()
    assert data["errors"]["email_subject"] == [
        "Unknown merge field: 'nope' is undefined. Known fields: company, first_name, last_name, "
        "opt_out_link, sender, survey_link"
    ]
    rendered = {t["name"]: t for t in data["templates"]}
    assert rendered["email_text"]["text"].startswith("Hi Ana,")
    assert rendered["email_subject"]["error"].startswith("Unknown merge field")


def test_status_moves_and_a_wrong_move_is_refused(admin_client, make_campaign):
    campaign = make_campaign(status=CampaignStatus.DRAFT)
    url = f"/campaigns/{campaign.id}/status"

    admin_client.post(url, data={"action": "activate", "confirmed": "yes"})
    admin_client.post(url, data={"action": "pause"})
    refused = admin_client.post(url, data={"action": "pause"}, follow_redirects=True)

    assert "A paused campaign cannot be paused." in refused.get_data(as_text=True)
    assert db.session.get(Campaign, campaign.id).status is CampaignStatus.PAUSED


@pytest.mark.parametrize(
    ("start", "moves", "end"),
    [
        (CampaignStatus.DRAFT, ["activate"], CampaignStatus.ACTIVE),
        (CampaignStatus.ACTIVE, ["pause", "resume"], CampaignStatus.ACTIVE),
        (CampaignStatus.PAUSED, ["finish"], CampaignStatus.FINISHED),
        (CampaignStatus.FINISHED, ["activate"], None),
        (CampaignStatus.DRAFT, ["pause"], None),
        (CampaignStatus.ACTIVE, ["resume"], None),
    ],
)
def test_campaign_status_transitions(start, moves, end):
    campaign = Campaign(name="x", kind="call", status=start)
    for move in moves[:-1]:
        getattr(campaign, move)(now=NOW)
    if end is None:
        with pytest.raises(CampaignStateError):
            getattr(campaign, moves[-1])(now=NOW)
        assert campaign.status is start
        return
    getattr(campaign, moves[-1])(now=NOW)
    assert campaign.status is end


def test_enroll_now_button_enrolls_and_the_detail_page_shows_counts(
    admin_client, make_campaign, make_contact, make_opportunity
):
    _deal(make_contact, make_opportunity)
    _deal(make_contact, make_opportunity, phone=None)
    campaign = make_campaign(name="Win back Q4")

    page = admin_client.post(f"/campaigns/{campaign.id}/enroll", follow_redirects=True).get_data(as_text=True)

    assert "2 new enrollments (1 suppressed)." in page
    assert 'No email or phone for this channel</td><td class="num">1' in page
    assert db.session.scalar(select(func.count()).select_from(Enrollment)) == 2


def test_callers_see_only_their_campaigns_and_cannot_edit(make_user, login, make_campaign):
    caller = make_user(Role.CALLER)
    mine = make_campaign(name="My calls")
    mine.callers = [caller]
    theirs = make_campaign(name="Someone else's calls")
    db.session.commit()
    client = login(caller)

    listing = client.get("/campaigns").get_data(as_text=True)

    assert "My calls" in listing
    assert "Someone else" not in listing
    assert "New campaign" not in listing
    assert client.get(f"/campaigns/{mine.id}").status_code == 200
    assert client.get(f"/campaigns/{theirs.id}").status_code == 404
    assert client.get(f"/campaigns/{mine.id}/edit").status_code == 403
    assert client.post("/campaigns/preview", data=FORM).status_code == 403
    assert client.post(f"/campaigns/{mine.id}/status", data={"action": "finish"}).status_code == 403
    assert db.session.get(Campaign, mine.id).status is CampaignStatus.ACTIVE


@pytest.mark.parametrize("role", [Role.ANALYST, Role.SALES_MANAGER])
def test_other_roles_do_not_see_campaigns(role, make_user, login, make_campaign):
    campaign = make_campaign()
    client = login(make_user(role))
    assert client.get("/campaigns").status_code == 403
    assert client.get(f"/campaigns/{campaign.id}").status_code == 403
    assert "Campaigns" not in client.get("/opportunities").get_data(as_text=True)


def test_campaign_form_requires_a_csrf_token(make_app, make_user):
    csrf_app = make_app(WTF_CSRF_ENABLED=True)
    admin = make_user(Role.ADMIN)
    client = csrf_app.test_client()
    login_page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    client.post(
        "/login", data={"email": admin.email, "password": "correct horse battery", "csrf_token": token}
    )

    refused = client.post("/campaigns/new", data=FORM)
    form_page = client.get("/campaigns/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form_page).group(1)
    accepted = client.post("/campaigns/new", data={**FORM, "csrf_token": token})

    assert refused.status_code in {400, 422}
    assert accepted.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 1


def test_errors_on_save_are_summarised_at_the_top_with_a_link_to_each_field(admin_client):
    response = admin_client.post(
        "/campaigns/new", data={**FORM, "name": "", "email_text": "Hi {{ frist_name }}", "amount_min": "x"}
    )

    page = response.get_data(as_text=True)
    summary = page[page.index('id="error-summary"') : page.index("</div>", page.index('id="error-summary"'))]
    assert response.status_code == 422
    assert page.index('id="error-summary"') < page.index("<h1>")
    assert 'role="alert" tabindex="-1" autofocus' in page
    assert '<a href="#name">Name: This field is required.</a>' in summary
    assert '<a href="#email_text">Invitation text: Unknown merge field' in summary
    assert '<a href="#amount_min">' in summary
    assert 'id="name"' in page
    assert 'id="email_text"' in page


def test_a_valid_page_has_no_error_summary(admin_client):
    assert 'id="error-summary"' not in admin_client.get("/campaigns/new").get_data(as_text=True)


def test_targeting_choices_are_checkbox_lists_with_full_values_and_a_filter_box(
    admin_client, make_account, make_opportunity
):
    account = make_account(segment="Enterprise (strategic accounts)", region="North America East")
    make_opportunity(account=account, owner="Dana Scully-Mulder", crm_loss_reason="Price too high")

    page = admin_client.get("/campaigns/new").get_data(as_text=True)

    for name, value in [
        ("segments", "Enterprise (strategic accounts)"),
        ("regions", "North America East"),
        ("owners", "Dana Scully-Mulder"),
        ("loss_reasons", "Price too high"),
    ]:
        assert f'<fieldset class="checkbox-list" id="{name}"' in page
        assert re.search(
            rf'<input type="checkbox" name="{name}" id="{name}-0" value="{re.escape(value)}"', page
        )
        assert f"> {value}</label>" in page
        assert f'aria-controls="{name}-options"' in page
    assert "<select multiple" not in page
    assert 'src="/static/js/forms.js"' in page


def test_checked_boxes_are_saved_and_shown_checked_again(admin_client, make_account, make_opportunity):
    make_opportunity(account=make_account(segment="Enterprise", region="EMEA"), owner="Dana")
    admin_client.post("/campaigns/new", data={**FORM, "segments": ["Enterprise"], "owners": ["Dana"]})
    campaign = db.session.scalars(select(Campaign)).one()

    page = admin_client.get(f"/campaigns/{campaign.id}/edit").get_data(as_text=True)

    assert (campaign.segments, campaign.owners, campaign.regions) == (["Enterprise"], ["Dana"], [])
    assert re.search(r'id="segments-0" value="Enterprise"\s+checked>', page)
    assert re.search(r'id="regions-0" value="EMEA"\s+>', page)


def test_the_live_preview_returns_the_messages_rendered_by_the_server(
    admin_client, make_contact, make_opportunity
):
    _deal(make_contact, make_opportunity, first_name="Ana")

    data = admin_client.post(
        "/campaigns/preview", data={**FORM, "email_text": "Hi {{ first_name }} <b>", "sms_text": "{{ nope }}"}
    ).get_json()

    html = data["messages_html"]
    assert "Message preview" in html
    assert "<pre>Hi Ana &lt;b&gt;</pre>" in html
    assert "Unknown merge field" in html


def test_the_voicemail_to_drop_is_a_campaign_setting(admin_client):
    url = "https://media.example.com/voicemail.mp3"
    response = admin_client.post(
        "/campaigns/new", data={**FORM, "voicemail_audio_url": "http://media.example.com/v.mp3"}
    )
    assert response.status_code == 422
    assert "An https:// address." in response.get_data(as_text=True)
    text = "Hello, this is Winback: we will call again."
    response = admin_client.post(
        "/campaigns/new", data={**FORM, "voicemail_audio_url": url, "voicemail_text": text}
    )
    assert response.status_code == 302
    campaign = db.session.scalars(select(Campaign)).one()
    assert (campaign.voicemail_audio_url, campaign.voicemail_text) == (url, text)

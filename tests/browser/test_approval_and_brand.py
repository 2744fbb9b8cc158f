"""Approval by name in a browser (1280 and 375 px, axe on every page), and the branded unsubscribe page."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from sqlalchemy import func, select

from app.auth.models import Role
from app.db_types import utcnow
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.models import OutboundMessage
from app.messaging.optout import opt_out_url
from app.organisation.service import forget_brand, update_organisation
from campaigns.enrollment import enroll_campaign
from campaigns.models import Campaign, CampaignKind, CampaignStatus, Enrollment, EnrollmentStatus
from tests.browser.axe_rules import WCAG_21_AA
from tests.browser.test_campaign_walk import Walk
from tests.browser.test_import_pages import _sign_in
from tests.browser.test_survey_respondent import _png
from tests.survey_helpers import published_survey


@pytest.fixture
def organisation(app):
    update_organisation(
        name="Northbeam Software",
        brand_colour="#1d4ed8",
        postal_address="500 Howard Street\nSan Francisco, CA 94105",
        logo=_png(240, 60),
        now=utcnow(),
    )
    db.session.commit()
    yield
    forget_brand()


@pytest.fixture
def waiting(organisation, make_contact, make_opportunity):
    """An active email campaign with three people waiting for approval, each with a EUR deal."""
    names = ("Anna Becker", "Louis Martin", "Sanne de Vries")
    for n, name in enumerate(names):
        first, last = name.split(" ", 1)
        contact = make_contact(first_name=first, last_name=last)
        make_opportunity(
            account=contact.account,
            primary_contact=contact,
            name=f"Renewal {n}",
            amount=Decimal(48000 + n),
            currency="EUR",
        )
    campaign = Campaign(
        name="Lost in Q4",
        kind=CampaignKind.SURVEY,
        status=CampaignStatus.ACTIVE,
        survey_channel=Channel.EMAIL,
        survey_version_id=published_survey().published.id,
        requires_approval=True,
        from_name="Morgan at Northbeam",
        cooldown_days=90,
        max_contacts_per_account=1,
    )
    db.session.add(campaign)
    db.session.commit()
    enroll_campaign(campaign, now=utcnow())
    db.session.commit()
    return campaign


@pytest.mark.parametrize("width", [1280, 375])
def test_admin_approves_by_name_leaving_one_out_with_a_reason(
    browser, live_server, make_user, waiting, width
):
    context = browser.new_context(
        viewport={"width": width, "height": 900 if width > 400 else 812},
        is_mobile=width < 400,
        has_touch=width < 400,
    )
    page = context.new_page()
    walk = Walk(page, width)
    _sign_in(page, live_server, make_user(Role.ADMIN).email)

    page.goto(f"{live_server}/campaigns/{waiting.id}")
    page.get_by_role("link", name=re.compile("See who is waiting, by name")).click()
    page.wait_for_url(re.compile(r"/approval$"))
    table = page.get_by_role("region", name="Table: People waiting for approval")
    expect(table).to_contain_text("Louis Martin")
    expect(table).to_contain_text("€48,001")
    expect(table).to_contain_text("Renewal 1")
    button = page.locator("[data-approval-count]")
    expect(button).to_have_text("Review: contact 3")
    walk.check("approval page")

    page.get_by_role("link", name="none", exact=True).click()
    expect(button).to_have_text("Review: contact 0, leave out 3")
    page.get_by_role("link", name="all", exact=True).click()
    expect(button).to_have_text("Review: contact 3")
    page.get_by_role("checkbox", name="Contact Louis Martin").uncheck()
    expect(button).to_have_text("Review: contact 2, leave out 1")
    page.get_by_label("Why the unticked people are left out").fill("Already renewing with us")
    button.click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Contact 2 people?")
    expect(page.locator("main")).to_contain_text("Louis Martin")
    walk.check("approval confirmation")
    assert db.session.scalar(select(func.count()).select_from(OutboundMessage)) == 0
    page.get_by_role("button", name="Yes, contact 2 and leave out 1").click()
    expect(page.get_by_role("status").filter(has_text="2 approved, 2 contacted; 1 left out.")).to_be_visible()
    walk.check("approval page after")
    context.close()

    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(OutboundMessage)) == 2
    left_out = db.session.scalars(
        select(Enrollment).where(Enrollment.status == EnrollmentStatus.EXCLUDED)
    ).one()
    assert left_out.contact.full_name == "Louis Martin"
    assert left_out.exclusion_reason == "Already renewing with us"


@pytest.mark.parametrize("width", [1280, 375])
def test_the_unsubscribe_page_shows_the_organisation(browser, live_server, organisation, make_contact, width):
    contact = make_contact()
    link = opt_out_url(contact, Channel.EMAIL).replace("http://winback.test", live_server)
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()

    page.goto(link)

    expect(page.get_by_role("img", name="Northbeam Software")).to_be_visible()
    expect(page.get_by_role("button", name="Yes, unsubscribe me")).to_have_css(
        "background-color", "rgb(29, 78, 216)"
    )
    expect(page.locator("footer")).to_contain_text("Messages from Northbeam Software.")
    results = Axe().run(page, options=WCAG_21_AA)
    assert results.violations_count == 0, results.generate_report()
    page.get_by_role("button", name="Yes, unsubscribe me").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are unsubscribed")
    expect(page.get_by_role("img", name="Northbeam Software")).to_be_visible()
    results = Axe().run(page, options=WCAG_21_AA)
    assert results.violations_count == 0, results.generate_report()
    context.close()

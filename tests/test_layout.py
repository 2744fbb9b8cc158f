"""The staff layout: grouped role-aware menu, page header, tables, empty states, style guide."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.auth.guard import roles_required
from app.auth.menu import MENU, NAV_GROUPS, MenuEntry, nav_for, nav_groups_for
from app.auth.models import Role
from app.crm.service import loss_summary
from tests.survey_helpers import published_survey


class _User:
    is_authenticated = True

    def __init__(self, role: Role):
        self.role = role


def _menu_labels(page: str) -> list[str]:
    wide = page.split('class="nav-wide"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r">([^<>]+)</(?:a|summary)>", wide)


def test_each_role_sees_only_the_groups_of_its_work(app):
    with app.test_request_context():
        caller = [g.label for g in nav_groups_for(_User(Role.CALLER))]
        admin = [g.label for g in nav_groups_for(_User(Role.ADMIN))]
        analyst = [g.label for g in nav_groups_for(_User(Role.ANALYST))]
        sales = [g.label for g in nav_groups_for(_User(Role.SALES_MANAGER))]
    assert caller == ["Deals", "Campaigns", "Calls", "Settings"]  # Settings › My password
    assert admin == ["Deals", "Campaigns", "Calls", "Surveys", "Coding", "Pipeline", "Reports", "Settings"]
    assert analyst == ["Deals", "Surveys", "Coding", "Reports", "Settings"]
    assert sales == ["Deals", "Pipeline", "Reports", "Settings"]
    assert all(group in NAV_GROUPS for group in admin)


def test_a_menu_item_whose_page_does_not_exist_is_not_shown(app, monkeypatch):
    future = MenuEntry("Reports", "Reports", "reports.home", position=0)
    monkeypatch.setitem(app.extensions, MENU, [*app.extensions[MENU], future])
    with app.test_request_context():
        assert "reports.home" not in [item.endpoint for item in nav_for(_User(Role.CALLER))]
        # Once the page exists, the roles of its guard decide who sees it.
        monkeypatch.setitem(app.view_functions, "reports.home", roles_required(Role.CALLER)(lambda: ""))
        groups = nav_groups_for(_User(Role.CALLER), "reports.home")
    assert [g.label for g in groups] == ["Deals", "Campaigns", "Calls", "Reports", "Settings"]
    assert groups[3].current
    assert not groups[0].current


def test_menu_items_show_to_the_roles_their_route_allows(app):
    with app.test_request_context():
        for role in Role:
            shown = {item.endpoint for item in nav_for(_User(role))}
            for entry in app.extensions[MENU]:
                allowed = role in app.view_functions[entry.endpoint].winback_access
                assert (entry.endpoint in shown) is allowed, (role, entry.endpoint)


def test_the_menu_of_a_caller_has_no_admin_pages(login, make_user):
    page = login(make_user(Role.CALLER)).get("/dashboard").get_data(as_text=True)
    labels = _menu_labels(page)
    assert "Lost deals" in labels
    assert "Campaigns" in labels
    for admin_page in ("Users", "Imports", "Outbox", "Style guide", "Settings"):
        assert admin_page not in labels
    assert 'aria-label="Main"' in page


def test_the_menu_of_an_admin_groups_pages_by_the_work(login, make_user):
    page = login(make_user(Role.ADMIN)).get("/users").get_data(as_text=True)
    labels = _menu_labels(page)
    assert labels.index("Deals") < labels.index("Lost deals") < labels.index("Campaigns")
    assert labels.index("Settings") < labels.index("Users")
    # The group of the current page is marked, and the page itself.
    assert 'class="dropdown nav-menu current"' in page
    assert '<a href="/users" aria-current="page">Users</a>' in page


def test_the_style_guide_shows_every_component_to_admins_only(login, make_user, app):
    client = login(make_user(Role.ADMIN))
    page = client.get("/styleguide").get_data(as_text=True)
    for component in (
        'class="page-header"',
        'class="page-actions"',
        'role="region" aria-label="Table: Example table" tabindex="0"',
        'aria-sort="ascending"',
        'rel="next"',
        'class="empty-state"',
        "flash flash-error",
        "flash flash-success",
        'type="checkbox"',
        'type="radio"',
        'aria-invalid="true"',
        "badge badge-bad",
        'class="row-details"',
    ):
        assert component in page, component
    assert page.count('rel="next"') == 2  # the pager on the first and a middle page, not on the last
    assert page.count('rel="prev"') == 2
    caller = app.test_client()
    caller.post("/login", data={"email": make_user(Role.CALLER).email, "password": "correct horse battery"})
    assert caller.get("/styleguide").status_code == 403


def test_sorting_a_table_is_kept_in_the_url_and_reverses_on_a_second_click(login, make_user, make_account):
    for name in ("Beta", "Alpha", "Gamma"):
        make_account(name=name)
    client = login(make_user(Role.CALLER))
    page = client.get("/accounts?sort=-name").get_data(as_text=True)
    assert page.index("Gamma") < page.index("Beta") < page.index("Alpha")
    assert 'aria-sort="descending"' in page
    assert 'href="/accounts?sort=name"' in page  # the next click sorts ascending
    page = client.get("/accounts?sort=name").get_data(as_text=True)
    assert page.index("Alpha") < page.index("Beta") < page.index("Gamma")


def test_an_unknown_sort_falls_back_to_the_default_order(login, make_user, make_account):
    for name in ("Beta", "Alpha"):
        make_account(name=name)
    response = login(make_user(Role.CALLER)).get("/accounts?sort=password_hash")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.index("Alpha") < page.index("Beta")


def test_deals_sort_by_amount_and_the_filters_keep_the_sort(login, make_user, make_opportunity):
    make_opportunity(name="Small deal", amount=Decimal("100"))
    make_opportunity(name="Big deal", amount=Decimal("90000"))
    client = login(make_user(Role.CALLER))
    page = client.get("/opportunities?sort=-amount&segment=").get_data(as_text=True)
    assert page.index("Big deal") < page.index("Small deal")
    assert '<input type="hidden" name="sort" value="-amount">' in page
    page = client.get("/opportunities?sort=amount").get_data(as_text=True)
    assert page.index("Small deal") < page.index("Big deal")


def test_pages_keep_the_filters_and_the_sort(login, make_user, make_account):
    for n in range(55):
        make_account(name=f"Account {n:02d}", segment="Enterprise")
    page = login(make_user(Role.CALLER)).get("/accounts?q=Account&sort=-name").get_data(as_text=True)
    next_link = re.search(r'<a href="([^"]+)" rel="next">', page).group(1).replace("&amp;", "&")
    assert "q=Account" in next_link
    assert "sort=-name" in next_link
    assert "page=2" in next_link


def test_empty_lists_say_what_to_do_next(login, make_user):
    client = login(make_user(Role.ADMIN))
    accounts = client.get("/accounts").get_data(as_text=True)
    assert "No account yet." in accounts
    assert 'href="/imports/upload"' in accounts or "Import a CRM export" in accounts
    deals = client.get("/opportunities?q=nothing-like-this").get_data(as_text=True)
    assert "No deal matches these filters." in deals
    assert "Clear the filters" in deals
    assert "Create the first campaign" in client.get("/campaigns").get_data(as_text=True)
    assert "No message yet." in client.get("/outbox").get_data(as_text=True)


def test_a_caller_is_not_sent_to_admin_pages_from_an_empty_state(login, make_user):
    page = login(make_user(Role.CALLER)).get("/accounts").get_data(as_text=True)
    assert "Ask an admin to import" in page
    assert "/imports/upload" not in page


def test_pages_have_one_header_with_their_primary_action(login, make_user):
    client = login(make_user(Role.ADMIN))
    for path, action in (
        ("/campaigns", "New campaign"),
        ("/imports/", "New import"),
        ("/do-not-contact", "Add an entry"),
        ("/users", "Add a user"),
        ("/surveys", "New survey"),
    ):
        page = client.get(path).get_data(as_text=True)
        header = page.split('class="page-header"', 1)[1].split("</div>\n</div>", 1)[0]
        assert action in header, path


def test_flash_messages_sit_in_a_fixed_region_out_of_the_flow(login, make_user):
    client = login(make_user(Role.ADMIN))
    response = client.post("/do-not-contact/import", data={})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Choose a file or paste a list first." in page
    assert '<div class="flashes">' in page
    assert page.index('<div class="flashes">') < page.index('class="page-header"')


def test_lost_revenue_without_rates_stays_one_total_per_currency(make_opportunity):
    from app.crm.service import lost_deals_since
    from app.money.service import money_total_of

    make_opportunity(amount=Decimal("1000"), currency="EUR", close_date=date(2026, 10, 1))
    make_opportunity(amount=Decimal("500"), currency="EUR", close_date=date(2026, 10, 2))
    make_opportunity(amount=Decimal("2000"), currency="GBP", close_date=date(2026, 10, 3))
    make_opportunity(amount=None, currency="USD", close_date=date(2026, 10, 4))
    summary = loss_summary(today=date(2026, 11, 1))
    assert summary.lost_count == 4
    lost = money_total_of(lost_deals_since(date(2026, 11, 1) - timedelta(days=summary.recent_window_days)))
    assert lost.total == Decimal("0.00")
    assert [(i.currency, i.amount, i.deals) for i in lost.not_converted] == [
        ("EUR", Decimal("1500.00"), 2),
        ("GBP", Decimal("2000.00"), 1),
    ]
    assert summary.lost_revenue == lost  # the dashboard's one pass gives money_total_of's answer


def test_the_loss_summary_converts_and_counts_in_one_pass(make_opportunity):
    from app.crm.models import Competitor
    from app.extensions import db
    from app.money.service import set_rate

    acme = Competitor(name="Acme")
    db.session.add(acme)
    set_rate(
        month=date(2026, 10, 1), currency="EUR", rate=Decimal("1.10"), now=datetime(2026, 10, 1, tzinfo=UTC)
    )
    make_opportunity(amount=Decimal("1000"), currency="EUR", close_date=date(2026, 10, 1), competitor=acme)
    make_opportunity(
        amount=Decimal("300"), currency="USD", close_date=date(2026, 10, 2), crm_loss_reason="Price"
    )
    make_opportunity(
        amount=Decimal("2000"), currency="GBP", close_date=date(2026, 10, 3), crm_loss_reason="Price"
    )
    make_opportunity(
        amount=Decimal("50"), currency="EUR", close_date=date(2026, 9, 3), crm_loss_reason="Timing"
    )
    summary = loss_summary(today=date(2026, 11, 1))
    assert summary.lost_count == 4
    assert summary.top_reasons == [("Price", 2), ("Timing", 1)]
    assert summary.top_competitors == [("Acme", 1)]
    # 1,000 € × 1.10 (October) + $300; September's euros and the pounds have no rate.
    assert (summary.lost_revenue.total, summary.lost_revenue.converted_deals) == (Decimal("1400.00"), 2)
    assert [(i.currency, i.amount, i.deals) for i in summary.lost_revenue.not_converted] == [
        ("EUR", Decimal("50.00"), 1),
        ("GBP", Decimal("2000.00"), 1),
    ]


def test_the_dashboard_never_adds_euros_and_pounds_into_dollars(login, make_user, make_opportunity):
    recent = date.today() - timedelta(days=10)
    make_opportunity(amount=Decimal("1000"), currency="EUR", close_date=recent)
    make_opportunity(amount=Decimal("2000"), currency="GBP", close_date=recent)
    page = login(make_user(Role.ANALYST)).get("/dashboard").get_data(as_text=True)
    # Without exchange rates both stay apart, as not converted (tests/reports/test_money.py converts).
    assert "€1,000 in 1 deal" in page
    assert "£2,000 in 1 deal" in page
    assert "$3,000" not in page
    assert "Not converted" in page


@pytest.mark.parametrize("role", [Role.ADMIN, Role.CALLER])
def test_every_table_scroll_region_is_focusable_and_labelled(role, login, make_user, make_opportunity):
    make_opportunity()
    client = login(make_user(role))
    paths = ["/dashboard", "/opportunities", "/accounts", "/campaigns"]
    if role is Role.ADMIN:
        paths += ["/users", "/imports/", "/outbox", "/replies", "/do-not-contact", "/surveys", "/styleguide"]
    for path in paths:
        page = client.get(path).get_data(as_text=True)
        assert 'class="overflow-auto">' not in page, path
        for region in re.findall(r'<div class="overflow-auto table-scroll"[^>]*>', page):
            assert 'tabindex="0"' in region, path
            assert re.search(r'aria-label="[^"]+"', region), path


def test_the_outbox_shows_key_columns_and_the_rest_in_a_details_row(login, make_user, make_contact):
    from datetime import UTC, datetime

    from app.extensions import db
    from app.messaging.channels import Channel
    from app.messaging.service import enqueue_message

    contact = make_contact(email="art@vandelay.example")
    enqueue_message(
        channel=Channel.EMAIL,
        recipient="art@vandelay.example",
        subject="Why did you choose another vendor?",
        body_text="Hello",
        idempotency_key="layout-1",
        contact=contact,
        now=datetime(2026, 3, 1, tzinfo=UTC),
    )
    db.session.commit()
    page = login(make_user(Role.ADMIN)).get("/outbox").get_data(as_text=True)
    header = page.split("<thead>", 1)[1].split("</thead>", 1)[0]
    assert re.findall(r'<th scope="col">([^<]+)</th>', header) == ["Created", "To", "Message", "Status"]
    assert '<details class="row-details">' in page
    assert "Provider id" in page.split('<details class="row-details">', 1)[1]


def test_survey_builder_move_buttons_name_their_own_question(login, make_user):
    from surveys.builder import QuestionSpec
    from surveys.models import QuestionKind

    survey = published_survey(
        [QuestionSpec(QuestionKind.SHORT_TEXT, f"Question {n}?", page=1) for n in range(1, 4)], name="Three"
    )
    page = login(make_user(Role.ADMIN)).get(f"/surveys/{survey.id}").get_data(as_text=True)
    for label in ("Move up", "Move down", "Delete"):
        numbers = re.findall(rf'{label}<span class="visually-hidden"> question (\d+)</span>', page)
        assert numbers == ["1", "2", "3"], label


def test_the_imports_menu_shows_the_api_tokens_link_the_api_registers(login, make_user):
    admin_page = login(make_user(Role.ADMIN)).get("/imports/").get_data(as_text=True)
    assert '<a href="/imports/api-tokens">API tokens</a>' in admin_page


def test_an_empty_outbox_links_to_the_campaigns_page_campaigns_registers(login, make_user):
    page = login(make_user(Role.ADMIN)).get("/outbox").get_data(as_text=True)
    assert "No message yet." in page
    assert '<a href="/campaigns">Go to the campaigns</a>' in page

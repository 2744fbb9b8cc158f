"""One reporting currency: monthly rates, conversion by close month, and amounts without a rate kept apart."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.auth.models import Role
from app.errors import ValidationError
from app.extensions import db
from app.money.models import ExchangeRate
from app.money.service import (
    Rates,
    import_rates,
    reporting_currency,
    set_rate,
    set_reporting_currency,
    total_in_reporting_currency,
)

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def test_reporting_currency_defaults_to_dollars_and_can_be_changed():
    assert reporting_currency() == "USD"
    set_reporting_currency(" eur ", now=NOW)
    assert reporting_currency() == "EUR"


@pytest.mark.parametrize("raw", ["", "EURO", "E1R", "€"])
def test_a_bad_currency_code_is_refused(raw):
    with pytest.raises(ValidationError):
        set_reporting_currency(raw, now=NOW)


def test_each_amount_converts_with_the_rate_of_its_close_month():
    set_rate(month=date(2026, 9, 1), currency="EUR", rate=Decimal("1.10"), now=NOW)
    set_rate(month=date(2026, 10, 1), currency="EUR", rate=Decimal("1.20"), now=NOW)
    set_rate(month=date(2026, 10, 1), currency="GBP", rate=Decimal("1.30"), now=NOW)
    rows = [
        ("EUR", date(2026, 9, 30), Decimal("1000"), 1),  # 1,100.00
        ("EUR", date(2026, 10, 1), Decimal("1000"), 2),  # 1,200.00
        ("GBP", date(2026, 10, 15), Decimal("500"), 1),  # 650.00
        ("USD", date(2026, 10, 15), Decimal("250.50"), 1),  # the reporting currency: as it is
        ("GBP", date(2026, 11, 2), Decimal("400"), 1),  # no GBP rate for November
        ("JPY", date(2026, 10, 2), Decimal("90000"), 3),  # no JPY rate at all
        ("GBP", None, Decimal("100"), 1),  # no close date, no month
        ("USD", date(2026, 10, 3), None, 1),  # no amount: not money
    ]
    result = total_in_reporting_currency(rows)
    assert result.currency == "USD"
    assert result.total == Decimal("3200.50")  # 1100 + 1200 + 650 + 250.50; never the 90,500 without a rate
    assert result.converted_deals == 5
    assert [(i.currency, i.amount, i.deals) for i in result.not_converted] == [
        ("GBP", Decimal("500"), 2),
        ("JPY", Decimal("90000"), 3),
    ]
    assert result.not_converted_deals == 5


def test_rates_of_an_earlier_reporting_currency_are_not_used():
    set_rate(month=date(2026, 10, 1), currency="EUR", rate=Decimal("1.20"), now=NOW)
    set_reporting_currency("GBP", now=NOW)
    rates = Rates.load()
    assert rates.convert(Decimal("100"), "EUR", date(2026, 10, 5)) is None
    assert rates.convert(Decimal("100"), "GBP", date(2026, 10, 5)) == Decimal("100.00")


def test_saving_a_rate_twice_replaces_it():
    set_rate(month=date(2026, 10, 1), currency="EUR", rate=Decimal("1.20"), now=NOW)
    set_rate(month=date(2026, 10, 1), currency="EUR", rate=Decimal("1.25"), now=NOW)
    rates = db.session.scalars(db.select(ExchangeRate)).all()
    assert [(r.currency, r.rate) for r in rates] == [("EUR", Decimal("1.25"))]


def test_the_reporting_currency_has_no_rate_of_its_own():
    with pytest.raises(ValidationError, match="reporting currency"):
        set_rate(month=date(2026, 10, 1), currency="USD", rate=Decimal("1"), now=NOW)


def test_a_rate_file_saves_good_lines_and_reports_bad_ones_by_line():
    text = (
        '\ufeffMonth,Currency,Rate\n2026-10,EUR,1.08\n2026-13,EUR,1.1\n2026-11,eur,0\n\n2026-11,GBP,"1,27"\n'
    )
    result = import_rates(text, now=NOW)
    assert result.saved == 2
    assert [line for line, _ in result.errors] == [3, 4]
    assert "YYYY-MM" in result.errors[0][1]
    rates = Rates.load()
    assert rates.rate("EUR", date(2026, 10, 31)) == Decimal("1.08")
    assert rates.rate("GBP", date(2026, 11, 1)) == Decimal("1.27")


def test_a_rate_file_without_the_columns_is_refused():
    with pytest.raises(ValidationError, match="month, currency and rate"):
        import_rates("date,code\n2026-10,EUR\n", now=NOW)


def test_admin_sets_currency_and_rates_on_the_page(login, make_user):
    client = login(make_user(Role.ADMIN))
    assert client.get("/settings/currency").status_code == 200
    assert client.post("/settings/currency", data={"currency": "eur"}).status_code == 302
    response = client.post(
        "/settings/currency/rates", data={"month": "2026-10", "currency": "USD", "rate": "0.92"}
    )
    assert response.status_code == 302
    page = client.get("/settings/currency").get_data(as_text=True)
    assert "Rates into EUR" in page
    assert "0.92" in page
    bad = client.post("/settings/currency/rates", data={"month": "October", "currency": "USD", "rate": "x"})
    assert bad.status_code == 422
    assert "YYYY-MM" in bad.get_data(as_text=True)
    rate = db.session.scalar(db.select(ExchangeRate))
    assert client.post(f"/settings/currency/rates/{rate.id}/delete").status_code == 302
    assert db.session.scalar(db.select(ExchangeRate)) is None


def test_admin_imports_and_downloads_rates(login, make_user):
    client = login(make_user(Role.ADMIN))
    upload = (io.BytesIO(b"month,currency,rate\n2026-10,EUR,1.08\n2026-10,XX,1\n"), "rates.csv")
    response = client.post(
        "/settings/currency/import", data={"file": upload}, content_type="multipart/form-data"
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "1 rates saved; 1 lines were not read" in page
    assert "three-letter ISO code" in page
    download = client.get("/settings/currency/rates.csv")
    assert download.get_data(as_text=True) == "\ufeffmonth,currency,rate\r\n2026-10,EUR,1.08\r\n"
    assert "attachment" in download.headers["Content-Disposition"]


def test_a_binary_rate_file_is_refused_politely(login, make_user):
    client = login(make_user(Role.ADMIN))
    upload = (io.BytesIO(b"\xff\xfe\x00bad"), "rates.csv")
    response = client.post(
        "/settings/currency/import", data={"file": upload}, content_type="multipart/form-data"
    )
    assert response.status_code == 422
    assert "UTF-8" in response.get_data(as_text=True)


def test_the_dashboard_shows_one_converted_total_and_lists_what_is_not_converted(
    login, make_user, make_opportunity
):
    recent = date.today() - timedelta(days=10)
    make_opportunity(amount=Decimal("1000"), currency="EUR", close_date=recent)
    make_opportunity(amount=Decimal("2000"), currency="GBP", close_date=recent)
    make_opportunity(amount=Decimal("300"), currency="USD", close_date=recent)
    set_rate(month=recent.replace(day=1), currency="EUR", rate=Decimal("1.1"), now=NOW)
    db.session.commit()
    page = login(make_user(Role.ANALYST)).get("/dashboard").get_data(as_text=True)
    assert "$1,400" in page  # 1,000 € × 1.1 + $300; the pounds have no rate
    assert "Not converted" in page
    assert "£2,000 in 1 deal" in page
    assert "$3,300" not in page


def test_the_sql_total_gives_the_same_answer_as_the_python_one(make_opportunity):
    """Reports aggregate in the database: the SQL conversion must agree with Rates.convert to the cent."""
    from sqlalchemy import select

    from app.crm.models import Opportunity
    from app.money.service import money_total_of

    set_rate(month=date(2026, 9, 1), currency="EUR", rate=Decimal("1.10"), now=NOW)
    set_rate(month=date(2026, 10, 1), currency="EUR", rate=Decimal("1.2345"), now=NOW)
    set_rate(month=date(2026, 10, 1), currency="GBP", rate=Decimal("1.30"), now=NOW)
    rows = [
        ("EUR", date(2026, 9, 30), Decimal("1000")),
        ("EUR", date(2026, 10, 1), Decimal("1000.01")),
        ("EUR", date(2026, 10, 31), Decimal("333.33")),
        ("GBP", date(2026, 10, 15), Decimal("500")),
        ("USD", date(2026, 10, 15), Decimal("250.50")),
        ("USD", None, Decimal("10")),  # the reporting currency needs no month
        ("GBP", date(2026, 11, 2), Decimal("400")),
        ("JPY", date(2026, 10, 2), Decimal("90000")),
        ("GBP", None, Decimal("100")),
        ("USD", date(2026, 10, 3), None),
    ]
    for index, (currency, close_date, amount) in enumerate(rows):
        make_opportunity(name=f"Deal {index}", currency=currency, close_date=close_date, amount=amount)
    db.session.flush()
    deals = select(Opportunity.amount, Opportunity.currency, Opportunity.close_date)
    in_sql = money_total_of(deals)
    in_python = total_in_reporting_currency((c, d, a, 1) for c, d, a in rows)
    assert in_sql == in_python
    # 1100 + 1234.51 + 411.50 + 650 + 250.50 + 10: each conversion rounded to the cent, as in Python.
    assert in_sql.total == Decimal("3656.51")
    assert [(i.currency, i.amount, i.deals) for i in in_sql.not_converted] == [
        ("GBP", Decimal("500.00"), 2),
        ("JPY", Decimal("90000.00"), 1),
    ]

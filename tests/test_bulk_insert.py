"""The import's bulk writes store exactly what the ORM would, and never overwrite or duplicate a row."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import func, select

from app.crm.importing.bulk import insert_many, insert_new
from app.crm.models import Contact, Opportunity, Origin
from app.extensions import db

RAW = {"Opportunity ID": "006B1", "Notes": 'Müller "quoted"\n€ 😀', "Amount": "$12,500.50"}


def _row(crm_id: str, account_id: int, **fields) -> dict:
    values = {
        "crm_id": crm_id,
        "account_id": account_id,
        "primary_contact_id": None,
        "name": f"Deal {crm_id}",
        "amount": Decimal("12500.50"),
        "currency": "EUR",
        "stage": "Closed Lost",
        "is_closed": True,
        "is_won": False,
        "close_date": date(2026, 2, 28),
        "owner": "Dana Owner",
        "crm_loss_reason": "Price",
        "competitor_raw": None,
        "competitor_id": None,
        "product": None,
        "raw": RAW,
        "import_hash": "a" * 32,
    }
    values.update(fields)
    return values


def test_insert_new_stores_typed_values_like_the_orm(make_account):
    account = make_account()
    before = datetime.now(UTC)

    inserted = insert_new(
        Opportunity.__table__,
        [_row("006A", account.id), _row("006B", account.id, amount=None, close_date=None, is_closed=False)],
        key="crm_id",
        scope={"crm_source": "salesforce"},
    )
    db.session.commit()

    assert set(inserted) == {"006A", "006B"}
    first = db.session.get(Opportunity, inserted["006A"])
    assert first.crm_source == "salesforce"
    assert first.amount == Decimal("12500.50")
    assert first.close_date == date(2026, 2, 28)
    assert first.is_closed is True
    assert first.is_won is False
    assert first.raw == RAW
    assert first.origin is Origin.CRM  # a Python-side default of a column the rows leave out
    assert first.created_at.tzinfo is not None
    assert first.created_at >= before.replace(microsecond=0)
    second = db.session.get(Opportunity, inserted["006B"])
    assert second.amount is None
    assert second.close_date is None
    assert second.is_closed is False


def test_insert_new_answers_only_the_rows_it_inserted_and_keeps_the_others(make_account, make_opportunity):
    account = make_account()
    taken = make_opportunity(account=account, crm_id="006TAKEN", name="Kept as it was")

    inserted = insert_new(
        Opportunity.__table__,
        [
            _row("006NEW1", account.id),
            _row("006TAKEN", account.id, name="Must not overwrite"),
            _row("006NEW2", account.id),
        ],
        key="crm_id",
        scope={"crm_source": taken.crm_source},
    )
    db.session.commit()

    assert set(inserted) == {"006NEW1", "006NEW2"}
    assert taken.id not in inserted.values()
    db.session.expire_all()
    assert db.session.get(Opportunity, taken.id).name == "Kept as it was"
    count = db.session.scalar(
        select(func.count()).select_from(Opportunity).where(Opportunity.account_id == account.id)
    )
    assert count == 3
    names = {o.crm_id: o.name for o in db.session.scalars(select(Opportunity))}
    assert names["006NEW1"] == "Deal 006NEW1"
    assert names["006NEW2"] == "Deal 006NEW2"


def test_insert_many_skips_rows_that_break_a_unique_constraint(make_contact):
    existing = make_contact(email="pat@example.com", crm_id="003A")
    account_id = existing.account_id
    rows = [
        {
            "account_id": account_id,
            "crm_id": "003A",
            "first_name": "Twin",
            "last_name": None,
            "title": None,
            "email": "other@example.com",
            "phone": None,
        },
        {
            "account_id": account_id,
            "crm_id": "003B",
            "first_name": "New",
            "last_name": "Person",
            "title": None,
            "email": "new@example.com",
            "phone": "+14155550100",
        },
    ]

    insert_many(Contact.__table__, rows)
    db.session.commit()

    contacts = {
        c.crm_id: c for c in db.session.scalars(select(Contact).where(Contact.account_id == account_id))
    }
    assert set(contacts) == {"003A", "003B"}
    assert contacts["003A"].first_name == existing.first_name
    assert contacts["003B"].phone == "+14155550100"
    assert contacts["003B"].created_at.tzinfo is not None


def test_insert_new_without_ids_still_names_exactly_the_rows_it_inserted(make_account, make_opportunity):
    account = make_account()
    taken = make_opportunity(account=account, crm_id="006TAKEN")
    scope = {"crm_source": taken.crm_source}

    all_new = insert_new(
        Opportunity.__table__, [_row("006N1", account.id)], key="crm_id", scope=scope, ids=False
    )
    mixed = insert_new(
        Opportunity.__table__,
        [_row("006N2", account.id), _row("006TAKEN", account.id)],
        key="crm_id",
        scope=scope,
        ids=False,
    )
    db.session.commit()

    assert set(all_new) == {"006N1"}
    assert set(mixed) == {"006N2"}
    stored = set(db.session.scalars(select(Opportunity.crm_id)))
    assert stored == {"006TAKEN", "006N1", "006N2"}


def test_the_compiled_insert_cache_is_keyed_by_the_dialect(app):
    from sqlalchemy.dialects import postgresql, sqlite

    from app.crm.importing.bulk import _compiled_insert

    table = Contact.__table__
    columns = tuple(column.name for column in table.columns if column.name != "id")[:2]
    on_sqlite, _ = _compiled_insert(table, columns, sqlite.dialect())
    on_postgresql, _ = _compiled_insert(table, columns, postgresql.dialect())
    assert "?" in on_sqlite
    assert "%(" in on_postgresql  # not the statement cached for SQLite

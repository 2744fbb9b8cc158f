"""Set-based upsert of clean records: a few queries per batch of rows, never one ORM object per row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update

from app.audit.models import AuditEvent
from app.crm.importing.bulk import among, insert_ignoring_duplicates, insert_many, insert_new
from app.crm.importing.competitor_matching import CompetitorMatcher
from app.crm.importing.records import AccountIn, ContactIn, Record
from app.crm.models import Account, Contact, LossReasonMapping, Opportunity
from app.crm.signals import contacts_relocated
from app.extensions import db

ACCOUNTS = Account.__table__
CONTACTS = Contact.__table__
OPPORTUNITIES = Opportunity.__table__
ACCOUNT_FIELDS = ("name", "domain", "industry", "segment", "region", "country", "employees")
CONTACT_FIELDS = (
    "crm_id",
    "first_name",
    "last_name",
    "title",
    "email",
    "phone",
    "timezone",
    "state",
    "country",
    "language",
)
# What places a contact for calling hours: a change re-places the contact's call tasks.
WHEREABOUTS = ("phone", "timezone", "state", "country")
# Opportunity columns an import writes, and those whose change the audit trail records.
AUDITED = (
    "name",
    "stage",
    "is_closed",
    "is_won",
    "amount",
    "currency",
    "close_date",
    "owner",
    "crm_loss_reason",
    "competitor_raw",
    "product",
    "account_id",
)


def _fields(item, names) -> dict:
    return {name: getattr(item, name) for name in names}


def _plain(value):
    """A JSON-friendly copy of a value for the audit trail."""
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


@dataclass
class Outcome:
    status: str  # created, updated, unchanged
    opportunity_id: int | None  # None for a created row when the upserter was asked for no ids


class Upserter:
    """Upsert records of one CRM source, batch after batch, counting what happened to each."""

    def __init__(
        self, crm_source: str, *, now: datetime, actor_label: str, batch_id: int | None, want_ids: bool = True
    ) -> None:
        self.crm_source = crm_source
        self.want_ids = want_ids  # a file import only counts outcomes: its new rows' ids are not read back
        self.now = now
        self.actor_label = actor_label
        self.batch_id = batch_id
        self.competitors = CompetitorMatcher()
        self.known_reasons: set[str] = set()
        self.created_accounts: set[int] = set()  # ids of the accounts the current batch inserted
        self._prefetched: tuple[set[str], dict[str, tuple[int, str | None]]] = (set(), {})
        self.relocated: set[int] = set()  # contacts whose whereabouts this batch changed
        self.relocated_accounts: set[int] = set()  # accounts whose country it changed

    def forget_written(self) -> None:
        """What this upserter wrote was rolled back (a dry run's batch): forget the ids it remembers."""
        self.competitors = CompetitorMatcher()
        self.known_reasons = set()
        self.created_accounts = set()

    def upsert(self, records: list[Record]) -> list[Outcome]:
        """Upsert one batch (its crm ids unique); return the outcome of each record, in order."""
        self.created_accounts = set()
        self.relocated, self.relocated_accounts = set(), set()
        account_ids = self._accounts(records)
        primary_contacts = self._contacts(records, account_ids)
        self._loss_reasons(records)
        outcomes = self._opportunities(records, account_ids, primary_contacts)
        self._tell_relocated()
        return outcomes

    def _tell_relocated(self) -> None:
        """Say which contacts moved (their phone, time zone or address, or their account's country)."""
        if self.relocated_accounts:
            self.relocated.update(
                db.session.scalars(
                    select(CONTACTS.c.id).where(among(CONTACTS.c.account_id, sorted(self.relocated_accounts)))
                )
            )
        if self.relocated:
            contacts_relocated.send(None, contact_ids=sorted(self.relocated), now=self.now)
        self.relocated, self.relocated_accounts = set(), set()

    # -- accounts -----------------------------------------------------------------------------------
    def _load_accounts(self, keys) -> dict[str, dict]:
        rows = db.session.execute(
            select(ACCOUNTS.c.id, ACCOUNTS.c.crm_id, *(ACCOUNTS.c[f] for f in ACCOUNT_FIELDS)).where(
                ACCOUNTS.c.crm_source == self.crm_source, among(ACCOUNTS.c.crm_id, keys)
            )
        )
        return {row.crm_id: row._asdict() for row in rows}

    def upsert_accounts(self, accounts: list[AccountIn]) -> list[str]:
        """Upsert the rows of an account file (their keys unique in the batch); each one's status."""
        self.created_accounts = set()
        self.relocated, self.relocated_accounts = set(), set()
        _, statuses = self._save_accounts({account.crm_id: account for account in accounts})
        self._tell_relocated()
        return [statuses[account.crm_id] for account in accounts]

    def _accounts(self, records: list[Record]) -> dict[str, int]:
        incoming = {}
        for record in records:
            incoming[record.account.crm_id] = record.account  # the last row wins
        ids, _ = self._save_accounts(incoming)
        return ids

    def _save_accounts(self, incoming: dict[str, AccountIn]) -> tuple[dict[str, int], dict[str, str]]:
        """Insert or update these accounts: ({key: id}, {key: created, updated or unchanged}).

        A blank field never erases what is stored; a changed field is recorded in the audit trail.
        """
        keys = sorted(incoming)
        existing = self._load_accounts(keys)
        statuses = dict.fromkeys(keys, "unchanged")
        new = [key for key in keys if key not in existing]
        if new:
            inserted = insert_new(
                ACCOUNTS,
                [{"crm_id": key, **_fields(incoming[key], ACCOUNT_FIELDS)} for key in new],
                key="crm_id",
                scope={"crm_source": self.crm_source},
            )
            for key, account_id in inserted.items():
                existing[key] = {"id": account_id}
                statuses[key] = "created"
            self.created_accounts = set(inserted.values())
            missing = [key for key in new if key not in existing]  # inserted meanwhile by another import
            if missing:
                existing.update(self._load_accounts(missing))
        changes, events = [], []
        for key in keys:
            if statuses[key] == "created":
                continue
            current = existing[key]
            merged = {
                f: getattr(incoming[key], f) if getattr(incoming[key], f) is not None else current[f]
                for f in ACCOUNT_FIELDS
            }
            diff = {
                f: [_plain(current[f]), _plain(merged[f])] for f in ACCOUNT_FIELDS if merged[f] != current[f]
            }
            if diff:
                if "country" in diff:
                    self.relocated_accounts.add(current["id"])
                statuses[key] = "updated"
                changes.append({"_id": current["id"], **merged})
                events.append(self._event("account.import_updated", "account", current["id"], diff))
        if changes:
            db.session.execute(
                update(ACCOUNTS)
                .where(ACCOUNTS.c.id == bindparam("_id"))
                .values({f: bindparam(f) for f in ACCOUNT_FIELDS})
                .execution_options(synchronize_session=False),
                changes,
            )
            db.session.execute(insert(AuditEvent.__table__), events)
        return {key: row["id"] for key, row in existing.items()}, statuses

    def _event(self, action: str, entity_type: str, entity_id: int, changes: dict) -> dict:
        """An audit trail row saying what an import changed on one record."""
        return {
            "at": self.now,
            "actor_label": self.actor_label,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "details": {"batch_id": self.batch_id, "changes": changes},
        }

    # -- contacts -----------------------------------------------------------------------------------
    def _load_contacts(self, account_ids, *, ids_only: bool = False) -> tuple[dict, dict]:
        """These accounts' contacts by (account, CRM id) and by (account, e-mail): their id and fields."""
        names = ("id", "account_id", *(("crm_id", "email") if ids_only else CONTACT_FIELDS))
        query = select(*(CONTACTS.c[name] for name in names)).where(among(CONTACTS.c.account_id, account_ids))
        by_crm_id, by_email = {}, {}
        for values in db.session.execute(query):
            data = dict(zip(names, values, strict=True))
            if data["crm_id"]:
                by_crm_id[(data["account_id"], data["crm_id"])] = data
            if data["email"]:
                by_email[(data["account_id"], data["email"])] = data
        return by_crm_id, by_email

    def _contacts(self, records: list[Record], account_ids: dict[str, int]) -> dict[str, int | None]:
        """Insert or update the contacts; return each record's primary contact id."""
        wanted = [(record, account_ids[record.account.crm_id]) for record in records if record.contacts]
        if not wanted:
            return {}
        # An account this batch created has no contacts yet: only the others' are looked up.
        ids = sorted({account_id for _, account_id in wanted} - self.created_accounts)
        known = _KnownContacts(*self._load_contacts(ids)) if ids else _KnownContacts({}, {})
        inserts, updates = _contact_changes(wanted, known)
        self.relocated |= _relocated(updates, known)
        rows = self._unique_contacts(inserts)[::-1]  # back in the file's order
        if rows:
            insert_many(CONTACTS, rows)
        if updates:
            db.session.execute(
                update(CONTACTS)
                .where(CONTACTS.c.id == bindparam("_id"))
                .values({f: bindparam(f) for f in CONTACT_FIELDS})
                .execution_options(synchronize_session=False),
                [updates[k] for k in sorted(updates)],
            )
        if rows:
            added = sorted({row["account_id"] for row in rows})
            known.add(*self._load_contacts(added, ids_only=True))
        return _primary_contacts(wanted, known)

    @staticmethod
    def _unique_contacts(rows: list[dict]) -> list[dict]:
        """Drop rows that would collide with another row of the same batch (same id or e-mail)."""
        seen_ids, seen_emails, unique = set(), set(), []
        for row in rows:
            crm_key = (row["account_id"], row["crm_id"]) if row["crm_id"] else None
            email_key = (row["account_id"], row["email"]) if row["email"] else None
            if (crm_key and crm_key in seen_ids) or (email_key and email_key in seen_emails):
                continue
            seen_ids.add(crm_key)
            seen_emails.add(email_key)
            unique.append(row)
        return unique

    # -- loss reasons -------------------------------------------------------------------------------
    def _loss_reasons(self, records: list[Record]) -> None:
        new = sorted({r.loss_reason for r in records if r.loss_reason} - self.known_reasons)
        if new:
            db.session.execute(
                insert_ignoring_duplicates(LossReasonMapping.__table__, index_elements=["raw_value"]),
                [{"raw_value": value} for value in new],
            )
            self.known_reasons.update(new)

    # -- opportunities ------------------------------------------------------------------------------
    def _load_hashes(self, keys) -> dict[str, tuple[int, str | None]]:
        rows = db.session.execute(
            select(OPPORTUNITIES.c.id, OPPORTUNITIES.c.crm_id, OPPORTUNITIES.c.import_hash).where(
                OPPORTUNITIES.c.crm_source == self.crm_source, among(OPPORTUNITIES.c.crm_id, keys)
            )
        )
        return {row.crm_id: (row.id, row.import_hash) for row in rows}

    def stored_hashes(self, keys) -> dict[str, str | None]:
        """The import hash stored for each of these CRM ids (missing ids are left out).

        The answer is kept for the upsert of the same batch that follows, which would otherwise ask
        again: a row another import inserts meanwhile is still caught by ON CONFLICT DO NOTHING.
        """
        keys = set(keys)
        found = self._load_hashes(sorted(keys))
        self._prefetched = (keys, found)
        return {key: value[1] for key, value in found.items()}

    def _values(self, record: Record, account_ids, primary_contacts, digest: str) -> dict:
        return {
            "crm_id": record.crm_id,
            "account_id": account_ids[record.account.crm_id],
            "primary_contact_id": primary_contacts.get(record.crm_id),
            "name": record.name,
            "amount": record.amount,
            "currency": record.currency,
            "stage": record.stage,
            "is_closed": record.is_closed,
            "is_won": record.is_won,
            "close_date": record.close_date,
            "owner": record.owner,
            "crm_loss_reason": record.loss_reason,
            "competitor_raw": record.competitor,
            "competitor_id": self.competitors.match(record.competitor) if record.competitor else None,
            "product": record.product,
            "raw": record.raw,
            "import_hash": digest,
        }

    def _opportunities(self, records, account_ids, primary_contacts) -> list[Outcome]:
        digests = {record.crm_id: record.digest() for record in records}
        keys = sorted(digests)
        asked, found = self._prefetched
        self._prefetched = (set(), {})
        if asked.issuperset(keys):
            existing = {key: found[key] for key in keys if key in found}
        else:
            existing = self._load_hashes(keys)
        by_key = {record.crm_id: record for record in records}
        created: set[str] = set()
        new = [key for key in keys if key not in existing]
        if new:
            # The rows missing from `inserted` were inserted meanwhile by a concurrent import: their
            # stored hash says whether they are unchanged or to update.
            inserted = insert_new(
                OPPORTUNITIES,
                [self._values(by_key[k], account_ids, primary_contacts, digests[k]) for k in new],
                key="crm_id",
                scope={"crm_source": self.crm_source},
                ids=self.want_ids,
            )
            for key, opportunity_id in inserted.items():
                created.add(key)
                existing[key] = (opportunity_id, digests[key])
            missing = [key for key in new if key not in created]
            if missing:
                existing.update(self._load_hashes(missing))
        # A concurrent import may have created a "new" row first with the same values: count it unchanged.
        changed = [key for key in keys if key not in created and existing[key][1] != digests[key]]
        if changed:
            self._update_changed(changed, existing, by_key, account_ids, primary_contacts, digests)
        changed_set = set(changed)
        return [
            Outcome(
                "created" if r.crm_id in created else "updated" if r.crm_id in changed_set else "unchanged",
                existing[r.crm_id][0],
            )
            for r in records
        ]

    def _update_changed(self, changed, existing, by_key, account_ids, primary_contacts, digests) -> None:
        ids = [existing[key][0] for key in changed]
        old = {
            row.id: row._asdict()
            for row in db.session.execute(
                select(OPPORTUNITIES.c.id, *(OPPORTUNITIES.c[f] for f in AUDITED)).where(
                    among(OPPORTUNITIES.c.id, ids)
                )
            )
        }
        params, events = [], []
        for key in changed:
            opportunity_id = existing[key][0]
            values = self._values(by_key[key], account_ids, primary_contacts, digests[key])
            values.pop("crm_id")
            params.append({"_id": opportunity_id, **values})
            diff = {
                f: [_plain(old[opportunity_id][f]), _plain(values[f])]
                for f in AUDITED
                if old[opportunity_id][f] != values[f]
            }
            if diff:
                events.append(self._event("opportunity.import_updated", "opportunity", opportunity_id, diff))
        columns = [c for c in params[0] if c != "_id"]
        params.sort(key=lambda p: p["_id"])  # one lock order for every import: no deadlock between two
        db.session.execute(
            update(OPPORTUNITIES)
            .where(OPPORTUNITIES.c.id == bindparam("_id"))
            .values({c: bindparam(c) for c in columns})
            .execution_options(synchronize_session=False),
            params,
        )
        if events:
            db.session.execute(insert(AuditEvent.__table__), events)


class _KnownContacts:
    """Stored contacts by (account, CRM id) and by (account, e-mail): how a row's contact is recognised."""

    def __init__(self, by_crm_id: dict, by_email: dict) -> None:
        self.by_crm_id = by_crm_id
        self.by_email = by_email

    def add(self, by_crm_id: dict, by_email: dict) -> None:
        self.by_crm_id.update(by_crm_id)
        self.by_email.update(by_email)

    def find(self, account_id: int, contact: ContactIn) -> dict | None:
        if contact.crm_id and (account_id, contact.crm_id) in self.by_crm_id:
            return self.by_crm_id[(account_id, contact.crm_id)]
        if contact.email and (account_id, contact.email) in self.by_email:
            return self.by_email[(account_id, contact.email)]
        return None


def _contact_changes(wanted: list[tuple[Record, int]], known: _KnownContacts) -> tuple[list[dict], dict]:
    """The contacts to insert (last row first) and the changed ones to update, by id.

    Backwards, each contact once: when a contact sits on several rows of a batch, the last row wins.
    """
    inserts, updates, seen = {}, {}, set()
    for record, account_id in reversed(wanted):
        for contact in record.contacts:
            if not (contact.crm_id or contact.email):
                continue  # nothing to recognise it by next time: keep it on the row's raw data only
            key = (account_id, contact.crm_id, contact.email)
            if key in seen:
                continue
            seen.add(key)
            current = known.find(account_id, contact)
            if current is None:
                inserts[key] = {"account_id": account_id, **vars(contact)}
            elif current["id"] not in updates:
                changed = _changed_contact(contact, current)
                if changed is not None:
                    updates[current["id"]] = changed
    return list(inserts.values()), updates


def _changed_contact(contact: ContactIn, current: dict) -> dict | None:
    """The stored contact with the row's values over it (an empty cell keeps what is stored), if changed."""
    merged = {
        f: getattr(contact, f) if getattr(contact, f) is not None else current[f] for f in CONTACT_FIELDS
    }
    if any(merged[f] != current[f] for f in CONTACT_FIELDS):
        return {"_id": current["id"], **merged}
    return None


def _relocated(updates: dict, known: _KnownContacts) -> set[int]:
    """The updated contacts whose phone, time zone or address changes: their call tasks move."""
    stored = {row["id"]: row for row in (*known.by_crm_id.values(), *known.by_email.values())}
    return {id_ for id_, row in updates.items() if any(row[f] != stored[id_][f] for f in WHEREABOUTS)}


def _primary_contacts(wanted: list[tuple[Record, int]], known: _KnownContacts) -> dict[str, int | None]:
    """Each record's primary contact: the first of its contacts that can be recognised."""
    primary: dict[str, int | None] = {}
    for record, account_id in wanted:
        primary[record.crm_id] = None
        for contact in record.contacts:
            if contact.crm_id or contact.email:
                found = known.find(account_id, contact)
                primary[record.crm_id] = found["id"] if found else None
                break
    return primary

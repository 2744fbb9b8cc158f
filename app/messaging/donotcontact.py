"""The do-not-contact list: parse what admins paste or upload, add entries, search them."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, or_, select

from app.errors import ValidationError
from app.messaging.models import DoNotContactEntry, DoNotContactKind
from app.messaging.service import add_do_not_contact
from app.validation import normalize_email, normalize_phone

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_HEADER_WORDS = {"email", "emails", "phone", "phones", "domain", "domains", "value", "e-mail", "mobile"}


def parse_entry(
    raw: str, *, kind: DoNotContactKind | None = None, default_region: str = "US"
) -> tuple[DoNotContactKind, str]:
    """Normalise one value: an email, a phone (to E.164) or a domain; guess the kind when not given."""
    text = raw.strip()
    if not text:
        raise ValidationError("The value is empty", field="value")
    if kind is None:
        if "@" in text.lstrip("@"):
            kind = DoNotContactKind.EMAIL
        elif re.search(r"[a-zA-Z]", text):
            kind = DoNotContactKind.DOMAIN
        else:
            kind = DoNotContactKind.PHONE
    if kind is DoNotContactKind.EMAIL:
        return kind, normalize_email(text, field="value")
    if kind is DoNotContactKind.PHONE:
        return kind, normalize_phone(text, default_region, field="value")
    domain = text.lower().lstrip("@").removeprefix("www.").rstrip(".")
    if not _DOMAIN.match(domain):
        raise ValidationError(f"'{text}' is not a domain name (like example.com)", field="value")
    return kind, domain


@dataclass
class ImportReport:
    added: int = 0
    already_listed: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (line, value, message)


def _values(content: str) -> list[tuple[int, str]]:
    """(line number, value) for every cell; with a header row, only its email/phone/domain columns."""
    rows = list(csv.reader(io.StringIO(content)))
    if not rows:
        return []
    header = [cell.strip().lower() for cell in rows[0]]
    columns = [i for i, name in enumerate(header) if name in _HEADER_WORDS]
    values = []
    start = 1 if columns else 0
    for number, row in enumerate(rows[start:], start=start + 1):
        cells = [row[i] for i in columns if i < len(row)] if columns else row
        values.extend((number, cell.strip()) for cell in cells if cell.strip())
    return values


def import_do_not_contact(
    content: str, *, source: str, now: datetime, created_by_id: int | None, default_region: str = "US"
) -> ImportReport:
    """Add every valid value of a CSV or pasted list; bad values are reported by line, good ones kept."""
    report = ImportReport()
    for line, value in _values(content):
        try:
            kind, normalised = parse_entry(value, default_region=default_region)
        except ValidationError as error:
            report.errors.append((line, value, error.message))
            continue
        _, created = add_do_not_contact(kind, normalised, source=source, now=now, created_by_id=created_by_id)
        if created:
            report.added += 1
        else:
            report.already_listed += 1
    return report


def do_not_contact_query(search: str = "", kind: str = "") -> Select:
    query = select(DoNotContactEntry).order_by(
        DoNotContactEntry.created_at.desc(), DoNotContactEntry.id.desc()
    )
    if kind in {k.value for k in DoNotContactKind}:
        query = query.where(DoNotContactEntry.kind == DoNotContactKind(kind))
    if search.strip():
        pattern = f"%{search.strip().lower()}%"
        query = query.where(
            or_(DoNotContactEntry.value.like(pattern), DoNotContactEntry.source.ilike(pattern))
        )
    return query

"""One row of a file (or one item of the API) turned into clean values for the upsert."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache

from app.crm.importing.countries import contact_country, contact_language, country_code
from app.crm.importing.formats import FIELDS, Mapping, fold, resolve, template_columns
from app.crm.importing.values import (
    WINBACK_ID,
    parse_amount,
    parse_bool,
    parse_date,
    parse_int,
    parse_winback_id,
)
from app.crm.models import Account, Contact, Opportunity, deal_state
from app.errors import ValidationError
from app.validation import CURRENCIES, normalize_email, normalize_phone, normalize_timezone

ERROR_COLUMN = "error"  # added by the error file; ignored when it comes back


@dataclass(frozen=True)
class ImportSettings:
    day_first: bool = False
    default_country: str = "US"
    default_currency: str = "USD"

    @classmethod
    def from_config(cls, config, **given) -> ImportSettings:
        """Settings with the app's DEFAULT_PHONE_REGION and DEFAULT_CURRENCY for what is not given."""
        given = {k: v for k, v in given.items() if v not in (None, "")}
        given.setdefault("default_country", (config.get("DEFAULT_PHONE_REGION") or "US").upper())
        given.setdefault("default_currency", (config.get("DEFAULT_CURRENCY") or "USD").upper())
        return cls(**given)


def _length(column) -> int:
    return column.type.length


# The column each text field is stored in, and so its longest value: a longer value is a row error
# when the field is required, and a warning (the value left out) when it is optional, never an
# exception from the database (PostgreSQL raises StringDataRightTruncation; SQLite stores anything).
REQUIRED_LENGTHS = {
    "crm_id": _length(Opportunity.__table__.c.crm_id),
    "name": _length(Opportunity.__table__.c.name),
    "stage": _length(Opportunity.__table__.c.stage),
    "account_crm_id": _length(Account.__table__.c.crm_id),
    "account_name": _length(Account.__table__.c.name),
}
OPTIONAL_LENGTHS = {
    "owner": _length(Opportunity.__table__.c.owner),
    "loss_reason": _length(Opportunity.__table__.c.crm_loss_reason),
    "competitor": _length(Opportunity.__table__.c.competitor_raw),
    "product": _length(Opportunity.__table__.c.product),
    "account_domain": _length(Account.__table__.c.domain),
    "account_industry": _length(Account.__table__.c.industry),
    "account_segment": _length(Account.__table__.c.segment),
    "account_region": _length(Account.__table__.c.region),
    "contact_crm_id": _length(Contact.__table__.c.crm_id),
    "contact_first_name": _length(Contact.__table__.c.first_name),
    "contact_last_name": _length(Contact.__table__.c.last_name),
    "contact_name": _length(Contact.__table__.c.first_name),  # so that both halves fit
    "contact_title": _length(Contact.__table__.c.title),
    "contact_email": _length(Contact.__table__.c.email),
    "contact_state": _length(Contact.__table__.c.state),
}


@dataclass
class AccountIn:
    crm_id: str
    name: str
    domain: str | None = None
    industry: str | None = None
    segment: str | None = None
    region: str | None = None
    country: str | None = None
    employees: int | None = None


@dataclass
class ContactIn:
    crm_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    email: str | None = None
    phone: str | None = None
    timezone: str | None = None  # IANA name
    state: str | None = None  # state or province of the address
    country: str | None = None  # ISO 3166 alpha-2, of the address
    language: str | None = None  # "de": the language to write to them in (app.i18n.languages)


def _contact_digest(contact: ContactIn) -> tuple:
    """The contact's values for a digest; the where-abouts only when given, so older digests still hold."""
    values = tuple(vars(contact).values())
    return values if any(values[6:]) else values[:6]


@dataclass
class Record:
    crm_id: str
    name: str
    stage: str
    is_closed: bool
    is_won: bool
    account: AccountIn
    amount: Decimal | None = None
    currency: str = "USD"
    close_date: date | None = None
    owner: str | None = None
    loss_reason: str | None = None
    competitor: str | None = None
    product: str | None = None
    contacts: list[ContactIn] = field(default_factory=list)
    raw: dict[str, str] = field(default_factory=dict)
    # Values of optional columns left out (a placeholder phone, a malformed email, an over-long title):
    # the row is imported without them, and the import reports each one as a warning with its column.
    warnings: list[ValidationError] = field(default_factory=list)

    fingerprint: str | None = None  # set by the file import: the digest of the raw row and the mapping

    @property
    def status(self) -> str:
        return deal_state(self.is_closed, self.is_won)

    def digest(self) -> str:
        """A fingerprint of everything the import stores: equal digests mean nothing changed."""
        if self.fingerprint:
            return self.fingerprint
        text = repr(
            (
                self.crm_id,
                self.name,
                self.stage,
                self.is_closed,
                self.is_won,
                str(self.amount),
                self.currency,
                self.close_date,
                self.owner,
                self.loss_reason,
                self.competitor,
                self.product,
                tuple(vars(self.account).values()),
                [_contact_digest(c) for c in self.contacts],
                sorted(self.raw.items()),
            )
        )
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@lru_cache(maxsize=65536)
def _email(raw: str, field: str) -> str:
    return normalize_email(raw, field=field)


@lru_cache(maxsize=65536)
def _phone(raw: str, region: str, field: str) -> str:
    # The same contact sits on many deals: parse each number once per process.
    return normalize_phone(raw, region, field=field)


def stage_flags(stage: str, mapping: Mapping) -> tuple[bool, bool]:
    folded = fold(stage)
    if folded in {fold(s) for s in mapping.won_stages}:
        return True, True
    if folded in {fold(s) for s in mapping.lost_stages}:
        return True, False
    return False, False


class RowErrors(ValidationError):
    """Every problem of one row; the first one names the column."""

    def __init__(self, problems: list[ValidationError]) -> None:
        super().__init__("; ".join(p.message for p in problems), field=problems[0].field)


def split_name(full: str) -> tuple[str | None, str | None]:
    parts = full.strip().rsplit(" ", 1)
    if len(parts) == 1:
        return None, parts[0] or None
    return parts[0], parts[1]


def _natural_key(account: str, name: str, close: date | None) -> str:
    key = f"{account}|{name}|{close.isoformat() if close else ''}"
    if len(key) > 200:
        key = key[:160] + "#" + hashlib.blake2b(key.encode(), digest_size=8).hexdigest()
    return "nk:" + key


@lru_cache(maxsize=4096)
def _amount(text: str, column: str) -> tuple[Decimal | None, str | None]:
    return parse_amount(text, column=column)


@lru_cache(maxsize=8192)
def _date(text: str, day_first: bool, column: str) -> date | None:
    return parse_date(text, day_first=day_first, column=column)


class RowReader:
    """How to read the rows of one file, worked out once: which cell each field reads, its label, the stages.

    A file has one header and one mapping: resolving them again for each of a million rows was most
    of the import's time. Cells come stripped from the table reader (see parsing.Row).
    """

    def __init__(self, header: list[str], mapping: Mapping, settings: ImportSettings) -> None:
        self.header = header
        self.width = len(header)
        self.mapping = mapping
        self.settings = settings
        columns = mapping.columns
        self.columns = columns
        # A header named twice reads its last column, as a dict of the row would.
        position = {name: index for index, name in enumerate(header)}
        self.plain = [
            (name, position[spec])
            for name, spec in columns.items()
            if spec and not _computed(spec) and spec in position
        ]
        self.computed = [(n, spec) for n, spec in columns.items() if spec and _computed(spec)]
        self.raw_columns = [(name, i) for name, i in position.items() if name and name != ERROR_COLUMN]
        self.winback_id = position.get(WINBACK_ID)  # kept raw, but checked: a later link reads it
        self.labels = {name: self._label(name) for name in (*FIELDS, *columns)}
        self.won = frozenset(fold(s) for s in mapping.won_stages)
        self.lost = frozenset(fold(s) for s in mapping.lost_stages)
        self.stages: dict[str, tuple[bool, bool]] = {}
        self.warnings: list[ValidationError] = []  # those of the row read last
        # A row whose every cell is shorter than the shortest column limit needs no length check (the
        # usual row: one max() in C); a template field can join cells, so it always checks.
        self.shortest_limit = min((*REQUIRED_LENGTHS.values(), *OPTIONAL_LENGTHS.values()))
        self.always_check = bool(self.computed)
        self.has_whereabouts = any(
            columns.get(name)
            for name in ("contact_timezone", "contact_state", "contact_country", "contact_language")
        )

    def stage_flags(self, stage: str) -> tuple[bool, bool]:
        """(is_closed, is_won) by the mapping's stage lists; a file has few stages, each is folded once."""
        flags = self.stages.get(stage)
        if flags is None:
            folded = fold(stage)
            flags = (folded in self.won or folded in self.lost, folded in self.won)
            if len(self.stages) < 1000:
                self.stages[stage] = flags
        return flags

    def _label(self, name: str) -> str:
        spec = self.columns.get(name, "")
        found = template_columns(spec)
        return found[0] if found else spec or name

    def _values(self, cells: list[str]) -> tuple[list[str], dict[str, str], dict[str, str] | None]:
        """The cells (padded to the header), each mapped field's text, and the row by header when needed."""
        if len(cells) < self.width:
            cells = [*cells, *[""] * (self.width - len(cells))]
        values = {name: cells[index] for name, index in self.plain}
        row = None
        if self.computed or self.mapping.key == "columns":
            row = dict(zip(self.header, cells, strict=False))
            for name, spec in self.computed:
                values[name] = resolve(spec, row).strip()
        return cells, values, row

    def _check_lengths(
        self, cells: list[str], values: dict[str, str], problems: list[ValidationError]
    ) -> None:
        """Fail the row for an over-long required value; leave out an over-long optional one, warning."""
        if not self.always_check and max(map(len, cells), default=0) <= self.shortest_limit:
            return
        for name, limit in REQUIRED_LENGTHS.items():
            value = values.get(name)
            if value and len(value) > limit:
                label = self.labels[name]
                problems.append(
                    ValidationError(f"{label} is longer than {limit} characters ({len(value)})", field=label)
                )
        for name, limit in OPTIONAL_LENGTHS.items():
            value = values.get(name)
            if value and len(value) > limit:
                label = self.labels[name]
                self.warnings.append(
                    ValidationError(
                        f"{label} is longer than {limit} characters ({len(value)}): left out", field=label
                    )
                )
                values[name] = ""

    def _optional(self, function, *args, **kwargs):
        """function(*args, **kwargs), or None with its ValidationError kept as a warning of the row."""
        try:
            return function(*args, **kwargs)
        except ValidationError as error:
            self.warnings.append(
                ValidationError(f"{error.message}: left out, the row was imported", field=error.field)
            )
            return None

    def _whereabouts(self, contact: ContactIn, get, labels) -> None:
        """The contact's time zone and address (state, country): a bad value is left out with a warning."""
        if zone := get("contact_timezone"):
            contact.timezone = self._optional(normalize_timezone, zone, field=labels["contact_timezone"])
        contact.state = get("contact_state") or None
        if country := get("contact_country"):
            contact.country = self._optional(contact_country, country, labels["contact_country"])
        if language := get("contact_language"):
            contact.language = self._optional(contact_language, language, labels["contact_language"])

    def read_account(self, cells: list[str]) -> AccountIn:
        """Clean one row of an account file; raise RowErrors listing what is wrong with it."""
        cells, values, _ = self._values(cells)
        problems: list[ValidationError] = []
        self.warnings = []
        self._check_lengths(cells, values, problems)
        account = self._account(values.get, problems)
        if problems:
            raise RowErrors(problems)
        return account

    def _account(self, get, problems: list[ValidationError]) -> AccountIn:
        labels = self.labels
        account_name = get("account_name") or get("account_crm_id", "")
        if not account_name:
            problems.append(
                ValidationError(f"{labels['account_name']} is empty", field=labels["account_name"])
            )
        # Without a CRM id, an account is known by its name: a deal file and an account file meet there.
        account_id = get("account_crm_id") or ("name:" + fold(account_name) if account_name else "")
        country_text = get("account_country")
        employees_text = get("account_employees")
        return AccountIn(
            crm_id=account_id[:255],
            name=account_name,
            domain=get("account_domain") or None,
            industry=get("account_industry") or None,
            segment=get("account_segment") or None,
            region=get("account_region") or None,
            country=country_code(country_text) if country_text else None,
            employees=self._optional(parse_int, employees_text, column=labels["account_employees"])
            if employees_text
            else None,
        )

    def _check_winback_id(self, cells: list[str], problems: list[ValidationError]) -> None:
        """A Winback ID cell is kept raw, but a later link reads its number: a malformed one fails the row."""
        if self.winback_id is not None and cells[self.winback_id]:
            _attempt(problems, parse_winback_id, cells[self.winback_id])

    def read(self, cells: list[str]) -> Record:
        """Clean one file row by the mapping; raise RowErrors listing what is wrong with it."""
        cells, values, row = self._values(cells)
        get = values.get
        labels = self.labels
        problems: list[ValidationError] = []
        self.warnings = []
        self._check_lengths(cells, values, problems)
        name = get("name", "")
        if not name:
            problems.append(ValidationError(f"{labels['name']} is empty", field=labels["name"]))
        stage = get("stage", "")
        if not stage:
            problems.append(ValidationError(f"{labels['stage']} is empty", field=labels["stage"]))
        amount, currency = self._money(get, problems)
        close_date = None
        if close_text := get("close_date", ""):
            try:  # not through _attempt: a date is on every row
                close_date = _date(close_text, self.settings.day_first, labels["close_date"])
            except ValidationError as error:
                problems.append(error)
        is_closed, is_won = self.stage_flags(stage)
        if get("is_closed"):
            is_closed = bool(_attempt(problems, parse_bool, get("is_closed"), column=labels["is_closed"]))
        if get("is_won"):
            is_won = bool(_attempt(problems, parse_bool, get("is_won"), column=labels["is_won"]))
            is_closed = is_closed or is_won
        account = self._account(get, problems)
        contacts = self._contacts(get, account.country)
        crm_id = self._key(get, row, account.name, name, close_date, problems)
        if self.winback_id is not None:
            self._check_winback_id(cells, problems)
        if problems:
            raise RowErrors(problems)
        return Record(
            crm_id=crm_id,
            name=name,
            stage=stage,
            is_closed=is_closed,
            is_won=is_won,
            account=account,
            amount=amount,
            currency=currency or self.settings.default_currency,
            close_date=close_date,
            owner=get("owner") or None,
            loss_reason=get("loss_reason") or None,
            competitor=get("competitor") or None,
            product=get("product") or None,
            contacts=contacts,
            raw={name: cells[index] for name, index in self.raw_columns if cells[index]},
            warnings=self.warnings,
        )

    def _money(self, get, problems: list[ValidationError]) -> tuple[Decimal | None, str | None]:
        """The amount and its currency: the currency column's, else the amount's symbol (None: default)."""
        labels = self.labels
        amount = currency = None
        if amount_text := get("amount", ""):
            try:  # not through _attempt: an amount is on every row
                amount, currency = _amount(amount_text, labels["amount"])
            except ValidationError as error:
                problems.append(error)
        currency_text = get("currency", "").upper()
        if currency_text:
            if currency_text in CURRENCIES:
                currency = currency_text
            else:
                problems.append(
                    ValidationError(
                        f"{labels['currency']} '{currency_text}' is not a known ISO 4217 code",
                        field=labels["currency"],
                    )
                )
        return amount, currency

    def _contacts(self, get, country: str | None) -> list[ContactIn]:
        """The row's contact (none when the row names nothing of one); bad optional values are warnings."""
        labels = self.labels
        contact = ContactIn(
            crm_id=get("contact_crm_id") or None,
            first_name=get("contact_first_name") or None,
            last_name=get("contact_last_name") or None,
            title=get("contact_title") or None,
        )
        if not (contact.first_name or contact.last_name) and get("contact_name"):
            contact.first_name, contact.last_name = split_name(get("contact_name"))
        # A contact's email and phone are optional: a placeholder ('n/a', '-', a 555 number) or a typo
        # leaves the value out and warns; the deal, account and contact are imported all the same.
        if email := get("contact_email"):
            contact.email = self._optional(_email, email, labels["contact_email"])
        if phone := get("contact_phone"):
            region = country or self.settings.default_country
            contact.phone = self._optional(_phone, phone, region, labels["contact_phone"])
        if self.has_whereabouts:  # else they stay None
            self._whereabouts(contact, get, labels)
        if (
            contact.crm_id
            or contact.first_name
            or contact.last_name
            or contact.title
            or contact.email
            or contact.phone
            or contact.timezone
            or contact.state
            or contact.country
        ):
            return [contact]
        return []

    def _key(self, get, row, account_name: str, name: str, close_date, problems: list) -> str:
        """The deal's key: its CRM id, the natural key (account, name, close date) or the key columns."""
        key = self.mapping.key
        if key == "natural":
            return _natural_key(account_name, name, close_date)
        if key == "columns":
            crm_id = "|".join(row.get(c, "") for c in self.mapping.key_columns)
            if len(crm_id) > (limit := REQUIRED_LENGTHS["crm_id"]):
                label = ", ".join(self.mapping.key_columns)
                problems.append(ValidationError(f"The key ({label}) is longer than {limit} characters"))
            return crm_id
        crm_id = get("crm_id", "")
        if not crm_id and "crm_id" in self.columns:
            label = self.labels["crm_id"]
            problems.append(ValidationError(f"{label} is empty", field=label))
        return crm_id


def _attempt(problems: list[ValidationError], function, *args, **kwargs):
    """function(*args, **kwargs), or None with its ValidationError added to problems."""
    try:
        return function(*args, **kwargs)
    except ValidationError as error:
        problems.append(error)
        return None


def _computed(spec: str) -> bool:
    return spec.startswith("=") or "{" in spec

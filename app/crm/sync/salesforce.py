"""Salesforce through simple-salesforce: SOQL pages of closed (or Winback-tagged) opportunities since the
high-water mark, and opportunities upserted by the Winback ID external-id field (composite sobjects)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
)

from app.crm.importing.values import WINBACK_ID
from app.crm.sync.base import (
    RETRY_STATUSES,
    CrmUnavailable,
    Pulled,
    PushOutcome,
    RetryPolicy,
    text,
    tree_parsing,
)

DEFAULT_API_VERSION = "62.0"
COMPOSITE_LIMIT = 200  # records per composite sobjects call
# The loss reason and competitor fields: the first one the org has, unless a setting names one.
LOSS_REASON_FIELDS = ("Loss_Reason__c", "Closed_Lost_Reason__c", "Reason_Lost__c")
COMPETITOR_FIELDS = ("Competitor__c", "Primary_Competitor__c")
# (column = SOQL path, import field): the columns of SALESFORCE_API, so a data export and the sync agree.
OPPORTUNITY_COLUMNS = (
    ("Id", "crm_id"),
    ("Name", "name"),
    ("StageName", "stage"),
    ("IsClosed", "is_closed"),
    ("IsWon", "is_won"),
    ("Amount", "amount"),
    ("CloseDate", "close_date"),
    ("Owner.Name", "owner"),
    ("AccountId", "account_crm_id"),
    ("Account.Name", "account_name"),
    ("Account.Website", "account_domain"),
    ("Account.Industry", "account_industry"),
    ("Account.BillingCountry", "account_country"),
)
CONTACT_COLUMNS = (
    ("ContactId", "contact_crm_id"),
    ("Contact.FirstName", "contact_first_name"),
    ("Contact.LastName", "contact_last_name"),
    ("Contact.Title", "contact_title"),
    ("Contact.Email", "contact_email"),
    ("Contact.Phone", "contact_phone"),
)
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")
_SALESFORCE_ID = re.compile(r"[A-Za-z0-9]{15}([A-Za-z0-9]{3})?")


@dataclass(frozen=True)
class SalesforceSettings:
    instance_url: str | None = None
    access_token: str | None = None
    username: str | None = None
    password: str | None = None
    security_token: str | None = None
    consumer_key: str | None = None  # with private_key_file: the OAuth 2.0 JWT bearer flow
    private_key_file: str | None = None
    private_key: str | None = None  # the key itself (the connection page stores it encrypted)
    domain: str | None = None  # "login" (default) or "test" for a sandbox
    api_version: str = DEFAULT_API_VERSION
    external_id_field: str = "Winback_ID__c"
    loss_reason_field: str | None = None
    competitor_field: str | None = None
    contact_language_field: str | None = (
        None  # a Contact field holding the contact's language, if the org has one
    )
    push_stage: str = "Qualification"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SalesforceSettings:
        def get(name: str) -> str | None:
            value = config.get(f"SALESFORCE_{name}")
            return str(value).strip() if value not in (None, "") else None

        return cls(
            instance_url=get("INSTANCE_URL"),
            access_token=get("ACCESS_TOKEN"),
            username=get("USERNAME"),
            password=get("PASSWORD"),
            security_token=get("SECURITY_TOKEN"),
            consumer_key=get("CONSUMER_KEY"),
            private_key_file=get("PRIVATE_KEY_FILE"),
            private_key=get("PRIVATE_KEY"),
            domain=get("DOMAIN"),
            api_version=get("API_VERSION") or DEFAULT_API_VERSION,
            external_id_field=get("EXTERNAL_ID_FIELD") or "Winback_ID__c",
            loss_reason_field=get("LOSS_REASON_FIELD"),
            competitor_field=get("COMPETITOR_FIELD"),
            contact_language_field=get("CONTACT_LANGUAGE_FIELD"),
            push_stage=get("PUSH_STAGE") or "Qualification",
        )

    @property
    def can_log_in(self) -> bool:
        """A login (JWT bearer or password) to start a new session with, besides a given one."""
        jwt = self.username and self.consumer_key and (self.private_key_file or self.private_key)
        return bool(jwt or (self.username and self.password))

    @property
    def configured(self) -> bool:
        return bool((self.instance_url and self.access_token) or self.can_log_in)


class RetryingSession(requests.Session):
    """A requests session that retries 429 and 5xx answers (and dropped connections) by the policy.

    Certificates are verified, and requests honours REQUESTS_CA_BUNDLE for a private CA.
    """

    def __init__(self, retry: RetryPolicy) -> None:
        super().__init__()
        self.retry = retry

    def request(self, method, url, *args, **kwargs):
        last = self.retry.attempts - 1
        for attempt in range(self.retry.attempts):
            try:
                response = super().request(method, url, *args, **kwargs)
            except requests.ConnectionError:
                if attempt == last:
                    raise
                self.retry.wait(attempt, None)
                continue
            if response.status_code not in RETRY_STATUSES or attempt == last:
                return response
            self.retry.wait(attempt, response.headers.get("Retry-After"))
        raise AssertionError("unreachable")  # pragma: no cover


class SalesforceConnector:
    source = "salesforce"

    def __init__(self, settings: SalesforceSettings, *, retry: RetryPolicy | None = None) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self._client: Salesforce | None = None
        self._refreshed = False
        self._fields: set[str] | None = None
        self.total = 0

    # The session: the given one first, a login once it expires (once per run).

    def _connect(self, *, fresh: bool) -> Salesforce:
        s = self.settings
        # Plain dicts for the JSON (the library's default is OrderedDict): a pull parses millions of them.
        common = {
            "version": s.api_version,
            "session": RetryingSession(self.retry),
            "object_pairs_hook": None,
        }
        try:
            if s.instance_url and s.access_token and not fresh:
                return Salesforce(instance_url=s.instance_url, session_id=s.access_token, **common)
            if s.consumer_key and (s.private_key_file or s.private_key) and s.username:
                key = (
                    {"privatekey": s.private_key}
                    if s.private_key
                    else {"privatekey_file": s.private_key_file}
                )
                return Salesforce(
                    username=s.username, consumer_key=s.consumer_key, domain=s.domain, **key, **common
                )
            if s.username and s.password:
                return Salesforce(
                    username=s.username,
                    password=s.password,
                    security_token=s.security_token or "",
                    domain=s.domain,
                    **common,
                )
        except SalesforceAuthenticationFailed as error:
            raise CrmUnavailable(f"Salesforce refused the login: {error.message}") from None
        except requests.RequestException as error:
            raise CrmUnavailable(f"Salesforce could not be reached: {error}") from None
        if fresh:
            raise CrmUnavailable(
                "The Salesforce session expired and no login is configured to renew it: set a new "
                "SALESFORCE_ACCESS_TOKEN, or SALESFORCE_USERNAME with a password or a JWT key"
            )
        raise CrmUnavailable("Salesforce is not configured (see SALESFORCE_* in the README)")

    def _call(self, action: Callable[[Salesforce], Any]) -> Any:
        """action(client); an expired session is renewed once per run, then the connection has failed."""
        if self._client is None:
            self._client = self._connect(fresh=False)
        try:
            return self._guarded(action)
        except SalesforceExpiredSession:
            if self._refreshed:
                raise CrmUnavailable("Salesforce refused the renewed session (401)") from None
            self._refreshed = True
            self._client = self._connect(fresh=True)
            try:
                return self._guarded(action)
            except SalesforceExpiredSession:
                raise CrmUnavailable("Salesforce refused the renewed session (401)") from None

    def _guarded(self, action: Callable[[Salesforce], Any]) -> Any:
        try:
            return action(self._client)
        except SalesforceExpiredSession:
            raise
        except SalesforceError as error:
            raise CrmUnavailable(f"Salesforce answered {error.status}: {_first_message(error)}") from None
        except requests.RequestException as error:
            raise CrmUnavailable(f"Salesforce could not be reached: {error}") from None

    # What the org has.

    def _org_fields(self) -> set[str]:
        if self._fields is None:
            described = self._call(lambda sf: sf.Opportunity.describe())
            self._fields = {f["name"] for f in described.get("fields", [])}
        return self._fields

    def _optional_field(self, setting: str | None, candidates: tuple[str, ...]) -> str | None:
        fields = self._org_fields()
        if setting:
            return setting if setting in fields else None
        return next((name for name in candidates if name in fields), None)

    def _contact_columns(self) -> list[tuple[str, str]]:
        """The contact role's columns, with the contact's language when a setting names its field."""
        field = self.settings.contact_language_field
        if field and _FIELD_NAME.fullmatch(field):  # SOQL is text: only a plain field name goes in
            return [*CONTACT_COLUMNS, (f"Contact.{field}", "contact_language")]
        return list(CONTACT_COLUMNS)

    def _extra_columns(self) -> list[tuple[str, str]]:
        extra = []
        loss = self._optional_field(self.settings.loss_reason_field, LOSS_REASON_FIELDS)
        if loss:
            extra.append((loss, "loss_reason"))
        competitor = self._optional_field(self.settings.competitor_field, COMPETITOR_FIELDS)
        if competitor:
            extra.append((competitor, "competitor"))
        if "CurrencyIsoCode" in self._org_fields():  # a multi-currency org
            extra.append(("CurrencyIsoCode", "currency"))
        return extra

    @property
    def _has_external_id(self) -> bool:
        return self.settings.external_id_field in self._org_fields()

    # The interface.

    def header(self) -> list[str]:
        columns = [*OPPORTUNITY_COLUMNS, *self._extra_columns(), *self._contact_columns()]
        return [column for column, _ in columns] + [WINBACK_ID]

    def columns(self) -> dict[str, str]:
        columns = [*OPPORTUNITY_COLUMNS, *self._extra_columns(), *self._contact_columns()]
        return {name: column for column, name in columns}

    def expected(self) -> int:
        return self.total

    def soql(self, since: datetime | None) -> str:
        opportunity = [c for c, _ in OPPORTUNITY_COLUMNS] + [c for c, _ in self._extra_columns()]
        contact = ", ".join(c for c, _ in self._contact_columns())
        external = self.settings.external_id_field if self._has_external_id else None
        selected = [*opportunity, *([external] if external else []), "SystemModstamp"]
        # SOQL is text: every name in it is one of ours or a field the org's describe listed, and the date
        # is formatted here, so nothing a user typed reaches it.
        # The primary contact role first: it stands for the deal's contact.
        roles = f"(SELECT {contact} FROM OpportunityContactRoles ORDER BY IsPrimary DESC LIMIT 1)"  # noqa: S608
        which = f"(IsClosed = true OR {external} != null)" if external else "IsClosed = true"
        # >= rather than >: a record stamped in the same second as the mark is read again, never missed.
        when = f" AND SystemModstamp >= {since.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}" if since else ""
        return (
            f"SELECT {', '.join(selected)}, {roles} FROM Opportunity "  # noqa: S608
            f"WHERE {which}{when} ORDER BY SystemModstamp, Id"
        )

    def pull(self, since: datetime | None) -> Iterator[list[Pulled]]:
        soql = self.soql(since)
        flatten = _Flattener(
            [c for c, _ in (*OPPORTUNITY_COLUMNS, *self._extra_columns())],
            [c for c, _ in self._contact_columns()],
            self.settings.external_id_field,
        )
        self.total, next_url = 0, None
        while True:
            with tree_parsing():
                page = self._page(soql, next_url)
                self.total = self.total or int(page.get("totalSize") or 0)
                rows = flatten.page(page.get("records", []))
                next_url = page.get("nextRecordsUrl")
                done = page.get("done", True) or not next_url
                del page  # the parsed page is freed before the collector is back: it never walks it
            yield rows
            if done:
                return

    def _page(self, soql: str, next_url: str | None) -> dict[str, Any]:
        if next_url is None:
            return self._call(lambda sf: sf.query(soql))
        return self._call(lambda sf: sf.query_more(next_url, identifier_is_url=True))

    def check(self) -> list[tuple[bool, str]]:
        """What this login can read and write: the connection page's "Test connection"."""
        described = self._call(lambda sf: sf.Opportunity.describe())
        fields = {f["name"]: f for f in described.get("fields", [])}
        self._fields = set(fields)
        closed = self._call(lambda sf: sf.query("SELECT COUNT() FROM Opportunity WHERE IsClosed = true"))
        checks = [(True, f"Signed in to {self._client.sf_instance}.")]
        readable = bool(described.get("queryable"))
        count = int(closed.get("totalSize") or 0)
        checks.append(
            (readable, f"Read: {count} closed opportunities." if readable else "Read: not allowed.")
        )
        writable = bool(described.get("createable") and described.get("updateable"))
        checks.append(
            (writable, "Write: creates and updates opportunities." if writable else "Write: not allowed.")
        )
        external = fields.get(self.settings.external_id_field)
        name = self.settings.external_id_field
        if external is None:
            checks.append(
                (False, f"{name} is missing on Opportunity: create it as a unique External ID field.")
            )
        elif not external.get("externalId"):
            checks.append((False, f"{name} is not marked External ID: pushes cannot upsert by it."))
        else:
            checks.append((True, f"Pushes upsert by {name}: pushing twice never creates two."))
        for setting, candidates, what in (
            (self.settings.loss_reason_field, LOSS_REASON_FIELDS, "loss reason"),
            (self.settings.competitor_field, COMPETITOR_FIELDS, "competitor"),
        ):
            found = self._optional_field(setting, candidates)
            checks.append((True, f"The {what} is read from {found}." if found else f"No {what} field found."))
        return checks

    def push(self, deals: list[dict[str, Any]]) -> list[PushOutcome]:
        if not deals:
            return []
        external = self.settings.external_id_field
        if not self._has_external_id:
            message = f"Opportunity has no field {external}: create it as a unique External ID text field"
            return [PushOutcome(deal["winback_id"], error=message) for deal in deals]
        outcomes = []
        for start in range(0, len(deals), COMPOSITE_LIMIT):
            chunk = deals[start : start + COMPOSITE_LIMIT]
            body = {"allOrNone": False, "records": [self._opportunity(deal) for deal in chunk]}
            results = self._call(
                lambda sf, body=body: sf.restful(
                    f"composite/sobjects/Opportunity/{external}", method="PATCH", data=json.dumps(body)
                )
            )
            for deal, result in zip(chunk, results or [], strict=False):
                outcomes.append(_outcome(deal["winback_id"], result))
        return outcomes

    def _opportunity(self, deal: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {
            "attributes": {"type": "Opportunity"},
            self.settings.external_id_field: deal["winback_id"],
            "Name": deal["name"][:120],
            "StageName": self.settings.push_stage,
            "CloseDate": deal["close_date"],
        }
        if deal.get("amount") is not None:
            record["Amount"] = float(deal["amount"])
        if _SALESFORCE_ID.fullmatch(deal.get("account_crm_id") or ""):
            record["AccountId"] = deal["account_crm_id"]
        if deal.get("next_step"):
            record["NextStep"] = deal["next_step"][:255]
        if "CurrencyIsoCode" in self._org_fields() and deal.get("currency"):
            record["CurrencyIsoCode"] = deal["currency"]
        return record


def _outcome(winback_id: str, result: dict[str, Any]) -> PushOutcome:
    if result.get("success"):
        return PushOutcome(winback_id, crm_id=result.get("id"), created=bool(result.get("created")))
    errors = result.get("errors") or [{"message": "refused without a reason"}]
    return PushOutcome(winback_id, error="; ".join(str(e.get("message")) for e in errors))


class _Flattener:
    """A SOQL record as the table's cells: 'Field' or 'Relationship.Field' paths, worked out once per pull.

    One loop over a plan of (relationship, field) pairs: a function call per cell (a path reader, then a
    cell cleaner) was a third of a pull's own time.
    """

    def __init__(self, columns: list[str], contact_columns: list[str], external: str) -> None:
        self.plan = [_step(path) for path in columns]
        self.contact_plan = [_step(path) for path in contact_columns]
        self.external = external

    def page(self, records: list[dict[str, Any]]) -> list[Pulled]:
        return [self.record(record) for record in records]

    def record(self, record: dict[str, Any]) -> Pulled:
        cells = _cells(record, self.plan)
        roles = (record.get("OpportunityContactRoles") or _EMPTY).get("records") or [_EMPTY]
        cells += _cells(roles[0] or _EMPTY, self.contact_plan)
        value = record.get(self.external)
        cells.append(value.strip() if type(value) is str else text(value))
        return Pulled(cells, _modstamp(record.get("SystemModstamp")))


_EMPTY: dict[str, Any] = {}


def _step(path: str) -> tuple[tuple[str, ...], str]:
    *relationships, name = path.split(".")
    return tuple(relationships), name


def _cells(record: dict[str, Any], plan: list[tuple[tuple[str, ...], str]]) -> list[str]:
    cells = []
    for relationships, name in plan:
        source = record
        for relationship in relationships:
            source = source.get(relationship) or _EMPTY
            if type(source) is not dict:  # a field where a relationship was expected: no value
                source = _EMPTY
        value = source.get(name)
        if value is None:
            cells.append("")
        else:
            cells.append(value.strip() if type(value) is str else text(value))
    return cells


def _modstamp(value: str | None) -> datetime | None:
    """Salesforce's '2026-01-15T10:20:30.000+0000' (fromisoformat: strptime took a tenth of a pull)."""
    if not value:
        return None
    return datetime.fromisoformat(value).astimezone(UTC)


def _first_message(error: SalesforceError) -> str:
    content = error.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("message") or content[0])
    return str(content)[:300]

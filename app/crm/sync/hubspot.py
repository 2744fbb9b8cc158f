"""HubSpot through hubspot-api-client: CRM v3 search pages of closed (or Winback-tagged) deals since
the high-water mark with their companies and contacts, and deals upserted in batches by winback_id."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hubspot import HubSpot
from hubspot.crm.associations.v4.exceptions import ApiException as AssociationsError
from hubspot.crm.companies.exceptions import ApiException as CompaniesError
from hubspot.crm.contacts.exceptions import ApiException as ContactsError
from hubspot.crm.deals import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInputUpsert,
)
from hubspot.crm.deals.exceptions import ApiException as DealsError
from hubspot.crm.properties.exceptions import ApiException as PropertiesError
from hubspot.oauth.exceptions import ApiException as OAuthError
from urllib3.exceptions import HTTPError

from app.crm.importing.values import WINBACK_ID
from app.crm.sync.base import RETRY_STATUSES, CrmUnavailable, Pulled, PushOutcome, RetryPolicy, text

DEFAULT_BASE_URL = "https://api.hubapi.com"
PAGE_SIZE = 200  # the search API's largest page
SEARCH_LIMIT = 10_000  # the search API pages no further: the search starts again from the newest seen
API_ERRORS = (DealsError, CompaniesError, ContactsError, AssociationsError, OAuthError, PropertiesError)
DEAL_COLUMNS = (
    ("hs_object_id", "crm_id"),
    ("dealname", "name"),
    ("dealstage", "stage"),
    ("hs_is_closed", "is_closed"),
    ("hs_is_closed_won", "is_won"),
    ("amount", "amount"),
    ("deal_currency_code", "currency"),
    ("closedate", "close_date"),
    ("hubspot_owner_id", "owner"),
)
COMPANY_COLUMNS = (
    ("company.hs_object_id", "account_crm_id"),
    ("company.name", "account_name"),
    ("company.domain", "account_domain"),
    ("company.industry", "account_industry"),
    ("company.country", "account_country"),
)
CONTACT_COLUMNS = (
    ("contact.hs_object_id", "contact_crm_id"),
    ("contact.firstname", "contact_first_name"),
    ("contact.lastname", "contact_last_name"),
    ("contact.jobtitle", "contact_title"),
    ("contact.email", "contact_email"),
    ("contact.phone", "contact_phone"),
    ("contact.hs_language", "contact_language"),  # HubSpot's standard "Preferred language"
)


@dataclass(frozen=True)
class HubSpotSettings:
    access_token: str | None = None  # a private app's token, or an OAuth access token
    base_url: str = DEFAULT_BASE_URL
    # OAuth: a refresh token with the app's id and secret renews an expired access token once per run.
    refresh_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    external_id_property: str = "winback_id"
    loss_reason_property: str = "closed_lost_reason"
    competitor_property: str | None = None
    push_stage: str = "appointmentscheduled"
    push_pipeline: str = "default"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> HubSpotSettings:
        def get(name: str) -> str | None:
            value = config.get(f"HUBSPOT_{name}")
            return str(value).strip() if value not in (None, "") else None

        return cls(
            access_token=get("ACCESS_TOKEN"),
            base_url=(get("BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
            refresh_token=get("REFRESH_TOKEN"),
            client_id=get("CLIENT_ID"),
            client_secret=get("CLIENT_SECRET"),
            external_id_property=get("EXTERNAL_ID_PROPERTY") or "winback_id",
            loss_reason_property=get("LOSS_REASON_PROPERTY") or "closed_lost_reason",
            competitor_property=get("COMPETITOR_PROPERTY"),
            push_stage=get("PUSH_STAGE") or "appointmentscheduled",
            push_pipeline=get("PUSH_PIPELINE") or "default",
        )

    @property
    def configured(self) -> bool:
        return bool(self.access_token or (self.refresh_token and self.client_id and self.client_secret))


class HubSpotConnector:
    source = "hubspot"

    def __init__(self, settings: HubSpotSettings, *, retry: RetryPolicy | None = None) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self.token = settings.access_token
        self._refreshed = False
        self._client: HubSpot | None = None
        self.total = 0

    def _hubspot(self) -> HubSpot:
        if self._client is None:
            if not self.token and not self._renew():
                raise CrmUnavailable("HubSpot is not configured (see HUBSPOT_* in the README)")
            # Certificates are verified; a private CA comes from REQUESTS_CA_BUNDLE, as for requests.
            self._client = HubSpot(
                access_token=self.token,
                host=self.settings.base_url,
                ssl_ca_cert=os.environ.get("REQUESTS_CA_BUNDLE") or None,
            )
        return self._client

    def _renew(self) -> bool:
        """A new access token from the refresh token (once per run); False when there is none to use."""
        s = self.settings
        if self._refreshed or not (s.refresh_token and s.client_id and s.client_secret):
            return False
        self._refreshed = True
        client = HubSpot(host=s.base_url, ssl_ca_cert=os.environ.get("REQUESTS_CA_BUNDLE") or None)
        answer = self._retrying(
            lambda: client.oauth.tokens_api.create(
                grant_type="refresh_token",
                refresh_token=s.refresh_token,
                client_id=s.client_id,
                client_secret=s.client_secret,
            )
        )
        self.token, self._client = answer.access_token, None
        return True

    def _retrying(self, action: Callable[[], Any]) -> Any:
        """action(), again after 429 and 5xx as the policy says; other API errors are raised."""
        last = self.retry.attempts - 1
        for attempt in range(self.retry.attempts):
            try:
                return action()
            except API_ERRORS as error:
                if error.status not in RETRY_STATUSES or attempt == last:
                    raise
                self.retry.wait(attempt, (error.headers or {}).get("Retry-After"))
            except HTTPError:
                if attempt == last:
                    raise
                self.retry.wait(attempt, None)
        raise AssertionError("unreachable")  # pragma: no cover

    def _call(self, action: Callable[[HubSpot], Any]) -> Any:
        """action(client) with retries; a 401 renews the token once, then the connection has failed."""
        try:
            try:
                return self._retrying(lambda: action(self._hubspot()))
            except API_ERRORS as error:
                if error.status != 401 or not self._renew():
                    raise
                return self._retrying(lambda: action(self._hubspot()))
        except API_ERRORS as error:
            if error.status == 401:
                raise CrmUnavailable(
                    "HubSpot refused the token (401): set a new HUBSPOT_ACCESS_TOKEN, or a refresh token"
                ) from None
            raise CrmUnavailable(f"HubSpot answered {error.status}: {_message(error)}") from None
        except HTTPError as error:
            raise CrmUnavailable(f"HubSpot could not be reached: {error}") from None

    # The interface.

    def _deal_columns(self) -> list[tuple[str, str]]:
        s = self.settings
        extra = [(s.loss_reason_property, "loss_reason")]
        if s.competitor_property:
            extra.append((s.competitor_property, "competitor"))
        return [*DEAL_COLUMNS, *extra]

    def header(self) -> list[str]:
        columns = [*self._deal_columns(), *COMPANY_COLUMNS, *CONTACT_COLUMNS]
        return [column for column, _ in columns] + [WINBACK_ID]

    def columns(self) -> dict[str, str]:
        return {name: c for c, name in (*self._deal_columns(), *COMPANY_COLUMNS, *CONTACT_COLUMNS)}

    def expected(self) -> int:
        return self.total

    def search_request(self, since: datetime | None, after: str | None) -> PublicObjectSearchRequest:
        external = self.settings.external_id_property
        # >= rather than >: a deal changed in the same millisecond as the mark is read again, never missed.
        changed = [Filter(property_name="hs_lastmodifieddate", operator="GTE", value=_millis(since))]
        changed = changed if since else []
        return PublicObjectSearchRequest(
            filter_groups=[  # groups are OR'ed: closed deals, and the deals Winback created
                FilterGroup(
                    filters=[*changed, Filter(property_name="hs_is_closed", operator="EQ", value="true")]
                ),
                FilterGroup(filters=[*changed, Filter(property_name=external, operator="HAS_PROPERTY")]),
            ],
            sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
            properties=[c for c, _ in self._deal_columns()] + [external, "hs_lastmodifieddate"],
            limit=PAGE_SIZE,
            after=after,
        )

    def check(self) -> list[tuple[bool, str]]:
        """What this token can read and write: the connection page's "Test connection"."""
        closed = PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(filters=[Filter(property_name="hs_is_closed", operator="EQ", value="true")])
            ],
            properties=["hs_object_id"],
            limit=1,
        )
        found = self._call(lambda hs: hs.crm.deals.search_api.do_search(closed))
        checks = [
            (True, f"Signed in to {self.settings.base_url}."),
            (True, f"Read: {found.total or 0} closed deals."),
        ]
        name = self.settings.external_id_property
        try:
            prop = self._call(lambda hs: hs.crm.properties.core_api.get_by_name("deals", name))
        except CrmUnavailable as error:
            checks.append((False, f"The deal property {name} cannot be read ({error.message}): create it."))
        else:
            unique = bool(getattr(prop, "has_unique_value", False))
            checks.append(
                (
                    unique,
                    f"Pushes upsert by the deal property {name}." if unique else f"{name} is not unique.",
                )
            )
        checks.append(
            (True, "Write: the first push shows it (the private app needs crm.objects.deals.write).")
        )
        return checks

    def pull(self, since: datetime | None) -> Iterator[list[Pulled]]:
        seen: set[str] = set()  # a restarted search reads the deals of its first millisecond again
        after: str | None = None
        while True:
            request = self.search_request(since, after)
            page = self._call(lambda hs, request=request: hs.crm.deals.search_api.do_search(request))
            self.total = max(self.total, int(page.total or 0))
            deals = [deal for deal in page.results or [] if deal.id not in seen]
            seen.update(deal.id for deal in deals)
            yield self._rows(deals)
            after = page.paging.next.after if page.paging and page.paging.next else None
            if after is None:
                return
            if after.isdigit() and int(after) >= SEARCH_LIMIT and deals:
                since, after = _parse_time(deals[-1].properties.get("hs_lastmodifieddate")), None

    def _rows(self, deals: list) -> list[Pulled]:
        ids = [deal.id for deal in deals]
        companies = self._associated(ids, "companies", [c.split(".", 1)[1] for c, _ in COMPANY_COLUMNS])
        contacts = self._associated(ids, "contacts", [c.split(".", 1)[1] for c, _ in CONTACT_COLUMNS])
        deal_columns = [c for c, _ in self._deal_columns()]
        rows = []
        for deal in deals:
            props = deal.properties or {}
            cells = [_cell(column, props.get(column)) for column in deal_columns]
            company, contact = companies.get(deal.id, {}), contacts.get(deal.id, {})
            cells += [text(company.get(c.split(".", 1)[1])) for c, _ in COMPANY_COLUMNS]
            cells += [text(contact.get(c.split(".", 1)[1])) for c, _ in CONTACT_COLUMNS]
            cells.append(text(props.get(self.settings.external_id_property)))
            rows.append(Pulled(cells, _parse_time(props.get("hs_lastmodifieddate"))))
        return rows

    def _associated(self, deal_ids: list[str], kind: str, properties: list[str]) -> dict[str, dict]:
        """Each deal's first associated company (or contact), with its properties."""
        if not deal_ids:
            return {}
        links = self._call(
            lambda hs: hs.crm.associations.v4.batch_api.get_page(
                from_object_type="deals",
                to_object_type=kind,
                batch_input_public_fetch_associations_batch_request={"inputs": [{"id": i} for i in deal_ids]},
            )
        )
        first = {link._from.id: str(link.to[0].to_object_id) for link in links.results or [] if link.to}
        if not first:
            return {}
        api = "companies" if kind == "companies" else "contacts"
        body = {
            "properties": properties,
            "propertiesWithHistory": [],
            "inputs": [{"id": i} for i in set(first.values())],
        }
        found = self._call(lambda hs: getattr(hs.crm, api).batch_api.read(body))
        by_id = {
            record.id: {**(record.properties or {}), "hs_object_id": record.id}
            for record in found.results or []
        }
        return {deal: by_id[other] for deal, other in first.items() if other in by_id}

    def push(self, deals: list[dict[str, Any]]) -> list[PushOutcome]:
        if not deals:
            return []
        external = self.settings.external_id_property
        body = BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                SimplePublicObjectBatchInputUpsert(
                    id_property=external, id=deal["winback_id"], properties=self._properties(deal)
                )
                for deal in deals
            ]
        )
        answer = self._call(lambda hs: hs.crm.deals.batch_api.upsert(body))
        by_winback = {(r.properties or {}).get(external): r for r in answer.results or []}
        self._associate_companies(deals, by_winback)
        errors = getattr(answer, "errors", None) or []
        outcomes = []
        for deal in deals:
            result = by_winback.get(deal["winback_id"])
            if result is not None:
                outcomes.append(PushOutcome(deal["winback_id"], crm_id=result.id, created=bool(result.new)))
            else:
                message = next((_error_text(e) for e in errors if deal["winback_id"] in str(e)), None)
                outcomes.append(PushOutcome(deal["winback_id"], error=message or "HubSpot did not take it"))
        return outcomes

    def _associate_companies(self, deals: list[dict[str, Any]], by_winback: dict[str, Any]) -> None:
        """Tie each new deal to its HubSpot company (an upsert takes no associations): the pull reads the
        deal back with it. A company known only by name (not from HubSpot) is left to the owner."""
        pairs = [
            {"from": {"id": by_winback[deal["winback_id"]].id}, "to": {"id": deal["account_crm_id"]}}
            for deal in deals
            if deal["winback_id"] in by_winback and str(deal.get("account_crm_id") or "").isdigit()
        ]
        if pairs:
            self._call(
                lambda hs: hs.crm.associations.v4.batch_api.create_default(
                    from_object_type="deals",
                    to_object_type="companies",
                    batch_input_public_default_association_multi_post={"inputs": pairs},
                )
            )

    def _properties(self, deal: dict[str, Any]) -> dict[str, str]:
        properties = {
            "dealname": deal["name"],
            "dealstage": self.settings.push_stage,
            "pipeline": self.settings.push_pipeline,
            "closedate": deal["close_date"],
            self.settings.external_id_property: deal["winback_id"],
        }
        if deal.get("amount") is not None:
            properties["amount"] = str(deal["amount"])
        if deal.get("currency"):
            properties["deal_currency_code"] = deal["currency"]
        if deal.get("next_step"):
            properties["hs_next_step"] = deal["next_step"]
        return properties


def _cell(column: str, value: Any) -> str:
    if column == "closedate" and value:
        return str(value)[:10]  # '2026-01-15T00:00:00Z': the day is what the import keeps
    return text(value)


def _millis(when: datetime | None) -> str:
    return str(int(when.timestamp() * 1000)) if when else ""


def _parse_time(value: str | None) -> datetime | None:
    """HubSpot's '2026-01-15T10:20:30.123Z'."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _error_text(error: Any) -> str:
    return str(
        getattr(error, "message", None) or (error.get("message") if isinstance(error, dict) else error)
    )


def _message(error: Exception) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return str(body or getattr(error, "reason", "") or error)[:300]

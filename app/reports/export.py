"""The deal columns every report CSV shares; the files are written by app.downloads' guarded writer."""

from __future__ import annotations

from typing import Any


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

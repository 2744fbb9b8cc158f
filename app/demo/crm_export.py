"""Write the generated demo CRM as a Salesforce report export, as an admin would download it."""

from __future__ import annotations

import csv
from pathlib import Path

from app.demo.generate import DemoCrm

HEADER = [
    "Opportunity ID",
    "Opportunity Name",
    "Account ID",
    "Account Name",
    "Website",
    "Industry",
    "Segment",
    "Region",
    "Billing Country",
    "Employees",
    "Stage",
    "Amount",
    "Opportunity Currency",
    "Close Date",
    "Opportunity Owner",
    "Product Name",
    "Closed Lost Reason",
    "Competitor",
    "Contact ID",
    "First Name",
    "Last Name",
    "Title",
    "Email",
    "Phone",
]


def write_salesforce_export(crm: DemoCrm, path: Path) -> Path:
    """One row per opportunity with its account and contact, dates and amounts as Salesforce prints them."""
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for opp in crm.opportunities:
            account, contact = opp.account, opp.contact
            writer.writerow(
                [
                    opp.crm_id,
                    opp.name,
                    account.crm_id,
                    account.name,
                    account.domain,
                    account.industry,
                    account.segment,
                    account.region,
                    account.country,
                    account.employees,
                    opp.stage,
                    f"${opp.amount:,.2f}" if opp.currency == "USD" else f"{opp.amount:,.2f}",
                    opp.currency,
                    opp.close_date.strftime("%m/%d/%Y"),
                    opp.owner,
                    opp.product,
                    opp.loss_reason or "",
                    opp.competitor or "",
                    contact.crm_id if contact else "",
                    contact.first_name if contact else "",
                    contact.last_name if contact else "",
                    contact.title if contact else "",
                    contact.email if contact else "",
                    contact.phone if contact else "",
                ]
            )
    return path

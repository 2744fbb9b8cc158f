"""Export formats: which header means which field, and how a stage says lost or won."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# The fields an import fills, with the label the preview shows.
FIELDS: dict[str, str] = {
    "crm_id": "Opportunity CRM id",
    "name": "Opportunity name",
    "stage": "Stage",
    "is_closed": "Closed (yes/no)",
    "is_won": "Won (yes/no)",
    "amount": "Amount",
    "currency": "Currency",
    "close_date": "Close date",
    "owner": "Owner",
    "loss_reason": "Loss reason",
    "competitor": "Competitor",
    "product": "Product",
    "account_crm_id": "Account CRM id",
    "account_name": "Account name",
    "account_domain": "Account website",
    "account_industry": "Industry",
    "account_segment": "Segment",
    "account_region": "Region",
    "account_country": "Country",
    "account_employees": "Employees",
    "contact_crm_id": "Contact CRM id",
    "contact_first_name": "Contact first name",
    "contact_last_name": "Contact last name",
    "contact_name": "Contact full name",
    "contact_title": "Contact title",
    "contact_email": "Contact email",
    "contact_phone": "Contact phone",
    "contact_timezone": "Contact time zone",
    "contact_state": "Contact state/province",
    "contact_country": "Contact country",
    "contact_language": "Contact language",
}

SALESFORCE_REPORT = {
    "crm_id": ("Opportunity ID", "Opportunity Id", "Opportunity: ID"),
    "name": ("Opportunity Name",),
    "stage": ("Stage",),
    "is_closed": ("Closed",),
    "is_won": ("Won",),
    "amount": ("Amount",),
    "currency": ("Amount Currency", "Opportunity Currency", "Currency"),
    "close_date": ("Close Date",),
    "owner": ("Opportunity Owner",),
    "loss_reason": ("Loss Reason", "Closed Lost Reason", "Reason Lost"),
    "competitor": ("Competitor", "Primary Competitor", "Competitors"),
    "product": ("Product Name", "Product"),
    "account_crm_id": ("Account ID", "Account Id"),
    "account_name": ("Account Name",),
    "account_domain": ("Website", "Account Website"),
    "account_industry": ("Industry",),
    "account_segment": ("Segment", "Account Segment"),
    "account_region": ("Region", "Sales Region"),
    "account_country": ("Billing Country", "Account Country"),
    "account_employees": ("Employees",),
    "contact_crm_id": ("Contact ID", "Contact Id"),
    "contact_first_name": ("First Name", "Contact: First Name"),
    "contact_last_name": ("Last Name", "Contact: Last Name"),
    "contact_name": ("Contact Name", "Primary Contact", "Contact: Full Name"),
    "contact_title": ("Title", "Contact: Title"),
    "contact_email": ("Email", "Contact: Email"),
    "contact_phone": ("Phone", "Contact: Phone", "Mobile"),
    "contact_timezone": ("Time Zone", "Contact: Time Zone"),
    "contact_state": ("Mailing State/Province", "Mailing State", "Contact: Mailing State/Province"),
    "contact_country": ("Mailing Country", "Contact: Mailing Country"),
    "contact_language": (
        "Language",
        "Preferred Language",
        "Contact: Language",
        "Contact: Preferred Language",
    ),
}

SALESFORCE_API = {
    "crm_id": ("Id",),
    "name": ("Name",),
    "stage": ("StageName",),
    "is_closed": ("IsClosed",),
    "is_won": ("IsWon",),
    "amount": ("Amount",),
    "currency": ("CurrencyIsoCode",),
    "close_date": ("CloseDate",),
    "owner": ("Owner.Name", "OwnerId"),
    "loss_reason": ("Loss_Reason__c", "Closed_Lost_Reason__c", "Reason_Lost__c"),
    "competitor": ("Competitor__c", "Primary_Competitor__c"),
    "product": ("Product__c",),
    "account_crm_id": ("AccountId",),
    "account_name": ("Account.Name",),
    "account_industry": ("Account.Industry",),
    "account_country": ("Account.BillingCountry",),
    "contact_crm_id": ("ContactId",),
    "contact_first_name": ("Contact.FirstName",),
    "contact_last_name": ("Contact.LastName",),
    "contact_email": ("Contact.Email",),
    "contact_phone": ("Contact.Phone",),
    "contact_state": ("Contact.MailingState",),
    "contact_country": ("Contact.MailingCountry",),
}

HUBSPOT = {
    "crm_id": ("Record ID", "Deal ID"),
    "name": ("Deal Name",),
    "stage": ("Deal Stage",),
    "amount": ("Amount",),
    "currency": ("Currency",),
    "close_date": ("Close Date",),
    "owner": ("Deal owner", "Deal Owner"),
    "loss_reason": ("Closed Lost Reason",),
    "competitor": ("Competitor",),
    "product": ("Product", "Deal Type"),
    "account_crm_id": ("Associated Company IDs", "Associated Company ID", "Company ID"),
    "account_name": ("Associated Company", "Associated Company (Primary)", "Company name"),
    "account_domain": ("Company Domain Name",),
    "account_industry": ("Industry",),
    "account_country": ("Country/Region",),
    "contact_crm_id": ("Associated Contact IDs", "Associated Contact ID"),
    "contact_name": ("Associated Contact", "Associated Contact (Primary)"),
    "contact_first_name": ("First Name",),
    "contact_last_name": ("Last Name",),
    "contact_email": ("Email", "Associated Contact Email"),
    "contact_phone": ("Phone Number", "Phone"),
    "contact_timezone": ("Time Zone",),
    "contact_state": ("State/Region",),
    "contact_language": ("Preferred language", "Associated Contact Preferred language"),
}

# The fields an account file (one row per account, e.g. to enrich the accounts of a deal export) fills.
ACCOUNT_FIELDS = {name: label for name, label in FIELDS.items() if name.startswith("account_")}
TARGETS = ("opportunities", "accounts")

FORMATS = {"salesforce": SALESFORCE_REPORT, "salesforce_api": SALESFORCE_API, "hubspot": HUBSPOT}
# The format names the CLI and the upload form accept; "salesforce" covers both Salesforce shapes.
FORMAT_CHOICES = ("salesforce", "hubspot", "generic")
CRM_SOURCE = {"salesforce": "salesforce", "salesforce_api": "salesforce", "hubspot": "hubspot"}

LOST_STAGES = ("closed lost", "closedlost", "lost", "closed - lost", "closed/lost")
WON_STAGES = ("closed won", "closedwon", "won", "closed - won", "closed/won")

_TEMPLATE = re.compile(r"\{([^{}]+)\}")


def fold(text: str) -> str:
    return " ".join(text.strip().lower().split())


_NOT_WORD = re.compile(r"[^\w]+")
LEGAL_SUFFIXES = frozenset(
    (
        *("inc", "incorporated", "corp", "corporation", "co", "company", "ltd", "limited", "llc", "llp"),
        *("lp", "plc", "gmbh", "ag", "kg", "mbh", "sa", "sas", "sarl", "srl", "spa", "bv", "nv", "ab"),
        *("as", "asa", "oy", "oyj", "aps", "kk", "pty", "pte", "sl", "se"),
    )
)


def company_key(name: str) -> str:
    """A company name as matching compares it: case, punctuation and legal suffixes (Inc, Ltd, GmbH) aside.

    'Northwind Analytics, Inc.' and 'northwind analytics' are one key; 'Oracle NetSuite' is not 'Oracle'.
    """
    words = _NOT_WORD.sub(" ", name.lower().replace("&", " and ")).split()
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    return " ".join(words)


@dataclass
class Mapping:
    """Which column feeds which field; a value may be a header, a '{A} {B}' template or '=constant'."""

    format: str
    columns: dict[str, str]
    lost_stages: list[str] = field(default_factory=lambda: list(LOST_STAGES))
    won_stages: list[str] = field(default_factory=lambda: list(WON_STAGES))
    key: str = "id"  # "id", "natural" (account + name + close date) or "columns"
    key_columns: list[str] = field(default_factory=list)
    name: str | None = None
    target: str = "opportunities"  # or "accounts": each row is an account, matched by CRM id or else name

    @property
    def for_accounts(self) -> bool:
        return self.target == "accounts"

    @property
    def crm_source(self) -> str:
        return CRM_SOURCE.get(self.format, "generic")

    def has_id_column(self) -> bool:
        return self.for_accounts or bool(self.columns.get("crm_id"))


def _match(header: list[str], aliases: dict[str, tuple[str, ...]]) -> dict[str, str]:
    by_fold = {fold(h): h for h in header if h}
    found = {}
    for name, candidates in aliases.items():
        for candidate in candidates:
            if fold(candidate) in by_fold:
                found[name] = by_fold[fold(candidate)]
                break
    return found


def detect_format(header: list[str]) -> str:
    """The known format whose headers this file matches best; 'generic' when none fits."""
    scores = {}
    for name, aliases in FORMATS.items():
        # Distinctive headers weigh more than shared ones such as Amount.
        found = _match(header, aliases)
        distinctive = {"crm_id", "name", "stage", "account_name", "account_crm_id", "close_date"}
        scores[name] = sum(2 if f in distinctive else 1 for f in found)
    best = max(scores, key=lambda n: scores[n])
    return best if scores[best] >= 5 else "generic"


def mapping_for(format_name: str, header: list[str]) -> Mapping:
    """The built-in mapping of a known format, matched against this file's header."""
    if format_name == "salesforce":
        # A Salesforce file is either a report (labels) or a data export (API names).
        api = _match(header, SALESFORCE_API)
        report = _match(header, SALESFORCE_REPORT)
        format_name = "salesforce_api" if len(api) > len(report) else "salesforce"
    columns = _match(header, FORMATS.get(format_name, {}))
    # An account report (Account Name, Industry, ...) has no deal columns: its rows are accounts.
    only_accounts = columns and all(name.startswith("account_") for name in columns)
    target = "accounts" if only_accounts else "opportunities"
    return Mapping(format=format_name, columns=columns, target=target)


def resolve(spec: str, row: dict[str, str]) -> str:
    """The text a mapping entry gives for one row."""
    if spec.startswith("="):
        return spec[1:]
    if "{" in spec:
        return _TEMPLATE.sub(lambda m: row.get(m.group(1), ""), spec).strip()
    return row.get(spec, "")


def template_columns(spec: str) -> list[str]:
    if spec.startswith("="):
        return []
    if "{" in spec:
        return _TEMPLATE.findall(spec)
    return [spec]

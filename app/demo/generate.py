"""Generate the demo CRM: accounts, contacts and opportunities shaped like a real B2B pipeline.

The shape follows public CRM samples (a Maven Analytics pipeline): about a quarter of deals open,
of the closed ones somewhat more won than lost, amounts spread over two orders of magnitude by
product, a handful of sectors, most accounts in the United States. Everything comes from one seed,
so the same seed and the same `today` give the same data.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import phonenumbers

if TYPE_CHECKING:
    from faker import Faker

SECTORS = (
    ("retail", 17),
    ("technology", 12),
    ("medical", 12),
    ("marketing", 8),
    ("finance", 8),
    ("software", 7),
    ("entertainment", 6),
    ("telecommunications", 6),
    ("services", 5),
    ("employment", 4),
)
# (product, list price per deal, spread): amounts vary around the list price like real quotes do.
PRODUCTS = (
    ("Insight Starter", 550, 0.35),
    ("Insight Plus", 1_100, 0.35),
    ("Insight Pro", 4_800, 0.3),
    ("Insight Plus Pro", 5_500, 0.3),
    ("Signal Basic", 55, 0.2),
    ("Signal Advanced", 3_400, 0.3),
    ("Enterprise Suite", 26_800, 0.4),
)
PRODUCT_WEIGHTS = (21, 16, 17, 11, 19, 16, 2)
CRM_LOSS_REASONS = (
    ("Price", 24),
    ("Lost to Competitor", 22),
    ("No Decision / Non-Responsive", 15),
    ("Missing Features", 12),
    ("Timing", 9),
    ("Budget", 8),
    ("Went with incumbent", 5),
    ("Implementation concerns", 3),
    ("Other", 2),
)
# Competitors and the messy ways sales reps type their names into the CRM.
COMPETITORS = {
    "Northwind Analytics": ("Northwind Analytics", "Northwind", "northwind analytics inc."),
    "Contoso Insights": ("Contoso Insights", "Contoso", "CONTOSO"),
    "Globex Data": ("Globex Data", "Globex", "Globex Data Corp"),
    "Initech Cloud": ("Initech Cloud", "Initech"),
    "Umbrella Metrics": ("Umbrella Metrics", "Umbrela Metrics"),
    "Homegrown / in-house": ("In-house build", "Built in-house"),
}
COMPETITOR_WEIGHTS = (30, 24, 18, 12, 8, 8)
REGIONS_BY_COUNTRY = {
    "US": ("North America East", "North America West", "Central"),
    "CA": ("North America East",),
    "GB": ("EMEA",),
    "DE": ("EMEA",),
    "FR": ("EMEA",),
    "NL": ("EMEA",),
    "JP": ("APAC",),
    "AU": ("APAC",),
}
# Deals are quoted in the customer's currency: reports convert them with each close month's rate.
CURRENCY_BY_COUNTRY = {"GB": "GBP", "DE": "EUR", "FR": "EUR", "NL": "EUR"}
COUNTRY_WEIGHTS = {"US": 74, "CA": 5, "GB": 6, "DE": 4, "FR": 3, "NL": 2, "JP": 3, "AU": 3}
FAKER_LOCALE = {
    "US": "en_US",
    "CA": "en_CA",
    "GB": "en_GB",
    "DE": "de_DE",
    "FR": "fr_FR",
    "NL": "nl_NL",
    "JP": "en_US",
    "AU": "en_AU",
}
TIMEZONES = {
    "North America East": "America/New_York",
    "Central": "America/Chicago",
    "North America West": "America/Los_Angeles",
    "GB": "Europe/London",
    "DE": "Europe/Berlin",
    "FR": "Europe/Paris",
    "NL": "Europe/Amsterdam",
    "JP": "Asia/Tokyo",
    "AU": "Australia/Sydney",
}
US_AREA_CODES = ("212", "415", "312", "617", "206", "512", "303", "404", "646", "713", "305", "612")
TITLES = (
    "VP Sales",
    "Head of Operations",
    "CFO",
    "IT Director",
    "Chief Revenue Officer",
    "Procurement Manager",
    "Director of Marketing",
    "COO",
    "Head of Analytics",
    "CEO",
)
STAGE_COUNTS = {
    "Closed Lost": 620,
    "Closed Won": 700,
    "Negotiation": 120,
    "Proposal": 100,
    "Qualification": 60,
}


@dataclass
class DemoContact:
    crm_id: str
    first_name: str
    last_name: str
    title: str
    email: str
    phone: str
    timezone: str


@dataclass
class DemoAccount:
    crm_id: str
    name: str
    domain: str
    industry: str
    segment: str
    region: str
    country: str
    employees: int
    contacts: list[DemoContact] = field(default_factory=list)


@dataclass
class DemoOpportunity:
    crm_id: str
    account: DemoAccount
    name: str
    stage: str
    amount: Decimal
    close_date: date
    owner: str
    product: str
    loss_reason: str | None
    competitor: str | None
    contact: DemoContact | None
    currency: str = "USD"


@dataclass
class DemoCrm:
    accounts: list[DemoAccount]
    opportunities: list[DemoOpportunity]
    owners: list[str]


def _weighted(rng: random.Random, pairs) -> str:
    names, weights = zip(*pairs, strict=True)
    return rng.choices(names, weights=weights)[0]


def _ascii(text: str) -> str:
    """Lower-case letters and digits only, accents dropped: what a company's mail server would use."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def _segment(employees: int) -> str:
    if employees < 200:
        return "SMB"
    return "Mid-Market" if employees < 2000 else "Enterprise"


def _phone(rng: random.Random, country: str) -> str:
    if country in ("US", "CA"):
        area = rng.choice(US_AREA_CODES) if country == "US" else rng.choice(("416", "604", "514"))
        return f"+1{area}5550{rng.randint(100, 199)}"  # 555-01xx: reserved for fiction
    if country == "GB":
        return f"+4420794600{rng.randint(0, 99):02d}"  # Ofcom's drama range
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.FIXED_LINE)
    digits = str(example.national_number)
    for _ in range(20):
        candidate = digits[:-2] + f"{rng.randint(0, 99):02d}"
        number = phonenumbers.parse(f"+{example.country_code}{candidate}")
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)


def _account(rng: random.Random, fakers: dict[str, Faker], index: int, used: set[str]) -> DemoAccount:
    country = _weighted(rng, COUNTRY_WEIGHTS.items())
    fake = fakers[country]
    name = fake.company()
    while name in used:
        name = f"{fake.company()}"
    used.add(name)
    slug = _ascii(name)[:20] or f"account{index}"
    employees = int(rng.lognormvariate(6.2, 1.5)) + 5
    region = rng.choice(REGIONS_BY_COUNTRY[country])
    account = DemoAccount(
        crm_id=f"001DM{index:010d}",
        name=name,
        domain=f"{slug}.example.com",
        industry=_weighted(rng, SECTORS),
        segment=_segment(employees),
        region=region,
        country=country,
        employees=employees,
    )
    timezone = TIMEZONES.get(region if country == "US" else country, "America/Toronto")
    for n in range(rng.choices((1, 2, 3), weights=(35, 45, 20))[0]):
        first, last = fake.first_name(), fake.last_name()
        local = f"{_ascii(first)}.{_ascii(last)}"
        account.contacts.append(
            DemoContact(
                crm_id=f"003DM{index:07d}{n:03d}",
                first_name=first,
                last_name=last,
                title=rng.choice(TITLES),
                email=f"{local}@{account.domain}",
                phone=_phone(rng, country),
                timezone=timezone,
            )
        )
    return account


def _amount(rng: random.Random, product: tuple[str, int, float], segment: str) -> Decimal:
    _, price, spread = product
    seats = {
        "SMB": 1,
        "Mid-Market": rng.choice((1, 2, 3)),
        "Enterprise": rng.choice((2, 4, 6, 10)),
    }[segment]
    value = price * seats * rng.lognormvariate(0, spread) * 10  # annual contract value
    return Decimal(round(value, -1)).quantize(Decimal("1.00"))


def generate_crm(*, seed: int = 2026, today: date, accounts: int = 240) -> DemoCrm:
    """Build the demo CRM in memory; nothing touches the database here."""
    from faker import Faker  # here: the demo's names are made once, not in every process of the app

    rng = random.Random(seed)
    fakers = {}
    for country, locale in FAKER_LOCALE.items():
        fakers[country] = Faker(locale)
        fakers[country].seed_instance(seed + len(fakers))
    used: set[str] = set()
    demo_accounts = [_account(rng, fakers, i + 1, used) for i in range(accounts)]
    owners = [fakers["US"].name() for _ in range(12)]

    stages = [stage for stage, count in STAGE_COUNTS.items() for _ in range(count)]
    rng.shuffle(stages)
    opportunities = []
    # Open deals cluster on the accounts sales is working now, as in a real pipeline; most accounts
    # that lost a deal have nothing open (so campaigns may contact them).
    active_accounts = rng.sample(demo_accounts, k=len(demo_accounts) // 4)
    for index, stage in enumerate(stages, start=1):
        closed = stage.startswith("Closed")
        account = rng.choice(demo_accounts if closed else active_accounts)
        product = rng.choices(PRODUCTS, weights=PRODUCT_WEIGHTS)[0]
        # Closed deals spread over two years, more of them recent; open ones close in the next quarter.
        days = int(rng.triangular(1, 730, 30)) if closed else -rng.randint(5, 120)
        lost = stage == "Closed Lost"
        reason = _weighted(rng, CRM_LOSS_REASONS) if lost and rng.random() < 0.9 else None
        competitor = None
        if lost and (reason in ("Lost to Competitor", "Price", "Missing Features") or rng.random() < 0.3):
            canonical = rng.choices(list(COMPETITORS), weights=COMPETITOR_WEIGHTS)[0]
            competitor = rng.choice(COMPETITORS[canonical])
        opportunities.append(
            DemoOpportunity(
                crm_id=f"006DM{index:010d}",
                account=account,
                name=f"{account.name} – {product[0]}",
                stage=stage,
                amount=_amount(rng, product, account.segment),
                close_date=today - timedelta(days=days),
                owner=rng.choice(owners),
                product=product[0],
                loss_reason=reason,
                competitor=competitor,
                contact=rng.choice(account.contacts),
                currency=CURRENCY_BY_COUNTRY.get(account.country, "USD"),
            )
        )
    return DemoCrm(accounts=demo_accounts, opportunities=opportunities, owners=owners)

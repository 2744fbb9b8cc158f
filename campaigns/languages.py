"""Before activation: which languages the campaign's contacts speak, and who would get the survey in another.

A contact is written to in their language when the survey version is fully translated into it
(surveys.translations.complete_languages, the rule the invitations and survey pages follow), else in the
survey's own language. The confirmation page names every language that falls back, so nothing is sent
untranslated by surprise.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, union

from app.crm.models import Account, Contact
from app.extensions import db
from app.i18n.languages import resolve_language
from campaigns.invitations import current_survey_version
from campaigns.models import Campaign, CampaignKind, Enrollment, EnrollmentStatus
from campaigns.targeting import TargetingRules, candidates
from surveys.translations import complete_languages


@dataclass(frozen=True)
class LanguageGap:
    language: str  # the contacts' language, which the survey lacks
    contacts: int
    receives: str  # the language they get instead (the survey's own)


@dataclass(frozen=True)
class LanguageCoverage:
    by_language: dict[str, int]  # contacts per language, most first
    available: tuple[str, ...]  # the languages the survey can be answered in, its own first
    gaps: tuple[LanguageGap, ...]


def language_coverage(campaign: Campaign, *, now: datetime) -> LanguageCoverage | None:
    """The languages of the contacts the campaign would survey (new matches and active enrollments);
    None for a call-only campaign or one without a survey."""
    version = current_survey_version(campaign)
    if campaign.kind is CampaignKind.CALL or version is None:
        return None
    db.session.flush()
    matches = candidates(TargetingRules.of(campaign), now=now, campaign_id=campaign.id).subquery()
    contact_ids = union(
        select(matches.c.contact_id).where(matches.c.suppression_reason.is_(None)),
        select(Enrollment.contact_id).where(
            Enrollment.campaign_id == campaign.id, Enrollment.status == EnrollmentStatus.ACTIVE
        ),
    ).subquery()
    rows = db.session.execute(
        select(Contact.language, Contact.country, Account.country, func.count())
        .join(Account, Account.id == Contact.account_id)
        .where(Contact.id.in_(select(contact_ids.c.contact_id)))
        .group_by(Contact.language, Contact.country, Account.country)
    ).all()
    counts: Counter[str] = Counter()
    for language, country, account_country, count in rows:
        counts[resolve_language(language, country, account_country)] += count
    available = tuple(complete_languages(version))
    gaps = tuple(
        LanguageGap(language, count, available[0])
        for language, count in counts.most_common()
        if language not in available
    )
    return LanguageCoverage(dict(counts.most_common()), available, gaps)

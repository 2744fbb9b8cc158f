"""The live Salesforce sync reads the contact's language from the field a setting names."""

from __future__ import annotations

import responses
from sqlalchemy import select

from app.crm.models import Opportunity
from app.crm.sync.base import RetryPolicy
from app.crm.sync.salesforce import SalesforceConnector, SalesforceSettings
from app.extensions import db
from tests.crm_fakes import SF_INSTANCE, SalesforceOrg
from tests.pipeline.crm_helpers import sync


def _connector(field: str | None) -> SalesforceConnector:
    settings = SalesforceSettings(
        instance_url=SF_INSTANCE, access_token="SESSION_1", contact_language_field=field
    )
    return SalesforceConnector(settings, retry=RetryPolicy(sleep=lambda _seconds: None))


def test_the_salesforce_sync_reads_the_contacts_language_field_when_a_setting_names_it(app):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        org = SalesforceOrg(mock, page_size=10)
        for number, language in ((1, "Deutsch"), (2, "fr_FR")):
            record = org.add_opportunity(number)
            record["OpportunityContactRoles"]["records"][0]["Contact"]["Language__c"] = language
        counts = sync(_connector("Language__c"))
        assert (counts["error"], counts["created"]) == (None, 2)
        assert "Contact.Language__c" in org.queries[0]
        # Only a plain field name reaches the SOQL text; without the setting, no language is asked for.
        assert "Language" not in _connector("Language__c FROM User --").soql(None)
        assert "Language" not in _connector(None).soql(None)
    languages = {
        deal.crm_id: deal.primary_contact.language for deal in db.session.scalars(select(Opportunity))
    }
    assert languages == {"006A00000000001": "de", "006A00000000002": "fr"}

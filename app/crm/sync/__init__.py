"""The live two-way CRM sync: one module per CRM (salesforce, hubspot) behind base.Connector."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Flask

from app.crm.sync.base import Connector, RetryPolicy

SOURCES = ("salesforce", "hubspot")
DEFAULT_INTERVAL_SECONDS = 900


def connector_for(source: str, config: Mapping[str, Any], *, retry: RetryPolicy | None = None) -> Connector:
    """The connection to one CRM, from the app's settings (environment variables), else the login an admin
    stored on the connection page."""
    from app.crm.sync.credentials import effective_config

    config = effective_config(config)
    if source == "salesforce":
        from app.crm.sync.salesforce import SalesforceConnector, SalesforceSettings

        return SalesforceConnector(SalesforceSettings.from_config(config), retry=retry)
    if source == "hubspot":
        from app.crm.sync.hubspot import HubSpotConnector, HubSpotSettings

        return HubSpotConnector(HubSpotSettings.from_config(config), retry=retry)
    raise ValueError(f"unknown CRM {source!r}")


def configured_sources(config: Mapping[str, Any]) -> list[str]:
    """The CRMs whose credentials are set: the periodic job syncs each of them."""
    from app.crm.sync.credentials import effective_config
    from app.crm.sync.hubspot import HubSpotSettings
    from app.crm.sync.salesforce import SalesforceSettings

    config = effective_config(config)
    found = []
    if SalesforceSettings.from_config(config).configured:
        found.append("salesforce")
    if HubSpotSettings.from_config(config).configured:
        found.append("hubspot")
    return found


def sync_configured(config: Mapping[str, Any], *, now: datetime) -> dict[str, dict[str, int]]:
    """The worker's periodic job: one run per configured CRM, committing after each batch of rows."""
    from app.crm.importing.records import ImportSettings
    from app.crm.sync.service import run_sync
    from app.database import commit_checkpoint

    results = {}
    for source in configured_sources(config):
        result = run_sync(
            connector_for(source, config),
            settings=ImportSettings.from_config(config),
            now=now,
            checkpoint=commit_checkpoint,
        )
        commit_checkpoint()
        results[source] = result.counts()
    return results


def register_sync_jobs(app: Flask) -> None:
    """The periodic sync, every CRM_SYNC_INTERVAL_SECONDS (it does nothing while no CRM is configured)."""
    from app.db_types import utcnow
    from app.jobs import register_periodic_job

    interval = app.config.get("CRM_SYNC_INTERVAL_SECONDS") or DEFAULT_INTERVAL_SECONDS
    register_periodic_job(
        app, "crm.sync", interval, lambda now: sync_configured(app.config, now=now or utcnow())
    )

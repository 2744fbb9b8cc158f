"""Run the import jobs a page queued, as `flask worker` would."""

from __future__ import annotations

from flask import current_app

from app.crm.importing.jobs import run_import_jobs
from app.db_types import utcnow


def run_queued_imports() -> list[int]:
    return run_import_jobs(config=current_app.config, clock=utcnow)


def post_and_run(client, url: str, data: dict | None = None):
    """Post a form that queues a dry run or an import, run the queue, and open the page it redirected to."""
    response = client.post(url, data=data or {})
    assert response.status_code == 302, response.get_data(as_text=True)
    run_queued_imports()
    return client.get(response.headers["Location"], follow_redirects=True)

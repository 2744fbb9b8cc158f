"""What the CRM file and sync tests share: an accepted requalification of one lost deal, and one sync run."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.auth.models import Role
from app.crm.sync.service import run_sync
from app.extensions import db
from app.pipeline.models import Requalification
from app.pipeline.service import accept
from tests.pipeline.conftest import NOW


def accepted_requalification(
    respond,
    make_user,
    make_account,
    make_opportunity,
    *,
    account_crm_id: str,
    deal_crm_id: str,
    next_step_date: date | None = None,
) -> Requalification:
    """A customer's response requalifies Acme's lost deal, and a sales manager accepts it for Eve Owner."""
    account = make_account(name="Acme Corp", crm_id=account_crm_id)
    respond(opportunity=make_opportunity(account=account, crm_id=deal_crm_id, owner="Dana Owner"))
    requalification = db.session.scalar(select(Requalification))
    accept(
        requalification,
        reviewer=make_user(Role.SALES_MANAGER),
        owner="Eve Owner",
        expected_amount=None,
        next_step="Call the new CFO",
        next_step_date=next_step_date,
        now=NOW,
    )
    db.session.commit()
    return requalification


def sync(connector, **kwargs) -> dict:
    """One committed sync run: its counts, its error and its import batch."""
    result = run_sync(connector, now=NOW, **kwargs)
    db.session.commit()
    return {**result.counts(), "error": result.error, "batch_id": result.batch_id}

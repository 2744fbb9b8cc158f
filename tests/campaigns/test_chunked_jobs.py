"""Enrollment and the periodic jobs commit in bounded chunks, and chunks give what one statement gives."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from campaigns.enrollment import enroll_campaign
from campaigns.models import CampaignKind, Enrollment
from surveys.invitations import close_stale_responses
from surveys.models import Invitation, Response, ResponseChannel, ResponseStatus

from .conftest import NOW


def _crm(make_contact, make_opportunity) -> None:
    """Seven accounts with the cases that are decided across rows: several deals, contacts, open deals."""
    for n in range(7):
        contact = make_contact(email=f"c{n}@customer{n}.example")
        make_opportunity(account=contact.account, primary_contact=contact, close_date=date(2026, 10, 1))
        if n == 1:  # a second deal: the contact is reached once, through the newest
            make_opportunity(account=contact.account, primary_contact=contact, close_date=date(2026, 9, 1))
        if n == 2:  # a second contact: one per account
            make_contact(account=contact.account, email="second@customer2.example")
        if n == 3:  # an open deal suppresses the account
            make_opportunity(account=contact.account, stage="Negotiation", is_closed=False, close_date=None)
        if n == 4:
            contact.email_opt_out_at = NOW - timedelta(days=1)
    db.session.commit()


def _enrollments(campaign_id: int) -> set[tuple]:
    return set(
        db.session.execute(
            select(
                Enrollment.opportunity_id,
                Enrollment.contact_id,
                Enrollment.status,
                Enrollment.suppression_reason,
            ).where(Enrollment.campaign_id == campaign_id)
        ).all()
    )


def test_enrollment_in_chunks_commits_each_chunk_and_enrolls_what_one_statement_would(
    make_campaign, make_contact, make_opportunity, version
):
    _crm(make_contact, make_opportunity)
    rules = {"kind": CampaignKind.SURVEY, "survey_version_id": version.id, "cooldown_days": 0}
    whole = make_campaign(name="One statement", **rules)
    chunked = make_campaign(name="Chunks", **rules)
    expected = enroll_campaign(whole, now=NOW)
    db.session.commit()

    committed = []

    def checkpoint() -> None:
        db.session.commit()
        committed.append(db.session.scalar(select(func.count()).where(Enrollment.campaign_id == chunked.id)))

    result = enroll_campaign(chunked, now=NOW, checkpoint=checkpoint, chunk_accounts=3)
    assert committed == [4, 7, 8]  # accounts 1-3 (one with two lost deals), 4-6, 7
    assert (result.created, result.invited) == (expected.created, expected.invited)
    assert result.by_status == expected.by_status
    assert result.by_reason == expected.by_reason
    assert {row[:2] for row in _enrollments(chunked.id)} == {row[:2] for row in _enrollments(whole.id)}
    assert _enrollments(chunked.id) == _enrollments(whole.id)
    invitations = db.session.scalar(select(func.count()).select_from(Invitation))
    assert invitations == 2 * expected.invited
    # Again: nothing new, in chunks or not.
    assert enroll_campaign(chunked, now=NOW + timedelta(hours=1), checkpoint=db.session.commit).created == 0


def test_closing_stale_responses_commits_in_chunks(make_contact, version):
    from tests.survey_helpers import invite

    for n in range(5):
        invitation, _ = invite(version, make_contact(email=f"r{n}@customer.example"))
        db.session.add(
            Response(
                version_id=version.id,
                invitation_id=invitation.id,
                channel=ResponseChannel.WEB,
                status=ResponseStatus.IN_PROGRESS,
                started_at=NOW - timedelta(days=30),
                updated_at=NOW - timedelta(days=30),
            )
        )
    db.session.commit()
    checkpoints = []
    closed = close_stale_responses(
        now=NOW, after_days=14, checkpoint=lambda: checkpoints.append(db.session.commit()), chunk_size=2
    )
    assert closed == 5
    assert len(checkpoints) == 2  # 2 + 2 committed by checkpoints, the last 1 by the caller
    db.session.commit()
    statuses = db.session.scalars(select(Response.status)).all()
    assert statuses == [ResponseStatus.CLOSED] * 5


def test_the_edit_page_preview_takes_its_contact_from_the_counting_query(make_contact, make_opportunity):
    from sqlalchemy import event

    from app.messaging.channels import Channel
    from campaigns.enrollment import preview_rules
    from campaigns.service import preview_contact
    from campaigns.targeting import TargetingRules

    _crm(make_contact, make_opportunity)
    rules = TargetingRules(channel=Channel.EMAIL, cooldown_days=0)
    expected = preview_contact(rules, now=NOW)  # its own pass over the candidates
    statements = []

    def count(*args):
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        preview = preview_rules(rules, now=NOW)
        contact = preview_contact(rules, now=NOW, preview=preview)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert contact is not None
    assert contact.id == expected.id == preview.first_eligible_contact_id
    assert (preview.contacts, preview.eligible) == (8, 5)
    assert (
        len(statements) == 2
    )  # the deals count and one aggregate over the candidates (the contact is cached)


def test_the_open_deal_check_looks_up_the_account_not_every_open_deal(app):
    """At 200k deals with open ones, searching by is_closed alone made the preview take minutes."""
    from sqlalchemy import text

    from app.messaging.channels import Channel
    from campaigns.targeting import TargetingRules, candidates

    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's planner, without statistics; PostgreSQL plans from its own statistics")
    query = candidates(TargetingRules(channel=Channel.CALL), now=NOW)
    sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    plan = [row[3] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {sql}"))]
    lookups = [step for step in plan if step.startswith("SEARCH others")]
    assert lookups
    assert all("(account_id=?)" in step for step in lookups), lookups


def test_due_reminders_read_in_batches_are_the_same_reminders(make_contact, version):
    from surveys.invitations import due_reminder_batches, due_reminders
    from tests.survey_helpers import invite

    for n in range(5):
        invitation, _ = invite(version, make_contact(email=f"m{n}@customer.example"), reminder_max=2)
        invitation.sent_at = invitation.last_sent_at = NOW - timedelta(days=10)
        if n == 3:
            invitation.completed_at = NOW  # answered: no reminder
    db.session.commit()
    batches = list(due_reminder_batches(now=NOW, batch_size=2))
    assert [len(batch) for batch in batches] == [2, 2]  # the completed one is never a candidate
    assert [i.id for batch in batches for i in batch] == [i.id for i in due_reminders(now=NOW)]


def test_invitations_are_created_and_committed_a_chunk_at_a_time(
    make_campaign, make_contact, make_opportunity, version
):
    from campaigns.invitations import invite_new_enrollments

    _crm(make_contact, make_opportunity)
    campaign = make_campaign(kind=CampaignKind.SURVEY, survey_version_id=version.id, cooldown_days=0)
    enroll_campaign(campaign, now=NOW)  # enrolls and invites: take the invitations back off
    db.session.execute(Enrollment.__table__.update().values(invitation_id=None))
    db.session.execute(Invitation.__table__.delete())
    from app.messaging.models import OutboundMessage

    db.session.execute(OutboundMessage.__table__.delete())
    db.session.commit()
    checkpoints = []
    invited = invite_new_enrollments(
        campaign,
        now=NOW + timedelta(hours=1),
        checkpoint=lambda: checkpoints.append(db.session.commit()),
        chunk_size=2,
    )
    db.session.commit()
    assert invited == 5  # the active ones (8 enrolled, 3 suppressed)
    assert len(checkpoints) == 2  # 2 + 2 committed by checkpoints, the last one by the caller
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 5

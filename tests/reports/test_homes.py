"""Each role's home: the admin's funnel and data health, the sales manager's reviews, losses and revenue won
back, the caller's queue and numbers of today, the analyst's backlog and agreement."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest

from app.auth.models import Role
from app.codebook.models import ReasonCode
from app.codebook.service import ensure_default_codebook
from app.coding.models import CoderKind, Coding, CodingStatus
from app.crm.importing.models import BatchStatus, ImportBatch
from app.db_types import utcnow
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.models import MessageStatus, OutboundMessage
from app.money.service import set_rate
from app.pipeline.models import Requalification, RequalificationSource, RequalificationStatus, SalesTeam
from campaigns.calls.models import CallAttempt, CallTask, Disposition, TaskStatus
from tests.calls.conftest import make_queue  # noqa: F401 (a fixture)


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


@pytest.mark.parametrize("role", list(Role))
def test_every_home_renders_on_an_empty_database(client, login, make_user, role):
    login(make_user(role))
    response = client.get("/dashboard")
    assert response.status_code == 200
    html = _text(response)
    expected = {
        Role.ADMIN: ["Data health", "No targets yet", "Recovery funnel, last 90 days"],
        Role.SALES_MANAGER: [
            "Pending reviews, company-wide: 0",  # no team set: the figures say whose they are
            "Nothing waits for your review.",
            "Revenue won back, company-wide",
        ],
        Role.CALLER: ["Your queue", "Your numbers today"],
        Role.ANALYST: ["Coding backlog", "No answer coded by two coders yet"],
    }[role]
    for words in expected:
        assert words in html


def test_the_admin_sees_data_health(client, login, make_user, make_queue):  # noqa: F811
    now = utcnow()
    queue = make_queue(2)
    db.session.add_all(
        [
            ImportBatch(
                filename="october.csv",
                status=BatchStatus.DONE,
                created=40,
                updated=2,
                failed=3,
                created_at=now - timedelta(days=2),
            ),
            ImportBatch(
                filename="dry.csv", status=BatchStatus.DONE, dry_run=True, failed=9, created_at=now
            ),  # a dry run is not an import
            OutboundMessage(
                idempotency_key="k1",
                channel=Channel.EMAIL,
                recipient="a@x.example",
                body_text="x",
                status=MessageStatus.FAILED,
            ),
            OutboundMessage(
                idempotency_key="k2",
                channel=Channel.EMAIL,
                recipient="b@x.example",
                body_text="x",
                attempts=2,
                next_attempt_at=now + timedelta(minutes=20),
            ),
            OutboundMessage(
                idempotency_key="k3",
                channel=Channel.SMS,
                recipient="+14155550111",
                body_text="x",
                next_attempt_at=now + timedelta(hours=3),
            ),
        ]
    )
    for task in db.session.scalars(db.select(CallTask).where(CallTask.campaign_id == queue.campaign.id)):
        task.status, task.due_at = TaskStatus.READY, now + timedelta(minutes=30)
    db.session.commit()
    login(make_user(Role.ADMIN))
    html = _text(client.get("/dashboard"))
    assert "october.csv, done; 40 created, 2 updated, 3 failed" in html
    assert "Failed rows, last 30 days</dt> <dd>3</dd>" in html
    assert "1 failed, 1 retrying" in html
    assert "1 message (email and SMS); calls due: Calls 1 (2)" in html


def _requalification(account, *, due, status=RequalificationStatus.PENDING, **fields):
    requalification = Requalification(
        account_id=account.id, source=RequalificationSource.CALL, status=status, decision_due_at=due, **fields
    )
    db.session.add(requalification)
    db.session.flush()
    return requalification


def test_the_sales_manager_sees_overdue_reviews_first_and_the_team_figures(
    client, login, make_user, make_account, make_opportunity
):
    now = utcnow()
    manager = make_user(Role.SALES_MANAGER)
    db.session.add(SalesTeam(manager_id=manager.id, owners=["Dana Owner"], regions=[]))
    today = now.date()
    soon = make_opportunity(account=make_account(name="Soonco"), owner="Dana Owner", close_date=today)
    late = make_opportunity(account=make_account(name="Lateco"), owner="Dana Owner", close_date=today)
    make_opportunity(account=make_account(name="Otherco"), owner="Eve Other", close_date=today)
    _requalification(soon.account, due=now + timedelta(days=2), opportunity_id=soon.id, score=90)
    _requalification(late.account, due=now - timedelta(days=1), opportunity_id=late.id, score=10)
    # Lost by the team recently: one deal in EUR (converted at 1.20), one in GBP (no rate).
    set_rate(month=now.date().replace(day=1), currency="EUR", rate=Decimal("1.20"), now=now)
    make_opportunity(owner="Dana Owner", amount=Decimal(1000), currency="EUR", close_date=now.date())
    make_opportunity(owner="Dana Owner", amount=Decimal(500), currency="GBP", close_date=now.date())
    # Won back for Dana's lost deal: 2,000 USD.
    won = make_opportunity(
        account=late.account, stage="Closed Won", is_won=True, amount=Decimal(2000), close_date=now.date()
    )
    _requalification(
        make_account(),
        due=None,
        status=RequalificationStatus.ACCEPTED,
        opportunity_id=late.id,
        recycled_opportunity_id=won.id,
    )
    db.session.commit()
    login(manager)
    html = _text(client.get("/dashboard"))
    assert "Pending reviews, your team: 2, 1 overdue" in html
    assert html.index("Lateco") < html.index("Soonco")  # overdue first, though its score is lower
    assert "Otherco" not in html
    # The team lost 12,500 + 12,500 USD + 1,000 EUR × 1.20 = 26,200; 500 GBP apart; Eve's not counted.
    assert "Lost in the last 90 days, your team" in html
    assert "Revenue won back, your team" in html
    assert '<span class="figure">4</span> deals lost, $26,200' in html
    assert "(not converted: £500 in 1 deal)" in html
    assert "$2,000</span> from 1 recycled deal won" in html


def test_the_caller_lands_on_the_queue_with_today_numbers(client, login, make_user, make_queue):  # noqa: F811
    queue = make_queue(2)
    now = utcnow()
    task = db.session.scalar(db.select(CallTask).where(CallTask.campaign_id == queue.campaign.id))
    for n, (disposition, seconds) in enumerate(
        [(Disposition.NO_ANSWER, 0), (Disposition.COMPLETED, 300), (Disposition.REQUALIFIED, 125)]
    ):
        db.session.add(
            CallAttempt(
                task_id=task.id,
                campaign_id=queue.campaign.id,
                contact_id=task.contact_id,
                caller_id=queue.caller.id,
                phone="+14155550123",
                started_at=now - timedelta(minutes=n + 1),
                answered_at=None if disposition is Disposition.NO_ANSWER else now,
                duration_seconds=seconds,
                disposition=disposition,
            )
        )
    db.session.add(  # yesterday's call is not today's number
        CallAttempt(
            task_id=task.id,
            campaign_id=queue.campaign.id,
            contact_id=task.contact_id,
            caller_id=queue.caller.id,
            phone="+14155550123",
            started_at=now - timedelta(days=1, hours=1),
            disposition=Disposition.BUSY,
        )
    )
    db.session.commit()
    login(queue.caller)
    assert client.get("/").headers["Location"].endswith("/calls")
    html = _text(client.get("/calls"))
    assert "Your numbers today" in html
    assert '<span class="figure" id="today-calls">3</span> calls' in html
    assert '<span class="figure">2</span> connects' in html
    assert '<span class="figure">1</span> completes' in html
    assert '<span class="figure">1</span> requalified' in html
    assert '<span class="figure">0:07:05</span> talk time' in html
    # An admin's call queue page has no caller numbers.
    client.post("/logout")
    login(make_user(Role.ADMIN))
    assert "Your numbers today" not in _text(client.get("/calls"))


def test_the_analyst_sees_the_backlog_and_kappa(client, login, make_user, respond, survey):
    ensure_default_codebook()
    analyst = make_user(Role.ANALYST, name="Alex Analyst")
    other = make_user(Role.ANALYST, name="Bo Coder")
    answers = [respond(f"Too expensive for us {n}") for n in range(3)]
    code = db.session.scalar(db.select(ReasonCode).order_by(ReasonCode.id).limit(1))
    # Both analysts code the first two answers the same way; the third waits.
    for answer in answers[:2]:
        for coder in (analyst, other):
            db.session.add(
                Coding(
                    answer_id=answer.id,
                    reason_code_id=code.id,
                    source=CoderKind.PERSON,
                    coder_id=coder.id,
                    coder_key=f"user:{coder.id}",
                    status=CodingStatus.CONFIRMED,
                )
            )
    db.session.commit()
    login(analyst)
    html = _text(client.get("/dashboard"))
    assert "1</span> answer to code" in html
    assert "between Alex Analyst and Bo Coder on 2 answers" in html


def test_the_dashboard_lost_revenue_converts_in_sql(client, login, make_user, make_opportunity):
    today = date.today()
    set_rate(month=today.replace(day=1), currency="EUR", rate=Decimal("1.10"), now=utcnow())
    make_opportunity(amount=Decimal(1000), currency="EUR", close_date=today)
    make_opportunity(amount=Decimal(250), currency="USD", close_date=today)
    make_opportunity(amount=Decimal(400), currency="GBP", close_date=today)
    db.session.commit()
    login(make_user(Role.ANALYST))
    html = _text(client.get("/dashboard"))
    assert '<span class="figure">$1,350</span> lost revenue' in html  # 1,000 × 1.10 + 250
    assert "£400 in 1 deal" in html

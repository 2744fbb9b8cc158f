"""Two managers deciding the same requalification at once: one decision wins, the other manager is told
it was already decided and by whom; only the winner's audit event and webhook exist. Real threads, as
the claim tests do, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import event, func, select

from app.audit.models import AuditEvent
from app.auth.models import Role, User
from app.extensions import db
from app.messaging.models import OutboundMessage
from app.pipeline.bulk import bulk_decide
from app.pipeline.models import AlreadyDecided, Requalification, RequalificationStatus
from app.pipeline.service import accept, defer, pipeline_settings, reject, return_deferred
from app.pipeline.webhook import TEMPLATE
from tests.conftest import PASSWORD
from tests.pipeline.conftest import NOW

ROUNDS = 4
DECISIONS = ("requalification.accepted", "requalification.rejected", "requalification.deferred")


@pytest.fixture
def managers(make_user) -> tuple[User, User]:
    return make_user(Role.SALES_MANAGER, name="Ada Accepter"), make_user(
        Role.SALES_MANAGER, name="Rex Rejecter"
    )


@pytest.fixture
def pending(respond) -> Callable[[int], list[int]]:
    """n pending requalifications (one account each) and a CRM webhook set: their ids."""

    def factory(n: int) -> list[int]:
        settings = pipeline_settings()
        settings.webhook_url = "http://127.0.0.1:9/hooks/winback"
        settings.webhook_secret = "a-shared-secret-of-some-length"
        db.session.commit()
        for _ in range(n):
            respond()
        ids = list(db.session.scalars(select(Requalification.id).order_by(Requalification.id)))
        db.session.remove()  # the threads load their own rows
        return ids

    return factory


def _accept(requalification, reviewer):
    accept(
        requalification,
        reviewer=reviewer,
        owner="Dana Owner",
        expected_amount=None,
        next_step="Call back",
        next_step_date=None,
        now=NOW,
    )


def _reject(requalification, reviewer):
    reject(requalification, reviewer=reviewer, reason="no_budget", text="", now=NOW)


def _race(app, works: list[Callable[[], object]]) -> list[object]:
    """Run each work in its own thread and app context, all released at once; their results or errors."""
    barrier = threading.Barrier(len(works))
    results: list[object] = [None] * len(works)
    crashes: list[BaseException] = []

    def run(index: int) -> None:
        try:
            with app.app_context():
                try:
                    results[index] = works[index](barrier)
                    db.session.commit()
                except AlreadyDecided as error:
                    db.session.rollback()
                    results[index] = error
                finally:
                    db.session.remove()
        except BaseException as error:  # noqa: BLE001 (reported by the test)
            crashes.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(works))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert crashes == []
    return results


def _single(requalification_id: int, manager_id: int, decide) -> Callable:
    def work(barrier: threading.Barrier) -> str:
        requalification = db.session.get(Requalification, requalification_id)
        reviewer = db.session.get(User, manager_id)
        assert requalification.is_open  # both managers see it pending
        barrier.wait()
        decide(requalification, reviewer)
        return "won"

    return work


def _decision_events(requalification_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.entity_id == requalification_id, AuditEvent.action.in_(DECISIONS))
            .order_by(AuditEvent.id)
        )
    )


def _webhooks() -> int:
    return db.session.scalar(
        select(func.count()).select_from(OutboundMessage).where(OutboundMessage.template == TEMPLATE)
    )


def test_accept_and_reject_at_once_one_wins_and_the_other_is_told_by_whom(app, managers, pending):
    ada, rex = managers
    ada_id, rex_id = ada.id, rex.id
    accepted_rounds = 0
    for requalification_id in pending(ROUNDS):
        won, lost = [], []
        results = _race(
            app,
            [_single(requalification_id, ada_id, _accept), _single(requalification_id, rex_id, _reject)],
        )
        for name, result in zip(("Ada Accepter", "Rex Rejecter"), results, strict=True):
            (lost if isinstance(result, AlreadyDecided) else won).append((name, result))
        assert len(won) == 1, results
        assert len(lost) == 1, results
        winner = won[0][0]
        stored = db.session.get(Requalification, requalification_id)
        verb = "accepted" if winner == "Ada Accepter" else "rejected"
        assert lost[0][1].message.startswith(f"WB-{requalification_id} was already {verb} by {winner}")
        assert lost[0][1].status == 409
        assert stored.status.value == verb
        assert stored.reviewer.name == winner
        assert stored.reject_reason == ("no_budget" if verb == "rejected" else None)
        assert _decision_events(requalification_id) == [f"requalification.{verb}"]
        accepted_rounds += verb == "accepted"
        db.session.remove()
    assert _webhooks() == accepted_rounds  # the accepted webhook only where accepting won


def test_two_bulk_decisions_on_the_same_ticks_decide_each_requalification_once(app, managers, pending):
    ada, rex = managers
    ada_id, rex_id = ada.id, rex.id
    ids = pending(3)

    def bulk(manager_id: int, action: str, values: dict) -> Callable:
        def work(barrier: threading.Barrier):
            reviewer = db.session.get(User, manager_id)
            barrier.wait()
            return bulk_decide(ids, action, reviewer=reviewer, now=NOW, **values)

        return work

    accepting = {"owner": "Dana Owner", "expected_amount": None, "next_step": "", "next_step_date": None}
    first, second = _race(
        app,
        [
            bulk(ada_id, "accept", accepting),
            bulk(rex_id, "reject", {"reason": "no_budget", "text": ""}),
        ],
    )
    assert sorted(first.done + second.done) == ids  # each decided exactly once
    names = {id(first): "Ada Accepter", id(second): "Rex Rejecter"}
    for requalification_id in ids:
        winner, loser = (first, second) if requalification_id in first.done else (second, first)
        verb = "accepted" if winner is first else "rejected"
        assert requalification_id not in dict(winner.failed)
        assert f"was already {verb} by {names[id(winner)]}" in dict(loser.failed)[requalification_id]
    for requalification_id in ids:
        assert len(_decision_events(requalification_id)) == 1
    assert _webhooks() == len(first.done)
    rows = db.session.scalars(select(Requalification).where(Requalification.id.in_(ids))).all()
    assert all((r.status is RequalificationStatus.REJECTED) == (r.reject_reason is not None) for r in rows)


def _post(client, url: str, data: dict, **headers):
    return client.post(url, data=data, headers=headers)


def test_the_second_manager_gets_a_409_saying_who_decided_as_json_or_on_the_page(
    app, login, managers, pending
):
    ada, rex = managers
    rex_email = rex.email
    first = login(ada)
    requalification_id, other_id = pending(2)
    url = f"/pipeline/requalifications/{requalification_id}"
    assert _post(first, f"{url}/accept", {"owner": "Dana Owner"}).status_code == 302

    second = app.test_client()
    second.post("/login", data={"email": rex_email, "password": PASSWORD})
    answer = _post(second, f"{url}/reject", {"reason": "no_budget"}, Accept="application/json")
    assert answer.status_code == 409
    assert answer.get_json()["error"]["code"] == "already_decided"
    assert answer.get_json()["error"]["message"].startswith(
        f"WB-{requalification_id} was already accepted by Ada Accepter"
    )

    page = _post(second, f"{url}/defer", {"until": date(2099, 1, 1).isoformat()})
    assert page.status_code == 409
    assert f"WB-{requalification_id} was already accepted by Ada Accepter" in page.get_data(as_text=True)
    assert _decision_events(requalification_id) == ["requalification.accepted"]
    assert db.session.get(Requalification, requalification_id).reject_reason is None
    assert db.session.get(Requalification, other_id).status is RequalificationStatus.PENDING


def test_a_deferral_coming_back_never_undoes_a_decision_taken_meanwhile(app, managers, pending):
    ada, _ = managers
    ada_id = ada.id
    (requalification_id,) = pending(1)
    defer(
        db.session.get(Requalification, requalification_id),
        reviewer=db.session.get(User, ada_id),
        until=date(2026, 11, 30),
        now=NOW,
    )
    db.session.commit()

    def accept_meanwhile() -> None:
        with app.app_context():
            _accept(db.session.get(Requalification, requalification_id), db.session.get(User, ada_id))
            db.session.commit()
            db.session.remove()

    decided: list[bool] = []

    def after_reading_the_due_deferrals(conn, cursor, statement, *args) -> None:
        # The window: the deferrals whose day has come are read, none is written back yet.
        if not decided and statement.lstrip().startswith("SELECT") and "deferred_until <=" in statement:
            decided.append(True)
            thread = threading.Thread(target=accept_meanwhile)
            thread.start()
            thread.join(timeout=30)

    event.listen(db.engine, "after_cursor_execute", after_reading_the_due_deferrals)
    try:
        returned = return_deferred(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
        db.session.commit()
    finally:
        event.remove(db.engine, "after_cursor_execute", after_reading_the_due_deferrals)
    assert decided == [True]
    assert returned == 0
    db.session.expire_all()
    stored = db.session.get(Requalification, requalification_id)
    assert stored.status is RequalificationStatus.ACCEPTED  # not put back to pending over the decision
    assert _decision_events(requalification_id) == ["requalification.deferred", "requalification.accepted"]

"""Every change of an outbound message's status goes through the model: its transition methods for one
message, `OutboundMessage.bulk_transition` for many in SQL; the ledger's one statement per message (the
fast path bench/outbox_bench.py measures) is the only other writer, named here."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.models import TRANSITIONS, InvalidTransition, MessageStatus, OutboundMessage
from app.messaging.service import cancel_queued_messages

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
# (file, function) allowed to build an UPDATE of outbound_messages besides bulk_transition itself.
FAST_PATH = {
    ("app/messaging/models.py", "bulk_transition"),
    ("app/messaging/ledger.py", "_mark_statement"),  # record_and_start: recorded rows -> sent
    ("app/messaging/ledger.py", "_record_and_start_each"),
}


def _message(make_contact, status: MessageStatus = MessageStatus.QUEUED) -> OutboundMessage:
    contact = make_contact()
    message = OutboundMessage(
        channel=Channel.EMAIL,
        contact_id=contact.id,
        recipient=contact.email,
        subject="Hello",
        body_text="Hello",
        idempotency_key=f"test:{contact.id}",
        next_attempt_at=NOW,
        status=status,  # the starting state of the test, as past transitions left it
    )
    db.session.add(message)
    db.session.commit()
    return message


def test_a_bulk_transition_the_table_does_not_allow_is_refused():
    for source, targets in TRANSITIONS.items():
        for target in MessageStatus:
            if target in targets:
                OutboundMessage.bulk_transition(source, target)
            else:
                with pytest.raises(InvalidTransition):
                    OutboundMessage.bulk_transition(source, target)
    with pytest.raises(InvalidTransition):
        OutboundMessage.bulk_transition(
            MessageStatus.QUEUED, MessageStatus.SENDING, status=MessageStatus.SENT
        )


def test_a_bulk_cancel_moves_only_the_queued_messages(make_contact):
    queued = _message(make_contact)
    sent = _message(make_contact, MessageStatus.SENT)
    other = _message(make_contact)
    assert cancel_queued_messages(queued.contact_id, reason="opted out") == 1
    cancel_queued_messages(sent.contact_id, reason="opted out")
    db.session.commit()
    statuses = dict(db.session.execute(select(OutboundMessage.id, OutboundMessage.status)).all())
    assert statuses == {
        queued.id: MessageStatus.CANCELLED,
        sent.id: MessageStatus.SENT,
        other.id: MessageStatus.QUEUED,
    }


def test_the_carrier_reports_a_sent_message_undelivered_and_only_a_sent_one(make_contact):
    message = _message(make_contact)
    with pytest.raises(InvalidTransition):
        message.mark_undelivered("Twilio reported the SMS failed", code="twilio_failed")
    message.claim("w1", now=NOW)
    message.mark_sent("SM1", now=NOW)
    message.mark_undelivered("Twilio reported the SMS failed", code="twilio_failed")
    assert (message.status, message.error_code, message.attempts) == (
        MessageStatus.FAILED,
        "twilio_failed",
        1,
    )
    with pytest.raises(InvalidTransition):
        message.claim("w1", now=NOW)


def _status_writers(path: Path) -> list[tuple[str, str]]:
    """(function, what) for each place in `path` that writes a message's status outside the model."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    value = ast.unparse(node.value)
                    if (
                        isinstance(target, ast.Attribute)
                        and target.attr == "status"
                        and "MessageStatus" in value
                    ):
                        found.append((function.name, ast.unparse(node)))
            if isinstance(node, ast.Call) and ast.unparse(node.func) in ("update", "sa.update"):
                argument = ast.unparse(node.args[0]) if node.args else ""
                if "OutboundMessage" in argument or (
                    argument == "table" and "OutboundMessage" in path.read_text()
                ):
                    found.append((function.name, ast.unparse(node)))
    return found


def test_no_code_writes_a_message_status_but_the_model_and_the_named_fast_path():
    offenders = []
    for package in ("app", "surveys", "campaigns"):
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            for function, what in _status_writers(path):
                allowed = (relative, function) in FAST_PATH or (
                    relative == "app/messaging/models.py" and "self.status" in what
                )
                if not allowed:
                    offenders.append(f"{relative}:{function}: {what}")
    assert offenders == []


def test_the_guard_sees_a_raw_status_write(tmp_path):
    """The scan above is not blind: it finds both kinds of raw write in a module written to look like one."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from app.messaging.models import MessageStatus, OutboundMessage\n"
        "def f(message):\n"
        "    message.status = MessageStatus.SENT\n"
        "def g():\n"
        "    return update(OutboundMessage).values(status=MessageStatus.SENT)\n"
    )
    assert [function for function, _ in _status_writers(sample)] == ["f", "g"]

"""What the caller types on a task's screen, kept as they type until a disposition is recorded."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import delete, select

from app.auth.models import User
from app.extensions import db
from campaigns.calls.models import CallDraft, CallTask

NOTES_LIMIT = 20000  # the disposition refuses notes past FORM_LIMIT; the draft keeps what was typed


def _draft(task: CallTask, caller: User) -> CallDraft | None:
    return db.session.scalar(
        select(CallDraft).where(CallDraft.task_id == task.id, CallDraft.caller_id == caller.id)
    )


def save_draft(task: CallTask, caller: User, form: Mapping[str, str], *, now: datetime) -> CallDraft:
    """Keep the notes, callback time and zone, callback owner and "stop after this call" as posted."""
    draft = _draft(task, caller)
    if draft is None:
        draft = CallDraft(task_id=task.id, caller_id=caller.id)
        db.session.add(draft)
    draft.notes = (form.get("notes") or "")[:NOTES_LIMIT] or None
    draft.callback_at = (form.get("callback_at") or "").strip()[:32] or None
    draft.callback_zone = "mine" if form.get("callback_zone") == "mine" else "contact"
    draft.callback_for = "anyone" if form.get("callback_for") == "anyone" else "me"
    draft.stop_after = form.get("then") == "stop"
    draft.updated_at = now
    db.session.flush()
    return draft


def draft_values(task: CallTask, caller: User) -> dict[str, str]:
    """The draft as form values, as the task page fills its fields; empty when nothing was typed."""
    draft = _draft(task, caller)
    if draft is None:
        return {}
    values = {
        "notes": draft.notes or "",
        "callback_at": draft.callback_at or "",
        "callback_zone": draft.callback_zone,
        "callback_for": draft.callback_for,
    }
    if draft.stop_after:
        values["then"] = "stop"
    return values


def clear_drafts(task: CallTask) -> None:
    """The call is recorded: what was typed for it is in the attempt now."""
    db.session.execute(delete(CallDraft).where(CallDraft.task_id == task.id))

"""Following double coding: which answers are in the sample, each coder's and the overall progress, and
coders named by name (never "user:4")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select

from app.auth.models import User
from app.coding.models import DoubleCodingAssignment
from app.extensions import db
from surveys.models import Answer


def coder_names(keys: Iterable[str]) -> dict[str, str]:
    """A readable name for each coder key: a user's name (or email), an imported coder's own name."""
    keys = list(keys)
    user_ids = [int(k.split(":", 1)[1]) for k in keys if k.startswith("user:") and k[5:].isdigit()]
    users = (
        {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids)))} if user_ids else {}
    )
    names = {}
    for key in keys:
        kind, _, rest = key.partition(":")
        if kind == "user" and rest.isdigit() and int(rest) in users:
            user = users[int(rest)]
            names[key] = user.name or user.email
        elif kind == "import" and rest:
            names[key] = f"{rest} (imported)"
        elif key == "final":
            names[key] = "the lead's resolution"
        else:
            names[key] = {"import": "imported codings", "option": "option mapping"}.get(key, key)
    return names


@dataclass(frozen=True)
class SampleMark:
    """What the workbench says about an answer drawn into the double-coding sample."""

    coders: tuple[str, ...]  # every assigned coder's name
    done: int
    mine_open: bool  # the viewer is assigned and has not coded it yet

    @property
    def second_coder_needed(self) -> bool:
        return self.done < len(self.coders)


def sample_mark(answer: Answer, viewer_id: int) -> SampleMark | None:
    """The answer's double-coding state, or None when it is not in the sample."""
    rows = db.session.execute(
        select(DoubleCodingAssignment.coder_id, DoubleCodingAssignment.done_at, User.name, User.email)
        .join(User, User.id == DoubleCodingAssignment.coder_id)
        .where(DoubleCodingAssignment.answer_id == answer.id)
        .order_by(User.name, User.id)
    ).all()
    if not rows:
        return None
    return SampleMark(
        coders=tuple(name or email for _, _, name, email in rows),
        done=sum(done is not None for _, done, _, _ in rows),
        mine_open=any(coder_id == viewer_id and done is None for coder_id, done, _, _ in rows),
    )


@dataclass(frozen=True)
class CoderProgress:
    coder_id: int
    name: str
    assigned: int
    done: int

    @property
    def remaining(self) -> int:
        return self.assigned - self.done


@dataclass(frozen=True)
class SampleProgress:
    coders: list[CoderProgress]
    answers: int  # answers in the sample
    double_coded: int  # answers every assigned coder is done with
    resolved: int  # answers whose disagreement a lead resolved

    def for_coder(self, coder_id: int) -> CoderProgress | None:
        return next((c for c in self.coders if c.coder_id == coder_id), None)


def sample_progress() -> SampleProgress:
    """Per coder: answers assigned and done; overall: answers in the sample, fully double coded, resolved.

    The workbench and the agreement page both show these figures."""
    per_coder = db.session.execute(
        select(
            User.id,
            User.name,
            User.email,
            func.count(DoubleCodingAssignment.id),
            func.count(DoubleCodingAssignment.done_at),
        )
        .join(DoubleCodingAssignment, DoubleCodingAssignment.coder_id == User.id)
        .group_by(User.id, User.name, User.email)
        .order_by(User.name, User.id)
    ).all()
    per_answer = (
        select(
            DoubleCodingAssignment.answer_id,
            (func.count(DoubleCodingAssignment.done_at) == func.count()).label("all_done"),
            (func.count(DoubleCodingAssignment.resolved_at) > 0).label("resolved"),
        )
        .group_by(DoubleCodingAssignment.answer_id)
        .subquery()
    )
    answers, double_coded, resolved = db.session.execute(
        select(
            func.count(),
            func.count().filter(per_answer.c.all_done),
            func.count().filter(per_answer.c.resolved),
        ).select_from(per_answer)
    ).one()
    return SampleProgress(
        coders=[
            CoderProgress(cid, name or email, assigned, done)
            for cid, name, email, assigned, done in per_coder
        ],
        answers=answers,
        double_coded=double_coded or 0,
        resolved=resolved or 0,
    )

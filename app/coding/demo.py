"""Demo data for coding: the demo CRM's loss reasons mapped to codes, a few keyword rules, and the choice
answers of the demo responses coded."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import select

from app.auth.models import Role, User
from app.codebook.models import ReasonCode
from app.codebook.service import DEMO_LOSS_REASON_CODES
from app.coding.service import CodeChoice, add_rule, backfill_choice_codings, set_person_codes
from app.crm.models import LossReasonMapping
from app.extensions import db
from surveys.models import Answer, Response, ResponseStatus

DEMO_RULES = {
    "price.too_high": ("too expensive", "price", "cost", "cheaper"),
    "product.missing_feature": ("missing", "feature", "didn't have", "lacked"),
    "product.integration": ("integration", "integrate", "api"),
    "product.usability": ("hard to use", "clunky", "complicated"),
    "support.quality": ("support",),
    "timing.budget": ("budget",),
    "relationship.incumbent": ("current vendor", "incumbent", "stayed with"),
}


# How the demo analyst codes the demo's comments, and how the admin, coding a sample a second time,
# reads them: they disagree on one, so the agreement page has a kappa below 1 and a disagreement to resolve.
ANALYST_CODES = {
    "Your quote came two weeks after theirs.": ("sales.responsiveness",),
    "We needed the Salesforce integration out of the box.": ("product.integration",),
    "Honestly the demo was great, the price was not.": ("price.too_high",),
    "Implementation timeline looked risky for our Q1 launch.": ("implementation.effort", "timing"),
}
SECOND_CODER_CODES = {**ANALYST_CODES, "Your quote came two weeks after theirs.": ("competitor.price",)}
DOUBLE_CODED = 2  # comments of each wording that both coders code
LEFT_FOR_THE_WORKBENCH = 0.4  # share of comments nobody has coded yet


def map_demo_loss_reasons() -> int:
    """Point the demo CRM's loss reasons at their codes (mappings the import left unmapped)."""
    codes = {c.code: c.id for c in db.session.scalars(select(ReasonCode))}
    mapped = 0
    for raw, code in DEMO_LOSS_REASON_CODES.items():
        mapping = db.session.scalar(select(LossReasonMapping).where(LossReasonMapping.raw_value == raw))
        if mapping is None:
            mapping = LossReasonMapping(raw_value=raw)
            db.session.add(mapping)
        if mapping.reason_code_id is None and code in codes:
            mapping.reason_code_id = codes[code]
            mapped += 1
    db.session.flush()
    return mapped


def load_coding_demo(*, now: datetime) -> None:
    map_demo_loss_reasons()
    by_code = {c.code: c for c in db.session.scalars(select(ReasonCode))}
    for code, phrases in DEMO_RULES.items():
        for phrase in phrases:
            add_rule(by_code[code], phrase)
    backfill_choice_codings(now=now)
    _code_demo_comments(by_code, now=now)
    _train_and_measure(now=now)


def _train_and_measure(*, now: datetime) -> None:
    """What `flask coding train` and `coding evaluate` do, so the rules page shows a model and precisions."""
    from app.coding import suggest

    try:
        suggest.train(now=now)
        suggest.evaluate(now=now)
    except suggest.NotEnoughData:  # a smaller demo: the page says how to train once there is enough
        return


def _code_demo_comments(by_code: dict[str, ReasonCode], *, now: datetime) -> None:
    """The analyst codes most comments, the admin double-codes a few; the rest wait in the workbench."""
    analyst = db.session.scalar(select(User).where(User.role == Role.ANALYST).order_by(User.id))
    admin = db.session.scalar(select(User).where(User.role == Role.ADMIN).order_by(User.id))
    if analyst is None or admin is None:
        return
    comments = db.session.scalars(
        select(Answer)
        .join(Response, Response.id == Answer.response_id)
        .where(Response.status == ResponseStatus.COMPLETE, Answer.text.in_(list(ANALYST_CODES)))
        .order_by(Answer.id)
    ).all()
    comments = [a for a in comments if a.question.coded]
    coded = comments[: round(len(comments) * (1 - LEFT_FOR_THE_WORKBENCH))]
    double_coded: Counter[str] = Counter()
    for answer in coded:
        _code(answer, analyst, ANALYST_CODES[answer.text], by_code, now=now)
        if double_coded[answer.text] < DOUBLE_CODED:
            double_coded[answer.text] += 1
            _code(answer, admin, SECOND_CODER_CODES[answer.text], by_code, now=now)


def _code(answer: Answer, coder: User, codes: tuple[str, ...], by_code, *, now: datetime) -> None:
    choices = [CodeChoice(by_code[code].id) for code in codes if code in by_code]
    if choices:
        set_person_codes(answer, coder, choices, now=now)

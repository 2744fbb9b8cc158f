"""Several coders and agreement: Cohen's kappa per code and overall, Krippendorff's alpha, the double-coding
sample, disagreements and their resolution by a lead."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations

import numpy as np
from sqlalchemy import func, select

from app.audit.service import record_event
from app.auth.models import Role, User
from app.codebook.models import ReasonCode
from app.coding.marks import codable_answers
from app.coding.models import CoderKind, Coding, CodingStatus, DoubleCodingAssignment
from app.coding.sample import coder_names
from app.coding.service import (
    FINAL,
    CodeChoice,
    set_person_codes,
)
from app.errors import ValidationError
from app.extensions import db
from surveys.models import Answer

Unit = tuple[str, int]  # ("a", answer id) or ("i", imported answer id)


def cohen_kappa(first: list[int] | list[bool], second: list[int] | list[bool]) -> float:
    """Cohen's kappa of two raters' nominal decisions; 1.0 when both always agree on a single value."""
    if len(first) != len(second):
        raise ValueError("both raters must rate the same items")
    n = len(first)
    if n == 0:
        return float("nan")
    categories = sorted(set(first) | set(second))
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / n
    expected = sum((list(first).count(c) / n) * (list(second).count(c) / n) for c in categories)
    if expected >= 1.0:
        return 1.0
    return (observed - expected) / (1.0 - expected)


def kappa_label(kappa: float) -> str:
    """Landis and Koch's reading of kappa."""
    if kappa != kappa:  # nan
        return "not enough data"
    for floor, label in (
        (0.81, "almost perfect"),
        (0.61, "substantial"),
        (0.41, "moderate"),
        (0.21, "fair"),
        (0.0, "slight"),
    ):
        if kappa >= floor:
            return label
    return "poor"


def krippendorff_alpha(
    decisions: dict[str, dict[tuple[Unit, str], int]], units: list[tuple[Unit, str]]
) -> float:
    import krippendorff

    coders = sorted(decisions)
    if len(coders) < 2 or not units:
        return float("nan")
    data = np.full((len(coders), len(units)), np.nan)
    for row, coder in enumerate(coders):
        given = decisions[coder]
        for column, unit in enumerate(units):
            if unit in given:
                data[row, column] = given[unit]
    if len(np.unique(data[~np.isnan(data)])) < 2:
        return 1.0
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def coder_code_sets() -> dict[str, dict[Unit, set[str]]]:
    """Each coder's (people and imported coders) confirmed codes per answer."""
    rows = db.session.execute(
        select(Coding.answer_id, Coding.imported_answer_id, Coding.coder_key, ReasonCode.code)
        .join(ReasonCode, ReasonCode.id == Coding.reason_code_id)
        .where(
            Coding.status == CodingStatus.CONFIRMED,
            Coding.source.in_((CoderKind.PERSON, CoderKind.IMPORT)),
            Coding.coder_key != FINAL,
        )
    ).all()
    sets: dict[str, dict[Unit, set[str]]] = defaultdict(lambda: defaultdict(set))
    for answer_id, imported_id, key, code in rows:
        unit = ("a", answer_id) if answer_id is not None else ("i", imported_id)
        sets[key][unit].add(code)
    return sets


@dataclass
class Agreement:
    coders: tuple[str, str] | None
    overall_kappa: float
    alpha: float
    codes: dict[str, dict[str, float | int]]
    answers: int

    def as_json(self) -> dict:
        def clean(x: float) -> float | None:
            return None if x != x else round(x, 4)

        return {
            "overall": {"kappa": clean(self.overall_kappa), "alpha": clean(self.alpha)},
            "codes": {code: {"kappa": clean(v["kappa"]), "n": v["n"]} for code, v in self.codes.items()},
        }


def measure_agreement(sets: dict[str, dict[Unit, set[str]]] | None = None) -> Agreement:
    """Kappa for the pair of coders with the most answers in common; alpha across every coder."""
    sets = coder_code_sets() if sets is None else sets
    pair, common = None, []
    for first, second in combinations(sorted(sets), 2):
        shared = sorted(set(sets[first]) & set(sets[second]))
        if len(shared) > len(common):
            pair, common = (first, second), shared
    codes_out: dict[str, dict[str, float | int]] = {}
    overall = float("nan")
    if pair is not None:
        a, b = sets[pair[0]], sets[pair[1]]
        codes = sorted(set().union(*(a[u] | b[u] for u in common)))
        pooled_a, pooled_b = [], []
        for code in codes:
            da = [int(code in a[u]) for u in common]
            db_ = [int(code in b[u]) for u in common]
            codes_out[code] = {"kappa": cohen_kappa(da, db_), "n": len(common)}
            pooled_a += da
            pooled_b += db_
        overall = cohen_kappa(pooled_a, pooled_b) if pooled_a else float("nan")
    # Alpha: every (answer, code) decision of every coder on answers at least two coders coded.
    coded_by: dict[Unit, int] = defaultdict(int)
    for per_unit in sets.values():
        for unit in per_unit:
            coded_by[unit] += 1
    shared_units = sorted(u for u, n in coded_by.items() if n >= 2)
    all_codes = sorted({c for per_unit in sets.values() for u in shared_units for c in per_unit.get(u, ())})
    items = [(u, c) for u in shared_units for c in all_codes]
    decisions = {
        coder: {(u, c): int(c in per_unit[u]) for u in shared_units if u in per_unit for c in all_codes}
        for coder, per_unit in sets.items()
    }
    alpha = krippendorff_alpha(decisions, items)
    return Agreement(pair, overall, alpha, codes_out, len(common))


# --- the double-coding sample -------------------------------------------------------------------------


def draw_double_coding_sample(
    share: float, coders: list[User], *, now: datetime, seed: int | None = None
) -> int:
    """Assign a share of the uncoded codable answers to two analysts each; returns the answers drawn."""
    if not 0 < share <= 1:
        raise ValidationError("The share is between 1% and 100%", field="share")
    if len(coders) < 2 or any(c.role not in (Role.ANALYST, Role.ADMIN) for c in coders):
        raise ValidationError("Choose at least two analysts", field="coders")
    already = select(DoubleCodingAssignment.answer_id)
    confirmed = select(Coding.answer_id).where(
        Coding.answer_id.is_not(None),
        Coding.status == CodingStatus.CONFIRMED,
        Coding.source != CoderKind.OPTION,
    )
    candidates = list(
        db.session.scalars(
            codable_answers()
            .where(Answer.id.not_in(already), Answer.id.not_in(confirmed))
            .order_by(Answer.id)
        )
    )
    rng = random.Random(seed)  # noqa: S311 (sampling, not a secret)
    drawn = rng.sample(candidates, round(len(candidates) * share)) if candidates else []
    for n, answer_id in enumerate(sorted(drawn)):
        pair = [coders[n % len(coders)], coders[(n + 1) % len(coders)]]
        for coder in pair:
            db.session.add(DoubleCodingAssignment(answer_id=answer_id, coder_id=coder.id, created_at=now))
    db.session.flush()
    return len(drawn)


@dataclass
class Disagreement:
    """A double-coded answer whose coders chose different codes: each coder's codes, side by side."""

    answer: Answer
    by_coder: dict[str, set[str]]
    coder_names: dict[str, str]
    labels: dict[str, str]

    @property
    def columns(self) -> list[tuple[str, list[str]]]:
        """(coder name, their codes) per coder, in a stable order."""
        return sorted((self.coder_names.get(k, k), sorted(v)) for k, v in self.by_coder.items())

    @property
    def proposed(self) -> set[str]:
        return set().union(*self.by_coder.values())


def disagreements(limit: int = 200) -> list[Disagreement]:
    """Double-coded answers (both coders done, not resolved) whose coders chose different codes."""
    done = (
        select(DoubleCodingAssignment.answer_id)
        .group_by(DoubleCodingAssignment.answer_id)
        .having(
            func.count() >= 2,
            func.count(DoubleCodingAssignment.done_at) == func.count(),
            func.count(DoubleCodingAssignment.resolved_at) == 0,
        )
    )
    answer_ids = list(db.session.scalars(done))
    if not answer_ids:
        return []
    rows = db.session.execute(
        select(Coding.answer_id, Coding.coder_key, ReasonCode.code)
        .join(ReasonCode, ReasonCode.id == Coding.reason_code_id)
        .where(
            Coding.answer_id.in_(answer_ids),
            Coding.status == CodingStatus.CONFIRMED,
            Coding.source == CoderKind.PERSON,
            Coding.coder_key != FINAL,
        )
    ).all()
    per_answer: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for answer_id, key, code in rows:
        per_answer[answer_id][key].add(code)
    names = coder_names({key for by_coder in per_answer.values() for key in by_coder})
    labels = dict(db.session.execute(select(ReasonCode.code, ReasonCode.label)).all())
    result = []
    for answer_id in sorted(per_answer):
        by_coder = per_answer[answer_id]
        if len({frozenset(v) for v in by_coder.values()}) > 1:
            result.append(Disagreement(db.session.get(Answer, answer_id), dict(by_coder), names, labels))
        if len(result) >= limit:
            break
    return result


def resolve(answer: Answer, lead: User, code_ids: list[int], *, now: datetime) -> None:
    """A lead's final codes for a disagreement; they stand for the answer in reports and training.

    The audit trail keeps what each coder said and what the lead decided."""
    assignments = list(
        db.session.scalars(
            select(DoubleCodingAssignment).where(DoubleCodingAssignment.answer_id == answer.id)
        )
    )
    if not assignments:
        raise ValidationError("This answer is not in the double-coding sample", field="codes")
    before: dict[str, list[str]] = defaultdict(list)
    for key, code in db.session.execute(
        select(Coding.coder_key, ReasonCode.code)
        .join(ReasonCode, ReasonCode.id == Coding.reason_code_id)
        .where(
            Coding.answer_id == answer.id,
            Coding.status == CodingStatus.CONFIRMED,
            Coding.source == CoderKind.PERSON,
            Coding.coder_key != FINAL,
        )
        .order_by(ReasonCode.code)
    ):
        before[key].append(code)
    final = set_person_codes(answer, lead, [CodeChoice(i) for i in code_ids], now=now, coder_key=FINAL)
    for assignment in assignments:
        assignment.resolved_at = now
        assignment.resolved_by_id = lead.id
    names = coder_names(before)
    record_event(
        "coding.disagreement_resolved",
        "answer",
        answer.id,
        actor=lead,
        details={
            "coders": {names[key]: codes for key, codes in before.items()},
            "final": sorted(c.reason_code.code for c in final),
        },
        now=now,
    )
    db.session.flush()

"""Suggestions that abstain when unsure: per code, the lowest confidence at which the model's held-out
suggestions still reach the target precision. Below it the model stays silent on that code; a code
that never reaches the target is not suggested by the model at all (keyword rules are unaffected)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from app.coding.models import CodeSetting

DEFAULT_TARGET_PRECISION = 0.8
# A threshold rests on at least this many held-out suggestions: fewer say nothing about precision.
MIN_SUGGESTIONS = 3
CONFIDENCE_Z = 1.0  # one standard error: measured on airline tweets, held-out micro precision 0.82-0.83
CURVE_STEP = 0.1  # the explanation's precision is read at the threshold and every 10 points above it


@dataclass
class Threshold:
    """One code's choice on held-out data: `threshold` None means the model never suggests it."""

    threshold: float | None
    precision: float | None  # of the held-out suggestions at or above the threshold
    recall: float
    abstention: float  # of the held-out answers whose likeliest code this is, the share left unsuggested
    curve: list[list[float]]  # [confidence floor, precision of held-out suggestions at or above it]

    def as_json(self) -> dict:
        return {
            "threshold": self.threshold,
            "precision": self.precision,
            "recall": self.recall,
            "abstention": self.abstention,
        }


def choose_threshold(confidences: np.ndarray, truth: np.ndarray, *, target: float) -> float | None:
    """The lowest confidence whose suggestions reach `target` precision, walking down from the most
    confident: the walk stops at the first dip below the target (the first MIN_SUGGESTIONS decide
    nothing alone), so a lucky stretch further down cannot buy a threshold the data does not support.
    The threshold sits halfway to the next confidence below: the gap between them holds no evidence."""
    ranked = confidences[np.argsort(-confidences, kind="stable")]
    hits = np.cumsum(truth[np.argsort(-confidences, kind="stable")])
    chosen = 0
    for count in range(MIN_SUGGESTIONS, len(ranked) + 1):
        if count < len(ranked) and ranked[count] == ranked[count - 1]:
            continue  # a threshold takes every suggestion of the same confidence, or none
        if lower_bound(int(hits[count - 1]), count) >= target:
            chosen = count
    if not chosen:
        return None
    if chosen == len(ranked):
        return 0.0
    return float((ranked[chosen - 1] + ranked[chosen]) / 2)


def lower_bound(hits: int, count: int, z: float = CONFIDENCE_Z) -> float:
    """Wilson's lower bound of a precision of hits/count: a threshold must reach the target with a margin
    for the luck of one held-out sample, or the next sample falls short of it about half the time."""
    p = hits / count
    centre = p + z * z / (2 * count)
    spread = z * np.sqrt(p * (1 - p) / count + z * z / (4 * count * count))
    return float((centre - spread) / (1 + z * z / count))


def precision_at(confidences: np.ndarray, truth: np.ndarray, floor: float) -> float | None:
    said = confidences >= floor
    return float(truth[said].mean()) if said.any() else None


def measure(
    confidences: np.ndarray, truth: np.ndarray, top: np.ndarray, threshold: float | None
) -> Threshold:
    """Precision, recall and abstention of one code's suggestions at `threshold` (`top`: the rows
    where this code is the model's likeliest)."""
    if threshold is None:
        return Threshold(None, None, 0.0, 1.0 if top.any() else 0.0, [])
    said = confidences >= threshold
    positives = int(truth.sum())
    recall = float((said & truth).sum() / positives) if positives else 0.0
    abstention = float((top & ~said).sum() / top.sum()) if top.any() else 0.0
    curve = []
    floor = threshold
    while floor < 1.0:
        value = precision_at(confidences, truth, floor)
        if value is None or (confidences >= floor).sum() < MIN_SUGGESTIONS:
            break
        curve.append([round(floor, 4), round(value, 4)])
        floor = (np.floor(floor / CURVE_STEP) + 1) * CURVE_STEP
    return Threshold(
        round(threshold, 4),
        round(precision_at(confidences, truth, threshold) or 0.0, 4),
        round(recall, 4),
        round(abstention, 4),
        curve,
    )


def truth_matrix(labels: list[set[str]], codes: list[str]) -> np.ndarray:
    index = {code: i for i, code in enumerate(codes)}
    truth = np.zeros((len(labels), len(codes)), dtype=bool)
    for row, names in enumerate(labels):
        for name in names:
            if name in index:
                truth[row, index[name]] = True
    return truth


def choose_thresholds(
    probabilities: np.ndarray, labels: list[set[str]], codes: list[str], *, target: float
) -> dict[str, Threshold]:
    """Each code's threshold chosen on these held-out probabilities, with its figures there."""
    truth = truth_matrix(labels, codes)
    top = np.zeros_like(truth)
    if len(labels):
        top[np.arange(len(labels)), np.argmax(probabilities, axis=1)] = True
    result = {}
    for i, code in enumerate(codes):
        threshold = choose_threshold(probabilities[:, i], truth[:, i], target=target)
        result[code] = measure(probabilities[:, i], truth[:, i], top[:, i], threshold)
    return result


def precision_for(confidence: float, curve: list[list[float]]) -> float | None:
    """The precision of past held-out suggestions at this confidence: that of the highest floor of the
    curve at or below it."""
    found = None
    for floor, precision in curve:
        if floor <= confidence:
            found = precision
    return found


def percent(value: float) -> str:
    return f"{round(value * 100)} %"


def explanation(confidence: float, threshold: float | None, curve: list[list[float]] | None) -> str:
    """Why the model suggests a code here, or stays silent on it."""
    if threshold is None:
        return f"confidence {percent(confidence)}; the model never suggests this code (below the target)"
    if confidence < threshold:
        return f"confidence {percent(confidence)}, below this code's {percent(threshold)} threshold"
    precision = precision_for(confidence, curve or [])
    if precision is None:
        return f"confidence {percent(confidence)}, at or above this code's {percent(threshold)} threshold"
    return f"suggested: past suggestions at this confidence were right {percent(precision)} of the time"


def record(setting: CodeSetting, figures: Threshold) -> None:
    """Store a code's chosen threshold and its held-out figures on its CodeSetting."""
    setting.suggest_threshold = figures.threshold
    setting.never_suggested = figures.threshold is None
    setting.threshold_precision = figures.precision
    setting.threshold_recall = figures.recall
    setting.abstention_rate = figures.abstention
    setting.precision_curve = figures.curve


def workbench_explanations(text: str, suggestions: list) -> dict[int, str]:
    """Per code id, why the model suggests it for this text, or why it stays silent on a code it
    weighed (at least MIN_MODEL_CONFIDENCE): for the workbench's code list. Codes not measured yet
    have no threshold and no explanation."""
    # Imported here: app.coding.suggest imports this module for the threshold choice.
    from sqlalchemy import select

    from app.codebook.models import ReasonCode
    from app.coding.models import CoderKind, CodeSetting
    from app.coding.suggest import MIN_MODEL_CONFIDENCE, current_classifier
    from app.extensions import db

    classifier = current_classifier()
    if classifier is None or not text.strip():
        return {}
    settings = {
        row.code: row
        for row in db.session.execute(
            select(ReasonCode.id, ReasonCode.code, CodeSetting.suggest_threshold, CodeSetting.never_suggested)
            .add_columns(CodeSetting.precision_curve)
            .join(CodeSetting, CodeSetting.reason_code_id == ReasonCode.id)
            .where(ReasonCode.active, CodeSetting.measured_at.is_not(None))
        )
    }
    by_model = {s.code.code: s.confidence for s in suggestions if s.source is CoderKind.MODEL}
    suggested = {s.code.code for s in suggestions}  # a rule's code: the rule explains it
    result = {}
    for code, confidence in zip(classifier.codes, classifier.probabilities([text])[0].tolist(), strict=True):
        setting = settings.get(code)
        if setting is None or (setting.suggest_threshold is None and not setting.never_suggested):
            continue
        never = 2.0 if setting.never_suggested else 0.0  # past any confidence
        threshold = None if never else setting.suggest_threshold
        if code in by_model:
            result[setting.id] = explanation(by_model[code], threshold, setting.precision_curve)
        elif code not in suggested and MIN_MODEL_CONFIDENCE <= confidence < (threshold or 0.0) + never:
            result[setting.id] = explanation(confidence, threshold, setting.precision_curve)
    return result

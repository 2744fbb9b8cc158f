"""Suggestions that learn: keyword rules, and a TF-IDF + one-vs-rest logistic regression trained on the
confirmed codings. Training runs in the CLI or the worker, never in a web request."""

from __future__ import annotations

import pickle
import random
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

import numpy as np
from flask import current_app
from sqlalchemy import func, select

from app.codebook.models import ReasonCode
from app.coding import abstention
from app.coding.abstention import DEFAULT_TARGET_PRECISION as DEFAULT_TARGET
from app.coding.models import (
    CoderKind,
    CodeSetting,
    Coding,
    CodingRule,
    CodingStatus,
    ImportedAnswer,
    TrainedModel,
)
from app.coding.rule_matcher import rule_matcher
from app.coding.service import FINAL
from app.errors import ValidationError
from app.extensions import db
from surveys.models import Answer

MODEL_CACHE = "winback.coding_model"
RULE_CONFIDENCE = 0.9
RULE_SHOWN = round(RULE_CONFIDENCE, 3)
MIN_MODEL_CONFIDENCE = 0.05  # the model's codes below this are not suggested
TRAINING_SOURCES = (CoderKind.PERSON, CoderKind.IMPORT)


class NotEnoughData(ValidationError):
    code = "not_enough_data"


# --- the classifier --------------------------------------------------------------------------------


class Classifier:
    """TF-IDF over words and word pairs, one logistic regression per code (multi-label)."""

    def __init__(self, codes: list[str]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier

        self.codes = codes
        self.vectorizer = TfidfVectorizer(
            sublinear_tf=True, ngram_range=(1, 2), min_df=1, strip_accents="unicode"
        )
        self.model = OneVsRestClassifier(
            LogisticRegression(solver="liblinear", C=4.0, class_weight="balanced")
        )

    def fit(self, texts: list[str], labels: list[set[str]]) -> Classifier:
        index = {code: i for i, code in enumerate(self.codes)}
        y = np.zeros((len(texts), len(self.codes)), dtype=np.int8)
        for row, codes in enumerate(labels):
            for code in codes:
                y[row, index[code]] = 1
        matrix = self.vectorizer.fit_transform(texts)
        with warnings.catch_warnings():  # a code present in every example is predicted as a constant
            warnings.simplefilter("ignore", UserWarning)
            self.model.fit(matrix, y)
        self._stack_weights()
        return self

    def _stack_weights(self) -> None:
        """One weight matrix for every code, so a prediction is one product (the same figures as
        predict_proba without scikit-learn's per-estimator loop and checks); the estimators are
        dropped when all are linear, halving what is stored."""
        estimators = self.model.estimators_
        self.weights = self.bias = None
        if all(hasattr(e, "coef_") for e in estimators):
            self.weights = np.ascontiguousarray(np.vstack([e.coef_[0] for e in estimators]).T)
            self.bias = np.array([e.intercept_[0] for e in estimators])
            self.model = None

    def probabilities(self, texts: list[str]) -> np.ndarray:
        from scipy.special import expit

        matrix = self.vectorizer.transform(texts)
        if self.weights is None:
            return self.model.predict_proba(matrix)
        return expit(np.asarray(matrix @ self.weights) + self.bias)

    def predict_sets(self, texts: list[str], threshold: float = 0.5) -> list[set[str]]:
        """The most likely code of each text, and every other code above the threshold."""
        probabilities = self.probabilities(texts)
        result = []
        for row in probabilities:
            chosen = {self.codes[int(np.argmax(row))]}
            chosen.update(self.codes[i] for i in np.flatnonzero(row >= threshold))
            result.append(chosen)
        return result


# --- training data ---------------------------------------------------------------------------------


@dataclass
class Examples:
    texts: list[str] = field(default_factory=list)
    labels: list[set[str]] = field(default_factory=list)


def training_examples() -> Examples:
    """Every answer with text and confirmed codes from people or imports (a lead's resolution wins)."""
    # One query with each coding's text beside it, ordered by answer (survey answers by id, then
    # imported ones), read as a stream: only each example's set of codes outlives its rows, so tens
    # of thousands of codings do not leave as many containers behind for the garbage collector.
    rows = db.session.execute(
        select(
            Coding.answer_id,
            Coding.imported_answer_id,
            Coding.coder_key,
            ReasonCode.code,
            func.coalesce(Answer.text, ImportedAnswer.text),
        )
        .join(ReasonCode, ReasonCode.id == Coding.reason_code_id)
        .outerjoin(Answer, Answer.id == Coding.answer_id)
        .outerjoin(ImportedAnswer, ImportedAnswer.id == Coding.imported_answer_id)
        .where(Coding.status == CodingStatus.CONFIRMED, Coding.source.in_(TRAINING_SOURCES))
        .order_by(Coding.answer_id.is_(None), Coding.answer_id, Coding.imported_answer_id)
    )
    examples = Examples()
    texts, labels = examples.texts, examples.labels

    def add(text: str | None, by_key: dict[str, set[str]]) -> None:
        if not text:
            return
        texts.append(text)
        if len(by_key) == 1:
            labels.extend(by_key.values())
        else:  # several coders: a lead's resolution replaces them, else every coder's codes count
            labels.append(by_key[FINAL] if FINAL in by_key else set().union(*by_key.values()))

    unit: tuple[int | None, int | None] = (None, None)
    text: str | None = None
    by_key: dict[str, set[str]] = {}
    for answer_id, imported_id, key, code, unit_text in rows:
        if answer_id != unit[0] or imported_id != unit[1]:
            if by_key:
                add(text, by_key)
            unit, text, by_key = (answer_id, imported_id), unit_text, {}
        codes = by_key.get(key)
        if codes is None:
            by_key[key] = {code}
        else:
            codes.add(code)
    if by_key:
        add(text, by_key)
    return examples


def _trainable(examples: Examples, *, min_support: int = 2) -> tuple[Examples, list[str]]:
    counts: dict[str, int] = defaultdict(int)
    for codes in examples.labels:
        for code in codes:
            counts[code] += 1
    codes = sorted(code for code, n in counts.items() if n >= min_support)
    keep = set(codes)
    kept = Examples()
    for text, labels in zip(examples.texts, examples.labels, strict=True):
        if not labels <= keep:  # only then a new set: most examples keep all their codes
            labels = labels & keep
        if labels:
            kept.texts.append(text)
            kept.labels.append(labels)
    if len(codes) < 2:
        raise NotEnoughData("Training needs at least two codes with two confirmed answers each")
    return kept, codes


def confirmed_count() -> int:
    return db.session.scalar(
        select(func.count()).where(
            Coding.status == CodingStatus.CONFIRMED, Coding.source.in_(TRAINING_SOURCES)
        )
    )


def train(*, now: datetime) -> TrainedModel:
    """Fit a classifier on every confirmed coding and store it as the newest model."""
    examples, codes = _trainable(training_examples())
    classifier = Classifier(codes).fit(examples.texts, examples.labels)
    stored = TrainedModel(
        trained_at=now,
        confirmations=confirmed_count(),
        examples=len(examples.texts),
        codes=len(codes),
        # Protocol 5 frames the weight arrays without copies; zlib would save a quarter of the
        # megabytes for far more time than the write it saves (bench/coding_bench.py, train stages).
        payload=pickle.dumps(classifier, protocol=5),
    )
    db.session.add(stored)
    db.session.flush()
    return stored


def current_classifier() -> Classifier | None:
    """The newest stored model, unpickled once per app and model."""
    # The version is more than the id: ids start again when a database is emptied (tests do it).
    newest = db.session.execute(
        select(TrainedModel.id, TrainedModel.trained_at, TrainedModel.confirmations, TrainedModel.examples)
        .order_by(TrainedModel.id.desc())
        .limit(1)
    ).first()
    if newest is None:
        return None
    version = tuple(newest)
    cached = current_app.extensions.get(MODEL_CACHE)
    if cached and cached[0] == version:
        return cached[1]
    payload = db.session.scalar(select(TrainedModel.payload).where(TrainedModel.id == newest.id))
    classifier = pickle.loads(payload)  # noqa: S301 (written by train() above, never uploaded)
    current_app.extensions[MODEL_CACHE] = (version, classifier)
    return classifier


# --- evaluation -------------------------------------------------------------------------------------


def stratified_split(
    labels: list[set[str]], *, test_share: float = 0.2, seed: int = 42
) -> tuple[list[int], list[int]]:
    """Split row numbers so each primary code (the first in order) is held out in the same share."""
    groups: dict[str, list[int]] = defaultdict(list)
    for row, codes in enumerate(labels):
        groups[min(codes)].append(row)
    rng = random.Random(seed)  # noqa: S311 (a reproducible split, not a secret)
    train_rows, test_rows = [], []
    for code in sorted(groups):
        rows = groups[code]
        rng.shuffle(rows)
        n_test = int(round(len(rows) * test_share)) if len(rows) >= 3 else 0
        test_rows.extend(rows[:n_test])
        train_rows.extend(rows[n_test:])
    return sorted(train_rows), sorted(test_rows)


@dataclass
class Evaluation:
    macro_f1: float
    train: int
    test: int
    codes: dict[str, dict[str, float | int]]
    # Each code's suggestion threshold chosen on the held-out rows, and the model that was measured.
    thresholds: dict[str, abstention.Threshold] = field(default_factory=dict)
    classifier: Classifier | None = field(default=None, repr=False)

    def as_json(self) -> dict:
        return {"macro_f1": self.macro_f1, "train": self.train, "test": self.test, "codes": self.codes}


def evaluate_examples(
    examples: Examples, *, seed: int = 42, test_share: float = 0.2, target: float = DEFAULT_TARGET
) -> Evaluation:
    examples, codes = _trainable(examples)
    train_rows, test_rows = stratified_split(examples.labels, test_share=test_share, seed=seed)
    if not test_rows:
        raise NotEnoughData("Too few confirmed codings to hold some out for evaluation")
    classifier = Classifier(codes).fit(
        [examples.texts[i] for i in train_rows], [examples.labels[i] for i in train_rows]
    )
    held_out = [examples.texts[i] for i in test_rows]
    predicted = classifier.predict_sets(held_out)
    per_code: dict[str, dict[str, float | int]] = {}
    for code in codes:
        tp = fp = fn = 0
        for row, guess in zip(test_rows, predicted, strict=True):
            truth = code in examples.labels[row]
            said = code in guess
            tp += truth and said
            fp += said and not truth
            fn += truth and not said
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_code[code] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": tp + fn,
        }
    scored = [v["f1"] for v in per_code.values() if v["support"]]
    macro = round(sum(scored) / len(scored), 4) if scored else 0.0
    thresholds = abstention.choose_thresholds(
        classifier.probabilities(held_out), [examples.labels[i] for i in test_rows], codes, target=target
    )
    return Evaluation(macro, len(train_rows), len(test_rows), per_code, thresholds, classifier)


def evaluate(*, now: datetime, seed: int = 42) -> Evaluation:
    """Evaluate on the confirmed codings; record each code's measured precision and its threshold."""
    target = current_app.config.get("CODING_TARGET_PRECISION", DEFAULT_TARGET)
    result = evaluate_examples(training_examples(), seed=seed, target=target)
    ids = dict(
        db.session.execute(
            select(ReasonCode.code, ReasonCode.id).where(ReasonCode.code.in_(result.codes))
        ).all()
    )
    for code, figures in result.codes.items():
        setting = db.session.get(CodeSetting, ids[code]) or CodeSetting(reason_code_id=ids[code])
        setting.measured_precision = float(figures["precision"])
        setting.measured_support = int(figures["support"])
        setting.measured_at = now
        abstention.record(setting, result.thresholds[code])
        db.session.add(setting)
    db.session.flush()
    return result


# --- suggestions ------------------------------------------------------------------------------------


class CodeRef(NamedTuple):
    """The code a suggestion names: what the workbench shows and submits."""

    id: int
    code: str
    label: str


class Suggestion(NamedTuple):
    """A code for a text, with the confidence, where it came from and the code's measured precision."""

    code: CodeRef
    confidence: float
    source: CoderKind
    why: str
    precision: float | None = None


# A Suggestion from its five fields without the generated __new__'s Python call (thousands per batch).
new_tuple = tuple.__new__


def _rank(item: tuple[str, tuple[float, float, CoderKind, str]]) -> tuple[float, str]:
    return -item[1][0], item[0]


def suggest(text: str, *, limit: int = 9) -> list[Suggestion]:
    """Codes for a text with a confidence, from the rules and the newest model; active codes only."""
    return suggest_many([text], limit=limit)[0]


def _model_candidates(
    probabilities: np.ndarray, codes: list[str], floors: np.ndarray, limit: int
) -> list[list[int]]:
    """Per text, the model's codes worth suggesting (among its `limit` most likely, at least their
    floor: see `_floors`), best first and by code on a tie: the order suggestions are ranked in."""
    keep = probabilities >= floors
    if limit < probabilities.shape[1]:
        in_top = np.zeros_like(keep)
        np.put_along_axis(in_top, np.argsort(-probabilities, axis=1)[:, :limit], True, axis=1)
        keep &= in_top
    by_code = np.empty(len(codes), dtype=np.intp)
    by_code[sorted(range(len(codes)), key=codes.__getitem__)] = np.arange(len(codes))
    # The codes kept first, by descending probability then code; the rest after them.
    order = np.lexsort(
        (np.broadcast_to(by_code, probabilities.shape), np.where(keep, -probabilities, np.inf)), axis=-1
    )
    return [row[:count] for row, count in zip(order.tolist(), keep.sum(axis=1).tolist(), strict=True)]


def rounded(values: np.ndarray, digits: int = 3) -> np.ndarray:
    """`round(value, digits)` of every value, as Python rounds (correctly, half to even), at numpy's
    speed: the scaled value is rounded by numpy where it is clearly away from a half, and by
    Python's `round` for the few that sit within 1e-9 of one (where the product's own rounding
    error, below 1e-12 for values up to 1, could tip the decision)."""
    scale = 10.0**digits
    scaled = values * scale
    result = np.rint(scaled) / scale
    near_half = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-9
    for index in zip(*np.nonzero(near_half), strict=True):
        result[index] = round(float(values[index]), digits)
    return result


SUGGEST_SETTINGS = (
    CodeSetting.measured_precision,
    CodeSetting.suggest_threshold,
    CodeSetting.never_suggested,
)


def model_floor(threshold: float | None, never: bool | None) -> float:
    """The least confidence at which the model suggests a code: its threshold once measured (never
    for a code that missed the target), MIN_MODEL_CONFIDENCE before any measure."""
    if never:
        return np.inf
    return max(threshold, MIN_MODEL_CONFIDENCE) if threshold is not None else MIN_MODEL_CONFIDENCE


# Past this many codes to look up, the active codebook is read whole rather than by a long IN list.
_LOOKUP_LIMIT = 500


def _suggestable_codes(
    wanted: set[str],
) -> tuple[dict[str, CodeRef], dict[str, float | None], dict[str, float]]:
    """The active codes among `wanted` (the model's and the rules'; the only ones a suggestion can
    name): their reference, measured precision and model floor. Not the whole codebook: a codebook of
    10,000 codes cost every workbench page a read of all of them."""
    refs: dict[str, CodeRef] = {}
    precision: dict[str, float | None] = {}
    floor: dict[str, float] = {}
    if not wanted:
        return refs, precision, floor
    query = (
        select(ReasonCode.id, ReasonCode.code, ReasonCode.label, *SUGGEST_SETTINGS)
        .outerjoin(CodeSetting, CodeSetting.reason_code_id == ReasonCode.id)
        .where(ReasonCode.active)
    )
    if len(wanted) <= _LOOKUP_LIMIT:
        query = query.where(ReasonCode.code.in_(sorted(wanted)))
    for code_id, code, label, measured, threshold, never in db.session.execute(query):
        refs[code] = CodeRef(code_id, code, label)
        precision[code] = measured
        floor[code] = model_floor(threshold, never)
    return refs, precision, floor


def suggest_many(texts: list[str], *, limit: int = 9) -> list[list[Suggestion]]:
    """Suggestions for many texts at once: the codebook and rules read once, one model call."""
    rules = tuple(
        (code, phrase)
        for code, phrase in db.session.execute(
            select(ReasonCode.code, CodingRule.phrase)
            .join(ReasonCode, ReasonCode.id == CodingRule.reason_code_id)
            .where(ReasonCode.active)
            .order_by(CodingRule.id)
        )
    )
    matcher = rule_matcher(rules)
    classifier = current_classifier()
    model_codes: list[str] = classifier.codes if classifier is not None else []
    refs, precision, floor = _suggestable_codes({*model_codes, *(code for code, _ in rules)})
    model_refs = [refs.get(code) for code in model_codes]
    model_precision = [precision.get(code) for code in model_codes]
    rows: list[list[float]] = []
    shown: list[list[float]] = []
    candidates: list[list[int]] = []
    if classifier is not None and texts:
        probabilities = classifier.probabilities(texts)
        floors = np.array([floor.get(code, np.inf) for code in model_codes])  # inactive: never
        candidates = _model_candidates(probabilities, model_codes, floors, limit)
        rows = probabilities.tolist()  # plain floats: a few are read per text
        shown = rounded(probabilities).tolist()  # the confidence shown: round(p, 3), for all at once
    result = []
    for n, text in enumerate(texts):
        model = candidates[n] if candidates and text.strip() else []
        matched = matcher.matching(text) if matcher is not None else []
        if not matched:  # the model's codes alone, already ranked
            row = shown[n] if model else []
            result.append(
                [
                    new_tuple(
                        Suggestion, (model_refs[i], row[i], CoderKind.MODEL, "model", model_precision[i])
                    )
                    for i in model[:limit]
                ]
            )
            continue
        # A rule's code and the model's: the model's confidence wins where it is higher.
        best: dict[str, tuple[float, float, CoderKind, str]] = {}  # key: confidence, shown, ...
        for key, why in matched:
            best[key] = (RULE_CONFIDENCE, RULE_SHOWN, CoderKind.RULE, why)
        for index in model:
            confidence, key = rows[n][index], model_codes[index]
            if key not in best or best[key][0] < confidence:
                best[key] = (confidence, shown[n][index], CoderKind.MODEL, "model")
        ranked = sorted(best.items(), key=_rank)[:limit]
        result.append(
            [
                new_tuple(Suggestion, (refs[key], value, source, why, precision[key]))
                for key, (_, value, source, why) in ranked
            ]
        )
    return result

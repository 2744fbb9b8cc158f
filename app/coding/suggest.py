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
from app.coding.models import (
    CoderKind,
    CodeSetting,
    Coding,
    CodingRule,
    CodingStatus,
    ImportedAnswer,
    TrainedModel,
)
from app.coding.service import FINAL, QueueFilter, queue_query, refresh_opportunity_reasons, rule_pattern
from app.errors import ValidationError
from app.extensions import db
from surveys.models import Answer, Response

MODEL_CACHE = "winback.coding_model"
RULE_CONFIDENCE = 0.9
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
    rows = db.session.execute(
        select(Coding.answer_id, Coding.imported_answer_id, Coding.coder_key, ReasonCode.code)
        .join(ReasonCode, ReasonCode.id == Coding.reason_code_id)
        .where(Coding.status == CodingStatus.CONFIRMED, Coding.source.in_(TRAINING_SOURCES))
    ).all()
    units: dict[tuple[str, int], dict[str, set[str]]] = defaultdict(dict)
    for answer_id, imported_id, key, code in rows:
        unit = ("a", answer_id) if answer_id is not None else ("i", imported_id)
        units[unit].setdefault(key, set()).add(code)
    answer_ids = [u[1] for u in units if u[0] == "a"]
    imported_ids = [u[1] for u in units if u[0] == "i"]
    texts: dict[tuple[str, int], str] = {}
    for chunk in range(0, len(answer_ids), 5000):
        ids = answer_ids[chunk : chunk + 5000]
        texts.update(
            (("a", i), t)
            for i, t in db.session.execute(select(Answer.id, Answer.text).where(Answer.id.in_(ids)))
        )
    for chunk in range(0, len(imported_ids), 5000):
        ids = imported_ids[chunk : chunk + 5000]
        texts.update(
            (("i", i), t)
            for i, t in db.session.execute(
                select(ImportedAnswer.id, ImportedAnswer.text).where(ImportedAnswer.id.in_(ids))
            )
        )
    examples = Examples()
    for unit in sorted(units):
        text = texts.get(unit)
        if not text:
            continue
        by_key = units[unit]
        codes = by_key[FINAL] if FINAL in by_key else set().union(*by_key.values())
        examples.texts.append(text)
        examples.labels.append(codes)
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
        payload=pickle.dumps(classifier, protocol=pickle.HIGHEST_PROTOCOL),
    )
    db.session.add(stored)
    db.session.flush()
    return stored


def current_classifier() -> Classifier | None:
    """The newest stored model, unpickled once per app and model."""
    newest = db.session.scalar(select(TrainedModel.id).order_by(TrainedModel.id.desc()).limit(1))
    if newest is None:
        return None
    cached = current_app.extensions.get(MODEL_CACHE)
    if cached and cached[0] == newest:
        return cached[1]
    payload = db.session.scalar(select(TrainedModel.payload).where(TrainedModel.id == newest))
    classifier = pickle.loads(payload)  # noqa: S301 (written by train() above, never uploaded)
    current_app.extensions[MODEL_CACHE] = (newest, classifier)
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

    def as_json(self) -> dict:
        return {"macro_f1": self.macro_f1, "train": self.train, "test": self.test, "codes": self.codes}


def evaluate_examples(examples: Examples, *, seed: int = 42, test_share: float = 0.2) -> Evaluation:
    examples, codes = _trainable(examples)
    train_rows, test_rows = stratified_split(examples.labels, test_share=test_share, seed=seed)
    if not test_rows:
        raise NotEnoughData("Too few confirmed codings to hold some out for evaluation")
    classifier = Classifier(codes).fit(
        [examples.texts[i] for i in train_rows], [examples.labels[i] for i in train_rows]
    )
    predicted = classifier.predict_sets([examples.texts[i] for i in test_rows])
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
    return Evaluation(macro, len(train_rows), len(test_rows), per_code)


def evaluate(*, now: datetime, seed: int = 42) -> Evaluation:
    """Evaluate on the confirmed codings and record each code's measured precision."""
    result = evaluate_examples(training_examples(), seed=seed)
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
        db.session.add(setting)
    db.session.flush()
    return result


# --- suggestions ------------------------------------------------------------------------------------


class Suggestion(NamedTuple):
    """A code for a text, with the confidence, where it came from and the code's measured precision."""

    code: ReasonCode
    confidence: float
    source: CoderKind
    why: str
    precision: float | None = None


def suggest(text: str, *, limit: int = 9) -> list[Suggestion]:
    """Codes for a text with a confidence, from the rules and the newest model; active codes only."""
    return suggest_many([text], limit=limit)[0]


def suggest_many(texts: list[str], *, limit: int = 9) -> list[list[Suggestion]]:
    """Suggestions for many texts at once: the codebook and rules read once, one model call."""
    codes = {c.code: c for c in db.session.scalars(select(ReasonCode).where(ReasonCode.active))}
    measured = dict(
        db.session.execute(select(CodeSetting.reason_code_id, CodeSetting.measured_precision)).all()
    )
    precision = {code: measured.get(reason.id) for code, reason in codes.items()}
    rules = [
        (reason.code, reason, phrase, rule_pattern(phrase))
        for reason_id, phrase in db.session.execute(select(CodingRule.reason_code_id, CodingRule.phrase))
        for reason in codes.values()
        if reason.id == reason_id
    ]
    classifier = current_classifier()
    model_codes: list[str] = classifier.codes if classifier is not None else []
    known = [codes.get(code) for code in model_codes]
    probabilities = top = None
    if classifier is not None and texts:
        probabilities = classifier.probabilities(texts)
        top = np.argsort(-probabilities, axis=1)[:, :limit]
    result = []
    for n, text in enumerate(texts):
        best: dict[str, tuple[float, ReasonCode, CoderKind, str]] = {}
        for key, reason, phrase, pattern in rules:
            if pattern.search(text):
                best[key] = (RULE_CONFIDENCE, reason, CoderKind.RULE, f"rule “{phrase}”")
        if probabilities is not None and text.strip():
            row = probabilities[n]
            for index in top[n]:
                confidence = float(row[index])
                if confidence < 0.05:
                    break  # sorted: the rest are lower
                reason = known[index]
                key = model_codes[index]
                if reason is not None and (key not in best or best[key][0] < confidence):
                    best[key] = (confidence, reason, CoderKind.MODEL, "model")
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))[:limit]
        result.append(
            [
                Suggestion(reason, round(confidence, 3), source, why, precision.get(key))
                for key, (confidence, reason, source, why) in ranked
            ]
        )
    return result


# --- auto-accept ------------------------------------------------------------------------------------


def set_auto_accept(code: ReasonCode, threshold: float | None, *, min_precision: float) -> CodeSetting:
    """Let the model confirm `code` on its own above `threshold`, if its measured precision allows."""
    setting = db.session.get(CodeSetting, code.id) or CodeSetting(reason_code_id=code.id)
    db.session.add(setting)
    if threshold is not None:
        if not 0.5 <= threshold <= 1.0:
            raise ValidationError("The threshold is a confidence between 0.5 and 1", field="threshold")
        if setting.measured_precision is None or setting.measured_precision < min_precision:
            measured = (
                "not measured yet"
                if setting.measured_precision is None
                else f"{setting.measured_precision:.2f}"
            )
            raise ValidationError(
                f"{code.code}: measured precision is {measured}; auto-accept needs at least "
                f"{min_precision:.2f} (run coding evaluate)",
                field="threshold",
            )
    setting.auto_accept_threshold = threshold
    db.session.flush()
    return setting


def auto_accept(*, now: datetime, min_precision: float, batch: int = 5000) -> int:
    """Confirm the model's codes above each allowed code's threshold on answers nobody coded yet."""
    allowed = {
        s.reason_code_id: s.auto_accept_threshold
        for s in db.session.scalars(select(CodeSetting).where(CodeSetting.auto_accept_threshold.is_not(None)))
        if (s.measured_precision or 0.0) >= min_precision
    }
    classifier = current_classifier()
    if not allowed or classifier is None:
        return 0
    ids = {c.code: c.id for c in db.session.scalars(select(ReasonCode).where(ReasonCode.id.in_(allowed)))}
    rows = db.session.execute(
        select(Answer.id, Answer.text)
        .where(Answer.id.in_(queue_query(QueueFilter(), coder_id=-1)))
        .limit(batch)
    ).all()
    if not rows:
        return 0
    probabilities = classifier.probabilities([text for _, text in rows])
    added = 0
    touched: set[int] = set()
    for (answer_id, _), row in zip(rows, probabilities, strict=True):
        for index, code in enumerate(classifier.codes):
            code_id = ids.get(code)
            if code_id is None or row[index] < allowed[code_id]:
                continue
            db.session.add(
                Coding(
                    answer_id=answer_id,
                    reason_code_id=code_id,
                    source=CoderKind.MODEL,
                    coder_key=CoderKind.MODEL.value,
                    confidence=float(row[index]),
                    status=CodingStatus.CONFIRMED,
                    created_at=now,
                    decided_at=now,
                )
            )
            added += 1
            touched.add(answer_id)
    db.session.flush()
    # The customer-stated reasons of the opportunities concerned follow.
    opportunities = db.session.scalars(
        select(Response.opportunity_id)
        .join(Answer, Answer.response_id == Response.id)
        .where(Answer.id.in_(touched), Response.opportunity_id.is_not(None))
        .distinct()
    )
    for opportunity_id in list(opportunities):
        refresh_opportunity_reasons(opportunity_id, now=now)
    return added


def retrain_if_due(*, now: datetime, every: int, min_precision: float) -> bool:
    """The worker's job: retrain after `every` new confirmations, then auto-accept where allowed."""
    last = db.session.scalar(select(TrainedModel.confirmations).order_by(TrainedModel.id.desc()).limit(1))
    confirmed = confirmed_count()
    trained = False
    if confirmed - (last or 0) >= every:
        try:
            evaluate(now=now)
            train(now=now)
            trained = True
        except NotEnoughData:
            return False
    auto_accept(now=now, min_precision=min_precision)
    return trained

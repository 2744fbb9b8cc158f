"""Coding: training and suggesting against scikit-learn's own fit/predict; the workbench's next-answer page.

Run: .venv/bin/python bench/coding_bench.py [--train 10000] [--suggest 1000] [--answers 100000] [--pages 200]
1. `coding train` on N coded answers (read from the database, TF-IDF + one-vs-rest, stored) and
   suggestions for M texts (codebook, rules, model), each beside scikit-learn's own vectorise + fit /
   transform + predict_proba on the same texts and labels (the baseline). Target: <= 1.5x.
   Texts: the airline complaints of ../shared/data (cycled to N), or generated ones when absent.
2. The workbench with --answers free-text answers in the database (half already coded): an analyst
   confirms a code and is sent to the next answer, whose page is rendered with its suggestions.
   Server time of POST (save + find the next) and GET (the next answer's page). Target: p95 < 100 ms.
SQLite in a temporary folder. The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "twitter_airline_negativereason" / "Tweets.csv"
SECRET = "bench-secret-key-not-for-production"  # noqa: S105
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
WORDS = [
    "price",
    "cost",
    "support",
    "slow",
    "missing",
    "feature",
    "integration",
    "api",
    "onboarding",
    "budget",
    "timing",
    "vendor",
    "sales",
]


def _corpus(n: int) -> tuple[list[str], list[str], str]:
    rows: list[tuple[str, str]] = []
    source = "generated"
    if SHARED.is_file():
        with SHARED.open(encoding="utf-8") as handle:
            rows = [
                (r["text"], r["negativereason"])
                for r in csv.DictReader(handle)
                if r["negativereason"] and r["negativereason"] != "Can't Tell"
            ]
        source = "airline tweets"
    if not rows:
        rng = random.Random(7)
        rows = [(" ".join(rng.choices(WORDS, k=12)), WORDS[i % 10]) for i in range(5000)]
    texts = [f"{rows[i % len(rows)][0]} #{i // len(rows)}" for i in range(n)]
    labels = [rows[i % len(rows)][1] for i in range(n)]
    return texts, labels, source


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in label.lower()).strip("_")


def _median_seconds(func, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=10_000)
    parser.add_argument("--suggest", type=int, default=1_000)
    parser.add_argument("--answers", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    folder = tempfile.mkdtemp(prefix="coding-bench-")  # removed at the end
    url = f"sqlite:///{folder}/bench.sqlite3"
    os.environ.update(DATABASE_URL=url, SECRET_KEY=SECRET, WINBACK_DISABLE_WORKER_THREAD="1")
    from flask_migrate import upgrade
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.preprocessing import MultiLabelBinarizer
    from sqlalchemy import insert, select

    from app import create_app
    from app.auth.models import Role
    from app.auth.service import create_user
    from app.codebook.models import ReasonCode
    from app.codebook.service import create_code, ensure_default_codebook
    from app.coding import suggest
    from app.coding.models import Coding, ImportedAnswer
    from app.extensions import db
    from surveys.builder import QuestionSpec, build_version, create_survey, publish
    from surveys.models import Answer, QuestionKind, Response

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": SECRET,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    texts, labels, source = _corpus(options.train + options.suggest)
    train_texts, train_labels = texts[: options.train], labels[: options.train]
    probe = texts[options.train :]
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        ensure_default_codebook()
        parent = create_code("bench", "Bench reasons")
        code_ids = {
            label: create_code(_slug(label), label, parent=parent).id for label in sorted(set(labels))
        }
        db.session.execute(
            insert(ImportedAnswer),
            [
                {"id": i + 1, "external_key": f"b{i}", "text": t, "created_at": NOW}
                for i, t in enumerate(train_texts)
            ],
        )
        db.session.execute(
            insert(Coding),
            [
                {
                    "imported_answer_id": i + 1,
                    "reason_code_id": code_ids[label],
                    "source": "import",
                    "coder_key": "import",
                    "status": "confirmed",
                    "confidence": 1.0,
                    "created_at": NOW,
                }
                for i, label in enumerate(train_labels)
            ],
        )
        db.session.commit()

        # 1. Training and suggesting, against scikit-learn alone on the same texts.
        def ours_train():
            suggest.train(now=NOW)
            db.session.commit()

        baseline: dict[str, object] = {}

        def baseline_train():
            y = MultiLabelBinarizer().fit_transform([{label} for label in train_labels])
            vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), strip_accents="unicode")
            matrix = vectorizer.fit_transform(train_texts)
            model = OneVsRestClassifier(
                LogisticRegression(solver="liblinear", C=4.0, class_weight="balanced")
            )
            baseline.update(vectorizer=vectorizer, model=model.fit(matrix, y))

        baseline_train()  # warm-up, not timed
        train_ours = _median_seconds(ours_train, options.repeat)
        train_base = _median_seconds(baseline_train, options.repeat)

        def ours_suggest():
            suggest.suggest_many(probe)

        def baseline_suggest():
            baseline["model"].predict_proba(baseline["vectorizer"].transform(probe))

        baseline_suggest()  # both warm: the first call into scikit-learn pays for lazy imports
        ours_suggest()
        suggest_ours = _median_seconds(ours_suggest, options.repeat)
        suggest_base = _median_seconds(baseline_suggest, options.repeat)

        # 2. The workbench at --answers answers, half of them coded.
        survey = create_survey("Bench", title="Bench", now=NOW)
        build_version(
            survey.versions[0], [QuestionSpec(QuestionKind.LONG_TEXT, "Why did you choose another vendor?")]
        )
        version = publish(survey.versions[0], now=NOW)
        question_id = version.questions[0].id
        analyst = create_user("analyst@example.com", "bench password 123", Role.ANALYST, name="Ana")
        db.session.commit()
        chunk = 20_000
        for start in range(0, options.answers, chunk):
            ids = range(start + 1, min(start + chunk, options.answers) + 1)
            db.session.execute(
                insert(Response),
                [
                    {
                        "id": i,
                        "version_id": version.id,
                        "channel": "web",
                        "status": "complete",
                        "current_page": 1,
                        "furthest_page": 1,
                        "started_at": NOW,
                        "updated_at": NOW,
                        "completed_at": NOW,
                    }
                    for i in ids
                ],
            )
            db.session.execute(
                insert(Answer),
                [
                    {
                        "id": i,
                        "response_id": i,
                        "question_id": question_id,
                        "text": texts[i % len(texts)],
                        "choices": [],
                        "updated_at": NOW,
                    }
                    for i in ids
                ],
            )
            db.session.execute(
                insert(Coding),
                [
                    {
                        "answer_id": i,
                        "reason_code_id": code_ids[labels[i % len(labels)]],
                        "source": "person",
                        "coder_id": analyst.id,
                        "coder_key": f"user:{analyst.id}",
                        "status": "confirmed",
                        "created_at": NOW,
                    }
                    for i in ids
                    if i % 2 == 0
                ],
            )
            db.session.commit()
        db.session.execute(db.text("ANALYZE"))
        code_id = db.session.scalar(select(ReasonCode.id).where(ReasonCode.code == "price.too_high"))
        email = analyst.email

    client = app.test_client()
    client.post("/login", data={"email": email, "password": "bench password 123"})
    location = client.get("/coding/").headers["Location"]
    post_ms, get_ms = [], []
    for _ in range(options.pages):
        path = location.split("?")[0]
        start = time.perf_counter()
        response = client.post(path, data={"code": str(code_id)})
        post_ms.append((time.perf_counter() - start) * 1000)
        location = response.headers["Location"]
        start = time.perf_counter()
        page = client.get(location)
        get_ms.append((time.perf_counter() - start) * 1000)
        assert page.status_code == 200, page.status_code
    with app.app_context():
        db.engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)

    def p95(values: list[float]) -> float:
        return round(statistics.quantiles(values, n=20)[18], 1)

    figures = {
        "train_seconds": round(train_ours, 3),
        "train_baseline_seconds": round(train_base, 3),
        "train_ratio": round(train_ours / train_base, 2),
        "suggest_seconds": round(suggest_ours, 3),
        "suggest_baseline_seconds": round(suggest_base, 3),
        "suggest_ratio": round(suggest_ours / suggest_base, 2),
        "next_post_p95_ms": p95(post_ms),
        "next_get_p95_ms": p95(get_ms),
        "next_post_median_ms": round(statistics.median(post_ms), 1),
        "next_get_median_ms": round(statistics.median(get_ms), 1),
    }
    met = figures["train_ratio"] <= 1.5 and figures["suggest_ratio"] <= 1.5
    met = met and figures["next_post_p95_ms"] < 100 and figures["next_get_p95_ms"] < 100
    print(f"{'measure':<44}{'winback':>10}{'baseline':>10}{'ratio':>8}{'target':>10}")
    print(
        f"{f'train on {options.train} answers (s)':<44}{train_ours:>10.3f}{train_base:>10.3f}"
        f"{figures['train_ratio']:>8.2f}{'<=1.5x':>10}"
    )
    print(
        f"{f'suggest for {options.suggest} answers (s)':<44}{suggest_ours:>10.3f}{suggest_base:>10.3f}"
        f"{figures['suggest_ratio']:>8.2f}{'<=1.5x':>10}"
    )
    print(
        f"{f'confirm + find next, p95 ms ({options.answers} answers)':<44}{figures['next_post_p95_ms']:>10}"
        f"{'':>10}{'':>8}{'<100':>10}"
    )
    print(f"{'next answer page, p95 ms':<44}{figures['next_get_p95_ms']:>10}{'':>10}{'':>8}{'<100':>10}")
    print(
        f"Targets {'met' if met else 'NOT met'} (texts: {source}; SQLite; "
        f"medians of {options.repeat} rounds; "
        f"{options.pages} pages through the Flask test client, server time only)."
    )
    print(
        json.dumps(
            {
                "bench": "coding",
                **figures,
                "answers": options.answers,
                "train": options.train,
                "suggest": options.suggest,
                "source": source,
                "targets_met": met,
            }
        )
    )


if __name__ == "__main__":
    main()

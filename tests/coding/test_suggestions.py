"""Suggestions that learn: training, evaluation, import, auto-accept and the worker's retraining."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.auth.models import Role
from app.codebook.models import ReasonCode
from app.codebook.service import ensure_default_codebook
from app.coding import auto_accept, service, suggest
from app.coding.models import CoderKind, Coding, CodingStatus, ImportedAnswer, TrainedModel
from app.coding.rule_matcher import RuleMatcher
from app.errors import ValidationError
from app.extensions import db
from tests.survey_helpers import NOW

PRICE = ["too expensive", "the price was too high", "cheaper elsewhere", "cost too much", "pricing was steep"]
FEATURES = [
    "missing reporting",
    "no sso feature",
    "lacked dashboards",
    "feature gaps",
    "no api export feature",
]
SUPPORT = [
    "support was slow",
    "support never answered",
    "bad support tickets",
    "support team unhelpful",
    "support slow",
]


def _code(code: str) -> ReasonCode:
    return db.session.scalar(select(ReasonCode).where(ReasonCode.code == code))


def _corpus_csv(tmp_path, repeat: int = 4):
    lines = ["id,text,code,coder"]
    n = 0
    for code, texts in (
        ("price.too_high", PRICE),
        ("Missing feature", FEATURES),
        ("support.quality", SUPPORT),
    ):
        for r in range(repeat):
            for text in texts:
                n += 1
                lines.append(f'{n},"{text} ({r})",{code},')
    path = tmp_path / "corpus.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_coding_import_loads_answers_matched_by_code_or_label_and_reports_bad_lines(runner, tmp_path):
    ensure_default_codebook()
    db.session.commit()
    path = tmp_path / "history.csv"
    path.write_text(
        "id,text,code,coder,question\n"
        "1,Too expensive,price.too_high,Jane,Why?\n"
        "1,Too expensive,Support quality,Jane,Why?\n"  # multi-label: same id, a label instead of a code
        "1,Too expensive,price.too_high,Lee,Why?\n"  # a second coder of the same answer
        "2,Nobody answered,no.such.code,Jane,Why?\n"
        "3,,price,Jane,Why?\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["coding", "import", str(path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["answers"] == 1
    assert summary["codings"] == 3
    assert [e["line"] for e in summary["errors"]] == [5, 6]
    assert "no.such.code" in summary["errors"][0]["message"]
    coders = set(db.session.scalars(select(Coding.coder_key).where(Coding.source == CoderKind.IMPORT)))
    assert coders == {"import:Jane", "import:Lee"}
    again = json.loads(runner.invoke(args=["coding", "import", str(path), "--json"]).output)
    assert (again["answers"], again["codings"]) == (0, 0)
    assert runner.invoke(args=["coding", "import", str(tmp_path / "absent.csv")]).exit_code == 2
    no_text = tmp_path / "bad.csv"
    no_text.write_text("answer,label\nx,y\n", encoding="utf-8")
    assert "missing column" in runner.invoke(args=["coding", "import", str(no_text), "--json"]).output


def test_rows_without_id_are_one_answer_per_question_and_text(runner, tmp_path):
    ensure_default_codebook()
    db.session.commit()
    path = tmp_path / "noid.csv"
    path.write_text(
        "text,code,question\nSlow,support,Q1\nSlow,support.quality,Q1\nSlow,support,Q2\n", encoding="utf-8"
    )
    summary = json.loads(runner.invoke(args=["coding", "import", str(path), "--json"]).output)
    assert summary == {"answers": 2, "codings": 3, "errors": []}


def test_train_and_evaluate_on_the_confirmed_codings(runner, tmp_path):
    ensure_default_codebook()
    db.session.commit()
    runner.invoke(args=["coding", "import", str(_corpus_csv(tmp_path))])
    assert db.session.scalar(select(func.count()).select_from(ImportedAnswer)) == 60
    result = runner.invoke(args=["coding", "evaluate", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert set(figures) == {"macro_f1", "train", "test", "codes"}
    assert (figures["train"], figures["test"]) == (48, 12)  # 20% of each code held out
    assert set(figures["codes"]) == {"price.too_high", "product.missing_feature", "support.quality"}
    assert set(figures["codes"]["support.quality"]) == {"precision", "recall", "f1", "support"}
    assert figures["codes"]["support.quality"]["support"] == 4
    assert figures["macro_f1"] >= 0.9
    assert json.loads(runner.invoke(args=["coding", "evaluate", "--json"]).output) == figures  # seeded
    assert "macro-F1" in runner.invoke(args=["coding", "evaluate"]).output
    result = runner.invoke(args=["coding", "train"])
    assert result.exit_code == 0, result.output
    assert "60 answers and 3 codes" in result.output
    ranked = suggest.suggest("the support was slow again")
    assert ranked[0].code.code == "support.quality"
    assert ranked[0].source is CoderKind.MODEL
    assert ranked[0].precision is not None


def test_training_needs_two_codes(runner):
    ensure_default_codebook()
    db.session.commit()
    result = runner.invoke(args=["coding", "train"])
    assert result.exit_code == 1
    assert "at least two codes" in result.output


def test_auto_accept_only_where_measured_precision_allows(runner, tmp_path, respond, app, make_opportunity):
    runner.invoke(args=["coding", "import", str(_corpus_csv(tmp_path))])
    code = _code("support.quality")
    with pytest.raises(ValidationError, match="not measured yet"):
        auto_accept.set_auto_accept(code, 0.6, min_precision=0.9)
    runner.invoke(args=["coding", "evaluate"])
    runner.invoke(args=["coding", "train"])
    auto_accept.set_auto_accept(code, 0.6, min_precision=0.9)
    with pytest.raises(ValidationError):
        auto_accept.set_auto_accept(code, 0.2, min_precision=0.9)
    db.session.commit()
    opportunity = make_opportunity()
    slow = respond("support slow, support never answered", main="else", opportunity=opportunity)
    pricey = respond("too expensive, the price was too high")
    added = auto_accept.auto_accept(now=NOW, min_precision=0.9)
    db.session.commit()
    assert added == 1
    coding = db.session.scalar(select(Coding).where(Coding.source == CoderKind.MODEL))
    assert (coding.answer_id, coding.reason_code_id, coding.status) == (
        slow.id,
        code.id,
        CodingStatus.CONFIRMED,
    )
    assert pricey.id not in set(
        db.session.scalars(select(Coding.answer_id).where(Coding.source == CoderKind.MODEL))
    )
    assert [r.reason_code.code for r in service.opportunity_reasons(opportunity.id)] == ["support.quality"]
    # Auto-accepted answers leave the queue; a stricter bar turns it off.
    assert service.next_answer_id(service.QueueFilter(), coder_id=0) == pricey.id
    assert auto_accept.auto_accept(now=NOW, min_precision=1.01) == 0


def test_the_worker_retrains_after_enough_new_confirmations(runner, tmp_path, app):
    from app.coding import retrain_job
    from app.jobs import periodic_jobs

    assert "coding.retrain" in {job.name for job in periodic_jobs(app)}
    ensure_default_codebook()
    db.session.commit()
    runner.invoke(args=["coding", "import", str(_corpus_csv(tmp_path, repeat=2))])
    before = app.config["CODING_RETRAIN_EVERY"]
    app.config["CODING_RETRAIN_EVERY"] = 25
    try:
        assert retrain_job(NOW) is True
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(TrainedModel)) == 1
        assert retrain_job(NOW) is False  # nothing new since
        runner.invoke(args=["coding", "import", str(_corpus_csv(tmp_path, repeat=4))])
        assert retrain_job(NOW) is True
    finally:
        app.config["CODING_RETRAIN_EVERY"] = before


def test_rules_page_adds_rules_and_only_admins_set_auto_accept(make_user, login, app):
    ensure_default_codebook()
    db.session.commit()
    analyst = login(make_user(Role.ANALYST))
    code = _code("price.too_high")
    analyst.post("/coding/rules", data={"rule-code": str(code.id), "rule-phrase": "pricey"})
    assert "pricey" in analyst.get("/coding/rules").get_data(as_text=True)
    assert (
        analyst.post("/coding/rules", data={"auto-code": str(code.id), "auto-threshold": "0.9"}).status_code
        == 403
    )


RULES = (
    ("price", "expensive"),
    ("price.too_high", "too expensive"),
    ("support", "customer service"),
    ("support.quality", "service"),
    ("support.quality", "service desk"),
    ("product.integration", "c++"),
    ("product.integration", "on-prem"),
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Overlapping rules, rules starting at the same word, case: every matching rule, in rules' order.
        (
            "Too EXPENSIVE, and the customer  service desk was slow",
            ["expensive", "too expensive", "customer service", "service", "service desk"],
        ),
        ("servicedesk; serviceable; inexpensive", []),  # whole words only
        # Word boundaries as in rule_pattern: "c++" before a space is not a whole word there.
        ("On-prem only, and we need C++ bindings", ["on-prem"]),
        ("C++and on-prem", ["c++", "on-prem"]),
        ("service", ["service"]),
        ("\u017fervice", ["service"]),  # a long s is an s when case is ignored, for one rule as for all
        ("", []),
    ],
)
def test_the_rule_matcher_finds_what_searching_each_rule_finds(text, expected):
    matcher = RuleMatcher(RULES)
    found = [why for _, why in matcher.matching(text)]
    assert found == [f"rule “{phrase}”" for phrase in expected]
    one_by_one = [
        f"rule “{phrase}”" for _, phrase in RULES if service.rule_pattern(phrase).search(text) is not None
    ]
    assert found == one_by_one


def test_suggestions_follow_new_rules_retired_codes_and_a_new_model(runner, tmp_path):
    from app.codebook.service import retire_code

    ensure_default_codebook()
    db.session.commit()
    text = "the support was slow and too expensive"
    assert suggest.suggest(text) == []
    service.add_rule(_code("price.too_high"), "too expensive")
    db.session.commit()
    assert [(s.code.code, s.source) for s in suggest.suggest(text)] == [("price.too_high", CoderKind.RULE)]
    service.add_rule(_code("support.quality"), "slow")
    db.session.commit()
    assert [s.code.code for s in suggest.suggest(text)] == ["price.too_high", "support.quality"]
    retire_code(_code("price.too_high"))
    db.session.commit()
    assert [s.code.code for s in suggest.suggest(text)] == ["support.quality"]
    # A model trained now is the one that suggests (the cached one is for the model before it).
    assert suggest.current_classifier() is None
    runner.invoke(args=["coding", "import", str(_corpus_csv(tmp_path))])
    assert runner.invoke(args=["coding", "train"]).exit_code == 0
    first = suggest.current_classifier()
    assert first is suggest.current_classifier()  # unpickled once
    suggested = suggest.suggest("support never answered")
    assert (suggested[0].code.code, suggested[0].source) == ("support.quality", CoderKind.MODEL)
    retired = {s.code.code for s in suggest.suggest("too expensive, cheaper elsewhere")}
    assert "price.too_high" not in retired  # neither its rule nor the model suggest a retired code
    runner.invoke(args=["coding", "import", str(_corpus_csv(tmp_path, repeat=5))])
    assert runner.invoke(args=["coding", "train"]).exit_code == 0
    assert suggest.current_classifier() is not first


def test_confidences_are_rounded_as_python_rounds_them():
    import random

    import numpy as np

    rng = random.Random(11)
    values = [rng.random() for _ in range(20_000)]
    # Halves in binary (0.0625 = 62.5/1000) round to even; decimal halves are not exact in binary.
    values += [0.0625, 0.1875, 0.5625, 0.0005, 0.0015, 0.1235, 0.2675, 0.9995, 1.0, 0.0]
    values += [k / 1000 + 0.0005 + d for k in range(1000) for d in (-1e-17, 0.0, 1e-17, 2e-16)]
    assert suggest.rounded(np.array(values)).tolist() == [round(v, 3) for v in values]
    assert suggest.rounded(np.array([[0.0625, 0.12345], [0.5, 0.9999]])).tolist() == [
        [0.062, 0.123],
        [0.5, 1.0],
    ]

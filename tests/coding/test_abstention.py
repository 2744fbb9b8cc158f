"""Suggestions that abstain when unsure: each code's threshold, chosen on held-out data, and why a code is
or is not suggested (the workbench) with its precision, recall and abstention rate (the codebook)."""

from __future__ import annotations

import re
from html import unescape

import numpy as np
from sqlalchemy import select

from app.auth.models import Role
from app.codebook.models import ReasonCode
from app.codebook.service import ensure_default_codebook
from app.coding import abstention, service, suggest
from app.coding.models import CoderKind, CodeSetting
from app.extensions import db
from tests.coding.test_suggestions import _corpus_csv
from tests.survey_helpers import NOW


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _setting(code: str) -> CodeSetting:
    code_id = db.session.scalar(select(ReasonCode.id).where(ReasonCode.code == code))
    return db.session.get(CodeSetting, code_id)


# --- the threshold choice ---------------------------------------------------------------------------


def test_the_threshold_keeps_the_confident_run_that_reaches_the_target():
    # Ten right suggestions at 0.90 … 0.81, then ten wrong ones at 0.50 … 0.41.
    confidences = np.array([0.9 - 0.01 * n for n in range(10)] + [0.5 - 0.01 * n for n in range(10)])
    truth = np.array([True] * 10 + [False] * 10)
    threshold = abstention.choose_threshold(confidences, truth, target=0.8)
    # Halfway between the last right one (0.81) and the first wrong one (0.50): 10/11 right would be
    # 91 %, but its lower bound (one standard error) is below 80 %.
    assert abstention.lower_bound(10, 11) < 0.8 <= abstention.lower_bound(10, 10)
    assert threshold == (0.81 + 0.5) / 2
    figures = abstention.measure(confidences, truth, confidences >= 0.4, threshold)
    assert (figures.precision, figures.recall, figures.abstention) == (1.0, 1.0, 0.5)


def test_a_code_that_never_reaches_the_target_is_never_suggested():
    confidences = np.linspace(0.99, 0.3, 40)
    truth = np.array([n % 2 == 0 for n in range(40)])  # right half the time, at every confidence
    assert abstention.choose_threshold(confidences, truth, target=0.8) is None
    figures = abstention.choose_thresholds(
        np.column_stack([confidences, 1 - confidences]),
        [{"a"} if right else {"b"} for right in truth],
        ["a", "b"],
        target=0.8,
    )
    assert figures["a"].threshold is None
    assert figures["a"].recall == 0.0
    # Too few suggestions prove nothing either, even all right.
    assert abstention.choose_threshold(np.array([0.9, 0.8]), np.array([True, True]), target=0.8) is None


def test_all_right_on_held_out_data_suggests_at_any_confidence_and_ties_are_not_split():
    confidences = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3])
    assert abstention.choose_threshold(confidences, np.ones(7, dtype=bool), target=0.8) == 0.0
    # The two suggestions at 0.6, one right and one wrong, are taken or left together: the right one
    # alone (9 of 9) would pass, both (9 of 10) do not, so neither is.
    tied = np.array([0.9] * 8 + [0.6, 0.6, 0.2])
    truth = np.array([True] * 8 + [True, False, False])
    assert abstention.lower_bound(9, 10) < 0.8 <= abstention.lower_bound(9, 9)
    assert abstention.choose_threshold(tied, truth, target=0.8) == (0.9 + 0.6) / 2


def test_the_explanations_say_why():
    curve = [[0.62, 0.8], [0.7, 0.84], [0.8, 0.91]]
    assert abstention.explanation(0.27, 0.62, curve) == "confidence 27 %, below this code's 62 % threshold"
    assert (
        abstention.explanation(0.75, 0.62, curve)
        == "suggested: past suggestions at this confidence were right 84 % of the time"
    )
    assert abstention.explanation(0.95, 0.62, curve).endswith("right 91 % of the time")
    assert abstention.explanation(0.4, None, []) == (
        "confidence 40 %; the model never suggests this code (below the target)"
    )
    assert abstention.precision_for(0.65, curve) == 0.8


# --- suggesting, the workbench and the codebook --------------------------------------------------------


def _trained(runner, tmp_path) -> None:
    ensure_default_codebook()
    db.session.commit()
    runner.invoke(args=["coding", "import", str(_corpus_csv(tmp_path))])
    assert runner.invoke(args=["coding", "evaluate"]).exit_code == 0
    assert runner.invoke(args=["coding", "train"]).exit_code == 0


def test_below_its_threshold_the_model_does_not_suggest_a_code_but_rules_still_do(runner, tmp_path):
    _trained(runner, tmp_path)
    support = _setting("support.quality")
    assert support.suggest_threshold is not None
    assert support.threshold_precision >= 0.8
    text = "support slow"
    confidence = next(s.confidence for s in suggest.suggest(text) if s.code.code == "support.quality")
    support.suggest_threshold = confidence + 0.01
    db.session.commit()
    assert "support.quality" not in {s.code.code for s in suggest.suggest(text)}
    support.suggest_threshold, support.never_suggested = None, True
    db.session.commit()
    assert "support.quality" not in {s.code.code for s in suggest.suggest(text)}
    service.add_rule(db.session.get(ReasonCode, support.reason_code_id), "slow")
    db.session.commit()
    assert [(s.code.code, s.source) for s in suggest.suggest(text)][:1] == [
        ("support.quality", CoderKind.RULE)
    ]


def test_the_workbench_explains_each_suggestion_and_each_abstention(
    runner, tmp_path, respond, make_user, login
):
    _trained(runner, tmp_path)
    answer = respond("support was slow, support never answered")
    client = login(make_user(Role.ANALYST))
    page = _text(client.get(f"/coding/answers/{answer.id}").get_data(as_text=True))
    assert "measured precision" not in page
    assert "suggested: past suggestions at this confidence were right" in page
    support = _setting("support.quality")
    shown = next(s.confidence for s in suggest.suggest(answer.text) if s.code.code == "support.quality")
    support.suggest_threshold = 0.99
    db.session.commit()
    page = _text(client.get(f"/coding/answers/{answer.id}").get_data(as_text=True))
    row = page.split("Support quality support.quality", 1)[1].split("Timing", 1)[0]
    assert f"confidence {round(shown * 100)} %, below this code's 99 % threshold" in row
    assert "Suggestions" not in page.split("Codes Filter the codes", 1)[1]  # nothing above its threshold


def test_the_codebook_shows_precision_recall_and_abstention_at_each_threshold(
    runner, tmp_path, make_user, login
):
    _trained(runner, tmp_path)
    price = _setting("price.too_high")
    price.threshold_precision, price.threshold_recall, price.abstention_rate = 0.84, 0.62, 0.27
    price.suggest_threshold = 0.62
    budget = _setting("support.quality")
    budget.suggest_threshold, budget.never_suggested = None, True
    db.session.commit()
    html = login(make_user(Role.ANALYST)).get("/codebook/").get_data(as_text=True)
    assert "Suggestion precision" in html
    assert "Abstains" in html
    row = _text(html.split("<code>price.too_high</code>", 1)[1].split("</tr>", 1)[0])
    assert "84 % at ≥ 62 % confidence 62 % 27 %" in row
    never = _text(html.split("<code>support.quality</code>", 1)[1].split("</tr>", 1)[0])
    assert "not suggested by the model" in never
    untouched = _text(html.split("<code>timing.budget</code>", 1)[1].split("</tr>", 1)[0])
    assert "not measured yet" in untouched


def test_evaluate_records_each_codes_threshold_and_figures(runner, tmp_path, app, monkeypatch):
    _trained(runner, tmp_path)
    result = suggest.evaluate(now=NOW)
    for code, figures in result.thresholds.items():
        setting = _setting(code)
        assert setting.suggest_threshold == figures.threshold
        assert setting.threshold_recall == figures.recall
        assert setting.abstention_rate == figures.abstention
        assert setting.never_suggested is (figures.threshold is None)
    monkeypatch.setitem(
        app.config, "CODING_TARGET_PRECISION", 1.01
    )  # unreachable: the model suggests nothing
    suggest.evaluate(now=NOW)
    db.session.commit()
    assert all(_setting(code).never_suggested for code in result.thresholds)
    assert [s for s in suggest.suggest("support was slow") if s.source is CoderKind.MODEL] == []

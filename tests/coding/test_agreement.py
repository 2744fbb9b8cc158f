"""Agreement between coders: Cohen's kappa per code and overall, Krippendorff's alpha, disagreements."""

from __future__ import annotations

import json
import math

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from sqlalchemy import select

from app.auth.models import Role
from app.codebook.models import ReasonCode
from app.codebook.service import ensure_default_codebook
from app.coding import agreement, service
from app.coding.models import Coding, CodingStatus
from app.extensions import db
from tests.survey_helpers import NOW


def _code(code: str) -> ReasonCode:
    return db.session.scalar(select(ReasonCode).where(ReasonCode.code == code))


def test_cohen_kappa_matches_scikit_learn():
    first = [1, 0, 1, 1, 0, 0, 1, 0, 1, 1]
    second = [1, 0, 0, 1, 0, 1, 1, 0, 1, 0]
    assert agreement.cohen_kappa(first, second) == pytest.approx(cohen_kappa_score(first, second))
    assert agreement.cohen_kappa([1, 1], [1, 1]) == 1.0  # no variation, full agreement
    assert math.isnan(agreement.cohen_kappa([], []))


@pytest.mark.parametrize(
    ("kappa", "label"),
    [
        (0.85, "almost perfect"),
        (0.81, "almost perfect"),
        (0.7, "substantial"),
        (0.5, "moderate"),
        (-0.1, "poor"),
    ],
)
def test_kappa_is_read_as_the_literature_reads_it(kappa, label):
    assert agreement.kappa_label(kappa) == label


def test_agreement_of_three_coders_uses_the_pair_with_most_answers_and_alpha_for_all():
    u = [("i", n) for n in range(6)]
    sets = {
        "a": {u[0]: {"x"}, u[1]: {"y"}, u[2]: {"x", "y"}, u[3]: {"x"}, u[4]: {"y"}},
        "b": {u[0]: {"x"}, u[1]: {"x"}, u[2]: {"x", "y"}, u[3]: {"x"}, u[4]: {"y"}},
        "c": {u[0]: {"y"}, u[5]: {"x"}},
    }
    result = agreement.measure_agreement(sets)
    assert result.coders == ("a", "b")
    assert result.answers == 5
    a_x, b_x = [1, 0, 1, 1, 0], [1, 1, 1, 1, 0]
    assert result.codes["x"]["kappa"] == pytest.approx(cohen_kappa_score(a_x, b_x))
    pooled_a, pooled_b = a_x + [0, 1, 1, 0, 1], b_x + [0, 0, 1, 0, 1]
    assert result.overall_kappa == pytest.approx(cohen_kappa_score(pooled_a, pooled_b))
    # Alpha over every coder: units (answer, code) of answers at least two coders coded.
    units = [(unit, code) for unit in u[:5] for code in ("x", "y")]
    data = np.array(
        [[int(code in sets[c][unit]) if unit in sets[c] else np.nan for unit, code in units] for c in "abc"]
    )
    assert result.alpha == pytest.approx(
        krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    )


def test_agreement_cli_and_page_from_double_coded_answers(respond, make_user, login, runner):
    ana, bob = make_user(Role.ANALYST, name="Ana"), make_user(Role.ANALYST, name="Bob")
    answers = [respond(f"Answer {n}") for n in range(4)]
    agreement.draw_double_coding_sample(1.0, [ana, bob], now=NOW, seed=3)
    price, support = _code("price.too_high"), _code("support.quality")
    choices = {ana: [price, price, support, support], bob: [price, support, support, support]}
    for coder, codes in choices.items():
        for answer, code in zip(answers, codes, strict=True):
            service.set_person_codes(answer, coder, [service.CodeChoice(code.id)], now=NOW)
    db.session.commit()
    figures = json.loads(runner.invoke(args=["coding", "agreement", "--json"]).output)
    expected = cohen_kappa_score([1, 1, 0, 0], [1, 0, 0, 0])
    assert figures["codes"]["price.too_high"] == {"kappa": round(expected, 4), "n": 4}
    assert set(figures["overall"]) == {"kappa", "alpha"}
    # The lead resolves the one disagreement; the final code stands for the answer.
    admin = make_user(Role.ADMIN)
    client = login(admin)
    page = client.get("/coding/agreement").get_data(as_text=True)
    assert "Answer 1" in page
    assert "substantial" in page or "moderate" in page or "fair" in page
    client.post(f"/coding/agreement/{answers[1].id}/resolve", data={"code": [str(price.id)]})
    assert agreement.disagreements() == []
    final = db.session.scalar(select(Coding).where(Coding.coder_key == service.FINAL))
    assert (final.answer_id, final.reason_code_id, final.status) == (
        answers[1].id,
        price.id,
        CodingStatus.CONFIRMED,
    )
    # The final code does not count as a third coder.
    assert json.loads(runner.invoke(args=["coding", "agreement", "--json"]).output) == figures


def test_an_analyst_cannot_draw_a_sample_or_resolve(make_user, login):
    ensure_default_codebook()
    db.session.commit()
    client = login(make_user(Role.ANALYST))
    assert client.get("/coding/agreement").status_code == 200
    assert client.post("/coding/agreement", data={"share": "20"}).status_code == 403
    assert client.post("/coding/agreement/1/resolve").status_code == 403

"""Double coding you can follow: the sample marked in the workbench, progress per coder and overall,
coders named by name, the disagreement queue (side by side, stored and audited) and per-code kappa in
the codebook."""

from __future__ import annotations

import re

from sklearn.metrics import cohen_kappa_score
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import Role
from app.codebook.models import ReasonCode
from app.coding import agreement, service
from app.coding.models import Coding, DoubleCodingAssignment
from app.coding.sample import coder_names, sample_progress
from app.extensions import db
from tests.survey_helpers import NOW


def _code(code: str) -> ReasonCode:
    return db.session.scalar(select(ReasonCode).where(ReasonCode.code == code))


def _code_as(answer, coder, *codes: str) -> None:
    service.set_person_codes(answer, coder, [service.CodeChoice(_code(c).id) for c in codes], now=NOW)


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_workbench_marks_an_answer_of_the_sample_until_both_coders_are_done(respond, make_user, login):
    ana, bob = make_user(Role.ANALYST, name="Ana Ruiz"), make_user(Role.ANALYST, name="Bob Lee")
    answer = respond("The renewal price doubled")
    agreement.draw_double_coding_sample(1.0, [ana, bob], now=NOW, seed=1)
    db.session.commit()
    client = login(bob)
    page = _text(client.get(f"/coding/answers/{answer.id}").get_data(as_text=True))
    assert "Double-coding sample: second coder needed." in page
    assert "Coded by Ana Ruiz and Bob Lee (0 of 2 done)" in page
    _code_as(answer, ana, "price.too_high")
    db.session.commit()
    page = _text(client.get(f"/coding/answers/{answer.id}").get_data(as_text=True))
    assert "second coder needed" in page
    assert "(1 of 2 done)" in page
    assert "you have coded 0 of your 1 answers; 0 of 1 answers coded by both coders" in page
    _code_as(answer, bob, "price.too_high")
    db.session.commit()
    page = _text(client.get(f"/coding/answers/{answer.id}").get_data(as_text=True))
    assert "Double-coding sample: both coders are done." in page
    other = respond("Nothing in the sample")
    assert "data-sample-mark" not in client.get(f"/coding/answers/{other.id}").get_data(as_text=True)


def test_progress_per_coder_and_overall(respond, make_user, login):
    ana, bob, cy = (make_user(Role.ANALYST, name=n) for n in ("Ana", "Bob", "Cy"))
    answers = [respond(f"Answer {n}") for n in range(3)]
    agreement.draw_double_coding_sample(1.0, [ana, bob, cy], now=NOW, seed=1)
    db.session.commit()
    # Pairs rotate: answer 0 to Ana and Bob, 1 to Bob and Cy, 2 to Cy and Ana.
    assigned = {(a.answer_id, a.coder_id) for a in db.session.scalars(select(DoubleCodingAssignment))}
    assert assigned == {
        (answers[0].id, ana.id), (answers[0].id, bob.id),
        (answers[1].id, bob.id), (answers[1].id, cy.id),
        (answers[2].id, cy.id), (answers[2].id, ana.id),
    }  # fmt: skip
    _code_as(answers[0], ana, "price.too_high")
    _code_as(answers[0], bob, "support.quality")
    _code_as(answers[2], ana, "price.too_high")
    db.session.commit()
    progress = sample_progress()
    assert [(c.name, c.assigned, c.done, c.remaining) for c in progress.coders] == [
        ("Ana", 2, 2, 0),
        ("Bob", 2, 1, 1),
        ("Cy", 2, 0, 2),
    ]
    assert (progress.answers, progress.double_coded, progress.resolved) == (3, 1, 0)
    page = _text(login(cy).get("/coding/agreement").get_data(as_text=True))
    assert "3 answers in the sample: 1 coded by both coders, 0 disagreements resolved." in page
    assert "Ana 2 2 0 Bob 2 1 1 Cy 2 0 2" in page


def test_coders_are_named_by_name_not_by_key(respond, make_user, login, runner):
    ana, bob = make_user(Role.ANALYST, name="Ana Ruiz"), make_user(Role.ANALYST, name="Bob Lee")
    answers = [respond(f"Answer {n}") for n in range(2)]
    agreement.draw_double_coding_sample(1.0, [ana, bob], now=NOW, seed=1)
    for answer in answers:
        _code_as(answer, ana, "price.too_high")
        _code_as(answer, bob, "price.too_high")
    db.session.commit()
    assert coder_names([f"user:{ana.id}", "import:Jane", "import"]) == {
        f"user:{ana.id}": "Ana Ruiz",
        "import:Jane": "Jane (imported)",
        "import": "imported codings",
    }
    page = _text(login(ana).get("/coding/agreement").get_data(as_text=True))
    assert "compares Ana Ruiz and Bob Lee on the 2 answers" in page
    assert "user:" not in page
    output = runner.invoke(args=["coding", "agreement"]).output
    assert "Coders compared: Ana Ruiz and Bob Lee (2 answers in common)" in output


def test_a_lead_resolves_a_disagreement_seeing_both_codings_side_by_side(respond, make_user, login):
    ana, bob = make_user(Role.ANALYST, name="Ana Ruiz"), make_user(Role.ANALYST, name="Bob Lee")
    answer = respond("Too expensive and the sync broke")
    agreement.draw_double_coding_sample(1.0, [ana, bob], now=NOW, seed=1)
    _code_as(answer, ana, "price.too_high")
    _code_as(answer, bob, "product.integration")
    db.session.commit()
    lead = make_user(Role.ADMIN, name="Lea Lead")
    client = login(lead)
    html = client.get("/coding/agreement").get_data(as_text=True)
    side_by_side = _text(html.split("data-disagreement", 1)[1].split("</table>", 1)[0])
    assert "Ana Ruiz Bob Lee Price too high price.too_high Integrations product.integration" in side_by_side
    both = [str(_code("price.too_high").id), str(_code("product.integration").id)]
    client.post(f"/coding/agreement/{answer.id}/resolve", data={"code": both})
    assert agreement.disagreements() == []
    final = db.session.scalars(select(Coding).where(Coding.coder_key == service.FINAL)).all()
    assert {c.reason_code.code for c in final} == {"price.too_high", "product.integration"}
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "coding.disagreement_resolved"))
    assert (event.entity_type, event.entity_id, event.actor_id) == ("answer", answer.id, lead.id)
    assert event.details == {
        "coders": {"Ana Ruiz": ["price.too_high"], "Bob Lee": ["product.integration"]},
        "final": ["price.too_high", "product.integration"],
    }
    assert "1 disagreements resolved" in _text(client.get("/coding/agreement").get_data(as_text=True))


def test_the_codebook_shows_each_codes_kappa_beside_it(respond, make_user, login):
    ana, bob = make_user(Role.ANALYST, name="Ana"), make_user(Role.ANALYST, name="Bob")
    answers = [respond(f"Answer {n}") for n in range(4)]
    agreement.draw_double_coding_sample(1.0, [ana, bob], now=NOW, seed=3)
    for coder, codes in {
        ana: ["price.too_high", "price.too_high", "support.quality", "support.quality"],
        bob: ["price.too_high", "support.quality", "support.quality", "support.quality"],
    }.items():
        for answer, code in zip(answers, codes, strict=True):
            _code_as(answer, coder, code)
    db.session.commit()
    html = login(ana).get("/codebook/").get_data(as_text=True)
    assert "Agreement (κ)" in html
    row = _text(html.split("<code>price.too_high</code>", 1)[1].split("</tr>", 1)[0])
    kappa = cohen_kappa_score([1, 1, 0, 0], [1, 0, 0, 0])
    assert f"{kappa:.2f} moderate, 4 answers" in row
    untouched = _text(html.split("<code>timing.budget</code>", 1)[1].split("</tr>", 1)[0])
    assert "not double coded yet" in untouched

"""Choice answers coded on completion, the workbench queue and its keyboard page, bulk apply, rules, double
coding, and the customer-stated reasons on the opportunity page."""

from __future__ import annotations

from sqlalchemy import delete, func, select

from app.auth.models import Role
from app.codebook.models import ReasonCode
from app.coding import service
from app.coding.agreement import draw_double_coding_sample
from app.coding.models import CoderKind, Coding, CodingStatus, DoubleCodingAssignment, OpportunityReason
from app.extensions import db
from tests.survey_helpers import NOW, invite


def _code(code: str) -> ReasonCode:
    return db.session.scalar(select(ReasonCode).where(ReasonCode.code == code))


def _codes_of(answer_id: int, **where) -> set[str]:
    query = (
        select(ReasonCode.code)
        .join(Coding)
        .where(Coding.answer_id == answer_id, Coding.status == CodingStatus.CONFIRMED)
    )
    for key, value in where.items():
        query = query.where(getattr(Coding, key) == value)
    return set(db.session.scalars(query))


def test_a_completed_response_codes_its_mapped_options_at_once(respond):
    answer = respond("They were cheaper", main="price", factors=("support", "integrations"))
    option_codings = db.session.scalars(select(Coding).where(Coding.source == CoderKind.OPTION)).all()
    assert {c.reason_code.code for c in option_codings} == {
        "price.too_high",
        "support",
        "product.integration",
    }
    assert all(c.status is CodingStatus.CONFIRMED and c.confidence == 1.0 for c in option_codings)
    assert _codes_of(answer.id) == set()  # the free text waits for a person


def test_backfill_codes_responses_completed_before_coding_existed(respond, runner):
    respond(main="timing")
    db.session.execute(delete(Coding))
    db.session.commit()
    result = runner.invoke(args=["coding", "backfill"])
    assert result.exit_code == 0
    assert "Added 1 option coding" in result.output
    assert runner.invoke(args=["coding", "backfill"]).output.startswith("Added 0")
    assert db.session.scalar(select(ReasonCode.code).join(Coding)) == "timing.priorities"


def test_the_queue_filters_and_goes_to_the_next_answer(respond, make_user, make_opportunity):
    analyst = make_user(Role.ANALYST)
    first = respond("Too expensive")
    second = respond("Missing SSO", opportunity=make_opportunity())
    everyone = service.QueueFilter()
    assert service.next_answer_id(everyone, coder_id=analyst.id) == first.id
    assert service.next_answer_id(everyone, coder_id=analyst.id, after=first.id) == second.id
    assert service.next_answer_id(everyone, coder_id=analyst.id, after=second.id) == first.id  # wraps
    assert service.queue_size(everyone, coder_id=analyst.id) == 2
    by_channel = service.QueueFilter(channel=first.response.channel)
    assert service.queue_size(by_channel, coder_id=analyst.id) == 2
    none_web = service.QueueFilter(channel=service.ResponseChannel.WEB)
    assert service.next_answer_id(none_web, coder_id=analyst.id) is None
    service.set_person_codes(first, analyst, [service.CodeChoice(_code("price.too_high").id)], now=NOW)
    db.session.commit()
    assert service.next_answer_id(everyone, coder_id=analyst.id) == second.id


def test_workbench_page_codes_an_answer_with_span_and_memo_then_shows_the_next(respond, make_user, login):
    first = respond("Their price was lower and support better")
    second = respond("We needed Salesforce integration")
    client = login(make_user(Role.ANALYST))
    landing = client.get("/coding/")
    assert landing.status_code == 302
    assert landing.headers["Location"].endswith(f"/coding/answers/{first.id}")
    page = client.get(f"/coding/answers/{first.id}").get_data(as_text=True)
    assert "Their price was lower" in page
    assert "Main reason?" in page
    assert "js/coding.js" in page
    assert "<script>" not in page
    price, support = _code("price.too_high"), _code("support.quality")
    response = client.post(
        f"/coding/answers/{first.id}",
        data={"code": [str(price.id), str(support.id)], "span": "0-20", "memo": "two reasons"},
    )
    assert response.headers["Location"].endswith(f"/coding/answers/{second.id}")
    codings = db.session.scalars(select(Coding).where(Coding.answer_id == first.id)).all()
    assert {c.reason_code.code for c in codings} == {"price.too_high", "support.quality"}
    assert all(
        (c.span_start, c.span_end, c.memo, c.source) == (0, 20, "two reasons", CoderKind.PERSON)
        for c in codings
    )
    bad = client.post(f"/coding/answers/{second.id}", data={"code": [str(price.id)], "span": "5-500"})
    assert "not inside the answer" in bad.get_data(as_text=True)
    none = client.post(f"/coding/answers/{second.id}", data={})
    assert "Pick at least one code" in none.get_data(as_text=True)
    assert client.get(f"/coding/answers/{second.id}?channel=nonsense").status_code == 200


def test_rules_suggest_codes_and_a_confirmation_accepts_them(respond, make_user, login):
    answer = respond("It was simply too expensive for our budget")
    service.add_rule(_code("price.too_high"), "Too  Expensive")
    db.session.commit()
    client = login(make_user(Role.ANALYST))
    page = client.get(f"/coding/answers/{answer.id}").get_data(as_text=True)
    assert "rule “too expensive”" in page
    assert 'data-digit="1"' in page
    other = respond("Expensively made")  # whole words only
    from app.coding.suggest import suggest

    assert suggest(other.text) == []
    assert [s.code.code for s in suggest(answer.text)] == ["price.too_high"]


def test_bulk_apply_previews_then_codes_every_match(respond, make_user, login):
    respond("Too expensive")
    respond("too EXPENSIVE, really")
    respond("Missing features")
    client = login(make_user(Role.ANALYST))
    code = _code("price.too_high")
    preview = client.get(f"/coding/bulk?search=expensive&code={code.id}").get_data(as_text=True)
    assert "2 answers would be coded" in preview
    assert "Missing features" not in preview
    assert db.session.scalar(select(func.count()).where(Coding.source == CoderKind.PERSON)) == 0
    client.post("/coding/bulk", data={"search": "expensive", "code": str(code.id)})
    assert db.session.scalar(select(func.count()).where(Coding.source == CoderKind.PERSON)) == 2
    assert "0 answers would be coded" in client.get(f"/coding/bulk?search=expensive&code={code.id}").get_data(
        as_text=True
    )
    assert "at least two letters" in client.get(f"/coding/bulk?search=e&code={code.id}").get_data(
        as_text=True
    )


def test_double_coded_answers_hide_the_other_coders_codes_until_both_are_done(respond, make_user, login):
    answers = [respond(f"Reason number {n}") for n in range(5)]
    ana, bob, carol = make_user(Role.ANALYST), make_user(Role.ANALYST), make_user(Role.ANALYST)
    drawn = draw_double_coding_sample(0.4, [ana, bob], now=NOW, seed=1)
    db.session.commit()
    assert drawn == 2
    sampled = sorted(set(db.session.scalars(select(DoubleCodingAssignment.answer_id))))
    answer = db.session.get(type(answers[0]), sampled[0])
    # Carol never sees sampled answers in her queue; Ana and Bob do.
    carol_queue = service.queue_query(service.QueueFilter(), coder_id=carol.id)
    assert not set(db.session.scalars(carol_queue)) & set(sampled)
    price, timing = _code("price.too_high"), _code("timing.budget")
    service.set_person_codes(answer, ana, [service.CodeChoice(price.id)], now=NOW)
    db.session.commit()
    assert [c.coder_key for c in service.visible_codings(answer, bob) if c.source is CoderKind.PERSON] == []
    client = login(bob)
    assert "stay hidden" in client.get(f"/coding/answers/{answer.id}").get_data(as_text=True)
    service.set_person_codes(answer, bob, [service.CodeChoice(timing.id)], now=NOW)
    db.session.commit()
    assert {c.coder_key for c in service.visible_codings(answer, bob) if c.source is CoderKind.PERSON} == {
        f"user:{ana.id}",
        f"user:{bob.id}",
    }


def test_opportunity_shows_customer_stated_reasons_next_to_the_crm_reason(
    respond, make_user, login, make_opportunity
):
    opportunity = make_opportunity(crm_loss_reason="Price")
    first = respond("Integration with SAP was missing", main="timing", opportunity=opportunity)
    respond("No SAP connector", main="price", factors=("integrations",), opportunity=opportunity)
    analyst = make_user(Role.ANALYST)
    service.set_person_codes(first, analyst, [service.CodeChoice(_code("product.integration").id)], now=NOW)
    db.session.commit()
    reasons = {r.reason_code.code: r for r in service.opportunity_reasons(opportunity.id)}
    # Counted once per opportunity, with the answers that carry it; the primary is a main-reason answer's.
    assert reasons["product.integration"].mentions == 2
    assert set(reasons) == {"product.integration", "timing.priorities", "price.too_high"}
    assert sum(r.is_primary for r in reasons.values()) == 1
    assert reasons["price.too_high"].is_primary or reasons["timing.priorities"].is_primary
    page = login(analyst).get(f"/opportunities/{opportunity.id}").get_data(as_text=True)
    assert "CRM loss reason" in page
    assert "Customer-stated reasons" in page
    assert "Integrations" in page
    # Kept current: rejecting the person's code drops that mention.
    service.set_person_codes(first, analyst, [service.CodeChoice(_code("other").id)], now=NOW)
    db.session.commit()
    reasons = {r.reason_code.code: r for r in service.opportunity_reasons(opportunity.id)}
    assert reasons["product.integration"].mentions == 1
    assert "other" in reasons
    assert db.session.scalar(select(func.count()).select_from(OpportunityReason)) == 4


def test_the_queue_filters_by_survey_question_competitor_and_campaign(
    respond, survey, make_user, make_opportunity
):
    from app.crm.models import Competitor
    from campaigns.models import Campaign, CampaignKind, Enrollment

    analyst = make_user(Role.ANALYST)
    rival = Competitor(name="Globex")
    db.session.add(rival)
    db.session.commit()
    plain = respond("No reason given")
    against_rival = respond("Globex was cheaper", opportunity=make_opportunity(competitor_id=rival.id))
    by = service.QueueFilter
    assert service.queue_size(by(competitor_id=rival.id), coder_id=analyst.id) == 1
    assert service.next_answer_id(by(competitor_id=rival.id), coder_id=analyst.id) == against_rival.id
    assert service.queue_size(by(survey_id=survey.id), coder_id=analyst.id) == 2
    assert service.queue_size(by(survey_id=survey.id + 1), coder_id=analyst.id) == 0
    assert service.queue_size(by(question_id=plain.question_id), coder_id=analyst.id) == 2
    # The campaign: through the enrollment whose invitation the response answered.
    campaign = Campaign(name="Win back Q4", kind=CampaignKind.SURVEY)
    response = against_rival.response
    invitation, _ = invite(survey.published, response.contact)
    response.invitation_id = invitation.id
    db.session.add(
        Enrollment(
            campaign=campaign,
            opportunity=response.opportunity,
            contact=response.contact,
            invitation_id=invitation.id,
            enrolled_at=NOW,
        )
    )
    db.session.commit()
    assert service.next_answer_id(by(campaign_id=campaign.id), coder_id=analyst.id) == against_rival.id
    assert service.queue_size(by(campaign_id=campaign.id + 1), coder_id=analyst.id) == 0

"""Publishing a survey version: new invitations of every campaign use it, links already sent keep theirs."""

from __future__ import annotations

from sqlalchemy import select

from app.auth.models import Role
from app.codebook.service import ensure_default_codebook
from app.extensions import db
from campaigns.enrollment import enroll_campaign
from campaigns.models import CampaignKind, CampaignStatus, Enrollment
from surveys.builder import editable_version, publish, update_texts
from surveys.library import WIN_LOSS, create_from_template
from surveys.models import Invitation, Survey

from .conftest import NOW


def _survey_with_draft() -> Survey:
    ensure_default_codebook()
    survey = create_from_template(WIN_LOSS, now=NOW, name="Win/loss 2026")
    publish(survey.versions[0], now=NOW)
    draft = editable_version(survey, now=NOW)
    update_texts(draft, title="Version two", introduction="", thank_you="")
    db.session.commit()
    return survey


def _lost_deal(make_contact, make_opportunity):
    contact = make_contact()
    make_opportunity(account=contact.account, primary_contact=contact)
    return contact


def test_new_invitations_use_the_newest_version_and_sent_links_keep_theirs(
    make_campaign, make_contact, make_opportunity
):
    survey = _survey_with_draft()
    v1, v2 = survey.versions
    first = make_campaign(kind=CampaignKind.SURVEY, survey_version_id=v1.id, name="First")
    second = make_campaign(kind=CampaignKind.BOTH, survey_version_id=v1.id, name="Second")
    _lost_deal(make_contact, make_opportunity)
    enroll_campaign(first, now=NOW)
    db.session.commit()
    [sent] = db.session.scalars(select(Invitation)).all()
    assert sent.version_id == v1.id

    publish(v2, now=NOW)
    db.session.commit()
    assert (first.survey_version_id, second.survey_version_id) == (v2.id, v2.id)
    _lost_deal(make_contact, make_opportunity)
    enroll_campaign(first, now=NOW)
    enroll_campaign(second, now=NOW)
    db.session.commit()
    db.session.refresh(sent)
    assert sent.version_id == v1.id  # the link already sent keeps its version
    versions = {
        invitation.id: invitation.version_id
        for invitation in db.session.scalars(select(Invitation).where(Invitation.id != sent.id))
    }
    assert versions
    assert set(versions.values()) == {v2.id}
    assert db.session.scalar(select(Enrollment.invitation_id).where(Enrollment.invitation_id == sent.id))


def test_a_finished_campaign_keeps_the_version_it_ran_with(make_campaign):
    survey = _survey_with_draft()
    v1, v2 = survey.versions
    done = make_campaign(kind=CampaignKind.SURVEY, survey_version_id=v1.id, status=CampaignStatus.FINISHED)
    publish(v2, now=NOW)
    db.session.commit()
    assert done.survey_version_id == v1.id


def test_the_publish_page_names_the_campaigns_it_affects(login, make_user, make_campaign):
    client = login(make_user(Role.ADMIN))
    survey = _survey_with_draft()
    v1, v2 = survey.versions
    make_campaign(kind=CampaignKind.SURVEY, survey_version_id=v1.id, name="Spring win-back")
    make_campaign(
        kind=CampaignKind.SURVEY, survey_version_id=v1.id, name="Old one", status=CampaignStatus.FINISHED
    )
    make_campaign(kind=CampaignKind.CALL, name="Calls only")
    html = client.get(f"/surveys/{survey.id}/publish").get_data(as_text=True)
    assert "New invitations of 1 campaign will use version 2" in html
    assert "Spring win-back" in html
    assert "Finished campaigns keep the version they ran with: Old one" in html
    assert "Calls only" not in html
    assert survey.draft is not None  # looking changes nothing
    response = client.post(f"/surveys/{survey.id}/publish")
    assert response.status_code == 302
    flashed = client.get(f"/surveys/{survey.id}").get_data(as_text=True)
    assert "New invitations of 1 campaign and the preview use it" in flashed
    db.session.expire_all()
    assert survey.published.number == 2

"""The survey page's shell (rendered once per page and language, filled in per respondent) writes exactly
what the template writes for that respondent: answers, languages, the brand and a second respondent."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.organisation.service import forget_brand, update_organisation
from surveys import cache, public
from tests.survey_helpers import NOW, invite


@pytest.fixture
def whole_render(monkeypatch):
    """Serve pages with the template rendered whole on every request (no shell)."""

    def rendered_whole(key, render, *, csrf_token, **respondent):
        return render(**respondent)

    def serve(client, path: str) -> str:
        with monkeypatch.context() as patch:
            patch.setattr(public, "respondent_page", rendered_whole)
            return client.get(path).get_data(as_text=True)

    return serve


def _pages(client, whole_render, path: str) -> tuple[str, str]:
    shell = client.get(path)
    assert shell.status_code == 200
    return shell.get_data(as_text=True), whole_render(client, path)


def test_each_page_and_language_is_the_templates_own_output(
    translated, make_account, make_contact, app, client, whole_render
):
    version = translated()
    _, token = invite(version, make_contact(make_account(country="DE"), first_name="Anna"))
    for path in (f"/s/{token}", f"/s/{token}?lang=fr", f"/s/{token}?lang=en&page=3"):
        shell, whole = _pages(client, whole_render, path)
        assert shell == whole
        assert "\x00" not in shell
    q = [question.id for question in version.questions]
    moved = client.post(f"/s/{token}", data={"page": "1", "action": "next", f"q{q[0]}": "price"})
    assert moved.status_code == 302
    shell, whole = _pages(client, whole_render, f"/s/{token}")  # page 2, in the same language
    assert shell == whole
    assert "Seite 2 von" in shell
    shell, whole = _pages(client, whole_render, f"/s/{token}?page=1")
    assert shell == whole
    assert 'value="price" checked' in shell  # the respondent's own answer, filled in


def test_a_second_respondent_of_the_same_page_gets_their_own_links(
    translated, make_account, make_contact, app, whole_render
):
    version = translated(("de",))
    account = make_account(country="DE")
    tokens = [invite(version, make_contact(account, email=f"p{i}@kunde.example"))[1] for i in range(2)]
    pages = []
    for token in tokens:
        client = app.test_client()
        shell, whole = _pages(client, whole_render, f"/s/{token}")
        assert shell == whole
        pages.append(shell)
    assert f"/s/{tokens[1]}" in pages[1]
    assert f"/s/{tokens[0]}" not in pages[1]
    assert pages[0] != pages[1]  # action, CSRF token and unsubscribe link differ


def test_a_changed_brand_shows_at_once(translated, make_account, make_contact, app, client, whole_render):
    version = translated(())
    _, token = invite(version, make_contact(make_account()))
    client.get(f"/s/{token}")  # the shell without a brand
    update_organisation(name="Acme <Cloud>", brand_colour="#0b5fff", postal_address="1 Main St", now=NOW)
    db.session.commit()
    forget_brand()
    shell, whole = _pages(client, whole_render, f"/s/{token}")
    assert shell == whole
    assert "Acme &lt;Cloud&gt;" in shell


def test_a_new_copy_of_the_version_starts_a_new_shell(translated, make_account, make_contact, client):
    """Shells belong to the shared frozen copy, which a publish clears (a reused id gets new texts)."""
    version = translated(())
    _, token = invite(version, make_contact(make_account()))
    assert "Help us understand your decision" in client.get(f"/s/{token}").get_data(as_text=True)
    version.title = "A title only this test uses"
    db.session.commit()
    cache.clear()
    assert "A title only this test uses" in client.get(f"/s/{token}").get_data(as_text=True)

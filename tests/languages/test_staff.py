"""Staff translate a survey side by side and by CSV, set a contact's language; the CRM file's language."""

from __future__ import annotations

import io
import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir, extract_from_file
from babel.messages.pofile import read_po
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import Role
from app.codebook.service import ensure_default_codebook
from app.crm.models import Contact
from app.extensions import db
from app.foundation import PROJECT_DIR
from app.i18n.languages import normalise_language, resolve_language
from surveys.library import WIN_LOSS, create_from_template
from surveys.models import SurveyVersion, VersionStatus
from surveys.translations import export_csv, is_complete, source_texts
from tests.survey_helpers import NOW
from tests.test_crm_import import SF_HEADER, import_path, sf_rows, write_csv

CATALOGS = PROJECT_DIR / "app" / "translations"
# What customers read besides the marked Python strings; every other template is a staff page, whose marked
# strings may wait for a translator (an empty translation shows the English).
CUSTOMER_TEMPLATES = (
    "app/templates/public_layout.html",
    "app/templates/messaging/unsubscribe.html",
    "app/templates/organisation/email_footer.html",
    "app/templates/organisation/email_footer.txt",
    "surveys/templates/surveys/respondent",
)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)


def test_a_contacts_language_is_their_own_else_their_countrys_else_the_organisations(app):
    assert [normalise_language(raw) for raw in ("de", "de-AT", "fr_BE", "German", "Deutsch", "Français")] == [
        "de",
        "de",
        "fr",
        "de",
        "de",
        "fr",
    ]
    assert normalise_language("Klingon") is None
    assert resolve_language("fr", "DE") == "fr"
    assert resolve_language(None, "AT") == "de"
    assert resolve_language(None, None, "NL") == "nl"  # the account's country when the contact has none
    assert resolve_language(None, "BE") == "nl"
    app.config["COUNTRY_LANGUAGES"] = {"BE": "fr"}
    app.config["DEFAULT_LANGUAGE"] = "es"
    try:
        assert resolve_language(None, "BE") == "fr"
        assert resolve_language(None, "JP") == "es"
    finally:
        app.config["COUNTRY_LANGUAGES"] = {}
        app.config["DEFAULT_LANGUAGE"] = "en"


def test_an_admin_translates_a_survey_side_by_side_with_csrf_on(make_app, make_user):
    app = make_app(WTF_CSRF_ENABLED=True)
    admin = make_user(Role.ADMIN)
    ensure_default_codebook()
    survey = create_from_template(WIN_LOSS, now=NOW)
    db.session.commit()
    client = app.test_client()
    login_page = client.get("/login").get_data(as_text=True)
    client.post(
        "/login",
        data={"email": admin.email, "password": "correct horse battery", "csrf_token": _csrf(login_page)},
    )
    edit = client.get(f"/surveys/{survey.id}").get_data(as_text=True)
    assert "Deutsch</a>:\n      not translated" in edit
    page = client.get(f"/surveys/{survey.id}/translations/de").get_data(as_text=True)
    assert "Help us understand your decision" in page  # the source, beside each field
    assert 'lang="de" aria-describedby="src-0"' in page
    version = survey.versions[0]
    first = version.questions[0]
    refused = client.post(f"/surveys/{survey.id}/translations/de", data={"t-title": "Helfen Sie uns"})
    assert refused.status_code == 400  # no CSRF token
    response = client.post(
        f"/surveys/{survey.id}/translations/de",
        data={
            "csrf_token": _csrf(page),
            "t-title": "Helfen Sie uns",
            f"t-q{first.id}.text": "Warum?",
            "t-unknown.key": "ignored",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    [translation] = version.translations
    assert translation.texts == {"title": "Helfen Sie uns", f"q{first.id}.text": "Warum?"}
    assert not is_complete(version, "de")
    assert "texts still to translate" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_translations_go_out_and_come_back_as_csv_for_translators(make_user, login):
    ensure_default_codebook()
    survey = create_from_template(WIN_LOSS, now=NOW)
    version = survey.versions[0]
    db.session.commit()
    client = login(make_user(Role.ADMIN))
    exported = client.get(f"/surveys/{survey.id}/translations/fr.csv")
    assert exported.mimetype == "text/csv"
    text = exported.get_data(as_text=True)
    assert text.startswith("\ufeffkey,what,en,fr\r\n")
    rows = text.lstrip("\ufeff").splitlines()
    translated = [
        f"{row},=Traduit {n}" for n, row in enumerate(rows[1:])
    ]  # a translator fills the last column
    upload = ("\ufeff" + "\r\n".join([rows[0], *translated]) + "\r\n").encode()
    response = client.post(
        f"/surveys/{survey.id}/translations/fr/import",
        data={"file": (io.BytesIO(upload), "fr.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert is_complete(version, "fr")
    texts = version.translations[0].texts
    assert texts["title"] == "=Traduit 0"  # a formula character survives the round trip as text
    assert "'=Traduit 0" in export_csv(version, "fr")  # and is neutralised again on the way out
    assert len(texts) == sum(1 for value in source_texts(version).values() if value.strip())


def test_a_published_version_is_translated_in_a_new_draft(make_user, login, translated):
    version = translated(("de",))
    client = login(make_user(Role.ADMIN))
    first = version.questions[0]
    client.post(f"/surveys/{version.survey_id}/translations/fr", data={f"t-q{first.id}.text": "Pourquoi ?"})
    db.session.expire_all()
    draft = db.session.scalar(select(SurveyVersion).where(SurveyVersion.status == VersionStatus.DRAFT))
    assert {t.language for t in draft.translations} == {"de", "fr"}  # the German one came along
    french = next(t for t in draft.translations if t.language == "fr")
    assert french.texts == {f"q{draft.questions[0].id}.text": "Pourquoi ?"}
    assert {t.language for t in version.translations} == {"de"}  # the live version is frozen


def test_staff_set_a_contacts_language_on_the_contact_page(make_user, login, make_account, make_contact):
    contact = make_contact(make_account(country="BE"))
    client = login(make_user(Role.ADMIN))
    page = client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert "Nederlands (automatic)" in page
    response = client.post(f"/contacts/{contact.id}/language", data={"language": "fr"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).language == "fr"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "contact.language_set"))
    assert event.details == {"language": [None, "fr"]}
    assert client.post(f"/contacts/{contact.id}/language", data={"language": "xx"}).status_code == 422


def test_the_crm_files_language_column_sets_the_contacts_language(runner, tmp_path):
    rows = sf_rows()
    languages = ["German", "fr-FR", *([""] * (len(rows) - 2))]
    header = [*SF_HEADER, "Preferred Language"]
    path = write_csv(tmp_path / "deals.csv", header, [[*row, languages[n]] for n, row in enumerate(rows)])
    import_path(runner, path, "--format", "salesforce")
    stored = {contact.email.lower(): contact.language for contact in db.session.scalars(select(Contact))}
    assert stored["ann.lee@acme.example"] == "de"
    assert stored["bob@acme.example"] == "fr"
    # A language Winback does not write in is left out with a warning; the row is imported.
    rows[0][SF_HEADER.index("Email")] = "kim@acme.example"
    write_csv(path, header, [[*rows[0], "Klingon"]])
    result = import_path(runner, path, "--format", "salesforce")
    assert result["warnings"] == 1
    stored = {contact.email.lower(): contact.language for contact in db.session.scalars(select(Contact))}
    assert stored["kim@acme.example"] is None


def _messages(path: Path) -> dict:
    with path.open("rb") as file:
        return {message.id: message for message in read_po(file) if message.id}


@cache
def _customer_facing() -> frozenset[str]:
    """The msgids of the strings customers read: marked Python strings and the customer-facing templates."""
    keywords = {**DEFAULT_KEYWORDS, "lazy_gettext": None}
    found = []
    for folder in ("app", "surveys", "campaigns"):
        found += [
            entry[2]
            for entry in extract_from_dir(PROJECT_DIR / folder, [("**.py", "python")], keywords=keywords)
        ]
    for name in CUSTOMER_TEMPLATES:
        path = PROJECT_DIR / name
        for file in sorted(path.rglob("*.*")) if path.is_dir() else [path]:
            found += [entry[1] for entry in extract_from_file("jinja2", file, keywords)]
    return frozenset(message if isinstance(message, str) else message[0] for message in found)


@pytest.mark.parametrize("language", ["de", "fr", "es", "nl"])
def test_every_catalog_translates_every_string_with_the_same_placeholders(language):
    template = _messages(CATALOGS / "messages.pot")
    catalog = _messages(CATALOGS / language / "LC_MESSAGES" / "messages.po")
    assert set(catalog) == set(template), "run `make translations` and translate the new strings"
    customer_facing = _customer_facing()
    assert customer_facing <= {key if isinstance(key, str) else key[0] for key in catalog}
    placeholder = re.compile(r"%\(\w+\)[sd]")
    for key, message in catalog.items():
        ids = [key] if isinstance(key, str) else list(key)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        if ids[0] not in customer_facing and not any(strings):
            continue  # a staff page's string, not translated yet: the English shows
        assert all(strings), f"{language}: {ids[0]!r} is not translated"
        for text in strings:
            assert set(placeholder.findall(text)) <= set(placeholder.findall(" ".join(ids))), (language, key)
        assert not message.fuzzy, (language, key)

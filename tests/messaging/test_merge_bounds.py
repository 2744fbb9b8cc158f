"""Message templates: a small language with a size and time bound, checked at save and at send."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.auth.models import Role
from app.errors import ValidationError
from app.extensions import db
from app.messaging.merge import MAX_RENDERED_CHARS, render_merge
from campaigns.models import Campaign
from tests.campaigns.test_views import FORM

FIELDS = {"first_name": "Ada", "company": "Acme", "survey_link": "https://w.example/s/x"}


def test_merge_fields_if_else_and_simple_filters_still_work():
    template = (
        "Hi {{ first_name | upper }}{% if company %} at {{ company ~ '!' }}{% else %}!{% endif %} "
        "{{ missing | default('friend') if missing is defined else 'friend' }} {{ survey_link }}"
    )
    assert render_merge(template, FIELDS) == "Hi ADA at Acme! friend https://w.example/s/x"
    assert render_merge("<p>{{ company }}</p>", {"company": "<b>"}, html=True) == "<p>&lt;b&gt;</p>"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ first_name.__class__ }}", "attributes"),
        ("{{ first_name['__class__'] }}", "not allowed"),
        ("{{ first_name['__class__'].__mro__ }}", "attributes"),
        ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "loops"),
        ("{{ 'x' * 1000000000 }}", "multiplication"),
        ("{{ 9 ** 9 ** 9 }}", "powers"),
        ("{{ '%999999999s' % first_name }}", "% operator"),
        ("{{ lipsum(100000) }}", "function calls"),
        ("{{ '{:>999999999}'.format(1) }}", "function calls"),
        ("{% set a = first_name ~ first_name %}{{ a }}", "assignments"),
        ("{{ first_name | center(999999999) }}", "filter 'center' is not allowed"),
        ("{{ first_name | replace('A', 'AAAAAAAAAA') }}", "filter 'replace' is not allowed"),
        ("{{ first_name | safe }}", "filter 'safe' is not allowed"),
        ("{{ first_name + 1 }}", "cannot be filled in"),
        ("{{ " + "(" * 3000 + "first_name" + ")" * 3000 + " }}", "nested too deeply"),
    ],
)
def test_hostile_templates_are_a_validation_error(template, message):
    with pytest.raises(ValidationError, match=message):
        render_merge(template, FIELDS)


def test_the_rendered_size_is_bounded_at_send_with_long_crm_values():
    template = "{{ company }}" * 500  # fine with a short name, too big with a 255-character one
    assert len(render_merge(template, {"company": "Acme"})) == 2000
    with pytest.raises(ValidationError, match=f"longer than {MAX_RENDERED_CHARS:,} characters"):
        render_merge(template, {"company": "x" * 255})


def test_a_sandbox_escape_attempt_on_save_is_a_form_error_not_a_500(make_user, login):
    client = login(make_user(Role.ADMIN))
    for template, message in (
        ("{{ first_name['__class__'] }}", "The template is not allowed"),
        ("{{ first_name.__class__.__mro__ }}", "not attributes (value.name)"),
    ):
        response = client.post("/campaigns/new", data={**FORM, "email_text": template})
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_a_template_too_big_once_filled_is_refused_on_save(make_user, login):
    client = login(make_user(Role.ADMIN))
    response = client.post("/campaigns/new", data={**FORM, "email_text": "{{ 'x' ~ sender }}" * 20000})
    assert response.status_code in (413, 422)
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0

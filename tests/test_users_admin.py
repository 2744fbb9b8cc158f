"""Admins edit, deactivate and reset users; deactivation keeps the history."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import Role, User
from app.auth.service import authenticate
from app.extensions import db
from tests.conftest import PASSWORD


def test_admin_edits_a_users_name_and_role(make_user, login):
    admin = make_user(Role.ADMIN)
    caller = make_user(Role.CALLER, name="Cal Ler")
    client = login(admin)
    page = client.get("/users").get_data(as_text=True)
    assert f'href="/users/{caller.id}"' in page
    form = client.get(f"/users/{caller.id}").get_data(as_text=True)
    assert 'value="Cal Ler"' in form
    response = client.post(
        f"/users/{caller.id}", data={"name": "  Callie   Ler ", "role": "analyst"}, follow_redirects=True
    )
    assert "Callie Ler is saved (analyst)" in response.get_data(as_text=True)
    stored = db.session.get(User, caller.id)
    assert (stored.name, stored.role) == ("Callie Ler", Role.ANALYST)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.updated"))
    assert event.actor_id == admin.id
    assert event.details == {"name": ["Cal Ler", "Callie Ler"], "role": ["caller", "analyst"]}


def test_a_bad_role_or_empty_name_is_a_form_error_not_a_500(make_user, login):
    client = login(make_user(Role.ADMIN))
    caller = make_user(Role.CALLER)
    bad_role = client.post(f"/users/{caller.id}", data={"name": "X", "role": "boss"})
    assert bad_role.status_code == 200
    assert "Not a valid choice" in bad_role.get_data(as_text=True)
    empty = client.post(f"/users/{caller.id}", data={"name": "", "role": "caller"})
    assert empty.status_code == 200
    assert "This field is required" in empty.get_data(as_text=True)
    assert client.get("/users/999999").status_code == 404
    assert client.get("/users/99999999999999999999999").status_code == 404


def test_the_last_active_admin_keeps_the_admin_role(make_user, login):
    admin = make_user(Role.ADMIN)
    client = login(admin)
    response = client.post(f"/users/{admin.id}", data={"name": "Me", "role": "caller"}, follow_redirects=True)
    assert "at least one active admin" in response.get_data(as_text=True)
    assert db.session.get(User, admin.id).role is Role.ADMIN


def test_admin_deactivates_a_user_whose_sessions_end_and_history_stays(app, make_user, login):
    admin = make_user(Role.ADMIN)
    analyst = make_user(Role.ANALYST)
    theirs = app.test_client()
    theirs.post("/login", data={"email": analyst.email, "password": PASSWORD})
    assert theirs.get("/dashboard").status_code == 200
    client = login(admin)
    response = client.post(f"/users/{analyst.id}/deactivate", follow_redirects=True)
    text = response.get_data(as_text=True)
    assert "can no longer sign in" in text
    assert "Deactivated: cannot sign in" in text
    assert theirs.get("/dashboard").status_code == 302
    refused = app.test_client().post("/login", data={"email": analyst.email, "password": PASSWORD})
    assert "do not match an active account" in refused.get_data(as_text=True)
    assert db.session.get(User, analyst.id) is not None  # kept, with everything that points at them
    assert "Deactivated" in client.get("/users").get_data(as_text=True)
    response = client.post(f"/users/{analyst.id}/reactivate", follow_redirects=True)
    assert "can sign in again" in response.get_data(as_text=True)
    assert authenticate(analyst.email, PASSWORD) is not None


def test_an_admin_cannot_deactivate_themselves(make_user, login):
    admin = make_user(Role.ADMIN)
    make_user(Role.ADMIN)
    client = login(admin)
    response = client.post(f"/users/{admin.id}/deactivate", follow_redirects=True)
    assert "You cannot deactivate yourself" in response.get_data(as_text=True)
    assert db.session.get(User, admin.id).active


def test_admin_sets_a_new_password_and_the_users_sessions_end(app, make_user, login):
    admin = make_user(Role.ADMIN)
    caller = make_user(Role.CALLER)
    theirs = app.test_client()
    theirs.post("/login", data={"email": caller.email, "password": PASSWORD})
    client = login(admin)
    short = client.post(f"/users/{caller.id}/password", data={"new_password": "short"})
    assert short.status_code == 200
    assert "at least 10" in short.get_data(as_text=True)
    response = client.post(
        f"/users/{caller.id}/password", data={"new_password": "set by the admin"}, follow_redirects=True
    )
    assert "has a new password" in response.get_data(as_text=True)
    assert theirs.get("/dashboard").status_code == 302
    assert authenticate(caller.email, "set by the admin") is not None
    assert client.get("/dashboard").status_code == 200  # the admin's own session is untouched


def test_an_admin_setting_their_own_password_stays_signed_in(make_user, login):
    admin = make_user(Role.ADMIN)
    client = login(admin)
    client.post(f"/users/{admin.id}/password", data={"new_password": "my own new one"})
    assert client.get("/dashboard").status_code == 200


def test_user_admin_forms_check_csrf(make_app, make_user):
    csrf_app = make_app(WTF_CSRF_ENABLED=True)
    admin = make_user(Role.ADMIN)
    caller = make_user(Role.CALLER)
    client = csrf_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/login", data={"email": admin.email, "password": PASSWORD, "csrf_token": token})
    forged = client.post(f"/users/{caller.id}/deactivate")
    assert forged.status_code == 400
    assert db.session.get(User, caller.id).active
    edit = client.get(f"/users/{caller.id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', edit).group(1)
    done = client.post(f"/users/{caller.id}/deactivate", data={"csrf_token": token})
    assert done.status_code == 302
    assert not db.session.get(User, caller.id).active


def test_every_role_can_open_the_change_password_page(make_user, app):
    for role in Role:
        client = app.test_client()
        user = make_user(role)
        client.post("/login", data={"email": user.email, "password": PASSWORD})
        assert "Change your password" in client.get("/account/password").get_data(as_text=True)


def _reset_link(outbox_body: str) -> str:
    return re.search(r"http://winback\.test(/reset-password/\S+)", outbox_body).group(1)


def test_admin_emails_a_reset_link_through_the_outbox_and_it_works_once(app, make_user, login):
    from app.messaging.models import OutboundMessage

    admin = make_user(Role.ADMIN)
    analyst = make_user(Role.ANALYST, name="Ana Lyst")
    theirs = app.test_client()
    theirs.post("/login", data={"email": analyst.email, "password": PASSWORD})
    client = login(admin)
    response = client.post(f"/users/{analyst.id}/reset-link", follow_redirects=True)
    assert f"on its way to {analyst.email}" in response.get_data(as_text=True)
    message = db.session.scalar(select(OutboundMessage))
    assert message.recipient == analyst.email
    assert message.subject == "Set your Winback password"
    link = _reset_link(message.body_text)
    assert theirs.get("/dashboard").status_code == 200  # sending the link ends nothing yet

    visitor = app.test_client()
    assert "Set your password" in visitor.get(link).get_data(as_text=True)
    differ = visitor.post(link, data={"new_password": "x" * 12, "confirm_password": "y" * 12})
    assert "The two new passwords differ" in differ.get_data(as_text=True)
    done = visitor.post(
        link,
        data={"new_password": "chosen by ana", "confirm_password": "chosen by ana"},
        follow_redirects=True,
    )
    assert "Your password is set" in done.get_data(as_text=True)
    assert authenticate(analyst.email, "chosen by ana") is not None
    assert theirs.get("/dashboard").status_code == 302  # their old sessions ended
    used = app.test_client().get(link)
    assert used.status_code == 404
    assert "does not work any more" in used.get_data(as_text=True)


def test_forged_expired_and_deactivated_reset_links_do_not_work(app, make_user):
    from app.auth.service import password_reset_token, user_for_reset_token

    user = make_user(Role.CALLER)
    key = app.config["SECRET_KEY"]
    token = password_reset_token(user, secret_key=key)
    assert user_for_reset_token(token, secret_key=key) == user
    assert user_for_reset_token(token, secret_key="another key" * 4) is None
    assert user_for_reset_token(token + "x", secret_key=key) is None
    assert user_for_reset_token(token, secret_key=key, max_age=-1) is None
    assert app.test_client().get("/reset-password/not-a-token").status_code == 404
    user.active = False
    db.session.commit()
    assert user_for_reset_token(token, secret_key=key) is None

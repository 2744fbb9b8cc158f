"""Customer links work wherever the app runs: make run sets PUBLIC_BASE_URL; development uses the host."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from app.messaging.channels import Channel
from app.messaging.links import public_base_url
from app.messaging.optout import opt_out_url_for

ROOT = Path(__file__).resolve().parent.parent


def _make_run(**env: str) -> list[str]:
    """What `make run` hands to every flask command as PUBLIC_BASE_URL (flask replaced by printenv)."""
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    environ = {k: v for k, v in os.environ.items() if k not in {"PUBLIC_BASE_URL", "MAKEFLAGS", "MAKELEVEL"}}
    environ.update(env)
    result = subprocess.run(
        ["make", "-s", "-o", ".venv/.installed", "run", "FLASK=printenv PUBLIC_BASE_URL #"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [line for line in result.stdout.splitlines() if line and "serving" not in line]


def test_make_run_points_customer_links_at_its_host_and_port():
    assert set(_make_run(HOST="192.168.1.20", PORT="5077")) == {"http://192.168.1.20:5077"}


def test_make_run_keeps_a_public_base_url_already_set():
    assert set(_make_run(PORT="5077", PUBLIC_BASE_URL="https://winback.example.com")) == {
        "https://winback.example.com"
    }


def test_in_development_links_built_in_a_request_use_the_request_host(make_app):
    dev = make_app(ENV_NAME="development", PUBLIC_BASE_URL="http://127.0.0.1:5000")

    with dev.test_request_context("/", base_url="http://10.0.0.7:5077"):
        assert public_base_url() == "http://10.0.0.7:5077"
        assert opt_out_url_for(1, Channel.EMAIL).startswith("http://10.0.0.7:5077/unsubscribe/")
    with dev.app_context():  # the worker and the CLI: no request, the setting decides
        assert public_base_url() == "http://127.0.0.1:5000"


def test_outside_development_the_request_host_is_not_trusted(make_app):
    production_like = make_app(ENV_NAME="testing", PUBLIC_BASE_URL="https://winback.example.com/")

    with production_like.test_request_context("/", base_url="http://evil.example"):
        assert public_base_url() == "https://winback.example.com"


def test_survey_links_and_previews_follow_the_request_host_in_development(
    make_app, make_user, make_contact, make_opportunity
):
    from app.auth.models import Role
    from tests.campaigns.test_views import FORM

    dev = make_app(ENV_NAME="development", WTF_CSRF_ENABLED=False)
    admin = make_user(Role.ADMIN)
    contact = make_contact(first_name="Ana")
    make_opportunity(account=contact.account, primary_contact=contact)
    client = dev.test_client()
    client.post(
        "/login",
        data={"email": admin.email, "password": "correct horse battery"},
        base_url="http://192.168.1.20:8080",
    )

    data = client.post(
        "/campaigns/preview",
        data={**FORM, "email_text": "{{ survey_link }} {{ opt_out_link }}"},
        base_url="http://192.168.1.20:8080",
    ).get_json()

    text = next(t["text"] for t in data["templates"] if t["name"] == "email_text")
    assert text.startswith("http://192.168.1.20:8080/s/preview http://192.168.1.20:8080/unsubscribe/")

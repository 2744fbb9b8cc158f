"""Languages: Flask-Babel for customer-facing pages and messages, and how a contact's language is chosen.

Staff pages stay in English (the default locale); respondent pages and messages set the language they are
in with `use_language`, and the catalogs under app/translations are compiled by `make install`.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g
from flask_babel import Babel, refresh

from app.i18n.languages import LANGUAGES, default_language, language_name, page_language

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"

__all__ = ["LANGUAGES", "default_language", "init_app", "language_name"]


def init_app(app: Flask) -> None:
    """Babel, with the locale each page or message says it is in (English unless told)."""
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    Babel(app, locale_selector=page_language)
    app.jinja_env.globals["language_name"] = language_name
    app.teardown_request(_forget_language)


def _forget_language(_error: BaseException | None = None) -> None:
    # A request's language never outlives it (an app context can be shared: the CLI, tests).
    if g.pop("language", None) is not None:
        refresh()

"""The languages customers can be spoken to in, and the rule that picks a contact's language."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import current_app, g
from flask_babel import get_translations, refresh
from jinja2 import pass_context
from markupsafe import Markup

# Each language in its own name, as a respondent looks for it in a language switcher.
LANGUAGES = {"en": "English", "de": "Deutsch", "fr": "Français", "es": "Español", "nl": "Nederlands"}

# The language a country's contacts get when the CRM does not say (COUNTRY_LANGUAGES overrides it).
# Belgium and Switzerland have several: the setting picks one per installation.
DEFAULT_COUNTRY_LANGUAGES = {
    "DE": "de",
    "AT": "de",
    "CH": "de",
    "LI": "de",
    "FR": "fr",
    "LU": "fr",
    "MC": "fr",
    "ES": "es",
    "MX": "es",
    "AR": "es",
    "CO": "es",
    "CL": "es",
    "PE": "es",
    "NL": "nl",
    "BE": "nl",
    "SR": "nl",
    "GB": "en",
    "IE": "en",
    "US": "en",
    "CA": "en",
    "AU": "en",
    "NZ": "en",
}

# What a CRM may write in a language column, besides the codes themselves.
_NAMES = {
    "english": "en",
    "englisch": "en",
    "anglais": "en",
    "inglés": "en",
    "ingles": "en",
    "engels": "en",
    "german": "de",
    "deutsch": "de",
    "allemand": "de",
    "alemán": "de",
    "aleman": "de",
    "duits": "de",
    "french": "fr",
    "français": "fr",
    "francais": "fr",
    "französisch": "fr",
    "francés": "fr",
    "frances": "fr",
    "frans": "fr",
    "spanish": "es",
    "español": "es",
    "espanol": "es",
    "castellano": "es",
    "spanisch": "es",
    "espagnol": "es",
    "spaans": "es",
    "dutch": "nl",
    "nederlands": "nl",
    "flemish": "nl",
    "vlaams": "nl",
    "niederländisch": "nl",
    "néerlandais": "nl",
    "neerlandais": "nl",
    "holandés": "nl",
}


def language_name(code: str | None) -> str:
    return LANGUAGES.get(code or "", code or "")


def normalise_language(raw: str | None) -> str | None:
    """ "de", "de-DE", "de_AT", "German", "Deutsch" → "de"; None for blank or a language we do not speak."""
    if raw is None:
        return None
    text = raw.strip().lower()
    if not text:
        return None
    if text in _NAMES:
        return _NAMES[text]
    code = text.replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else None


def default_language() -> str:
    """The organisation's language: the one its surveys are written in, and the last fallback."""
    code = normalise_language(current_app.config.get("DEFAULT_LANGUAGE"))
    return code or "en"


def country_language(country: str | None) -> str | None:
    """The per-country default (the COUNTRY_LANGUAGES setting over the built-in table), or None."""
    if not country:
        return None
    table = {**DEFAULT_COUNTRY_LANGUAGES, **(current_app.config.get("COUNTRY_LANGUAGES") or {})}
    return normalise_language(table.get(country.strip().upper()))


def resolve_language(language: str | None, *countries: str | None) -> str:
    """A contact's language: the CRM's (or staff's) own, else its country's default, else the organisation's.

    `countries` are tried in order (the contact's own, then its account's).
    """
    own = normalise_language(language)
    if own:
        return own
    for country in countries:
        by_country = country_language(country)
        if by_country:
            return by_country
    return default_language()


@contextmanager
def use_language(code: str) -> Iterator[None]:
    """Translate (gettext, dates, numbers) in `code` inside the block, as a page or a message is built."""
    before = g.get("language")
    g.language = code
    refresh()
    try:
        yield
    finally:
        g.language = before
        refresh()


def page_language() -> str:
    """The language of this request's page (set_page_language), English unless set: Babel's locale."""
    return g.get("language") or "en"


def set_page_language(code: str) -> None:
    """The language of the rest of this request (a respondent page)."""
    g.language = code
    refresh()


_TEMPLATE_GETTEXT = "i18n.template_gettext"


def template_gettext(language: str) -> dict[str, Callable[..., str]]:
    """`_`, `gettext` and `ngettext` for a template in `language`, bound to its catalog once per app.

    The same newstyle behaviour as Flask-Babel's (variables escaped, `%(name)s` filled in), without its
    per-call lookups: the respondent pages, the busiest the app serves, pass these to their templates.
    Call it while `language` is the current one (set_page_language).
    """
    cache = current_app.extensions.setdefault(_TEMPLATE_GETTEXT, {})
    found = cache.get(language)
    if found is None:
        catalog = get_translations()

        @pass_context
        def gettext(context, string: str, **variables) -> str:
            text = catalog.ugettext(string)
            if context.eval_ctx.autoescape:
                text = Markup(text)  # noqa: S704 (our catalog's text; the variables are escaped by %)
            return text % variables if variables else text

        @pass_context
        def ngettext(context, singular: str, plural: str, num: int, **variables) -> str:
            variables.setdefault("num", num)
            text = catalog.ungettext(singular, plural, num)
            if context.eval_ctx.autoescape:
                text = Markup(text)  # noqa: S704 (our catalog's text; the variables are escaped by %)
            return text % variables

        found = cache.setdefault(language, {"_": gettext, "gettext": gettext, "ngettext": ngettext})
    return found

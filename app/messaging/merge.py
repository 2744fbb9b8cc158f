"""Merge fields in message templates: `Hello {{ first_name }}`; an unknown field is an error, not a blank."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from app.errors import ValidationError

_text_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_html_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True, keep_trailing_newline=True)


@lru_cache(maxsize=256)
def _compiled(template: str, html: bool) -> Template:
    """A campaign's few templates are compiled once, not once per message (a third of an enrollment)."""
    return (_html_env if html else _text_env).from_string(template)


def render_merge(template: str, fields: Mapping[str, Any], *, html: bool = False) -> str:
    """Fill the merge fields; raise ValidationError naming the field that does not exist."""
    try:
        return _compiled(template, html).render(**fields)
    except UndefinedError as error:
        known = ", ".join(sorted(fields))
        raise ValidationError(f"Unknown merge field: {error.message}. Known fields: {known}") from None
    except TemplateSyntaxError as error:
        raise ValidationError(
            f"The template has a syntax error on line {error.lineno}: {error.message}"
        ) from None

"""Merge fields in message templates: `Hello {{ first_name }}`; an unknown field is an error, not a blank."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from app.errors import ValidationError

_text_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_html_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True, keep_trailing_newline=True)


def render_merge(template: str, fields: Mapping[str, Any], *, html: bool = False) -> str:
    """Fill the merge fields; raise ValidationError naming the field that does not exist."""
    env = _html_env if html else _text_env
    try:
        return env.from_string(template).render(**fields)
    except UndefinedError as error:
        known = ", ".join(sorted(fields))
        raise ValidationError(f"Unknown merge field: {error.message}. Known fields: {known}") from None
    except TemplateSyntaxError as error:
        raise ValidationError(
            f"The template has a syntax error on line {error.lineno}: {error.message}"
        ) from None

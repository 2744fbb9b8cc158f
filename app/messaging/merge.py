"""Merge fields in message templates: `Hello {{ first_name }}`; an unknown field is an error, not a blank.

Templates are written by admins and filled with values from the CRM, so they get a small language:
merge fields, text joined with `~`, `if`/`elif`/`else`, tests (`is defined`) and a few filters that
cannot make a value bigger. No loops, assignments, calls or multiplication: whatever the template, its
output is at most its own length times the longest value, and it renders in no time. A rendered-size
and time bound is checked on top, at save (the preview) and at send alike.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, UndefinedError, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from app.errors import ValidationError

MAX_RENDERED_CHARS = 100_000
MAX_RENDER_SECONDS = 1.0

ALLOWED_FILTERS = frozenset(
    {"upper", "lower", "title", "capitalize", "trim", "default", "d", "e", "escape", "striptags", "truncate"}
)
_ALLOWED_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Const,
    nodes.Concat,
    nodes.Add,
    nodes.Sub,
    nodes.Neg,
    nodes.Pos,
    nodes.If,
    nodes.CondExpr,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Compare,
    nodes.Operand,
    nodes.Test,
    nodes.Filter,
    nodes.Getitem,
    nodes.Slice,
    nodes.Tuple,
    nodes.Keyword,
)
_NAMES = {
    nodes.For: "loops ({% for %})",
    nodes.Assign: "assignments ({% set %})",
    nodes.AssignBlock: "assignments ({% set %})",
    nodes.Macro: "macros",
    nodes.Call: "function calls",
    nodes.Getattr: "attributes (value.name)",
    nodes.Mul: "multiplication (*)",
    nodes.Pow: "powers (**)",
    nodes.Mod: "the % operator",
}


def _environment(*, autoescape: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=autoescape, keep_trailing_newline=True)
    env.globals.clear()  # no range(), lipsum(), cycler(), dict(): nothing to call
    return env


_text_env = _environment(autoescape=False)
_html_env = _environment(autoescape=True)


def _walk(node: nodes.Node) -> Iterable[nodes.Node]:
    yield node
    for child in node.iter_child_nodes():
        yield from _walk(child)


def _check_language(tree: nodes.Template) -> None:
    for node in _walk(tree):
        if isinstance(node, nodes.Filter) and node.name not in ALLOWED_FILTERS:
            raise ValidationError(
                f"The filter '{node.name}' is not allowed in messages; use one of "
                f"{', '.join(sorted(ALLOWED_FILTERS))}"
            )
        if not isinstance(node, _ALLOWED_NODES):
            what = _NAMES.get(type(node), f"'{type(node).__name__}'")
            raise ValidationError(
                f"Message templates allow merge fields, if/else and simple filters, not {what}"
            )


@lru_cache(maxsize=256)
def _compiled(template: str, html: bool) -> Template:
    """Check and compile a template once, not once per message (a third of an enrollment's time).

    Only successful compilations are cached: a refused template raises again on every call.
    """
    env = _html_env if html else _text_env
    tree = env.parse(template)
    _check_language(tree)
    return env.from_string(tree)


def render_merge(template: str, fields: Mapping[str, Any], *, html: bool = False) -> str:
    """Fill the merge fields; raise ValidationError naming the field that does not exist."""
    try:
        return _bounded(_compiled(template, html).generate(**fields))
    except UndefinedError as error:
        known = ", ".join(sorted(fields))
        raise ValidationError(f"Unknown merge field: {error.message}. Known fields: {known}") from None
    except TemplateSyntaxError as error:
        raise ValidationError(
            f"The template has a syntax error on line {error.lineno}: {error.message}"
        ) from None
    except SecurityError as error:
        raise ValidationError(f"The template is not allowed: {error}") from None
    except (TemplateError, TypeError, ValueError, ArithmeticError) as error:
        raise ValidationError(f"The template cannot be filled in: {error}") from None
    except RecursionError:
        raise ValidationError("The template is nested too deeply") from None


def _bounded(chunks: Iterable[str]) -> str:
    """Join the rendered chunks, stopping at the size or time bound."""
    started = time.monotonic()
    parts: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_RENDERED_CHARS:
            raise ValidationError(
                f"The message is longer than {MAX_RENDERED_CHARS:,} characters once filled in"
            )
        if time.monotonic() - started > MAX_RENDER_SECONDS:
            raise ValidationError("The message takes too long to fill in; simplify the template")
        parts.append(chunk)
    return "".join(parts)

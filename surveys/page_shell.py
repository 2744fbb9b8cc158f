"""A survey page's HTML: rendered once per published page and language, filled in per respondent.

What the page template writes depends on the published version, the language, the page's place in
the survey and the organisation's brand, which every respondent of that page shares, and on a few
values of the respondent's own: the form's action, the CSRF token, the questions with their answers,
the unsubscribe link and the language links. The template is rendered once per shell key with a
marker in each respondent slot and split at the markers; each request joins the pieces with its own
values, escaped as the template escapes them. The result is the template's own output (the tests
compare the two); Jinja's machinery was a third of a survey page's time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence

from flask import current_app
from markupsafe import Markup, escape

_SHELLS = "surveys.page_shells"
_MAX_SHELLS = 5_000  # versions x languages x pages; forgotten all at once beyond it
_SLOT = re.compile("\x00wb:([a-z0-9_]+)\x00")  # NUL never reaches a page: every marker is replaced


def _marker(slot: str) -> str:
    return f"\x00wb:{slot}\x00"


def respondent_page(
    key: Hashable,
    render: Callable[..., str],
    *,
    action: str,
    csrf_token: Callable[[], str],
    questions_html: Markup,
    unsubscribe_url: str,
    other_languages: Sequence[tuple[str, str, str]],
) -> str:
    """The page `render(**respondent values)` writes, for the shell `key` (everything else the page
    shows must be in the key). `other_languages` holds (code, name, link); only the links vary."""
    shells = current_app.extensions.setdefault(_SHELLS, {})
    full_key = (key, tuple((code, name) for code, name, _ in other_languages))
    pieces = shells.get(full_key)
    if pieces is None:
        html = render(
            action=_marker("action"),
            csrf_token=lambda: _marker("csrf"),
            questions_html=Markup(_marker("questions")),  # noqa: S704 (a marker, replaced below)
            unsubscribe_url=_marker("unsubscribe"),
            other_languages=[
                (code, name, _marker(f"language{i}")) for i, (code, name, _) in enumerate(other_languages)
            ],
        )
        if len(shells) >= _MAX_SHELLS:
            shells.clear()
        pieces = shells[full_key] = tuple(_SLOT.split(html))
    values = {
        "action": escape(action),
        "csrf": escape(csrf_token()),
        "questions": questions_html,
        "unsubscribe": escape(unsubscribe_url),
        **{f"language{i}": escape(link) for i, (_, _, link) in enumerate(other_languages)},
    }
    filled = list(pieces)
    filled[1::2] = [values[slot] for slot in pieces[1::2]]
    return "".join(filled)

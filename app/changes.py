"""How a page applies a service's change: committed when it worked, rolled back and explained when not."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import flash

from app.errors import DomainError
from app.extensions import db


class Change:
    """Whether the change went through (truthy) after the `with` block, and the error when it did not."""

    done = False
    error: DomainError | None = None

    def __bool__(self) -> bool:
        return self.done


@contextmanager
def domain_change(*, flash_error: bool = True) -> Iterator[Change]:
    """Commit what the block changes; on a DomainError roll it back and flash its message instead.

    with domain_change() as change:
        campaign = save_campaign(...)
    if change:
        flash("Saved.", "success")
    """
    change = Change()
    try:
        yield change
    except DomainError as error:
        db.session.rollback()
        change.error = error
        if flash_error:  # a JSON client gets the error in its answer instead
            flash(error.message, "error")
    else:
        db.session.commit()
        change.done = True

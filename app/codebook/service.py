"""The starter codebook Winback ships with; admins edit it once the coding screens exist."""

from __future__ import annotations

from sqlalchemy import select

from app.codebook.models import Polarity, ReasonCode
from app.extensions import db

# (code, label, definition); a child's code starts with its parent's code and a dot.
DEFAULT_CODEBOOK: tuple[tuple[str, str, str], ...] = (
    ("price", "Price", "Cost was the deciding factor."),
    ("price.too_high", "Price too high", "Our price was above budget or above the alternative."),
    ("price.pricing_model", "Pricing model", "The way we charge (per seat, usage, term) did not fit."),
    ("product", "Product fit", "What the product does or lacks."),
    ("product.missing_feature", "Missing feature", "A capability they needed was missing."),
    ("product.usability", "Ease of use", "The product looked hard to use or adopt."),
    ("product.integration", "Integrations", "It did not connect to the tools they use."),
    ("relationship", "Relationship", "Trust in and rapport with the sales team or incumbent."),
    ("relationship.incumbent", "Stayed with incumbent", "They kept their existing vendor."),
    ("relationship.sales_experience", "Sales experience", "How our sales process felt to them."),
    ("implementation", "Implementation risk", "Worries about rollout effort, time or risk."),
    ("timing", "Timing", "Not the right moment: priorities, freeze, reorganisation."),
    ("timing.no_decision", "No decision", "The project stalled or was cancelled."),
    ("budget", "Budget", "No budget was allocated or it was cut."),
    ("support", "Support and service", "Support, service levels or customer success."),
    ("competitor", "Competitor strength", "A competitor offered something we could not match."),
    ("other", "Other", "A reason that fits no other code."),
)


def ensure_default_codebook() -> int:
    """Create the starter codes that are missing; return how many were added."""
    existing = {code.code: code for code in db.session.scalars(select(ReasonCode))}
    added = 0
    for code, label, definition in DEFAULT_CODEBOOK:
        if code in existing:
            continue
        parent = existing.get(code.rsplit(".", 1)[0]) if "." in code else None
        reason = ReasonCode(
            code=code, label=label, definition=definition, parent=parent, polarity=Polarity.LOSS
        )
        db.session.add(reason)
        existing[code] = reason
        added += 1
    db.session.flush()
    return added

"""The codebook: the shipped win/loss codebook, and the editor's operations (create, edit, move, merge,
retire, CSV import and export). Services flush; the caller commits."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import Flask, current_app
from sqlalchemy import Select, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute

from app.codebook.models import Polarity, ReasonCode
from app.codebook.signals import codes_merged, codes_merging, codes_moved
from app.errors import Conflict, ValidationError
from app.extensions import db

L, W, B = Polarity.LOSS, Polarity.WIN, Polarity.BOTH

# (code, label, definition, polarity); a child's code is its parent's code, a dot, and its own part.
DEFAULT_CODEBOOK: tuple[tuple[str, str, str, Polarity], ...] = (
    ("price", "Price and commercial terms", "Cost or the commercial terms decided it.", B),
    ("price.too_high", "Price too high", "Our price was above budget or above the alternative.", L),
    ("price.pricing_model", "Pricing model", "The way we charge (per seat, usage, term) did not fit.", B),
    ("price.contract_terms", "Contract terms", "Length, notice, liability or payment terms.", B),
    ("price.discount", "Discount or better offer", "Another vendor discounted or bundled more.", B),
    ("product", "Product fit", "What the product does or lacks.", B),
    ("product.missing_feature", "Missing feature", "A capability they needed was missing.", L),
    ("product.fit", "Fits the use case", "The product matched (or did not match) how they work.", B),
    ("product.performance", "Performance and reliability", "Speed, scale, uptime or quality.", B),
    ("product.usability", "Ease of use", "The product looked easy or hard to use or adopt.", B),
    ("product.integration", "Integrations", "It did or did not connect to the tools they use.", B),
    ("implementation", "Implementation risk", "Worries about rollout effort, time or risk.", B),
    ("implementation.effort", "Implementation effort", "Too much work or people needed to roll it out.", L),
    ("implementation.migration", "Data migration", "Moving their data or history looked hard.", L),
    (
        "implementation.security",
        "Security and compliance",
        "Security review, certifications, data residency.",
        B,
    ),
    ("relationship", "Vendor relationship and trust", "Trust in and rapport with us or the incumbent.", B),
    ("relationship.incumbent", "Stayed with incumbent", "They kept their existing vendor.", L),
    ("relationship.trust", "Trust in the vendor", "Confidence in our company, size, stability.", B),
    ("relationship.references", "References and reputation", "References, reviews or peers' advice.", B),
    ("sales", "Sales experience", "How our sales process felt to them.", B),
    ("sales.responsiveness", "Responsiveness", "How quickly and well we answered.", B),
    ("sales.understanding", "Understood our needs", "Whether the seller understood their problem.", B),
    ("sales.demo", "Demo and trial", "The demo, proof of concept or trial.", B),
    ("support", "Support and service", "Support, service levels or customer success.", B),
    ("support.quality", "Support quality", "Quality or speed of support.", B),
    ("support.onboarding", "Onboarding and training", "Help getting started and trained.", B),
    ("timing", "Timing and budget", "Not the right moment, or no money for it.", L),
    ("timing.budget", "No budget", "No budget was allocated or it was cut.", L),
    ("timing.priorities", "Other priorities", "Priorities changed: freeze, reorganisation.", L),
    (
        "timing.no_decision",
        "No decision / status quo",
        "The project stalled or they kept doing as before.",
        L,
    ),
    ("competitor", "Competitor strengths", "A competitor offered something we could not match.", L),
    ("competitor.features", "Competitor features", "The competitor's product did more or better.", L),
    ("competitor.price", "Competitor price", "The competitor was cheaper.", L),
    ("competitor.relationship", "Competitor relationship", "They knew or trusted the competitor.", L),
    ("politics", "Internal politics", "Decision makers, champions and internal influence.", B),
    ("politics.champion", "Champion left or lacked power", "Our champion left or could not carry it.", L),
    ("politics.executive", "Executive decision", "A senior person decided, whatever the team thought.", B),
    ("politics.procurement", "Procurement", "Procurement or a tender process decided it.", B),
    ("budget", "Budget", "No budget was allocated or it was cut (kept for older mappings).", L),
    ("other", "Other", "A reason that fits no other code.", B),
)

# The demo CRM's loss reasons and the codes they mean.
DEMO_LOSS_REASON_CODES = {
    "Price": "price.too_high",
    "Lost to Competitor": "competitor",
    "No Decision / Non-Responsive": "timing.no_decision",
    "Missing Features": "product.missing_feature",
    "Timing": "timing.priorities",
    "Budget": "timing.budget",
    "Went with incumbent": "relationship.incumbent",
    "Implementation concerns": "implementation",
    "Other": "other",
}

CSV_COLUMNS = ("code", "label", "definition", "example", "polarity", "active")
CODE_PART = re.compile(r"^[a-z0-9_]+$")


def ensure_default_codebook() -> int:
    """Create the shipped codes that are missing; return how many were added."""
    existing = {code.code: code for code in db.session.scalars(select(ReasonCode))}
    added = 0
    for code, label, definition, polarity in DEFAULT_CODEBOOK:
        if code in existing:
            continue
        parent = existing.get(code.rsplit(".", 1)[0]) if "." in code else None
        reason = ReasonCode(code=code, label=label, definition=definition, parent=parent, polarity=polarity)
        db.session.add(reason)
        existing[code] = reason
        added += 1
    db.session.flush()
    return added


# --- the tree ---------------------------------------------------------------------------------


@dataclass
class CodeNode:
    code: ReasonCode
    depth: int
    children: list[CodeNode] = field(default_factory=list)


def codebook_tree(*, include_retired: bool = True) -> list[CodeNode]:
    """Every code in tree order (parents first, siblings by code), flattened with its depth."""
    codes = list(db.session.scalars(select(ReasonCode).order_by(ReasonCode.code)))
    if not include_retired:
        codes = [c for c in codes if c.active]
    by_parent: dict[int | None, list[ReasonCode]] = {}
    ids = {c.id for c in codes}
    for code in codes:
        parent = code.parent_id if code.parent_id in ids else None
        by_parent.setdefault(parent, []).append(code)
    flat: list[CodeNode] = []

    def walk(parent_id: int | None, depth: int) -> None:
        for code in by_parent.get(parent_id, []):
            flat.append(CodeNode(code, depth))
            walk(code.id, depth + 1)

    walk(None, 0)
    return flat


def codebook_query(search: str = "") -> Select:
    """Codes in tree order, whose code or label contains `search` (any case); every code when it is blank.

    A child's code is its parent's code, a dot and its own part, so sorting by code puts each parent
    right before its children: a page of this query reads as a slice of the tree."""
    query = select(ReasonCode)
    if search := search.strip():
        query = query.where(
            or_(
                ReasonCode.code.icontains(search, autoescape=True),
                ReasonCode.label.icontains(search, autoescape=True),
            )
        )
    return query.order_by(ReasonCode.code)


def code_depth(code: ReasonCode) -> int:
    """How deep a code sits in the tree: 0 for a top-level code."""
    return code.code.count(".")


def get_code(code: str) -> ReasonCode | None:
    return db.session.scalar(select(ReasonCode).where(ReasonCode.code == code))


def _check_part(part: str) -> str:
    part = part.strip().lower()
    if not CODE_PART.match(part):
        raise ValidationError(
            "A code is lower-case letters, digits and underscores (a dot separates levels)", field="code"
        )
    return part


def _parse_polarity(value: str | Polarity) -> Polarity:
    try:
        return Polarity(str(value).strip().lower())
    except ValueError:
        raise ValidationError("Polarity is loss, win or both", field="polarity") from None


def create_code(
    part: str,
    label: str,
    *,
    parent: ReasonCode | None = None,
    definition: str | None = None,
    example: str | None = None,
    polarity: str | Polarity = Polarity.LOSS,
) -> ReasonCode:
    """Add a code under parent (or at the top); its dotted code is the parent's code and part."""
    part = _check_part(part)
    full = f"{parent.code}.{part}" if parent else part
    if not label.strip():
        raise ValidationError("A code needs a label", field="label")
    if get_code(full) is not None:
        raise Conflict(f"The code {full} already exists", field="code")
    reason = ReasonCode(
        code=full,
        parent=parent,
        label=label.strip(),
        definition=(definition or "").strip() or None,
        example=(example or "").strip() or None,
        polarity=_parse_polarity(polarity),
    )
    db.session.add(reason)
    db.session.flush()
    return reason


def edit_code(
    reason: ReasonCode, *, label: str, definition: str | None, example: str | None, polarity: str | Polarity
) -> None:
    if not label.strip():
        raise ValidationError("A code needs a label", field="label")
    reason.label = label.strip()
    reason.definition = (definition or "").strip() or None
    reason.example = (example or "").strip() or None
    reason.polarity = _parse_polarity(polarity)
    db.session.flush()


def _descendants(reason: ReasonCode) -> list[ReasonCode]:
    prefix = reason.code + "."
    return list(
        db.session.scalars(select(ReasonCode).where(ReasonCode.code.startswith(prefix, autoescape=True)))
    )


def move_code(reason: ReasonCode, new_parent: ReasonCode | None) -> None:
    """Put a code (and its sub-codes) under another parent; the dotted codes follow."""
    if new_parent is not None and (
        new_parent.id == reason.id or new_parent.code.startswith(reason.code + ".")
    ):
        raise ValidationError("A code cannot move under itself or one of its sub-codes", field="parent")
    part = reason.code.rsplit(".", 1)[-1]
    new_code = f"{new_parent.code}.{part}" if new_parent else part
    if new_code == reason.code:
        return
    if get_code(new_code) is not None:
        raise Conflict(f"The code {new_code} already exists there", field="parent")
    old_prefix = reason.code
    descendants = _descendants(reason)
    for child in descendants:
        child.code = new_code + child.code[len(old_prefix) :]
    reason.code = new_code
    reason.parent = new_parent
    db.session.flush()
    codes_moved.send(reason, moved=[reason.id, *(child.id for child in descendants)])


def retire_code(reason: ReasonCode, *, active: bool = False) -> None:
    """Retire (or bring back) a code; its codings and history stay."""
    reason.active = active
    db.session.flush()


CODE_REFERENCES = "codebook.code_references"


def register_code_references(app: Flask, *columns: InstrumentedAttribute[int | None]) -> None:
    """Declare columns of the registering package that hold a reason code id: a merge moves them.

    Each package that points at reason codes registers its columns in its init_app (the codebook never
    names a higher layer's table); tests/coding/test_codebook.py checks that none is missing.
    """
    app.extensions.setdefault(CODE_REFERENCES, []).extend(columns)


def code_references() -> list[InstrumentedAttribute[int | None]]:
    return list(current_app.extensions.get(CODE_REFERENCES, []))


def check_merge(loser: ReasonCode, survivor: ReasonCode) -> None:
    if loser.id == survivor.id:
        raise ValidationError("Choose another code to merge into", field="into")
    if survivor.code.startswith(loser.code + "."):
        raise ValidationError("A code cannot be merged into one of its own sub-codes", field="into")
    if not survivor.active:
        raise ValidationError(f"{survivor.code} is retired: choose an active code", field="into")


def reference_name(column: InstrumentedAttribute[int | None]) -> str:
    """A registered reference as "table.column" (how an undo finds it again)."""
    return f"{column.class_.__table__.name}.{column.key}"


def merge_codes(loser: ReasonCode, survivor: ReasonCode) -> dict:
    """Move everything that uses `loser` (codings, option and loss-reason mappings) to `survivor`, move
    its sub-codes under the survivor, and retire it. Returns what it did, enough to undo it."""
    check_merge(loser, survivor)
    # Higher layers first remove what would become a duplicate (an answer coded with both); they return
    # the rows they removed so that an undo can put them back.
    removed = [row for _, rows in codes_merging.send(loser, survivor=survivor) for row in rows or ()]
    moved: dict[str, list] = {}
    for column in code_references():
        keys = list(column.class_.__table__.primary_key.columns)
        if len(keys) == 1:
            ids = list(db.session.scalars(select(keys[0]).where(column == loser.id)))
            if ids:
                moved[reference_name(column)] = ids
        db.session.execute(
            update(column.class_).where(column == loser.id).values({column.key: survivor.id}),
            execution_options={"synchronize_session": False},
        )
    children = list(db.session.scalars(select(ReasonCode).where(ReasonCode.parent_id == loser.id)))
    for child in children:
        move_code(child, survivor)
    was_active = loser.active
    loser.active = False
    db.session.flush()
    db.session.expire_all()
    codes_merged.send(loser, survivor=survivor)
    return {
        "loser": loser.id,
        "survivor": survivor.id,
        "moved": moved,
        "removed": removed,
        "children": [child.id for child in children],
        "was_active": was_active,
    }

"""Codable questions only: a "coded" flag per question, vendor-name questions that feed the competitor,
and the workbench's Skip and Not codable marks.

Existing questions get the value the builder would give them: free-text reason questions (short and
long text, and multiple choice with "Other, please specify") are coded; a short-text question that
asks which vendor was chosen feeds the competitor instead; dates, scales, yes/no, single choice and
questions asking for contact details are not coded.

Revision ID: 0029_coded_questions
Revises: 0026_token_scopes
"""

import sqlalchemy as sa
from alembic import op

import app.db_types

revision = "0029_coded_questions"
down_revision = "0026_token_scopes"
branch_labels = None
depends_on = None

# Frozen copies of the builder's guesses (surveys/builder.py) as they were when this migration was written.
_VENDOR_WORDS = ("vendor", "competitor", "supplier", "provider")
_VENDOR_ASKS = ("which", "who", "what vendor", "what competitor", "name of")
_VENDOR_PHRASES = ("did you choose", "did you pick", "did you select", "did you go with", "did you buy")
_CONTACT_WORDS = ("email", "e-mail", "phone", "mobile", "address", "your name", "contact details", "linkedin")


def _names_a_vendor(kind: str, text: str) -> bool:
    folded = " ".join(text.lower().split())
    return (
        kind == "short_text"
        and any(word in folded for word in _VENDOR_WORDS)
        and (folded.startswith(_VENDOR_ASKS) or any(phrase in folded for phrase in _VENDOR_PHRASES))
    )


def _coded(kind: str, text: str, allow_other: bool) -> bool:
    if kind == "multiple_choice":
        return bool(allow_other)
    folded = text.lower()
    return kind in ("short_text", "long_text") and not any(word in folded for word in _CONTACT_WORDS)


def upgrade():
    with op.batch_alter_table("survey_questions") as batch:
        batch.add_column(sa.Column("coded", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("feeds_competitor", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("survey_answers") as batch:
        batch.add_column(sa.Column("competitor_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_survey_answers_competitor_id_competitors",
            "competitors",
            ["competitor_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index("ix_survey_answers_competitor_id", ["competitor_id"], unique=False)
    op.create_table(
        "coding_answer_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("answer_id", sa.Integer(), nullable=False),
        sa.Column("coder_id", sa.Integer(), nullable=False),
        sa.Column("mark", sa.String(length=12), nullable=False),
        sa.Column("created_at", app.db_types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["answer_id"],
            ["survey_answers.id"],
            name="fk_coding_answer_marks_answer_id_survey_answers",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["coder_id"], ["users.id"], name="fk_coding_answer_marks_coder_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_coding_answer_marks"),
        sa.UniqueConstraint(
            "answer_id", "coder_id", "mark", name="uq_coding_answer_marks_answer_id_coder_id_mark"
        ),
    )
    op.create_index("ix_coding_answer_marks_mark_answer", "coding_answer_marks", ["mark", "answer_id"])

    questions = sa.table(
        "survey_questions",
        sa.column("id", sa.Integer()),
        sa.column("kind", sa.String()),
        sa.column("text", sa.Text()),
        sa.column("allow_other", sa.Boolean()),
        sa.column("coded", sa.Boolean()),
        sa.column("feeds_competitor", sa.Boolean()),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(questions.c.id, questions.c.kind, questions.c.text, questions.c.allow_other)
    ).all()
    for question_id, kind, text, allow_other in rows:
        vendor = _names_a_vendor(kind, text or "")
        coded = not vendor and _coded(kind, text or "", allow_other)
        if vendor or coded:
            connection.execute(
                questions.update()
                .where(questions.c.id == question_id)
                .values(coded=coded, feeds_competitor=vendor)
            )


def downgrade():
    op.drop_index("ix_coding_answer_marks_mark_answer", table_name="coding_answer_marks")
    op.drop_table("coding_answer_marks")
    with op.batch_alter_table("survey_answers") as batch:
        batch.drop_index("ix_survey_answers_competitor_id")
        batch.drop_constraint("fk_survey_answers_competitor_id_competitors", type_="foreignkey")
        batch.drop_column("competitor_id")
    with op.batch_alter_table("survey_questions") as batch:
        batch.drop_column("feeds_competitor")
        batch.drop_column("coded")

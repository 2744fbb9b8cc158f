"""The migration that brings the coded flag gives existing questions the value the builder would."""

from __future__ import annotations

from flask_migrate import upgrade
from sqlalchemy import text

from app.extensions import db

QUESTIONS = [
    # kind, text, allow_other -> (coded, feeds_competitor)
    ("long_text", "Why did you choose another vendor?", False, (True, False)),
    ("short_text", "Which vendor did you choose?", False, (False, True)),
    ("short_text", "What mattered most?", False, (True, False)),
    ("short_text", "Your phone number?", False, (False, False)),
    ("date", "When does your contract end?", False, (False, False)),
    ("multiple_choice", "Other factors?", True, (True, False)),
    ("multiple_choice", "Factors?", False, (False, False)),
    ("rating", "How is the vendor you chose?", False, (False, False)),
]


def test_existing_questions_get_a_sensible_coded_flag(make_app, tmp_path):
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'before.sqlite3'}")
    with app.app_context():
        upgrade(revision="0023_home_indexes")
        now = "2026-11-02 09:00:00+00:00"
        db.session.execute(
            text("INSERT INTO surveys (id, name, created_at) VALUES (1, 'Old', :now)"), {"now": now}
        )
        db.session.execute(
            text(
                "INSERT INTO survey_versions (id, survey_id, number, status, title, introduction, thank_you, "
                "created_at) VALUES (1, 1, 1, 'published', 'Old', '', '', :now)"
            ),
            {"now": now},
        )
        for position, (kind, question, allow_other, _expected) in enumerate(QUESTIONS, start=1):
            db.session.execute(
                text(
                    "INSERT INTO survey_questions (version_id, position, page, kind, text, required, "
                    "allow_other) VALUES (1, :position, 1, :kind, :text, false, :allow_other)"
                ),
                {"position": position, "kind": kind, "text": question, "allow_other": allow_other},
            )
        db.session.commit()
        upgrade(revision="heads")
        stored = db.session.execute(
            text("SELECT text, coded, feeds_competitor FROM survey_questions ORDER BY position")
        ).all()
    assert [(row[0], (bool(row[1]), bool(row[2]))) for row in stored] == [
        (question, expected) for _kind, question, _other, expected in QUESTIONS
    ]

"""Codebook CSV imports: bad files are reported, not silent nor a 500; formulas round-trip through export."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from app.auth.models import Role
from app.codebook.models import ReasonCode
from app.codebook.transfer import MAX_CODEBOOK_BYTES
from app.extensions import db

HEADER = "code,label,definition,example,polarity,active\n"


def _codes() -> int:
    return db.session.scalar(select(func.count()).select_from(ReasonCode))


def _upload(client, content: bytes):
    return client.post(
        "/codebook/import",
        data={"file": (io.BytesIO(content), "codebook.csv")},
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty: it has no header and no codes."),
        (b"   \r\n", "The file is empty: it has no header and no codes."),
        (HEADER.encode(), "Line 2: the file has a header but no codes"),
        (
            (HEADER + "price,Price,,,loss,1\nprice,Price again,,,loss,1\n").encode(),
            "Line 3: code price is already on line 2",
        ),
        ((HEADER + 'price,"Price,,,loss,1\nother,Other,,,loss,1\n').encode(), "check the quotes"),
        (
            (HEADER + "price,Pri\x00ce,,,loss,1\n").encode(),
            "Line 2: code price: a cell contains a NUL character",
        ),
        (
            (HEADER + f"price,{'x' * 201},,,loss,1\n").encode(),
            "Line 2: code price: label is longer than 200 characters",
        ),
        ((HEADER + f"{'a' * 121},Long,,,loss,1\n").encode(), "code is longer than 120 characters"),
        (b"\xff\xfe\x00", "The file is not UTF-8 text"),
    ],
)
def test_a_bad_codebook_file_is_reported_on_the_page_and_nothing_is_imported(
    login, make_user, content, message
):
    client = login(make_user(Role.ANALYST))
    response = _upload(client, content)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _codes() == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "The file is empty"),
        (
            HEADER + "price,Price,,,loss,1\nprice,Price again,,,loss,1\n",
            "line 3: code price is already on line 2",
        ),
        (HEADER + 'price,"Price,,,loss,1\n', "check the quotes"),
        # A web upload this big goes through the same check (the test client would leak its spooled body).
        (HEADER + "price,Price,,,loss,1\n" + "x" * MAX_CODEBOOK_BYTES, "The file is larger than 2 MB"),
        (HEADER + f"price,Price,{'d' * 131_073},,loss,1\n", "field larger than field limit (131072)"),
    ],
)
def test_the_codebook_command_reports_bad_files_too(runner, tmp_path, content, message):
    path = tmp_path / "codebook.csv"
    path.write_text(content, encoding="utf-8")
    result = runner.invoke(args=["codebook", "import", str(path)])
    assert result.exit_code in (1, 2)
    assert message in result.output
    assert _codes() == 0


def test_a_formula_in_a_label_is_guarded_on_export_and_comes_back_unchanged(
    runner, tmp_path, login, make_user
):
    path = tmp_path / "codebook.csv"
    path.write_text(HEADER + 'price,"=HYPERLINK(""http://evil.example"")",+1 definition,@example,loss,1\n')
    assert runner.invoke(args=["codebook", "import", str(path)]).exit_code == 0
    exported = login(make_user(Role.ADMIN)).get("/codebook/export.csv").get_data(as_text=True)
    assert exported.startswith("\ufeffcode,label,")
    assert 'price,"\'=HYPERLINK(""http://evil.example"")",\'+1 definition,\'@example,loss,1' in exported
    (tmp_path / "again.csv").write_text(exported, encoding="utf-8")
    result = runner.invoke(args=["codebook", "import", str(tmp_path / "again.csv")])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    code = db.session.scalar(select(ReasonCode).where(ReasonCode.code == "price"))
    assert (code.label, code.definition, code.example) == (
        '=HYPERLINK("http://evil.example")',
        "+1 definition",
        "@example",
    )

"""REFI-QDA exchange: `coding export-qdpx` writes the codebook, the coded answers and their coded segments;
`coding import-qdpx --json` reads them into a fresh database, the same codebook and codings.

The written project.qde is validated against the published REFI-QDA Project Exchange 1.0 schema
(tests/coding/refi_qda/Project.xsd, MIT licence, see the README beside it), and checked for what the
schema cannot say: element order as the tools read it, and references that resolve."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET  # noqa: S405 (our own file)

import pytest
from lxml import etree
from sqlalchemy import select

from app.auth.models import Role
from app.codebook.models import ReasonCode
from app.codebook.service import create_code, retire_code
from app.coding.importing import import_codings
from app.coding.models import Coding, CodingStatus, ImportedAnswer
from app.coding.sample import coder_names
from app.coding.service import CodeChoice, set_person_codes
from app.extensions import db
from surveys.models import Answer
from tests.survey_helpers import NOW

Q = "{urn:QDA-XML:project:1.0}"
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
SCHEMA = Path(__file__).parent / "refi_qda" / "Project.xsd"
PROJECT_ORDER = ["Users", "CodeBook", "Variables", "Cases", "Sources", "Notes", "Links", "Sets", "Graphs"]


def _code(code: str) -> ReasonCode:
    return db.session.scalar(select(ReasonCode).where(ReasonCode.code == code))


def _codebook() -> set[tuple]:
    return {
        (c.code, c.label, c.definition, c.polarity.value, c.active, c.parent.code if c.parent else None)
        for c in db.session.scalars(select(ReasonCode))
    }


def _codings() -> set[tuple]:
    """(text, code, coder, span) of every confirmed person or imported coding, coders by name."""
    rows = list(db.session.scalars(select(Coding).where(Coding.status == CodingStatus.CONFIRMED)))
    names = coder_names({c.coder_key for c in rows})
    result = set()
    for c in rows:
        if c.source.value not in ("person", "import"):
            continue
        text = db.session.get(Answer, c.answer_id).text if c.answer_id else c.imported_answer.text
        name = names[c.coder_key].removesuffix(" (imported)")
        result.add((text, c.reason_code.code, name, c.span_start, c.span_end))
    return result


@pytest.fixture
def coded_project(respond, make_user):
    ana, bob = make_user(Role.ANALYST, name="Ana"), make_user(Role.ANALYST, name="Bob")
    bundle = create_code("bundle", "Bundled offer", parent=_code("price"), definition="They bundled more.")
    old = create_code("legacy", "Legacy reason", polarity="win")
    retire_code(old)
    first = respond("Too expensive, and the bundle was better")
    second = respond("The Salesforce sync kept failing")
    set_person_codes(
        first, ana, [CodeChoice(_code("price.too_high").id, 0, 14), CodeChoice(bundle.id)], now=NOW
    )
    set_person_codes(first, bob, [CodeChoice(_code("price.too_high").id, 0, 14)], now=NOW)
    set_person_codes(second, ana, [CodeChoice(_code("product.integration").id)], now=NOW)
    import_codings(io.StringIO("id,text,code,coder\n7,Renewal was late,timing,Jane\n"), now=NOW)
    db.session.commit()


@pytest.fixture(scope="module")
def project_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def _schema_errors(schema: etree.XMLSchema, qde: bytes) -> list[str]:
    schema.validate(etree.fromstring(qde))
    return [f"line {error.line}: {error.message}" for error in schema.error_log]


def _check_structure(qde: bytes) -> ET.Element:
    root = ET.fromstring(qde)  # noqa: S314 (the file this test just wrote)
    assert root.tag == f"{Q}Project"
    assert root.get("name")
    children = [child.tag.removeprefix(Q) for child in root]
    assert children == sorted(children, key=PROJECT_ORDER.index)
    users = {u.get("guid") for u in root.iter(f"{Q}User")}
    codes = {}
    for code in root.iter(f"{Q}Code"):
        assert GUID.match(code.get("guid"))
        assert code.get("name")
        assert code.get("isCodable") in ("true", "false")
        assert [c.tag for c in code][:1] in ([], [f"{Q}Description"])  # Description first, then sub-codes
        codes[code.get("guid")] = code
    for source in root.iter(f"{Q}TextSource"):
        assert GUID.match(source.get("guid"))
        text = source.findtext(f"{Q}PlainTextContent")
        assert source[0].tag == f"{Q}PlainTextContent"
        for selection in source.findall(f"{Q}PlainTextSelection"):
            assert GUID.match(selection.get("guid"))
            assert 0 <= int(selection.get("startPosition")) < int(selection.get("endPosition")) <= len(text)
            for coding in selection.findall(f"{Q}Coding"):
                assert GUID.match(coding.get("guid"))
                assert coding.get("creatingUser") in users
                (ref,) = list(coding)
                assert ref.tag == f"{Q}CodeRef"
                assert ref.get("targetGUID") in codes
    return root


def test_export_then_import_into_a_fresh_database_gives_the_same_codebook_and_codings(
    coded_project, runner, make_app, tmp_path, project_schema
):
    path = tmp_path / "winback.qdpx"
    output = runner.invoke(args=["coding", "export-qdpx", str(path)]).output
    assert output.startswith("Exported ")
    with zipfile.ZipFile(path) as archive:
        qde = archive.read("project.qde")
    assert _schema_errors(project_schema, qde) == []
    root = _check_structure(qde)
    assert len(list(root.iter(f"{Q}TextSource"))) == 3
    assert {u.get("name") for u in root.iter(f"{Q}User")} == {"Ana", "Bob", "Jane (imported)"}
    codebook, codings = _codebook(), _codings()
    assert len(codings) == 5

    fresh = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    with fresh.app_context():
        db.metadata.create_all(db.engine)
        result = fresh.test_cli_runner().invoke(args=["coding", "import-qdpx", str(path), "--json"])
        assert result.exit_code == 0, result.output
        figures = json.loads(result.output)
        assert figures == {"codes": len(codebook), "answers": 3, "codings": 5, "errors": []}
        db.session.expire_all()
        assert _codebook() == codebook
        assert _codings() == codings
        again = json.loads(
            fresh.test_cli_runner().invoke(args=["coding", "import-qdpx", str(path), "--json"]).output
        )
        assert again == {"codes": 0, "answers": 0, "codings": 0, "errors": []}  # importing twice adds nothing
        assert db.session.scalar(select(db.func.count()).select_from(ImportedAnswer)) == 3


def test_the_schema_refuses_a_project_that_breaks_it(coded_project, runner, tmp_path, project_schema):
    """The validation above can fail: a code without its required isCodable, a selection without its end."""
    path = tmp_path / "winback.qdpx"
    runner.invoke(args=["coding", "export-qdpx", str(path)])
    with zipfile.ZipFile(path) as archive:
        qde = archive.read("project.qde").decode()
    broken = re.sub(r' isCodable="(true|false)"', "", qde, count=1)
    broken = re.sub(r' endPosition="\d+"', "", broken, count=1)
    errors = _schema_errors(project_schema, broken.encode())
    assert len(errors) == 2
    assert "isCodable" in errors[0]
    assert "endPosition" in errors[1]


def test_a_bad_segment_is_reported_and_the_rest_imported(coded_project, runner, tmp_path):
    path = tmp_path / "winback.qdpx"
    runner.invoke(args=["coding", "export-qdpx", str(path)])
    with zipfile.ZipFile(path) as archive:
        qde = archive.read("project.qde").decode()
    qde = qde.replace('endPosition="14"', 'endPosition="9999"', 1)
    broken = tmp_path / "broken.qdpx"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("project.qde", qde)
    db.session.execute(db.delete(Coding))
    db.session.commit()
    figures = json.loads(runner.invoke(args=["coding", "import-qdpx", str(broken), "--json"]).output)
    assert figures["codings"] == 3  # the two codings of the out-of-range segment are skipped
    assert [e["message"] for e in figures["errors"]] == ["segment 0-9999 is outside the text"]


def test_an_unreadable_file_is_a_clear_error(runner, tmp_path):
    path = tmp_path / "nope.qdpx"
    path.write_text("not a zip")
    result = runner.invoke(args=["coding", "import-qdpx", str(path), "--json"])
    assert result.exit_code == 2
    assert "cannot read" in json.loads(result.output)["error"]

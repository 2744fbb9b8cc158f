"""REFI-QDA exchange (`.qdpx`): the codebook, the coded answers as text sources and their coded segments,
read by QualCoder, ATLAS.ti, MAXQDA and NVivo.

A `.qdpx` is a zip holding `project.qde`, an XML document in the namespace `urn:QDA-XML:project:1.0`
(the REFI-QDA Project Exchange standard 1.0). The standard has no field for Winback's dotted code key,
polarity or state, so the code's description ends with one line `Winback code: price.too_high · loss`,
read back on import; a tool that drops it still gets the label, definition and tree.
"""

from __future__ import annotations

import re
import uuid
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree as ET  # noqa: S405 (expat refuses external entities and entity bombs)

from sqlalchemy import select

from app.auth.models import User
from app.codebook.models import Polarity, ReasonCode
from app.codebook.service import codebook_tree
from app.coding.models import CoderKind, Coding, CodingStatus, ImportedAnswer
from app.coding.sample import coder_names
from app.extensions import db
from surveys.models import Answer, Question

NS = "urn:QDA-XML:project:1.0"
Q = f"{{{NS}}}"
GUIDS = uuid.UUID("6f0b7d1e-3c1a-4d8e-9a51-8f4b1c2e7a10")  # Winback's namespace for stable GUIDs
TRAILER = re.compile(
    r"\n*Winback code: (?P<code>[a-z0-9_.]+) · (?P<polarity>loss|win|both)(?P<retired> · retired)?\s*$"
)
EXPORTED = (CoderKind.PERSON, CoderKind.IMPORT)


def guid(kind: str, key: object) -> str:
    return str(uuid.uuid5(GUIDS, f"{kind}:{key}"))


def _when(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


# --- export ---------------------------------------------------------------------------------------------


@dataclass
class ExportResult:
    codes: int = 0
    sources: int = 0
    codings: int = 0


def _codebook_element(project: ET.Element) -> int:
    codes = ET.SubElement(ET.SubElement(project, f"{Q}CodeBook"), f"{Q}Codes")
    parents: dict[int | None, ET.Element] = {None: codes}
    nodes = codebook_tree()
    for node in nodes:
        code = node.code
        parent = parents.get(code.parent_id, codes)
        element = ET.SubElement(
            parent,
            f"{Q}Code",
            guid=guid("code", code.code),
            name=code.label,
            isCodable="true" if code.active else "false",
        )
        trailer = f"Winback code: {code.code} · {code.polarity.value}{'' if code.active else ' · retired'}"
        ET.SubElement(element, f"{Q}Description").text = (
            f"{code.definition}\n\n{trailer}" if code.definition else trailer
        )
        parents[code.id] = element
    return len(nodes)


def _exported_codings() -> dict[tuple[str, int], list[Coding]]:
    """Confirmed codings of people and imports (the lead's final codes included), per source."""
    per_source: dict[tuple[str, int], list[Coding]] = defaultdict(list)
    for coding in db.session.scalars(
        select(Coding)
        .where(Coding.status == CodingStatus.CONFIRMED, Coding.source.in_(EXPORTED))
        .order_by(Coding.id)
    ):
        key = ("a", coding.answer_id) if coding.answer_id is not None else ("i", coding.imported_answer_id)
        per_source[key].append(coding)
    return per_source


def _source_texts(keys) -> dict[tuple[str, int], tuple[str, str]]:
    """(name, text) of each source: a survey answer (named by its question) or an imported answer."""
    answer_ids = {i for kind, i in keys if kind == "a"}
    imported_ids = {i for kind, i in keys if kind == "i"}
    texts = {}
    if answer_ids:
        rows = db.session.execute(
            select(Answer.id, Question.text, Answer.text).join(Question, Question.id == Answer.question_id)
        )
        for answer_id, question, text in rows:
            if answer_id in answer_ids:
                texts[("a", answer_id)] = (f"Answer {answer_id}: {question}", text or "")
    if imported_ids:
        rows = db.session.execute(select(ImportedAnswer.id, ImportedAnswer.question, ImportedAnswer.text))
        for imported_id, question, text in rows:
            if imported_id in imported_ids:
                texts[("i", imported_id)] = (question or f"Imported answer {imported_id}", text)
    return texts


def export_qdpx(path: Path, *, now: datetime) -> ExportResult:
    """Write the codebook, every coded text answer and its coded segments to a `.qdpx` file."""
    ET.register_namespace("", NS)
    project = ET.Element(
        f"{Q}Project", name="Winback coding", origin="Winback", creationDateTime=_when(now) or ""
    )
    per_source = _exported_codings()
    code_keys = dict(db.session.execute(select(ReasonCode.id, ReasonCode.code)).all())
    coder_keys = sorted({c.coder_key for codings in per_source.values() for c in codings})
    names = coder_names(coder_keys)
    users = ET.SubElement(project, f"{Q}Users")
    for key in coder_keys:
        ET.SubElement(users, f"{Q}User", guid=guid("user", key), name=names[key])
    result = ExportResult(codes=_codebook_element(project))
    sources = ET.SubElement(project, f"{Q}Sources")
    texts = _source_texts(per_source)
    for key in sorted(per_source):
        name, text = texts[key]
        source = ET.SubElement(sources, f"{Q}TextSource", guid=guid("source", f"{key[0]}{key[1]}"), name=name)
        ET.SubElement(source, f"{Q}PlainTextContent").text = text
        by_segment: dict[tuple[int, int], list[Coding]] = defaultdict(list)
        for coding in per_source[key]:
            start = coding.span_start if coding.span_start is not None else 0
            end = coding.span_end if coding.span_end is not None else len(text)
            by_segment[(start, end)].append(coding)
        for (start, end), codings in sorted(by_segment.items()):
            selection = ET.SubElement(
                source,
                f"{Q}PlainTextSelection",
                guid=guid("selection", f"{key[0]}{key[1]}:{start}-{end}"),
                name=text[start:end][:60],
                startPosition=str(start),
                endPosition=str(end),
            )
            for coding in codings:
                element = ET.SubElement(
                    selection,
                    f"{Q}Coding",
                    guid=guid("coding", coding.id),
                    creatingUser=guid("user", coding.coder_key),
                )
                if coding.decided_at:
                    element.set("creationDateTime", _when(coding.decided_at))
                ET.SubElement(
                    element, f"{Q}CodeRef", targetGUID=guid("code", code_keys[coding.reason_code_id])
                )
                result.codings += 1
        result.sources += 1
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("project.qde", ET.tostring(project, encoding="utf-8", xml_declaration=True))
    return result


# --- import ---------------------------------------------------------------------------------------------


@dataclass
class QdpxImport:
    codes: int = 0
    answers: int = 0
    codings: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"codes": self.codes, "answers": self.answers, "codings": self.codings, "errors": self.errors}


class UnreadableProject(ValueError):
    """The file is not a REFI-QDA project (not a zip with a readable project.qde)."""


def read_project(path: Path) -> ET.Element:
    try:
        with zipfile.ZipFile(path) as archive:
            data = archive.read("project.qde")
        root = ET.fromstring(data)  # noqa: S314 (expat: no external entities, no entity expansion bombs)
    except (OSError, KeyError, zipfile.BadZipFile, ET.ParseError) as error:
        raise UnreadableProject(f"cannot read {path}: {error}") from None
    if root.tag != f"{Q}Project":
        raise UnreadableProject(f"{path} is not a REFI-QDA project (root {root.tag})")
    return root


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")[:60] or "code"


def _import_codes(root: ET.Element, result: QdpxImport) -> dict[str, ReasonCode]:
    """Codes by GUID: matched by their Winback key (or a key made from the name), created when missing."""
    existing = {c.code: c for c in db.session.scalars(select(ReasonCode))}
    by_guid: dict[str, ReasonCode] = {}

    def walk(element: ET.Element, parent: ReasonCode | None) -> None:
        for node in element.findall(f"{Q}Code"):
            description = node.findtext(f"{Q}Description") or ""
            trailer = TRAILER.search(description)
            definition = TRAILER.sub("", description).strip() or None
            key = (
                trailer["code"]
                if trailer
                else (f"{parent.code}." if parent else "") + _slug(node.get("name", ""))
            )
            code = existing.get(key)
            if code is None:
                code = ReasonCode(
                    code=key,
                    parent=parent,
                    label=(node.get("name") or key).strip()[:200],
                    definition=definition,
                    polarity=Polarity(trailer["polarity"]) if trailer else Polarity.BOTH,
                    active=node.get("isCodable", "true") == "true" and not (trailer and trailer["retired"]),
                )
                db.session.add(code)
                existing[key] = code
                result.codes += 1
            by_guid[node.get("guid", "")] = code
            walk(node, code)

    codebook = root.find(f"{Q}CodeBook/{Q}Codes")
    if codebook is not None:
        walk(codebook, None)
    db.session.flush()
    return by_guid


def _coder(
    user_guid: str | None, users: dict[str, str], people: dict[str, User]
) -> tuple[str, User | None, str | None]:
    """The coder key of a REFI user: a Winback user of that name, else an imported coder."""
    name = users.get(user_guid or "", "")
    person = people.get(name.lower()) if name else None
    if person is not None:
        return f"user:{person.id}", person, None
    plain = "" if name == "imported codings" else name.removesuffix(" (imported)")
    return (f"import:{plain}" if plain else "import"), None, plain or None


def import_qdpx(path: Path, *, now: datetime) -> QdpxImport:
    """Load a `.qdpx`: missing codes are added, each text source becomes an imported answer and each coded
    segment an imported coding. A bad segment is reported and skipped; the rest is kept."""
    root = read_project(path)
    result = QdpxImport()
    codes = _import_codes(root, result)
    users = {u.get("guid", ""): u.get("name", "") for u in root.iter(f"{Q}User")}
    people = {u.name.strip().lower(): u for u in db.session.scalars(select(User))}
    for source in root.iter(f"{Q}TextSource"):
        text = source.findtext(f"{Q}PlainTextContent")
        name = source.get("name") or ""
        if text is None:
            result.errors.append({"source": name, "message": "no inline text (PlainTextContent): skipped"})
            continue
        answer = _imported_answer(source.get("guid", ""), name, text, now=now, result=result)
        for selection in source.findall(f"{Q}PlainTextSelection"):
            _import_selection(selection, answer, text, codes, (users, people), now=now, result=result)
    db.session.flush()
    return result


def _imported_answer(
    source_guid: str, name: str, text: str, *, now: datetime, result: QdpxImport
) -> ImportedAnswer:
    key = f"qdpx:{source_guid}"
    answer = db.session.scalar(select(ImportedAnswer).where(ImportedAnswer.external_key == key))
    if answer is None:
        answer = ImportedAnswer(external_key=key, question=name or None, text=text, created_at=now)
        db.session.add(answer)
        db.session.flush()
        result.answers += 1
    return answer


def _import_selection(selection, answer, text, codes, coders, *, now, result) -> None:
    try:
        start, end = int(selection.get("startPosition", "")), int(selection.get("endPosition", ""))
    except ValueError:
        result.errors.append({"source": answer.question or "", "message": "a segment has no valid position"})
        return
    if not 0 <= start < end <= len(text):
        result.errors.append(
            {"source": answer.question or "", "message": f"segment {start}-{end} is outside the text"}
        )
        return
    whole = (start, end) == (0, len(text))
    for coding in selection.findall(f"{Q}Coding"):
        target = coding.find(f"{Q}CodeRef")
        code = codes.get(target.get("targetGUID", "") if target is not None else "")
        if code is None:
            result.errors.append(
                {"source": answer.question or "", "message": "a coding names a code not in the codebook"}
            )
            continue
        key, person, name = _coder(coding.get("creatingUser"), *coders)
        if db.session.scalar(
            select(Coding.id).where(
                Coding.imported_answer_id == answer.id,
                Coding.reason_code_id == code.id,
                Coding.coder_key == key,
            )
        ):
            continue
        db.session.add(
            Coding(
                imported_answer_id=answer.id,
                reason_code_id=code.id,
                source=CoderKind.IMPORT,
                coder_id=person.id if person else None,
                coder_name=name,
                coder_key=key,
                confidence=1.0,
                status=CodingStatus.CONFIRMED,
                span_start=None if whole else start,
                span_end=None if whole else end,
                created_at=now,
                decided_at=now,
            )
        )
        db.session.flush()
        result.codings += 1

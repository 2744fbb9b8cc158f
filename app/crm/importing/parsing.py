"""Read real CRM export files as a stream of rows: any usual encoding, delimiter or XLSX."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

from app.errors import DomainError

DELIMITERS = (",", ";", "\t", "|")
XLSX_MAGIC = b"PK\x03\x04"


class UnreadableFile(DomainError):
    """The file is not a table this import understands (nothing of it can be imported)."""

    code = "unreadable_file"


def _cp1252_fallback(error: UnicodeDecodeError) -> tuple[str, int]:
    """Decode the bytes UTF-8 refused as Windows-1252: mixed files (a cp1252 cell in UTF-8) happen."""
    bad = error.object[error.start : error.end]
    return bad.decode("cp1252", errors="replace"), error.end


codecs.register_error("winback_cp1252", _cp1252_fallback)


@dataclass
class Row:
    line: int  # the file line where the row starts (the header is line 1)
    cells: list[str]  # each stripped of surrounding spaces


@dataclass
class Table:
    """A readable file: its header, and its rows streamed on demand."""

    header: list[str]
    encoding: str
    delimiter: str | None
    rows: Iterator[Row]
    tell: callable = field(default=lambda: 0)  # bytes read so far, for the progress bar
    close: callable = field(default=lambda: None)
    keep: object = None  # the text wrapper: collecting it would close the file under the reader

    def position(self) -> int:
        try:
            return self.tell()
        except ValueError:  # already closed
            return 0


def detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # UTF-16 without a BOM: every other byte of an ASCII header is NUL.
    if len(head) >= 4 and head[1] == 0 and head[3] == 0:
        return "utf-16-le"
    if len(head) >= 4 and head[0] == 0 and head[2] == 0:
        return "utf-16-be"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 3:  # not just a character cut in half at the end of the sample
            return "cp1252"
    return "utf-8"


def sniff_delimiter(first_line: str) -> str:
    """The candidate found most often in the header line, outside quotes; a comma when in doubt."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in first_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _clean(cells: list[str]) -> list[str]:
    return [cell.strip() for cell in cells]


def _csv_table(stream: BinaryIO) -> Table:
    head = stream.read(65536)
    stream.seek(0)
    encoding = detect_encoding(head)
    errors = "winback_cp1252" if encoding == "utf-8" else "replace"
    text = io.TextIOWrapper(stream, encoding=encoding, errors=errors, newline="")
    first = text.readline()
    if not first.strip():
        raise UnreadableFile("The file is empty: there is no header row")
    delimiter = sniff_delimiter(first)
    text.seek(0)
    reader = csv.reader(text, delimiter=delimiter)
    try:
        header = _clean(next(reader))
    except csv.Error as error:
        raise UnreadableFile(f"The header row could not be read: {error}") from None
    if len([h for h in header if h]) < 2:
        raise UnreadableFile("The header row has fewer than two columns: is this a CSV or XLSX export?")

    def rows() -> Iterator[Row]:
        previous = reader.line_num
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                raise UnreadableFile(f"Line {previous + 1} could not be read: {error}") from None
            start, previous = previous + 1, reader.line_num
            cells = _clean(cells)
            if any(cells):  # blank lines are skipped
                yield Row(start, cells)

    return Table(
        header=header, encoding=encoding, delimiter=delimiter, rows=rows(), tell=stream.tell, keep=text
    )


def _xlsx_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _xlsx_table(stream: BinaryIO) -> Table:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a damaged file
        raise UnreadableFile(f"The XLSX file could not be opened: {error}") from None
    sheet = workbook.worksheets[0]
    values = sheet.iter_rows(values_only=True)
    try:
        header = [_xlsx_cell(v) for v in next(values)]
    except StopIteration:
        raise UnreadableFile("The spreadsheet is empty: there is no header row") from None
    while header and not header[-1]:
        header.pop()
    width = len(header)

    def rows() -> Iterator[Row]:
        for number, row in enumerate(values, start=2):
            cells = [_xlsx_cell(v) for v in row[:width]]
            if any(cells):
                yield Row(number, cells)

    return Table(
        header=header, encoding="xlsx", delimiter=None, rows=rows(), tell=stream.tell, close=workbook.close
    )


def open_table(path: str | Path) -> Table:
    """Open a CSV/TSV/XLSX export for streaming; raise UnreadableFile when it is not one."""
    try:
        stream = open(path, "rb")  # noqa: SIM115 (closed by Table.close)
    except OSError as error:
        raise UnreadableFile(f"The file could not be opened: {error.strerror}") from None
    magic = stream.read(4)
    stream.seek(0)
    try:
        table = _xlsx_table(stream) if magic == XLSX_MAGIC else _csv_table(stream)
    except Exception:
        stream.close()
        raise
    inner_close = table.close

    def close() -> None:
        inner_close()
        stream.close()

    table.close = close
    return table

"""Files the app hands out: attachment headers, and the one CSV writer every export uses."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any, TextIO
from urllib.parse import quote

from flask import Response

CSV_BOM = "\ufeff"  # every CSV the app writes starts with it, so that Excel reads the file as UTF-8

# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets (OWASP's list):
# an account name "=HYPERLINK(...)" or a next step "=cmd|..." from a CRM or a customer must stay text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text: a leading formula character is neutralised with a quote."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def unguarded_cell(text: str) -> str:
    """The value `safe_cell` was given, for files the app reads back (an exported codebook re-imported)."""
    if text[:1] == "'" and text[1:2] and text[1:2] in FORMULA_STARTS:
        return text[1:]
    return text


class GuardedCsvWriter:
    """csv.writer whose every cell goes through `safe_cell`; the file starts with a UTF-8 BOM."""

    def __init__(self, out: TextIO, *, bom: bool = True) -> None:
        if bom:
            out.write(CSV_BOM)
        self._writer = csv.writer(out, lineterminator="\r\n")

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_text(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> str:
    """A whole CSV file as text: BOM, guarded header and rows."""
    buffer = io.StringIO()
    writer = GuardedCsvWriter(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def csv_attachment(filename: str, text: str) -> Response:
    """An attachment response for CSV text written by `GuardedCsvWriter`."""
    return Response(text, mimetype="text/csv", headers={"Content-Disposition": content_disposition(filename)})


def csv_response(filename: str, header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> Response:
    """A table as a guarded CSV attachment."""
    return csv_attachment(filename, csv_text(header, rows))


def content_disposition(filename: str) -> str:
    """An attachment header for any file name: quotes, control characters and line breaks cannot escape.

    An ASCII fallback for old clients, and the exact name in RFC 6266's filename* form when it differs.
    """
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r"[^A-Za-z0-9._ ()-]+", "_", ascii_name).strip(" .") or "download"
    header = f'attachment; filename="{ascii_name}"'
    if ascii_name != filename:
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header

"""A file's rows cleaned in batches for the import: records (or accounts) to upsert, row errors, and the
rows skipped as unchanged."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from itertools import compress
from operator import add

from app.crm.importing.formats import Mapping
from app.crm.importing.models import Severity
from app.crm.importing.parsing import Table
from app.crm.importing.records import AccountIn, ImportSettings, Record, RowErrors, RowReader
from app.crm.importing.upsert import Upserter
from app.crm.importing.values import WINBACK_ID, winback_number
from app.crm.signals import winback_ids_linked
from app.errors import ValidationError


def _key_fingerprint(crm_id: str) -> int:
    """64 bits that tell the file's keys apart: hash() is a keyed SipHash, stable within one process."""
    return hash(crm_id)


def _warning(line: int, cells: list[str], warnings: list) -> dict:
    """One row imported with values left out, as a row of the error file marked as a warning."""
    return {
        "line": line,
        "column": warnings[0].field,
        "message": "; ".join(w.message for w in warnings),
        "raw": cells,
        "severity": Severity.WARNING,
    }


class RowFingerprint:
    """The digest of a row's filled cells, each with its column's name.

    An empty cell is left out, so a file that gains a new, empty column (a "Winback ID" added for the
    push) re-imports as unchanged; a filled one changes the digest, as the value is stored.
    """

    def __init__(self, signature: bytes, header: list[str]) -> None:
        self.seed = hashlib.blake2b(signature, digest_size=16)
        self.labels = [f"{name}\x1e" for name in header]

    def __call__(self, cells: list[str]) -> str:
        # Each name paired with its cell and the empty ones dropped by map() and compress(), in C: the
        # same text as pairing them one by one in a generator, in about half the time.
        digest = self.seed.copy()
        digest.update("\x1f".join(compress(map(add, self.labels, cells), cells)).encode())
        return digest.hexdigest()


def _signature(mapping: Mapping, settings: ImportSettings) -> bytes:
    """What besides the row decides the stored values: a mapping or setting change re-imports every row."""
    parts = (
        sorted(mapping.columns.items()),
        mapping.lost_stages,
        mapping.won_stages,
        mapping.key,
        mapping.key_columns,
        vars(settings),
    )
    return repr(parts).encode()


def record_batches(
    table: Table, mapping: Mapping, settings: ImportSettings, size: int, upserter: Upserter
) -> Iterator[tuple[list[Record], list[dict], int]]:
    """Clean rows in batches: (records to upsert, errors, rows skipped as unchanged).

    A row whose raw cells hash to the stored import hash is unchanged and is not even parsed: this is
    what makes a re-import fast. Duplicates of an earlier row of the file are reported.
    """
    seen: set[int] = set()  # 8-byte fingerprints: bounded memory even for a million rows
    fingerprint_of = RowFingerprint(_signature(mapping, settings), table.header)
    id_spec = mapping.columns.get("crm_id", "")
    id_index = table.header.index(id_spec) if mapping.key == "id" and id_spec in table.header else None
    chunk: list = []
    reader = RowReader(table.header, mapping, settings)
    claims = WinbackClaims(table.header, mapping.crm_source)

    def flush(rows) -> tuple[list[Record], list[dict], int]:
        records, errors, skipped = [], [], 0
        fingerprints = [fingerprint_of(row.cells) for row in rows]
        linked = claims.linked(rows)
        stored = {}
        if id_index is not None:
            ids = {row.cells[id_index] for row in rows if len(row.cells) > id_index and row.cells[id_index]}
            stored = upserter.stored_hashes(ids)
        for row, fingerprint in zip(rows, fingerprints, strict=True):
            if id_index is not None and len(row.cells) > id_index:
                crm_id = row.cells[id_index]
                if crm_id and stored.get(crm_id) == fingerprint:
                    key = _key_fingerprint(crm_id)
                    if key not in seen:
                        seen.add(key)
                        skipped += 1
                        continue
            try:
                record = reader.read(row.cells)
            except RowErrors as error:
                errors.append(
                    {"line": row.line, "column": error.field, "message": error.message, "raw": row.cells}
                )
                continue
            key = _key_fingerprint(record.crm_id)
            if key in seen:
                shown = record.crm_id.removeprefix("nk:")
                errors.append(
                    {
                        "line": row.line,
                        "column": mapping.columns.get("crm_id"),
                        "raw": row.cells,
                        "message": f"'{shown}' is in this file twice; only its first row counts",
                    }
                )
                continue
            seen.add(key)
            record.fingerprint = fingerprint
            records.append(record)
            claims.check(record, linked)
            if record.warnings:
                errors.append(_warning(row.line, row.cells, record.warnings))
        return records, errors, skipped

    for row in table.rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield flush(chunk)
            chunk = []
    if chunk:
        yield flush(chunk)


class WinbackClaims:
    """A row whose Winback ID is already linked to another CRM deal, or claimed by an earlier row of the
    import: imported without the claim, with a warning naming both deals."""

    def __init__(self, header: list[str], source: str) -> None:
        self.index = header.index(WINBACK_ID) if WINBACK_ID in header else None
        self.source = source
        self.claimed: dict[int, str] = {}  # by an earlier row of this import: the first claim wins

    def linked(self, rows) -> dict[int, str]:
        """{Winback number: CRM id of the deal it is linked to} for the numbers on these rows."""
        if self.index is None:
            return {}
        cells = (row.cells[self.index] for row in rows if len(row.cells) > self.index)
        numbers = {number for number in map(winback_number, cells) if number is not None}
        found: dict[int, str] = {}
        if numbers:
            for _listener, answer in winback_ids_linked.send(self.source, numbers=numbers):
                found.update(answer or {})
        return found

    def check(self, record: Record, linked: dict[int, str]) -> None:
        shown = record.raw.get(WINBACK_ID)
        number = winback_number(shown) if shown else None
        if number is None:
            return
        linked_to = linked.get(number)
        earlier = self.claimed.setdefault(number, record.crm_id)
        if linked_to not in (None, record.crm_id):
            message = (
                f"Winback ID {shown.strip().upper()} is already linked to the CRM deal {linked_to}: "
                f"this deal ({record.crm_id}) was imported without the link"
            )
        elif linked_to is None and earlier != record.crm_id:
            message = (
                f"Winback ID {shown.strip().upper()} is claimed by the CRM deal {earlier} on an earlier row: "
                f"this deal ({record.crm_id}) was imported without the link"
            )
        else:
            return
        record.warnings.append(ValidationError(message, field=WINBACK_ID))
        # Imported without the claim, so that the link goes to the deal that holds it.
        record.raw = {k: v for k, v in record.raw.items() if k != WINBACK_ID}


def account_batches(
    table: Table, mapping: Mapping, settings: ImportSettings, size: int
) -> Iterator[tuple[list[AccountIn], list[dict], int]]:
    """The rows of an account file, cleaned in batches: (accounts, errors, 0). Duplicates are reported."""
    reader = RowReader(table.header, mapping, settings)
    seen: set[int] = set()
    accounts: list[AccountIn] = []
    errors: list[dict] = []
    for row in table.rows:
        try:
            account = reader.read_account(row.cells)
        except RowErrors as error:
            errors.append(
                {"line": row.line, "column": error.field, "message": error.message, "raw": row.cells}
            )
        else:
            key = _key_fingerprint(account.crm_id)
            if key in seen:
                shown = account.crm_id.removeprefix("name:")
                message = f"Account '{shown}' is in this file twice; only its first row counts"
                column = mapping.columns.get("account_crm_id") or mapping.columns.get("account_name")
                errors.append({"line": row.line, "column": column, "message": message, "raw": row.cells})
            else:
                seen.add(key)
                accounts.append(account)
                if reader.warnings:
                    errors.append(_warning(row.line, row.cells, reader.warnings))
        if len(accounts) + len(errors) >= size:
            yield accounts, errors, 0
            accounts, errors = [], []
    if accounts or errors:
        yield accounts, errors, 0

"""What every CRM connection offers the sync (one module per CRM behind this interface), its faults, the
retry policy for rate limits and outages, and the pulled records as a table the file import reads."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from app.crm.importing.formats import LOST_STAGES, WON_STAGES, Mapping
from app.crm.importing.parsing import Row, Table, UnreadableFile
from app.crm.importing.values import WINBACK_ID

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 300.0  # a longer Retry-After is a run for later, not a wait


class CrmUnavailable(UnreadableFile):
    """The CRM cannot be read or written now (refused credentials, outage past the retries).

    An UnreadableFile: a pull that stops part way fails its import batch, keeping the rows before it.
    """

    code = "crm_unavailable"


@dataclass
class RetryPolicy:
    """Retry HTTP 429 and 5xx, waiting what Retry-After says, else an exponential backoff.

    sleep is a collaborator so that tests do not wait.
    """

    sleep: Callable[[float], None] = time.sleep
    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    waits: list[float] = field(default_factory=list)  # what was waited, for the run's log and tests

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """Seconds to wait before attempt number attempt + 1 (attempt counts from 0)."""
        given = _retry_after_seconds(retry_after)
        if given is not None:
            return min(given, MAX_RETRY_AFTER)
        return min(self.max_delay, self.base_delay * 2**attempt)

    def wait(self, attempt: int, retry_after: str | None) -> None:
        seconds = self.delay(attempt, retry_after)
        self.waits.append(seconds)
        self.sleep(seconds)


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: a number of seconds, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(when.tzinfo)).total_seconds())


@dataclass
class PushOutcome:
    """What the CRM said about one deal's upsert."""

    winback_id: str
    crm_id: str | None = None
    created: bool = False
    error: str | None = None


@dataclass
class Pulled:
    """One record of the CRM flattened to the table's header, with its modification time."""

    cells: list[str]
    modified: datetime | None


class Connector(Protocol):
    """A CRM as the sync sees it."""

    source: str  # "salesforce" or "hubspot": the CRM source the imported opportunities carry

    def header(self) -> list[str]:
        """The table's columns; one of them is WINBACK_ID, so a later link reads the deal's Winback ID."""

    def columns(self) -> dict[str, str]:
        """Which column feeds which import field (formats.FIELDS)."""

    def pull(self, since: datetime | None) -> Iterator[list[Pulled]]:
        """Pages of the closed (and Winback-tagged) deals changed at or after since, oldest first."""

    def expected(self) -> int:
        """How many records the pull announced (0 before the first page)."""

    def push(self, deals: list[dict[str, Any]]) -> list[PushOutcome]:
        """Upsert each deal by its Winback ID (the external id): a second push updates, never duplicates."""


@contextmanager
def tree_parsing() -> Iterator[None]:
    """The cyclic garbage collector paused while a page of JSON is read and parsed.

    A parsed JSON document is a tree: it holds no reference cycle, so the collector has nothing to find
    in it. Yet each page is tens of thousands of dicts alive at once, and the collector kept walking
    them, young and then again once promoted: in a 100,000-row pull it ran 126 times against the file
    import's 18. Process-wide like collector.relaxed_collector; turned back on only by whoever turned it
    off.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def text(value: Any) -> str:
    """A CRM value as the import reads a cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def sync_mapping(connector: Connector) -> Mapping:
    """The import mapping of a connector's table: its columns, the usual won/lost stages."""
    fmt = "salesforce_api" if connector.source == "salesforce" else connector.source
    return Mapping(
        format=fmt,
        columns=connector.columns(),
        lost_stages=list(LOST_STAGES),
        won_stages=list(WON_STAGES),
        name=f"{connector.source} sync",
    )


class PullTable:
    """The records of a pull as the import's Table: rows streamed page by page, the newest time kept."""

    def __init__(self, connector: Connector, since: datetime | None) -> None:
        self.connector = connector
        self.since = since
        self.read = 0
        self.newest: datetime | None = None
        header = connector.header()
        if WINBACK_ID not in header:
            raise ValueError("a sync table carries the Winback ID column")
        self.table = Table(
            header=header, encoding="utf-8", delimiter=None, rows=self._rows(), tell=lambda: self.read
        )

    def _rows(self) -> Iterator[Row]:
        for page in self.connector.pull(self.since):
            for record in page:
                self.read += 1
                if record.modified and (self.newest is None or record.modified > self.newest):
                    self.newest = record.modified
                yield Row(line=self.read + 1, cells=record.cells)  # line 1 is the header, as in a file

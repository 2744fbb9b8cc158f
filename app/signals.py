"""Every signal of Winback: who sends it, who listens, in which transaction, in what order.

A lower layer tells higher layers that something happened without importing them: it sends a signal
made by `signal()` below, and a higher layer's `init_app` connects its listeners. Listeners run in the
order they connected, which is the order of `create_app`'s PACKAGES (lowest layer first), and they run
inside the sender's transaction: they add and flush, the sender's caller commits once (or rolls
everything back). `CATALOGUE` is the written record; tests/test_signals.py holds the listeners that
`create_app` registers to it, so a new listener is written down here or the test fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableSet
from dataclasses import dataclass
from typing import Any

from blinker import NamedSignal


class OrderedSet(MutableSet):
    """A set that iterates in insertion order, so blinker calls listeners in the order they connected."""

    def __init__(self, items: Iterable[Any] = ()) -> None:
        self._items = dict.fromkeys(items)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: Any) -> None:
        self._items[item] = None

    def discard(self, item: Any) -> None:
        self._items.pop(item, None)

    def copy(self) -> OrderedSet:
        return OrderedSet(self._items)


class OrderedSignal(NamedSignal):
    set_class = OrderedSet  # type: ignore[assignment]


_signals: dict[str, OrderedSignal] = {}


def signal(name: str) -> OrderedSignal:
    """The signal called `name` (one per name), whose listeners run in the order they connected."""
    if name not in _signals:
        _signals[name] = OrderedSignal(name)
    return _signals[name]


@dataclass(frozen=True)
class SignalEntry:
    signal: str  # "module:attribute"
    sent_by: str
    transaction: str
    listeners: tuple[str, ...]  # "module.function", in the order they run


CATALOGUE = (
    SignalEntry(
        "app.messaging.signals:contact_opted_out",
        "app.messaging.service.opt_out_contact (links, STOP replies, callers' do-not-call, Twilio 21610)",
        "the opt-out's own: the view, webhook or worker that recorded it commits",
        ("campaigns.signals._on_contact_opted_out",),  # ends enrollments, cancels call tasks
    ),
    SignalEntry(
        "app.crm.signals:opportunities_imported",
        "app.crm.importing.service (file imports, CRM pulls) and app.api.views (the push API)",
        "the import's, after its rows are flushed",
        ("app.pipeline.signals._on_opportunities_imported",),  # links recycled deals, answers how many
    ),
    SignalEntry(
        "app.crm.signals:deal_pushed",
        "app.crm.sync.service.push_waiting, for each deal the CRM took (the live sync's push)",
        "the sync run's: the CLI or the worker's job commits",
        ("app.pipeline.signals._on_deal_pushed",),  # the CRM's id onto the requalification
    ),
    SignalEntry(
        "app.crm.signals:winback_ids_linked",
        "app.crm.importing.cleaning, per batch of rows carrying Winback IDs (listeners answer)",
        "read only, inside the import's",
        ("app.pipeline.signals._on_winback_ids_linked",),  # which of them are linked, to which deal
    ),
    SignalEntry(
        "app.crm.signals:competitors_merged",
        "app.crm.competitors.merge_competitors",
        "the admin's merge request",
        ("campaigns.import_matches.follow_competitor_merge",),  # targeting rules follow the survivor
    ),
    SignalEntry(
        "app.crm.signals:contacts_relocated",
        "app.crm.importing.upsert (file imports, the push API) and app.crm.contacts (the contact page)",
        "the import's or the page's, after the contacts are flushed",
        ("campaigns.signals._on_contacts_relocated",),  # the call queue re-places their open tasks
    ),
    SignalEntry(
        "app.codebook.signals:codes_merging",
        "app.codebook.service.merge_codes, before the references move",
        "the codebook admin's merge request",
        ("app.coding.signals._on_codes_merging",),  # drops what would become duplicates
    ),
    SignalEntry(
        "app.codebook.signals:codes_merged",
        "app.codebook.service.merge_codes, after the references moved",
        "the codebook admin's merge request",
        ("app.coding.signals._on_codes_merged",),  # recounts the opportunities' stated reasons
    ),
    SignalEntry(
        "app.codebook.signals:codes_merge_preview",
        "app.codebook.changes.merge_preview and retire_preview, before asking (nothing changes)",
        "the codebook editor's merge or retire request, which only reads",
        ("app.coding.signals._on_merge_preview",),  # counts answers recoded, rules moved, deals affected
    ),
    SignalEntry(
        "app.codebook.signals:codes_unmerged",
        "app.codebook.changes.undo, after a merge's references moved back",
        "the codebook editor's undo request",
        ("app.coding.signals._on_codes_unmerged",),  # recounts the deals either code explains
    ),
    SignalEntry(
        "app.codebook.signals:codes_moved",
        "app.codebook.service.move_code (the move page, and a merge or its undo moving the sub-codes)",
        "the codebook editor's move, merge or undo request",
        ("app.coding.signals._on_codes_moved",),  # marks again the first reason of each theme of their deals
    ),
    SignalEntry(
        "surveys.signals:response_completed",
        "surveys.responding, once per response, when it becomes complete (web or phone)",
        "the respondent's (or the caller's) request that completed it",
        (
            "campaigns.signals._on_response_completed",  # the invitation and enrollment are completed
            "app.coding.signals._on_response_completed",  # choice answers coded by their options
            "app.pipeline.signals._on_response_completed",  # requalification, reading those codes
        ),
    ),
    SignalEntry(
        "surveys.signals:version_published",
        "surveys.builder.publish",
        "the publishing request",
        ("campaigns.signals._on_version_published",),  # campaigns invite to the new version
    ),
    SignalEntry(
        "surveys.signals:survey_uses",
        "surveys.signals.uses_of (asked before publishing; listeners return what uses the survey)",
        "read only",
        ("campaigns.signals._campaigns_using",),
    ),
    SignalEntry(
        "surveys.signals:reminder_wordings_asked",
        "surveys.invitations.reminder_wordings (asked before reminders are queued: worker and CLI)",
        "the reminder run's, read only",
        ("campaigns.invitations.campaign_wordings",),  # a campaign's words, or none when it is not active
    ),
    SignalEntry(
        "campaigns.calls.signals:call_requalified",
        "campaigns.calls.dispositions, when a caller records the requalified disposition",
        "the disposition's, after the attempt is flushed",
        ("app.pipeline.signals._on_call_requalified",),  # the requalification for review
    ),
)

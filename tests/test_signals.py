"""The signal catalogue (app/signals.py) is the truth: the listeners create_app connects are the ones it
lists, in its order."""

from __future__ import annotations

from importlib import import_module

import pytest
from blinker import ANY

from app.signals import CATALOGUE, OrderedSet, OrderedSignal


def _signal(path: str):
    module, name = path.split(":")
    return getattr(import_module(module), name)


def _listeners(sig) -> list[str]:
    return [f"{receiver.__module__}.{receiver.__qualname__}" for receiver in sig.receivers_for(ANY)]


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda entry: entry.signal)
def test_the_registered_listeners_are_the_catalogued_ones_in_order(app, entry):
    assert _listeners(_signal(entry.signal)) == list(entry.listeners)


def test_every_signal_of_the_app_is_in_the_catalogue(app):
    from app.signals import _signals

    catalogued = {_signal(entry.signal).name for entry in CATALOGUE}
    assert set(_signals) == catalogued


def test_listeners_run_in_the_order_they_connected():
    calls: list[int] = []
    sig = OrderedSignal("not-in-the-app")
    listeners = [lambda _sender, n=n: calls.append(n) for n in range(20)]
    for listener in reversed(listeners):  # connected last to first
        sig.connect(listener)
    sig.send(None)
    assert calls == list(range(19, -1, -1))
    ordered = OrderedSet([3, 1, 2])
    ordered.discard(1)
    assert list(ordered | OrderedSet([0])) == [3, 2, 0]

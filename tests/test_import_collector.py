"""The import relaxes the garbage collector while it runs, and always puts it back."""

from __future__ import annotations

import gc

import pytest

from app.crm.importing.collector import BULK_THRESHOLD, relaxed_collector


def test_the_collector_is_relaxed_during_an_import_and_restored_after_nested_ones():
    before = gc.get_threshold()
    with relaxed_collector():
        assert gc.get_threshold()[0] == BULK_THRESHOLD
        assert gc.get_freeze_count() > 0
        with relaxed_collector():  # a second import in another thread
            assert gc.get_threshold()[0] == BULK_THRESHOLD
        assert gc.get_threshold()[0] == BULK_THRESHOLD  # the first one still runs
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_failing_import_restores_the_collector():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), relaxed_collector():
        raise RuntimeError("the file broke")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0

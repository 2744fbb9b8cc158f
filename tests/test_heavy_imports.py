"""A new app process loads none of the heavy libraries only a few of its paths need: the import and the
CRM sync at 1M rows must stay under 300 MB (bench/import_bench.py, bench/crm_sync_bench.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The phone geocoder's place names (about 100 MB), the workbook writer and the demo's fake names.
HEAVY = ("phonenumbers.geocoder", "openpyxl", "faker")

PROBE = """
import sys
from app import create_app
create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "a-test-key-long-enough-for-the-check"})
print(",".join(name for name in %r if name in sys.modules))
"""


def test_a_new_app_process_loads_no_heavy_library_it_does_not_need():
    result = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY,)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_the_recording_consent_still_finds_a_numbers_state():
    from campaigns.calls.consent import phone_state

    assert phone_state("+14155550123") == "CA"
    assert phone_state("+12125550123") == "NY"

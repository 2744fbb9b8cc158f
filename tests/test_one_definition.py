"""Each deal rule is written once (issue #18): no module, template or query spells out the lost, won or open
deal condition, or reads a deal's won/closed flags to decide its state, outside the rules themselves
(app/crm/deals.py in SQL, app.crm.models.deal_state in Python). The CRM's write side (imports, syncs, the
API) sets the flags and the API echoes them: it decides nothing."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RULES = {"app/crm/deals.py", "app/crm/models.py"}
# Where the flags are written from the CRM's data (or echoed as such), never read to count or filter.
WRITE_SIDE = ("app/crm/importing/", "app/crm/sync/", "app/api/service.py", "app/demo/generate.py")
# A deal's flags read: `Opportunity.is_won`, `opp.c.is_closed`, `recycled.is_won`, `r.is_closed` in Jinja...
READ = re.compile(r"\w\.(is_won|is_closed)\b")


def _sources():
    for folder in ("app", "campaigns", "surveys"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".html"):
                yield path, str(path.relative_to(ROOT))


def test_no_module_or_template_writes_a_deal_condition_of_its_own():
    found = [
        f"{name}:{number}: {line.strip()}"
        for path, name in _sources()
        if name not in RULES and not name.startswith(WRITE_SIDE)
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if READ.search(line)
    ]
    assert found == []

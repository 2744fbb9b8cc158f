"""Dead code: functions, methods, classes and properties nothing calls (vulture, set up in pyproject.toml).

Jinja templates call code too, which vulture cannot read: a name a template uses counts as used.
Data names (columns, dataclass fields, constants) are left out: templates, the database and forms read
them in ways no scan sees. Known exceptions live in `.ci/vulture_allowlist.py`, each with its reason.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from vulture.config import make_config
from vulture.core import Vulture

ROOT = Path(__file__).resolve().parents[1]
CODE_KINDS = {"function", "method", "class", "property"}
TEMPLATE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def names_used_in_templates() -> set[str]:
    names: set[str] = set()
    for template in ROOT.glob("**/templates/**/*.html"):
        if ".venv" not in template.parts:
            names.update(TEMPLATE_NAME.findall(template.read_text(encoding="utf-8")))
    return names


def main() -> int:
    config = make_config([], tomlfile=(ROOT / "pyproject.toml").open("rb"))
    vulture = Vulture(ignore_names=config["ignore_names"], ignore_decorators=config["ignore_decorators"])
    vulture.scavenge([str(ROOT / path) for path in config["paths"]], exclude=config["exclude"])
    in_templates = names_used_in_templates()
    dead = [
        item
        for item in vulture.get_unused_code(min_confidence=config["min_confidence"])
        if item.typ in CODE_KINDS and item.name not in in_templates
    ]
    for item in dead:
        print(item.get_report())
    return 1 if dead else 0


if __name__ == "__main__":
    sys.exit(main())

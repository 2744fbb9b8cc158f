"""Server-rendered SVG charts: geometry computed here, drawn by templates/reports/_charts.html.

No inline style or script (the Content-Security-Policy has no 'unsafe-inline'): colours come from CSS classes,
every bar carries its value as text, and the table beside each chart is its text alternative.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

WIDTH = 600
BAR_ROW = 44  # label line above the bar, then the bar
BAR_LEFT = 0
BAR_MAX = 470  # room for the value on the right
COLUMN_AREA = 180


@dataclass(frozen=True)
class Bar:
    label: str
    value_text: str
    width: float
    y: float
    href: str | None = None
    tone: int = 0  # CSS class bar-tone-N; the label, not the colour, says what a bar is


@dataclass(frozen=True)
class Column:
    label: str
    value_text: str
    x: float
    y: float
    width: float
    height: float


def _fraction(value, largest) -> float:
    if not largest:
        return 0.0
    return float(Decimal(value) / Decimal(largest))


def horizontal_bars(items, *, max_bars: int = 15) -> tuple[list[Bar], int]:
    """items: (label, value, value_text, href); returns the bars and the chart's height."""
    items = list(items)[:max_bars]
    largest = max((value for _, value, _, _ in items), default=0)
    bars = [
        Bar(
            label,
            text,
            max(2.0, round(BAR_MAX * _fraction(value, largest), 1)) if value else 0,
            i * BAR_ROW,
            href,
            i % 2,
        )
        for i, (label, value, text, href) in enumerate(items)
    ]
    return bars, max(BAR_ROW, len(bars) * BAR_ROW)


def columns(items) -> tuple[list[Column], int]:
    """items: (label, value, value_text) in order (months); returns the columns and the chart's height."""
    items = list(items)
    largest = max((value for _, value, _ in items), default=0)
    slot = WIDTH / max(1, len(items))
    step = -(-len(items) // 12)  # at most 12 labels under the columns; the table has every month
    result = []
    for i, (label, value, text) in enumerate(items):
        height = round(COLUMN_AREA * _fraction(value, largest), 1)
        shown = i % step == 0
        result.append(
            Column(
                label if shown else "",
                text if shown else "",
                round(i * slot + slot * 0.15, 1),
                20 + COLUMN_AREA - height,
                round(slot * 0.7, 1),
                height,
            )
        )
    return result, COLUMN_AREA + 50

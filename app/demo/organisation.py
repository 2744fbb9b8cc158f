"""The demo's organisation: who its customers see asking (name, postal address, logo, brand colour)."""

from __future__ import annotations

import struct
import zlib
from datetime import datetime

from app.organisation.service import update_organisation

DEMO_NAME = "Northbeam Software"
DEMO_ADDRESS = (
    "Northbeam Software, Inc.\n500 Howard Street, Suite 300\nSan Francisco, CA 94105\nUnited States"
)
DEMO_COLOUR = "#1d4ed8"


def _png(width: int, height: int, pixel) -> bytes:
    """A small RGB PNG drawn by `pixel(x, y) -> (r, g, b)` (no image library needed)."""
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def demo_logo() -> bytes:
    """A 48×48 mark: a blue square crossed by a light beam."""
    blue, light = (0x1D, 0x4E, 0xD8), (0xE0, 0xEA, 0xFF)
    return _png(48, 48, lambda x, y: light if abs((x + y) - 47) <= 5 else blue)


def load_demo_organisation(*, now: datetime) -> None:
    """Set the demo organisation; the caller commits."""
    update_organisation(
        name=DEMO_NAME, brand_colour=DEMO_COLOUR, postal_address=DEMO_ADDRESS, logo=demo_logo(), now=now
    )

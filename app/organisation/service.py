"""Organisation settings: checked on the way in (logo size and type, colour contrast), read as a Brand."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from app.errors import ValidationError
from app.extensions import db
from app.organisation.models import Organisation

LOGO_MAX_BYTES = 200 * 1024
MIN_CONTRAST = 4.5  # WCAG 1.4.3 for normal text; the colour is used for text and for button backgrounds
BRAND_TTL_SECONDS = 30  # other processes see a change within this time
_EXTENSION = "organisation.brand"
_HEX = re.compile(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")
# Raster images only, recognised by their first bytes (an SVG can carry script).
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


@dataclass(frozen=True)
class Brand:
    """What customers see, as plain values (shared safely between threads)."""

    name: str = ""
    colour: str | None = None
    postal_address: str = ""
    logo_version: str | None = None  # a digest of the logo, for cache-busting URLs; None: no logo

    @property
    def has_logo(self) -> bool:
        return self.logo_version is not None


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(colour: str) -> float:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(first: str, second: str) -> float:
    """The WCAG contrast ratio of two "#rrggbb" colours (1 to 21)."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _darken(colour: str, factor: float) -> str:
    return "#" + "".join(f"{round(int(colour[i : i + 2], 16) * factor):02x}" for i in (1, 3, 5))


def accessible_version(colour: str) -> str:
    """The same hue darkened just enough to reach MIN_CONTRAST on white."""
    factor = 1.0
    candidate = colour
    while contrast_ratio(candidate, "#ffffff") < MIN_CONTRAST and factor > 0:
        factor = round(factor - 0.02, 2)
        candidate = _darken(colour, factor)
    return candidate


def normalise_colour(raw: str) -> str | None:
    """ "#RGB" / "rrggbb" → "#rrggbb"; empty → None; refused with a suggestion below 4.5:1 on white."""
    raw = raw.strip()
    if not raw:
        return None
    match = _HEX.fullmatch(raw)
    if match is None:
        raise ValidationError("Enter a colour as #rrggbb, for example #1d4ed8.", field="brand_colour")
    digits = match.group(1).lower()
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    colour = f"#{digits}"
    ratio = contrast_ratio(colour, "#ffffff")
    if ratio < MIN_CONTRAST:
        raise ValidationError(
            f"{colour} has a contrast of {ratio:.1f}:1 on white; text and buttons need at least "
            f"{MIN_CONTRAST}:1 to be readable. Try {accessible_version(colour)}, the same colour darker.",
            field="brand_colour",
        )
    return colour


def check_logo(data: bytes) -> str:
    """The logo's media type; refused when too large or not a PNG, JPEG, GIF or WebP image."""
    if len(data) > LOGO_MAX_BYTES:
        raise ValidationError(
            f"The logo is {len(data) // 1024} KB; keep it under {LOGO_MAX_BYTES // 1024} KB.", field="logo"
        )
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise ValidationError("The logo must be a PNG, JPEG, GIF or WebP image.", field="logo")


def get_organisation() -> Organisation:
    """The organisation row, created empty on first use."""
    organisation = db.session.get(Organisation, 1)
    if organisation is None:
        organisation = Organisation(id=1, name="", postal_address="")
        db.session.add(organisation)
        db.session.flush()
    return organisation


def update_organisation(
    *,
    name: str,
    brand_colour: str,
    postal_address: str,
    now: datetime,
    logo: bytes | None = None,
    remove_logo: bool = False,
) -> Organisation:
    """Apply the settings form; every value is checked before anything changes."""
    name = " ".join(name.split())
    if len(name) > 200:
        raise ValidationError("Keep the name under 200 characters.", field="name")
    colour = normalise_colour(brand_colour)
    logo_type = check_logo(logo) if logo else None
    organisation = get_organisation()
    organisation.name = name
    organisation.brand_colour = colour
    organisation.postal_address = postal_address.strip()
    if logo:
        organisation.logo, organisation.logo_type = logo, logo_type
    elif remove_logo:
        organisation.logo = organisation.logo_type = None
    organisation.updated_at = now
    db.session.flush()
    forget_brand()
    return organisation


def read_brand() -> Brand:
    """The organisation as customers see it, read now (emails: one read per message is cheap)."""
    organisation = db.session.get(Organisation, 1)
    if organisation is None:
        return Brand()
    return Brand(
        name=organisation.name,
        colour=organisation.brand_colour,
        postal_address=organisation.postal_address,
        logo_version=hashlib.sha256(organisation.logo).hexdigest()[:16] if organisation.logo else None,
    )


def brand() -> Brand:
    """The organisation as customers see it, read at most every BRAND_TTL_SECONDS per app and process."""
    cached = current_app.extensions.get(_EXTENSION)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    value = read_brand()
    current_app.extensions[_EXTENSION] = (time.monotonic() + BRAND_TTL_SECONDS, value)
    return value


def forget_brand() -> None:
    current_app.extensions.pop(_EXTENSION, None)


def email_footer(current: Brand, *, unsubscribe_url: str | None, html: bool = False) -> str:
    """The footer every customer email carries: who sent it, their postal address (CAN-SPAM) and the
    unsubscribe link; rendered from organisation/email_footer.txt or .html (escaped in HTML)."""
    name = "email_footer.html" if html else "email_footer.txt"
    template = current_app.jinja_env.get_template(f"organisation/{name}")
    return template.render(
        name=current.name.strip(),
        address_lines=[line.strip() for line in current.postal_address.splitlines() if line.strip()],
        unsubscribe_url=unsubscribe_url,
    )


def missing_for_email() -> list[str]:
    """What the organisation still lacks before email campaigns may go out (CAN-SPAM), in words."""
    organisation = db.session.get(Organisation, 1)
    if organisation is None or not organisation.postal_address.strip():
        return ["the organisation's postal address"]
    return []

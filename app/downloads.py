"""Headers for files the app hands out."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

CSV_BOM = "\ufeff"  # every CSV the app writes starts with it, so that Excel reads the file as UTF-8


def content_disposition(filename: str) -> str:
    """An attachment header for any file name: quotes, control characters and line breaks cannot escape.

    An ASCII fallback for old clients, and the exact name in RFC 6266's filename* form when it differs.
    """
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r"[^A-Za-z0-9._ ()-]+", "_", ascii_name).strip(" .") or "download"
    header = f'attachment; filename="{ascii_name}"'
    if ascii_name != filename:
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header

"""Staff pages: the builder (admins) and responses (analysts and admins)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("surveys", __name__, template_folder="templates")

"""Routes declared in a module without touching the blueprint, added to it by an explicit call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint


class Routes:
    """`@routes.get(rule)` records a view; `routes.add_to(bp)` puts every recorded view on `bp`."""

    def __init__(self) -> None:
        self.rules: list[tuple[str, Callable, dict[str, Any]]] = []

    def route(self, rule: str, **options: Any) -> Callable[[Callable], Callable]:
        def record(view: Callable) -> Callable:
            self.rules.append((rule, view, options))
            return view

        return record

    def get(self, rule: str, **options: Any) -> Callable[[Callable], Callable]:
        return self.route(rule, methods=["GET"], **options)

    def post(self, rule: str, **options: Any) -> Callable[[Callable], Callable]:
        return self.route(rule, methods=["POST"], **options)

    def add_to(self, bp: Blueprint) -> None:
        for rule, view, options in self.rules:
            bp.add_url_rule(rule, view_func=view, **options)

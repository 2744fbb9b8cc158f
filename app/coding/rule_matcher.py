"""The keyword rules of the suggestions, compiled once and scanned for all at once."""

from __future__ import annotations

import re

from flask import current_app

from app.coding.service import any_rule_pattern, rule_pattern

RULES_CACHE = "winback.coding_rules"


class RuleMatcher:
    """The keyword rules compiled once, and one scan of a text for all of them.

    One combined pattern (`any_rule_pattern`) finds the positions where some rule matches; only
    there, and only for the rules whose first letter is the one found there, is each rule's own
    pattern tried, anchored. A rule matches a text exactly when it matches at one of those
    positions, so the result is that of searching every rule in turn, for a fraction of the cost:
    most texts match none, and the others at few places."""

    def __init__(self, rules: tuple[tuple[str, str], ...]) -> None:
        self.rules = [(code, f"rule “{phrase}”", rule_pattern(phrase)) for code, phrase in rules]
        self.any = any_rule_pattern(phrase for _, phrase in rules)
        # The first letter of each phrase, compared as the rule's pattern compares it (ignoring case).
        self._first = [re.compile(re.escape(phrase[0]), re.IGNORECASE) for _, phrase in rules]
        self._starting: dict[str, list[int]] = {}

    def _starting_with(self, letter: str) -> list[int]:
        rules = self._starting.get(letter)
        if rules is None:
            rules = [n for n, first in enumerate(self._first) if first.fullmatch(letter)]
            self._starting[letter] = rules
        return rules

    def matching(self, text: str) -> list[tuple[str, str]]:
        """(code, why) of each rule that matches `text`, in the rules' order."""
        found = self.any.search(text)
        if found is None:
            return []
        hits: set[int] = set()
        while found is not None:
            at = found.start()
            for n in self._starting_with(text[at]):
                if n not in hits and self.rules[n][2].match(text, at):
                    hits.add(n)
            found = self.any.search(text, at + 1)
        return [self.rules[n][:2] for n in sorted(hits)]


def rule_matcher(rules: tuple[tuple[str, str], ...]) -> RuleMatcher | None:
    """The matcher of these (code, phrase) rules, compiled once per app until the rules change."""
    if not rules:
        return None
    cached = current_app.extensions.get(RULES_CACHE)
    if cached and cached[0] == rules:
        return cached[1]
    matcher = RuleMatcher(rules)
    current_app.extensions[RULES_CACHE] = (rules, matcher)
    return matcher

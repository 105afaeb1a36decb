"""Helpers for the nwfilter tests: wrap rule bodies into filters, parse and print them."""

from __future__ import annotations

from guestwall.model.filter import Filter, Match
from guestwall.nwfilter import format_filter, parse_filter

UUID = "d54df46f-1ab5-4a22-8618-4560ef5fac2c"


def rule_doc(body: str, rule_attrs: str = "action='accept' direction='out'") -> str:
    return f"<filter name='t'><rule {rule_attrs}>{body}</rule></filter>"


def parse_rule_body(body: str, **kw: bool) -> Filter:
    return parse_filter(rule_doc(body), **kw)


def match_of(body: str) -> Match:
    rule = parse_rule_body(body).rules[0]
    assert rule.match is not None
    return rule.match


def rule_lines(body: str) -> str:
    """The printed protocol element lines of a one-rule filter (4-space indented, newline-terminated)."""
    text = format_filter(parse_rule_body(body))
    lines = text.splitlines(keepends=True)
    return "".join(line for line in lines if line.startswith("    "))

"""Field rules: read the parsed statement and fill a :class:`~nlp.rules.context.Context`.

A rule is a function ``rule(ctx) -> None`` that adds what it finds; rules run in order and a
field once filled is not overwritten, so the more reliable rules come first. The witness's own
details run before the account, because the account's rules skip what the witness details used
(a date of birth is not the incident date). To add a field, write a rule in the module for its
part of the statement and list it here.
"""

from __future__ import annotations

from collections.abc import Callable

from models.statement import Template
from nlp.rules import descriptions, details, entities, events, missing, witness
from nlp.rules.context import Context, Found

Rule = Callable[[Context], None]


def rules_for(template: Template) -> list[Rule]:
    """The rules for a template, in the order they run."""
    ordered: list[Rule] = list(witness.RULES)
    ordered += details.WITNESS_RULES
    if template is Template.MISSING_PERSON:
        ordered += missing.RULES
    ordered += events.RULES[template]
    ordered += entities.RULES
    ordered += descriptions.RULES  # after persons: it describes them
    if template is Template.MISSING_PERSON:
        ordered += details.MISSING_RULES  # after the name: they describe the missing person
    return ordered


def apply_rules(ctx: Context) -> Context:
    for rule in rules_for(ctx.template):
        rule(ctx)
    return ctx


__all__ = ["Context", "Found", "Rule", "apply_rules", "rules_for"]

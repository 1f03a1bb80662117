"""Safeguarding indicators: what must reach a safeguarding team before the statement is signed.

A referral goes out as soon as a draft carries a ``safeguarding`` flag (the twenty-minute
missing-child case), so these flags are read from fields the extractor already found, each
naming its evidence. This is the first, narrow set: a missing child and a weapon. The wider set
(vulnerable adults, domestic abuse, injuries, sexual offences, self-harm) belongs to the
extractor's accuracy work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from models import Field, Flag, Template, Weapon

# Under this age a missing person is a missing child (Children Act 1989).
CHILD_UNDER_AGE = 18


def safeguarding_flags(
    template: Template, fields: Mapping[str, Field], weapons: Sequence[Weapon]
) -> list[Flag]:
    flags: list[Flag] = []
    age = fields.get("missing.age")
    is_child = age is not None and isinstance(age.value, int) and age.value < CHILD_UNDER_AGE
    if template is Template.MISSING_PERSON and age is not None and is_child:
        flags.append(
            Flag(
                kind="safeguarding",
                field="missing.age",
                reason=f"missing child: aged {age.value} ({age.text!r})",
            )
        )
    for weapon in weapons:
        flags.append(
            Flag(
                kind="safeguarding",
                reason=f"weapon described: {weapon.value} "
                f"(characters {weapon.start_char}-{weapon.end_char})",
            )
        )
    return flags

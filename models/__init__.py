"""The domain: what a recording becomes.

`Transcript` is what the speech recogniser heard; `Statement` is what the extractor made of it.
Both serialise to the JSON contract in ``shared/statement-fields.md``. This package imports
nothing else of ours, so every other layer may depend on it.
"""

from models.statement import (
    Exchange,
    Field,
    Flag,
    Person,
    Statement,
    Template,
    Vehicle,
    Weapon,
)
from models.transcript import (
    OFFICER,
    UNKNOWN,
    WITNESS,
    AudioInfo,
    ModelInfo,
    Segment,
    Speaker,
    Transcript,
    Turn,
    Word,
)
from models.users import SYSTEM, Principal, Role

__all__ = [
    "OFFICER",
    "SYSTEM",
    "UNKNOWN",
    "WITNESS",
    "AudioInfo",
    "Exchange",
    "Field",
    "Flag",
    "ModelInfo",
    "Person",
    "Principal",
    "Role",
    "Segment",
    "Speaker",
    "Statement",
    "Template",
    "Transcript",
    "Turn",
    "Vehicle",
    "Weapon",
    "Word",
]

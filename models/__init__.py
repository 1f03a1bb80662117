"""The domain: what a recording becomes.

`Transcript` is what the speech recogniser heard; `Statement` is what the extractor made of it.
Both serialise to the JSON contract in ``shared/statement-fields.md``. This package imports
nothing else of ours, so every other layer may depend on it.
"""

from models.statement import Field, Flag, Person, Statement, Template, Vehicle, Weapon
from models.transcript import AudioInfo, ModelInfo, Segment, Transcript, Word
from models.users import SYSTEM, Principal, Role

__all__ = [
    "SYSTEM",
    "AudioInfo",
    "Field",
    "Flag",
    "ModelInfo",
    "Person",
    "Principal",
    "Role",
    "Segment",
    "Statement",
    "Template",
    "Transcript",
    "Vehicle",
    "Weapon",
    "Word",
]

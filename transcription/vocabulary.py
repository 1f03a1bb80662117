"""Vocabulary biasing: names Whisper should spell the way the force spells them.

Whisper's initial prompt is text it treats as what came before the recording, so place names
and police terms in it are more likely to be written correctly ("Penrith", not "Pen Rith";
"PCSO", not "PC SO"). The list is data (``data/vocabulary.txt``, or any file given by
``--vocabulary``); a force replaces it with its own towns and streets.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

# Whisper keeps at most 223 prompt tokens; English words average well under 4 characters a
# token, so 600 characters stays inside the window with room to spare.
MAX_PROMPT_CHARS = 600


def default_vocabulary_path() -> Path:
    return Path(str(resources.files("transcription") / "data" / "vocabulary.txt"))


def load_vocabulary(path: Path | None = None) -> list[str]:
    """Terms from a text file: one a line, ``#`` starts a comment, blank lines ignored."""
    text = (path or default_vocabulary_path()).read_text(encoding="utf-8")
    terms = []
    for line in text.splitlines():
        term = line.split("#", 1)[0].strip()
        if term and term not in terms:
            terms.append(term)
    return terms


def build_prompt(terms: list[str], *, max_chars: int = MAX_PROMPT_CHARS) -> str | None:
    """A prompt naming the terms in order, cut at a whole term before ``max_chars``, ending
    in a colon.

    How the list ends matters to Whisper tiny.en. Ended by a full stop, a comma or a semicolon,
    the same prompt made it begin the first window 20 to 40 s in, losing what came before (a
    witness's name, date of birth and address: dev recording 06, the two-voice dialogues); a
    comma also made it add "Thank you." to JFK. Ended by a colon, as a list that introduces
    what follows, every recording tried was heard from its first word and both engines wrote
    the same text. :func:`transcription.transcribe.transcribe_audio` also decodes again without
    the prompt whenever speech goes unheard, so a prompt can never lose speech silently.
    """
    prompt = ""
    for term in terms:
        candidate = f"{prompt}, {term}" if prompt else term
        if len(candidate) + 1 > max_chars:
            break
        prompt = candidate
    return prompt + ":" if prompt else None

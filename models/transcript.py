"""What the speech recogniser heard, with the timing and confidence of every word."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# The roles a voice in a recording can have. ``unknown``: not decided (a third voice, or no
# questions to tell the officer by).
OFFICER = "officer"
WITNESS = "witness"
UNKNOWN = "unknown"
ROLES = (OFFICER, WITNESS, UNKNOWN)


@dataclass(frozen=True)
class Word:
    """One recognised word. ``start``/``end`` are seconds into the original recording.

    ``speaker`` is the voice that said it ("S1", "S2", ...) when the recording was diarised,
    decided by the word's own timestamps; None otherwise.
    """

    word: str
    start: float
    end: float
    probability: float
    speaker: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.speaker is None:
            del out["speaker"]  # the contract's word shape when nobody asked who spoke
        return out


@dataclass(frozen=True)
class Segment:
    """A stretch of speech Whisper decoded in one go.

    ``avg_logprob`` is the mean token log-probability (below about -1 the text is doubtful);
    ``no_speech_prob`` is Whisper's belief that the window held no speech at all.
    """

    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Turn:
    """One voice speaking without another cutting in: the words of one speaker between two
    changes of speaker, in order. ``role`` is that speaker's role (see :class:`Speaker`)."""

    speaker: str
    role: str
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Speaker:
    """One voice found in a diarised recording, and how its role was decided.

    role_basis: ``enrolled_voice`` (matched against the officer's enrolled voice: ``similarity``
        is the cosine similarity of this voice to it), ``questions`` (proposed because this
        voice asked most of the questions: the officer must confirm it), ``officer_confirmed``
        (set by the officer) or ``none``.
    confirmed: True when the role needs no confirmation (an enrolled voice matched, or the
        officer said so); False for a proposal.
    questions: how many of this voice's sentences were questions.
    speech_s: seconds this voice spoke.
    """

    id: str
    role: str
    role_basis: str = "none"
    confirmed: bool = False
    similarity: float | None = None
    questions: int = 0
    speech_s: float = 0.0


@dataclass(frozen=True)
class AudioInfo:
    """The recording as received: kept so the transcript can be tied to the exact bytes."""

    sha256: str
    bytes: int
    format: str
    codec: str
    sample_rate_hz: int
    channels: int
    duration_s: float


@dataclass(frozen=True)
class ModelInfo:
    """Which weights produced the transcript, so a court can ask and be answered."""

    name: str
    engine: str
    sha256: str | None = None
    compute_type: str | None = None


@dataclass(frozen=True)
class Transcript:
    """A whole recording's transcript.

    ``text`` is the segments' text joined; ``language`` the ISO 639-1 code spoken (or detected);
    ``task`` is ``transcribe`` or ``translate`` (the text is then an English translation).
    """

    text: str
    language: str
    duration_s: float
    segments: tuple[Segment, ...] = ()
    task: str = "transcribe"
    audio: AudioInfo | None = None
    model: ModelInfo | None = None
    speech_s: float | None = field(default=None)
    # Who spoke when, for a recording diarised on request (``--speakers``): empty otherwise.
    turns: tuple[Turn, ...] = ()
    speakers: tuple[Speaker, ...] = ()

    @property
    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]

    @property
    def diarised(self) -> bool:
        return bool(self.speakers)

    def role_of(self, speaker: str | None) -> str:
        """The role of voice ``speaker`` ("unknown" when not diarised or not decided)."""
        for found in self.speakers:
            if found.id == speaker:
                return found.role
        return UNKNOWN

    def to_dict(self) -> dict[str, Any]:
        """The contract shape; optional provenance keys only where known."""
        out: dict[str, Any] = {
            "text": self.text,
            "language": self.language,
            "duration_s": round(self.duration_s, 3),
            "task": self.task,
            "segments": [
                {
                    "start": s.start,
                    "end": s.end,
                    "text": s.text,
                    "avg_logprob": s.avg_logprob,
                    "no_speech_prob": s.no_speech_prob,
                    "words": [w.to_dict() for w in s.words],
                }
                for s in self.segments
            ],
        }
        if self.speech_s is not None:
            out["speech_s"] = round(self.speech_s, 3)
        if self.audio is not None:
            out["audio"] = asdict(self.audio)
        if self.model is not None:
            out["model"] = asdict(self.model)
        if self.speakers:
            out["speakers"] = [asdict(s) for s in self.speakers]
            out["turns"] = [asdict(t) for t in self.turns]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        segments = tuple(
            Segment(
                start=float(s["start"]),
                end=float(s["end"]),
                text=s["text"],
                avg_logprob=float(s.get("avg_logprob", 0.0)),
                no_speech_prob=float(s.get("no_speech_prob", 0.0)),
                words=tuple(Word(**w) for w in s.get("words", [])),
            )
            for s in data.get("segments", [])
        )
        return cls(
            text=data["text"],
            language=data.get("language", "en"),
            duration_s=float(data.get("duration_s", 0.0)),
            segments=segments,
            task=data.get("task", "transcribe"),
            audio=AudioInfo(**data["audio"]) if data.get("audio") else None,
            model=ModelInfo(**data["model"]) if data.get("model") else None,
            speech_s=data.get("speech_s"),
            turns=tuple(Turn(**t) for t in data.get("turns", [])),
            speakers=tuple(Speaker(**s) for s in data.get("speakers", [])),
        )

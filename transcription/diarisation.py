"""Who spoke when: the voices of a recording told apart, and each word given to its voice.

A witness often gives the account as a conversation with the officer. To keep the officer's
questions out of the statement, the speech Silero VAD found is cut into short overlapping
windows, each window is turned into a voice embedding by a speaker encoder (Resemblyzer's
``VoiceEncoder``, whose trained weights ship inside its PyPI wheel), and the windows are
clustered by their cosine distance (scikit-learn's agglomerative clustering) into voices. Every
word Whisper heard is then given to the voice whose windows cover its own timestamps, not the
whole segment it came in: a question and its answer often share one Whisper segment.

A voice is the officer's when it matches the officer's enrolled voice (an embedding of a short
sample, stored in their account; never the audio). Without an enrolment no role is decided
here: the language side proposes the voice that asks the questions, for the officer to confirm.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from models import OFFICER, UNKNOWN, Segment, Speaker, Transcript, Turn, Word
from transcription.audio import SAMPLE_RATE
from transcription.errors import ModelError
from transcription.vad import SpeechRegion, VadOptions, detect_speech

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Vectors = NDArray[np.float32]

# The Resemblyzer encoder's weights, pinned like the Whisper weights: the SHA-256 of
# ``resemblyzer/pretrained.pt`` in the Resemblyzer 0.1.4 wheel (itself pinned by hash in
# requirements/speaker-encoder.txt).
RESEMBLYZER_WEIGHTS_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
RESEMBLYZER_NAME = "resemblyzer-0.1.4"

# At most this many voices when asked to find the number itself (``speakers=None``).
MAX_SPEAKERS = 6


@dataclass(frozen=True)
class DiarisationOptions:
    """Keyword options for telling voices apart.

    speakers: how many voices the recording holds; None to find out (up to ``max_speakers``).
    max_speakers: the most voices ``speakers=None`` may find.
    window_s: seconds of speech in one embedding window. Shorter windows follow quick turns
        more closely but tell voices apart less surely; a second holds a few syllables.
    step_s: seconds between the starts of two windows (windows overlap when it is less than
        ``window_s``); each moment of speech is judged by every window over it.
    same_voice_distance: when counting voices, two groups of windows whose average cosine
        distance is below this are one voice (Resemblyzer puts one voice's windows within
        about 0.3 of each other, two people's usually beyond 0.4).
    min_voice_s: a group of windows covering less speech than this is not a voice but the
        blur of a change of speaker; its windows go to the voice they sound most like.
    blur_share, blur_similarity: a group of windows under ``blur_share`` of the largest voice's
        and at least ``blur_similarity`` (cosine) like another voice is the blur of changes of
        speaker, not a voice of its own (measured on the synthetic dialogues: the blur groups
        sit at 0.82-0.85 to a voice; the officer and the witness 0.73-0.80 to each other; a
        third person 0.58).
    officer_similarity: the cosine similarity a voice must reach to the officer's enrolled
        voice to be taken as the officer's (the same voice scores about 0.8 and more;
        different voices mostly under 0.7).
    turn_pause_ms: the speech is cut at every pause at least this long (Silero VAD run again
        with this as its minimum silence) before it is windowed, so that no window holds the
        end of a question and the start of its answer: a short answer ("Thirty-eight.")
        between two questions is then judged on its own sound. None: window the transcription's
        speech regions as they are (a window may straddle a change of speaker).
    """

    speakers: int | None = 2
    max_speakers: int = MAX_SPEAKERS
    window_s: float = 1.0
    step_s: float = 0.25
    same_voice_distance: float = 0.35
    min_voice_s: float = 2.0
    blur_share: float = 0.25
    blur_similarity: float = 0.8
    officer_similarity: float = 0.75
    turn_pause_ms: int | None = 150

    def __post_init__(self) -> None:
        if self.speakers is not None and not 1 <= self.speakers <= self.max_speakers:
            raise ModelError(
                "speakers_invalid",
                f"speakers must be between 1 and {self.max_speakers}, or auto: got {self.speakers}",
            )


@dataclass(frozen=True)
class VoiceEmbedding:
    """A voice, as a unit vector made by ``encoder`` (a voice print: the audio is not kept).

    ``encoder`` names the model and ``encoder_sha256`` pins its weights: an embedding made by
    another encoder cannot be compared with this one's, and is refused.
    """

    vector: tuple[float, ...]
    encoder: str
    encoder_sha256: str
    speech_s: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "vector": [round(v, 6) for v in self.vector],
            "encoder": self.encoder,
            "encoder_sha256": self.encoder_sha256,
            "speech_s": round(self.speech_s, 2),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VoiceEmbedding:
        try:
            return cls(
                vector=tuple(float(v) for v in data["vector"]),
                encoder=str(data["encoder"]),
                encoder_sha256=str(data["encoder_sha256"]),
                speech_s=float(data.get("speech_s", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ModelError(
                "voice_embedding_invalid", f"not a stored voice embedding: {error}"
            ) from error


class SpeakerEncoder(Protocol):
    """Turns short stretches of speech into voice embeddings (a swappable part)."""

    name: str
    sha256: str

    def mel(self, samples: np.ndarray) -> np.ndarray:
        """The encoder's input frames for 16 kHz samples, ``(frames, bands)``, one every
        10 ms: computed once for a whole speech region, then sliced into windows."""
        ...

    def embed_mels(self, mels: Sequence[np.ndarray]) -> Vectors:
        """One L2-normalised embedding per stretch of frames, in order."""
        ...


class ResemblyzerEncoder:
    """Resemblyzer's ``VoiceEncoder`` (a 3-layer LSTM over 40-band mel frames, 256-d output)
    on the CPU, with its weights checked against their pin before they load."""

    name = RESEMBLYZER_NAME
    sha256 = RESEMBLYZER_WEIGHTS_SHA256

    def __init__(self, *, threads: int | None = None) -> None:
        try:
            import torch

            with warnings.catch_warnings():
                # resemblyzer.audio imports scipy.ndimage.morphology, deprecated in SciPy 1.x
                warnings.simplefilter("ignore", DeprecationWarning)
                import resemblyzer
                from resemblyzer import VoiceEncoder
                from resemblyzer.audio import wav_to_mel_spectrogram
        except ImportError as error:  # pragma: no cover - a broken install
            raise ModelError(
                "speaker_encoder_missing",
                f"telling voices apart needs resemblyzer and torch ({error}); run scripts/setup.sh",
            ) from error
        weights = Path(resemblyzer.__file__).parent / "pretrained.pt"
        if not weights.is_file():
            raise ModelError("speaker_encoder_missing", f"no speaker encoder weights at {weights}")
        digest = _sha256(weights)
        if digest != self.sha256:
            raise ModelError(
                "speaker_encoder_checksum",
                f"the speaker encoder's weights {weights} have SHA-256 {digest}, not the "
                f"pinned {self.sha256}: refusing to load them",
            )
        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        self._mel = wav_to_mel_spectrogram
        self._model = VoiceEncoder("cpu", verbose=False, weights_fpath=weights).eval()

    def embed(self, windows: Sequence[np.ndarray]) -> Vectors:
        return self.embed_mels([self.mel(w) for w in windows])

    def mel(self, samples: np.ndarray) -> np.ndarray:
        """The encoder's input for 16 kHz samples: 40-band mel power frames every 10 ms,
        ``(frames, 40)``, at Resemblyzer's loudness."""
        return np.asarray(self._mel(_loudness_normalised(samples)), dtype=np.float32)

    def embed_mels(self, mels: Sequence[np.ndarray]) -> Vectors:
        """One embedding per stretch of mel frames (see :meth:`mel`)."""
        out = np.zeros((len(mels), 256), dtype=np.float32)
        # The LSTM takes a batch of equal lengths: stretches are batched by their frame count.
        by_length: dict[int, list[int]] = {}
        for index, mel in enumerate(mels):
            by_length.setdefault(mel.shape[0], []).append(index)
        with self._torch.inference_mode():
            for indices in by_length.values():
                batch = self._torch.from_numpy(np.stack([mels[i] for i in indices]))
                out[indices] = self._model(batch).numpy()
        return out


@cache
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# Resemblyzer's own level for the audio it embeds (its ``audio_norm_target_dBFS``): the
# embedding is of unlogged mel power, so a quiet and a loud window of one voice would differ.
_TARGET_DBFS = -30.0


def _loudness_normalised(samples: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    if rms < 1e-6:
        return samples.astype(np.float32)
    gain = 10 ** (_TARGET_DBFS / 20) / rms
    return (samples * gain).astype(np.float32)


@cache
def load_speaker_encoder(threads: int | None = None) -> SpeakerEncoder:
    """The bundled speaker encoder, loaded once per process (about 2 s with torch's import)."""
    return ResemblyzerEncoder(threads=threads)


# --- enrolment ------------------------------------------------------------------------------

# An enrolment sample must hold at least this much speech to stand for a voice.
MIN_ENROLMENT_SPEECH_S = 3.0


def enrol_voice(
    samples: np.ndarray,
    regions: Sequence[SpeechRegion],
    encoder: SpeakerEncoder,
    *,
    options: DiarisationOptions | None = None,
) -> VoiceEmbedding:
    """The voice of a short sample (the officer reading a few sentences), as one embedding:
    the mean of its windows' embeddings, normalised. Raises ``ModelError`` code
    ``enrolment_too_short`` when the sample holds under ``MIN_ENROLMENT_SPEECH_S`` of speech."""
    options = options or DiarisationOptions()
    speech_s = sum(r.end - r.start for r in regions) / SAMPLE_RATE
    if speech_s < MIN_ENROLMENT_SPEECH_S:
        raise ModelError(
            "enrolment_too_short",
            f"the enrolment sample holds {speech_s:.1f} s of speech: at least "
            f"{MIN_ENROLMENT_SPEECH_S:.0f} s is needed (read a few sentences)",
        )
    windows = _windows(regions, options)
    vectors = _embed(samples, regions, windows, encoder)
    return VoiceEmbedding(
        vector=tuple(float(v) for v in _unit(vectors.mean(axis=0))),
        encoder=encoder.name,
        encoder_sha256=encoder.sha256,
        speech_s=speech_s,
    )


# --- diarisation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Window:
    start: int  # samples into the recording
    end: int


def _windows(regions: Sequence[SpeechRegion], options: DiarisationOptions) -> list[_Window]:
    """Windows of ``window_s`` every ``step_s`` inside each speech region, never across a
    silence; a region shorter than a window is one window of its own length, and the last
    window of a region ends on the region's end so no speech is left unjudged."""
    size = round(options.window_s * SAMPLE_RATE)
    step = round(options.step_s * SAMPLE_RATE)
    shortest = SAMPLE_RATE // 5  # under 0.2 s the encoder has nothing to go on
    windows: list[_Window] = []
    for region in regions:
        length = region.end - region.start
        if length < shortest:
            continue
        if length <= size:
            windows.append(_Window(region.start, region.end))
            continue
        start = region.start
        while start + size < region.end:
            windows.append(_Window(start, start + size))
            start += step
        windows.append(_Window(region.end - size, region.end))
    return windows


_FRAME = SAMPLE_RATE // 100  # samples per encoder frame (10 ms)


def _at_pauses(
    samples: np.ndarray, regions: Sequence[SpeechRegion], options: DiarisationOptions
) -> list[SpeechRegion]:
    """The speech cut at its short pauses (see ``turn_pause_ms``), within ``regions``."""
    if options.turn_pause_ms is None:
        return list(regions)
    fine = detect_speech(
        samples,
        VadOptions(
            min_silence_duration_ms=options.turn_pause_ms,
            speech_pad_ms=min(options.turn_pause_ms // 3, 100),
            min_speech_duration_ms=100,
        ),
    )
    return [
        SpeechRegion(max(f.start, r.start), min(f.end, r.end))
        for f in fine
        for r in regions
        if f.start < r.end and r.start < f.end
    ]


def _embed(
    samples: np.ndarray,
    regions: Sequence[SpeechRegion],
    windows: list[_Window],
    encoder: SpeakerEncoder,
) -> Vectors:
    """The windows' embeddings. The frames are computed once per speech region and each window
    takes its slice of them: windows overlap, and framing every window anew cost as much as
    the encoder itself."""
    mels: list[np.ndarray] = []
    region_index, frames = -1, np.zeros((0, 40), dtype=np.float32)
    for window in windows:
        while region_index < 0 or window.end > regions[region_index].end:
            region_index += 1
            region = regions[region_index]
            frames = encoder.mel(samples[region.start : region.end])
        offset = regions[region_index].start
        first = (window.start - offset) // _FRAME
        last = max((window.end - offset) // _FRAME, first + 1)
        mels.append(frames[first:last])
    return encoder.embed_mels(mels)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _cluster(vectors: Vectors, options: DiarisationOptions) -> np.ndarray:
    """A voice label per window (0, 1, ...).

    Windows are first grouped finely (average cosine distance under ``same_voice_distance``).
    Then the groups that are the blur of a change of speaker, not a voice, join the voice they
    sound most like: windows that straddle a question and its answer sound like both voices and
    gather in a small group of their own, close to one of them. What is left is the voices;
    when ``speakers`` is given, the two most alike are merged until that many remain.
    """
    from sklearn.cluster import AgglomerativeClustering

    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=int)
    labels = np.asarray(
        AgglomerativeClustering(
            n_clusters=None,
            metric="cosine",
            linkage="average",
            distance_threshold=options.same_voice_distance,
        ).fit_predict(vectors)
    )
    groups = {k: np.flatnonzero(labels == k) for k in np.unique(labels).tolist()}

    def centroid(members: np.ndarray) -> np.ndarray:
        return _unit(vectors[members].mean(axis=0))

    def most_like(k: int, others: list[int]) -> tuple[int, float]:
        similarity = {o: float(centroid(groups[k]) @ centroid(groups[o])) for o in others}
        best = max(similarity, key=lambda o: similarity[o])
        return best, similarity[best]

    def merge(into: int, k: int) -> None:
        groups[into] = np.concatenate([groups[into], groups.pop(k)])

    min_windows = options.min_voice_s / options.step_s
    for k in sorted(groups, key=lambda k: len(groups[k])):
        largest = max(len(m) for m in groups.values())
        bigger = [o for o in groups if o != k and len(groups[o]) >= len(groups[k])]
        if not bigger:
            continue
        into, similarity = most_like(k, bigger)
        blur = (
            len(groups[k]) < options.blur_share * largest and similarity >= options.blur_similarity
        )
        if len(groups[k]) < min_windows or blur:
            merge(into, k)
    wanted = options.speakers if options.speakers is not None else options.max_speakers
    while len(groups) > max(wanted, 1):
        pairs = [(a, b) for a in groups for b in groups if a < b]
        a, b = max(pairs, key=lambda p: float(centroid(groups[p[0]]) @ centroid(groups[p[1]])))
        merge(a, b)
    if options.speakers is not None and len(groups) < min(options.speakers, len(vectors)):
        # Fewer voices than the officer said: split as asked rather than overrule them.
        return np.asarray(
            AgglomerativeClustering(
                n_clusters=min(options.speakers, len(vectors)), metric="cosine", linkage="average"
            ).fit_predict(vectors)
        )
    out = np.zeros(len(vectors), dtype=int)
    for label, members in enumerate(groups.values()):
        out[members] = label
    return out


@dataclass(frozen=True)
class Diarisation:
    """The voices of one recording: ``transcript`` with a speaker on every word, its turns and
    its speakers; ``voices`` maps each speaker id to the voice's embedding (its windows' mean),
    for matching against an enrolled voice."""

    transcript: Transcript
    voices: dict[str, VoiceEmbedding]


def diarise(
    samples: np.ndarray,
    regions: Sequence[SpeechRegion],
    transcript: Transcript,
    encoder: SpeakerEncoder,
    *,
    options: DiarisationOptions | None = None,
    officer_voice: VoiceEmbedding | None = None,
) -> Diarisation:
    """Tell the voices of a recording apart and give each word of ``transcript`` to one.

    ``samples`` is the 16 kHz recording the transcript was made from and ``regions`` the speech
    found in it. Speakers are named ``S1``, ``S2``... in the order they first speak. With
    ``officer_voice`` the voice most like it, when similar enough, is the officer's (role
    ``officer``, basis ``enrolled_voice``, confirmed); every other role is left ``unknown`` for
    the language side to propose. Raises ``ModelError`` code ``voice_encoder_mismatch`` for an
    enrolled voice made by another encoder.
    """
    options = options or DiarisationOptions()
    if officer_voice is not None and officer_voice.encoder_sha256 != encoder.sha256:
        raise ModelError(
            "voice_encoder_mismatch",
            f"the officer's voice was enrolled with {officer_voice.encoder}, not "
            f"{encoder.name}: enrol it again",
        )
    regions = _at_pauses(samples, regions, options)
    windows = _windows(regions, options)
    vectors = _embed(samples, regions, windows, encoder)
    labels = _cluster(vectors, options)
    words = transcript.words
    if not windows or not words:
        return Diarisation(transcript=transcript, voices={})

    scores = _frame_scores(samples.size, windows, vectors, labels)
    word_labels = _word_labels(words, scores)

    # Name voices S1, S2... in the order they first speak (words first, then silent clusters).
    order: list[int] = []
    for label in [*word_labels, *labels.tolist()]:
        if label not in order:
            order.append(label)
    name = {label: f"S{i + 1}" for i, label in enumerate(order)}

    voices = {
        name[label]: VoiceEmbedding(
            vector=tuple(float(v) for v in _unit(vectors[labels == label].mean(axis=0))),
            encoder=encoder.name,
            encoder_sha256=encoder.sha256,
            speech_s=float(np.sum(labels == label)) * options.step_s,
        )
        for label in order
        if np.any(labels == label)
    }
    speakers = _speakers(voices, word_labels, words, name, officer_voice, options)
    roles = {s.id: s.role for s in speakers}

    iterator = iter(word_labels)
    segments = tuple(
        replace(
            segment,
            words=tuple(replace(w, speaker=name[next(iterator)]) for w in segment.words),
        )
        for segment in transcript.segments
    )
    diarised = replace(transcript, segments=segments, speakers=tuple(speakers))
    return Diarisation(
        transcript=replace(diarised, turns=tuple(turns_of(diarised.segments, roles))),
        voices=voices,
    )


_HOP_S = 0.01  # the time step of the frame scores


def _frame_scores(
    n_samples: int, windows: list[_Window], vectors: Vectors, labels: np.ndarray
) -> np.ndarray:
    """For every 10 ms of the recording, how much each voice sounds like the one speaking:
    each window adds its cosine similarity to every voice's centroid over its own span, so a
    moment is judged by all the windows that heard it (0 where no window did)."""
    hop = round(SAMPLE_RATE * _HOP_S)
    n_labels = int(labels.max()) + 1
    centroids = np.stack([_unit(vectors[labels == k].mean(axis=0)) for k in range(n_labels)])
    similarity = vectors @ centroids.T  # windows x voices
    # A window's vote is its margin of preference: a window straddling two voices is near both
    # centroids and says little; a window inside one voice's speech says it clearly.
    preference = similarity - similarity.mean(axis=1, keepdims=True)
    scores = np.zeros((n_samples // hop + 1, n_labels), dtype=np.float64)
    for window, vote in zip(windows, preference, strict=True):
        scores[window.start // hop : window.end // hop + 1] += vote
    return scores


def _word_labels(words: list[Word], scores: np.ndarray) -> list[int]:
    """A voice for every word, by its own timestamps: the voice the frames under the word
    favour most. (Grouping words between pauses into phrases was tried and lost: Whisper's
    word times close the pause between a question and a quick answer, and the answer's first
    words went to the officer.)"""
    last = scores.shape[0] - 1
    labels = []
    for word in words:
        first = min(max(int(word.start / _HOP_S), 0), last)
        end = min(max(int(np.ceil(word.end / _HOP_S)), first + 1), last + 1)
        total = scores[first:end].sum(axis=0)
        labels.append(int(np.argmax(total)) if np.any(total) else _nearest_label(word, scores))
    return labels


def _nearest_label(word: Word, scores: np.ndarray) -> int:
    """The voice of the nearest judged moment, for a word no window heard (one Whisper placed
    in a gap the VAD left out)."""
    judged = np.flatnonzero(np.any(scores != 0, axis=1))
    if judged.size == 0:
        return 0
    middle = (word.start + word.end) / 2 / _HOP_S
    nearest = judged[np.argmin(np.abs(judged - middle))]
    return int(np.argmax(scores[nearest]))


def _speakers(
    voices: dict[str, VoiceEmbedding],
    word_labels: list[int],
    words: list[Word],
    name: dict[int, str],
    officer_voice: VoiceEmbedding | None,
    options: DiarisationOptions,
) -> list[Speaker]:
    spoken: dict[str, float] = {}
    for label, word in zip(word_labels, words, strict=True):
        spoken[name[label]] = spoken.get(name[label], 0.0) + max(word.end - word.start, 0.0)
    similarity: dict[str, float] = {}
    if officer_voice is not None:
        enrolled = np.asarray(officer_voice.vector)
        similarity = {
            speaker: round(float(np.dot(enrolled, np.asarray(voice.vector))), 3)
            for speaker, voice in voices.items()
        }
    officer = None
    if similarity:
        best = max(similarity, key=lambda s: similarity[s])
        if similarity[best] >= options.officer_similarity:
            officer = best
    return [
        Speaker(
            id=speaker,
            role=OFFICER if speaker == officer else UNKNOWN,
            role_basis="enrolled_voice" if speaker == officer else "none",
            confirmed=speaker == officer,
            similarity=similarity.get(speaker),
            speech_s=round(spoken.get(speaker, 0.0), 2),
        )
        for speaker in voices
    ]


def turns_of(segments: Sequence[Segment], roles: dict[str, str]) -> list[Turn]:
    """The turns of diarised segments: each run of words by one speaker, with its times and
    text (the words joined as Whisper wrote them)."""
    turns: list[Turn] = []
    current: list[Word] = []

    def close() -> None:
        if current:
            speaker = current[0].speaker or ""
            turns.append(
                Turn(
                    speaker=speaker,
                    role=roles.get(speaker, UNKNOWN),
                    start=current[0].start,
                    end=current[-1].end,
                    text="".join(w.word for w in current).strip(),
                )
            )

    for word in (w for s in segments for w in s.words):
        if current and word.speaker != current[-1].speaker:
            close()
            current = []
        current.append(word)
    close()
    return turns

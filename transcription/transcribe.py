"""Decoded audio in, Transcript out: gate silence, run the engine, map times back."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

import numpy as np

from models import Segment, Transcript, Word
from transcription.audio import SAMPLE_RATE, DecodedAudio
from transcription.engines import DecodingOptions, Engine, ProgressCallback
from transcription.vad import SpeechRegion, SpeechTimeline, VadOptions, detect_speech


def transcribe_audio(
    audio: DecodedAudio,
    engine: Engine,
    *,
    decoding: DecodingOptions | None = None,
    vad: VadOptions | None = VadOptions(),  # noqa: B008 - frozen dataclass, safe as a default
    progress: ProgressCallback | None = None,
    on_speech: Callable[[float], None] | None = None,
    regions: list[SpeechRegion] | None = None,
) -> Transcript:
    """Transcribe one recording.

    ``vad=None`` sends the whole recording to the engine; otherwise only the speech Silero VAD
    finds is transcribed, and a recording with no speech gives an empty transcript without
    the model ever running (so it cannot invent words). ``regions``: the speech regions when
    the caller has found them already (:func:`speech_regions`), so VAD runs once.
    """
    decoding = decoding or DecodingOptions()
    samples = audio.samples
    if regions is None:
        regions = speech_regions(samples, vad)
    timeline = SpeechTimeline(samples, regions)
    duration = audio.info.duration_s
    if not regions:
        return Transcript(
            text="",
            language=decoding.language or "en",
            duration_s=duration,
            segments=(),
            task=decoding.task,
            audio=audio.info,
            model=engine.info,
            speech_s=0.0,
        )

    if on_speech is not None:
        on_speech(timeline.audio.size / SAMPLE_RATE)  # the total that ``progress`` counts up to
    # Where one region ends and the next begins in the joined audio: the engine may cut there.
    seams, position = [], 0
    for region in regions[:-1]:
        position += region.end - region.start
        seams.append(position / SAMPLE_RATE)
    run = engine.transcribe(timeline.audio, decoding, progress=progress, seams=seams)
    language, heard = run.language, _kept(run.segments, decoding)
    if decoding.initial_prompt and _longest_unheard_s(heard, timeline) > SKIPPED_SPEECH_S:
        # Whisper skipped a stretch of speech. With a long vocabulary prompt tiny.en has been
        # seen to begin a window 20 s in and lose what came before (a witness's name and
        # address): decode again without the prompt, and keep whichever hears more.
        retry = engine.transcribe(
            timeline.audio, replace(decoding, initial_prompt=None), seams=seams
        )
        again = _kept(retry.segments, decoding)
        if _longest_unheard_s(again, timeline) < _longest_unheard_s(heard, timeline):
            language, heard = retry.language, again
    segments = tuple(_to_original_time(segment, timeline) for segment in heard)
    return Transcript(
        text=" ".join(s.text for s in segments),
        language=language,
        duration_s=duration,
        segments=segments,
        task=decoding.task,
        audio=audio.info,
        model=engine.info,
        speech_s=timeline.speech_s,
    )


# Seconds of detected speech with no word heard in them, past which the transcription is taken
# to have skipped speech (the VAD keeps pauses inside speech under 2 s).
SKIPPED_SPEECH_S = 8.0


def _kept(segments: Iterable[Segment], decoding: DecodingOptions) -> list[Segment]:
    return [
        segment
        for segment in segments
        if segment.text and not is_hallucination(segment, decoding.log_prob_threshold)
    ]


def _longest_unheard_s(segments: list[Segment], timeline: SpeechTimeline) -> float:
    """The longest stretch of the joined speech with no word in it: before the first word,
    between two words, or after the last (seconds in the joined audio)."""
    edges = [0.0]
    for segment in segments:
        for word in segment.words or ():
            edges += [word.start, word.end]
    edges.append(timeline.speech_s)
    return max((b - a for a, b in zip(edges[::2], edges[1::2], strict=True)), default=0.0)


def speech_regions(samples: np.ndarray, vad: VadOptions | None) -> list[SpeechRegion]:
    """Where the speech is: Silero VAD's regions, or the whole recording when ``vad`` is None."""
    if vad is None:
        return [SpeechRegion(0, samples.size)] if samples.size else []
    return detect_speech(samples, vad)


# Whisper's own test of a word that was not really heard (openai-whisper transcribe.py):
# improbable, or squeezed into less time than a syllable takes, or stretched past two seconds.
_PUNCTUATION = "\"'“¿([{-\"'.。,，!！?？:：”)]}、"


def _word_anomaly(word: Word) -> float:
    duration = word.end - word.start
    score = 0.0
    if word.probability < 0.15:
        score += 1.0
    if duration < 0.133:
        score += (0.133 - duration) * 15
    if duration > 2.0:
        score += duration - 2.0
    return score


def is_hallucination(segment: Segment, log_prob_threshold: float | None) -> bool:
    """A segment Whisper made up: its words fail Whisper's anomaly test and the decoder itself
    was unsure of it (mean log-probability under the threshold).

    This catches the "Thank you." / "We'll see you next time." that Whisper writes into the
    last fraction of a second of padding after speech, which its hallucination-silence check
    misses because no long pause comes before it.
    """
    threshold = -1.0 if log_prob_threshold is None else log_prob_threshold
    if segment.avg_logprob >= threshold:
        return False
    words = [w for w in segment.words if w.word.strip() not in _PUNCTUATION][:8]
    if not words:
        return True
    score = sum(_word_anomaly(w) for w in words)
    return score >= 3 or score + 0.01 >= len(words)


def _to_original_time(segment: Segment, timeline: SpeechTimeline) -> Segment:
    words = tuple(
        Word(
            word=w.word,
            start=timeline.original_time(w.start),
            end=timeline.original_time(w.end, is_end=True),
            probability=round(w.probability, 4),
        )
        for w in segment.words
    )
    return replace(
        segment,
        start=timeline.original_time(segment.start),
        end=timeline.original_time(segment.end, is_end=True),
        avg_logprob=round(segment.avg_logprob, 4),
        no_speech_prob=round(segment.no_speech_prob, 4),
        words=words,
    )

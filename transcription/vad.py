"""Voice activity detection: find the speech so Whisper never sees the silence.

Whisper invents text in long silences ("Thank you for watching"). Silero VAD (the ONNX model
that ships inside faster-whisper) marks where speech is; only those stretches, joined, go to
the recogniser, and every timestamp is mapped back to the original recording.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

from transcription.audio import SAMPLE_RATE


@dataclass(frozen=True)
class VadOptions:
    """Keyword options for speech detection.

    threshold: Silero speech probability above which a 32 ms window counts as speech. 0.5 is
        Silero's own default; lower keeps quieter speech (and more noise).
    min_speech_duration_ms: speech shorter than this is dropped as a click or cough.
    min_silence_duration_ms: a pause must last this long to end a speech region; shorter
        pauses stay inside one region so words are not cut apart.
    speech_pad_ms: padding kept either side of each region, so first and last syllables
        survive.
    """

    threshold: float = 0.5
    min_speech_duration_ms: int = 250
    min_silence_duration_ms: int = 2000
    speech_pad_ms: int = 400


@dataclass(frozen=True)
class SpeechRegion:
    start: int  # sample index in the original recording (16 kHz)
    end: int


def detect_speech(samples: np.ndarray, options: VadOptions | None = None) -> list[SpeechRegion]:
    """Speech regions of a 16 kHz mono recording, in order, not overlapping."""
    from faster_whisper.vad import VadOptions as SileroOptions
    from faster_whisper.vad import get_speech_timestamps

    options = options or VadOptions()
    if samples.size == 0:
        return []
    found = get_speech_timestamps(
        samples,
        SileroOptions(
            threshold=options.threshold,
            min_speech_duration_ms=options.min_speech_duration_ms,
            min_silence_duration_ms=options.min_silence_duration_ms,
            speech_pad_ms=options.speech_pad_ms,
        ),
        sampling_rate=SAMPLE_RATE,
    )
    return [SpeechRegion(int(r["start"]), int(r["end"])) for r in found]


class SpeechTimeline:
    """The speech regions joined end to end, and the way back to original time."""

    def __init__(self, samples: np.ndarray, regions: list[SpeechRegion]) -> None:
        self.regions = regions
        self.audio = (
            np.concatenate([samples[r.start : r.end] for r in regions]).astype(np.float32)
            if regions
            else np.zeros(0, dtype=np.float32)
        )
        # joined_starts[i]: where region i begins in the joined audio, in samples.
        self._joined_starts: list[int] = []
        position = 0
        for region in regions:
            self._joined_starts.append(position)
            position += region.end - region.start

    @property
    def speech_s(self) -> float:
        return self.audio.size / SAMPLE_RATE

    def original_time(self, joined_s: float, *, is_end: bool = False) -> float:
        """Map seconds in the joined audio back to seconds in the recording.

        A time exactly on the seam between two regions belongs to the earlier one when it is
        an end, the later one when it is a start, so a word never stretches across a gap.
        """
        if not self.regions:
            return joined_s
        sample = round(joined_s * SAMPLE_RATE)
        if is_end:
            index = bisect.bisect_left(self._joined_starts, sample) - 1
        else:
            index = bisect.bisect_right(self._joined_starts, sample) - 1
        index = min(max(index, 0), len(self.regions) - 1)
        region = self.regions[index]
        offset = sample - self._joined_starts[index]
        original = region.start + min(max(offset, 0), region.end - region.start)
        return round(original / SAMPLE_RATE, 3)

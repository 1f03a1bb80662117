"""Two Whisper engines behind one small interface: same weights, same options, same output.

* ``faster-whisper`` runs CTranslate2: the faster and leaner on a CPU (see docs/benchmarks.md),
  and the default.
* ``openai-whisper`` runs the reference PyTorch implementation on a checkpoint converted
  exactly from the same weights; it is the yardstick the other is checked against. It decodes
  the speech in chunks cut where speech regions meet, several chunks at once
  (``transcription/batched.py``), or window by window as ``whisper.transcribe`` does.

Both decode with the settings that stop Whisper inventing text and looping: no conditioning on
the previous window's text, fallback through temperatures when a window's output is too
repetitive (compression ratio) or too unlikely (log-probability), windows judged silent dropped,
and hallucinations in long pauses skipped. Word timestamps and probabilities are always on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from models import ModelInfo, Segment, Word
from transcription.errors import ModelError
from transcription.openai_checkpoint import load_checkpoint
from transcription.provisioning import FASTER_WHISPER, OPENAI_WHISPER, ResolvedModel

ProgressCallback = Callable[[float], None]  # seconds of (joined speech) audio done


@dataclass(frozen=True)
class DecodingOptions:
    """How Whisper decodes; the defaults are the ones a statement needs.

    language: ISO 639-1 code spoken, or None to detect it (multilingual models only).
    task: ``transcribe``, or ``translate`` to English (multilingual models only).
    beam_size: beams searched at temperature 0; 5 is Whisper's own choice, 1 is greedy.
    best_of: candidates sampled at each fallback temperature.
    temperatures: tried in turn until a window's text passes the two thresholds below.
    compression_ratio_threshold: a window whose text gzip-compresses better than this is
        looping ("the the the ..."), and is decoded again at the next temperature.
    log_prob_threshold: a window whose mean token log-probability is below this is decoded
        again at the next temperature.
    no_speech_threshold: a window whose no-speech probability is above this, and whose text is
        also unlikely (below log_prob_threshold), is taken as silence and dropped.
    condition_on_previous_text: False, so one misheard window cannot seed the next (the main
        cause of repetition loops).
    hallucination_silence_threshold: seconds; inside a window, a doubtful segment surrounded by
        a pause at least this long is skipped as invented.
    initial_prompt: words that bias spelling (places, police terms); see vocabulary.py.
    seed: seeds the sampling used at fallback temperatures, so the same recording always
        gives the same transcript (evidence must be reproducible).
    """

    language: str | None = "en"
    task: str = "transcribe"
    beam_size: int = 5
    best_of: int = 5
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    compression_ratio_threshold: float | None = 2.4
    log_prob_threshold: float | None = -1.0
    no_speech_threshold: float | None = 0.6
    condition_on_previous_text: bool = False
    hallucination_silence_threshold: float | None = 2.0
    initial_prompt: str | None = None
    seed: int = 0


@dataclass
class EngineRun:
    """The language the engine settled on, and its segments (times in the audio it was given)."""

    language: str
    segments: Iterator[Segment]


class Engine(Protocol):
    name: str
    info: ModelInfo
    multilingual: bool

    def transcribe(
        self,
        audio: np.ndarray,
        options: DecodingOptions,
        *,
        progress: ProgressCallback | None = None,
        seams: Sequence[float] = (),
    ) -> EngineRun:
        """Transcribe 16 kHz mono ``audio``.

        seams: seconds in ``audio`` where one speech region ends and the next begins (the VAD
            joined them there); an engine may cut its work at them so no window straddles a
            gap in the recording. Ignoring them is allowed.
        """
        ...


def _check_language(options: DecodingOptions, multilingual: bool, model_name: str) -> None:
    if multilingual:
        return
    if options.language not in ("en", None) or options.task != "transcribe":
        raise ModelError(
            "model_english_only",
            f"model {model_name} is English-only; for other languages or --task translate "
            "use a multilingual model such as --model base",
        )


def _threads(threads: int) -> int:
    return threads if threads > 0 else (os.cpu_count() or 1)


class FasterWhisperEngine:
    """CTranslate2 Whisper. ``compute_type``: float32 (exact), int8, float16 (GPU)."""

    name = FASTER_WHISPER

    def __init__(
        self,
        model: ResolvedModel,
        *,
        compute_type: str = "float32",
        device: str = "cpu",
        threads: int = 0,
    ) -> None:
        from faster_whisper import WhisperModel

        if model.ct2_dir is None:
            raise ModelError("model_engine_mismatch", "faster-whisper needs a CTranslate2 model")
        self._model = WhisperModel(
            str(model.ct2_dir),
            device=device,
            compute_type=compute_type,
            cpu_threads=_threads(threads),
        )
        self.multilingual = model.multilingual
        self.info = ModelInfo(
            name=model.name, engine=self.name, sha256=model.sha256, compute_type=compute_type
        )

    def transcribe(
        self,
        audio: np.ndarray,
        options: DecodingOptions,
        *,
        progress: ProgressCallback | None = None,
        seams: Sequence[float] = (),  # unused: faster-whisper slides its own windows
    ) -> EngineRun:
        import ctranslate2

        _check_language(options, self.multilingual, self.info.name)
        ctranslate2.set_random_seed(options.seed)
        segments, info = self._model.transcribe(
            audio,
            language=options.language if self.multilingual else "en",
            task=options.task,
            beam_size=options.beam_size,
            best_of=options.best_of,
            temperature=list(options.temperatures),
            compression_ratio_threshold=options.compression_ratio_threshold,
            log_prob_threshold=options.log_prob_threshold,
            no_speech_threshold=options.no_speech_threshold,
            condition_on_previous_text=options.condition_on_previous_text,
            initial_prompt=options.initial_prompt,
            word_timestamps=True,
            hallucination_silence_threshold=options.hallucination_silence_threshold,
            vad_filter=False,  # speech is already gated by transcription.vad
        )

        def convert() -> Iterator[Segment]:
            for s in segments:
                if progress is not None:
                    progress(s.end)
                yield Segment(
                    start=s.start,
                    end=s.end,
                    text=s.text.strip(),
                    avg_logprob=s.avg_logprob,
                    no_speech_prob=s.no_speech_prob,
                    words=tuple(
                        Word(word=w.word, start=w.start, end=w.end, probability=w.probability)
                        for w in (s.words or ())
                    ),
                )

        return EngineRun(language=info.language, segments=convert())


class OpenAIWhisperEngine:
    """The reference PyTorch implementation.

    compute_type: ``float32``; ``int8`` (CPU only: the weights of every linear layer and of
        the output projection quantized to 8 bits, activations quantized on the fly; see
        ``transcription/openai_cpu.py``); ``float16`` (GPU only).
    batch_size: how many 30 s windows are encoded and decoded together. The speech is cut into
        chunks of at most 30 s where speech regions meet (``transcription/batched.py``) and the
        chunks' windows are decoded ``batch_size`` at a time; 1 decodes the same chunks one
        after another. 0 runs ``whisper.transcribe`` itself, sliding window by window over the
        joined speech: the behaviour before chunking, kept as the yardstick.
    """

    name = OPENAI_WHISPER

    def __init__(
        self,
        model: ResolvedModel,
        *,
        compute_type: str = "float32",
        device: str = "cpu",
        threads: int = 0,
        download_root: str | None = None,
        batch_size: int = 8,
    ) -> None:
        import torch
        import whisper

        if compute_type not in ("float32", "int8", "float16"):
            raise ModelError(
                "unsupported_compute_type",
                "the openai-whisper engine runs float32, int8 (on a CPU) or float16 (on a GPU), "
                f"not {compute_type}",
            )
        if compute_type == "float16" and device == "cpu":
            raise ModelError("unsupported_compute_type", "float16 needs a GPU (--device cuda)")
        if compute_type == "int8" and device != "cpu":
            raise ModelError(
                "unsupported_compute_type",
                "the openai-whisper engine runs int8 on a CPU only (--device cpu)",
            )
        if batch_size < 0:
            raise ValueError("batch_size must be 0 (window by window) or more")
        torch.set_num_threads(_threads(threads))
        if model.official is not None:
            # openai-whisper's own download, checked against its SHA-256.
            self._model = whisper.load_model(
                model.official, device=device, download_root=download_root
            )
        else:
            assert model.openai_checkpoint is not None
            self._model = load_checkpoint(
                model.openai_checkpoint, alignment_heads=model.alignment_heads, device=device
            )
        if device == "cpu":
            from transcription.openai_cpu import contiguous_output_projection, quantize_int8

            if compute_type == "int8":
                quantize_int8(self._model)
            else:
                contiguous_output_projection(self._model)
        self._fp16 = compute_type == "float16"
        self._batched: Any = None
        if batch_size > 0:
            from transcription.batched import BatchedDecoder

            self._batched = BatchedDecoder(self._model, batch_size=batch_size, fp16=self._fp16)
        self.batch_size = batch_size
        self.multilingual = model.multilingual
        self.info = ModelInfo(
            name=model.name, engine=self.name, sha256=model.sha256, compute_type=compute_type
        )

    def transcribe(
        self,
        audio: np.ndarray,
        options: DecodingOptions,
        *,
        progress: ProgressCallback | None = None,
        seams: Sequence[float] = (),
    ) -> EngineRun:
        import torch

        _check_language(options, self.multilingual, self.info.name)
        if self._batched is not None:
            language, segments = self._batched.transcribe(
                audio.astype(np.float32), options, seams=seams, progress=progress
            )
            return EngineRun(language=language, segments=iter(segments))
        torch.manual_seed(options.seed)
        return self._transcribe_window_by_window(audio, options, progress=progress)

    def _transcribe_window_by_window(
        self, audio: np.ndarray, options: DecodingOptions, *, progress: ProgressCallback | None
    ) -> EngineRun:
        import whisper

        # verbose=False shows openai-whisper's own progress bar on stderr; None is silent.
        result: dict[str, Any] = whisper.transcribe(
            self._model,
            audio.astype(np.float32),
            verbose=False if progress is not None else None,
            temperature=options.temperatures,
            compression_ratio_threshold=options.compression_ratio_threshold,
            logprob_threshold=options.log_prob_threshold,
            no_speech_threshold=options.no_speech_threshold,
            condition_on_previous_text=options.condition_on_previous_text,
            initial_prompt=options.initial_prompt,
            word_timestamps=True,
            hallucination_silence_threshold=options.hallucination_silence_threshold,
            language=options.language if self.multilingual else "en",
            task=options.task,
            beam_size=options.beam_size,
            best_of=options.best_of,
            fp16=self._fp16,
        )
        segments = [segment_from_whisper(s) for s in result["segments"]]
        return EngineRun(language=str(result["language"]), segments=iter(segments))


def segment_from_whisper(segment: dict[str, Any]) -> Segment:
    """One of openai-whisper's segment dicts (with its words) as our ``Segment``."""
    return Segment(
        start=float(segment["start"]),
        end=float(segment["end"]),
        text=segment["text"].strip(),
        avg_logprob=float(segment["avg_logprob"]),
        no_speech_prob=float(segment["no_speech_prob"]),
        words=tuple(
            Word(
                word=w["word"],
                start=float(w["start"]),
                end=float(w["end"]),
                probability=float(w["probability"]),
            )
            for w in segment.get("words", ())
        ),
    )


def load_engine(
    model: ResolvedModel,
    *,
    compute_type: str = "float32",
    device: str = "cpu",
    threads: int = 0,
    download_root: str | None = None,
) -> Engine:
    """Load the engine ``model.engine`` names, once; reuse it for every recording."""
    if model.engine == FASTER_WHISPER:
        return FasterWhisperEngine(model, compute_type=compute_type, device=device, threads=threads)
    return OpenAIWhisperEngine(
        model,
        compute_type=compute_type,
        device=device,
        threads=threads,
        download_root=download_root,
    )

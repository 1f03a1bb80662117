"""openai-whisper's own decoding, many windows at once: the openai-whisper engine's fast path.

``whisper.transcribe`` slides one 30 s window at a time over the audio, runs the encoder again
for every fallback temperature and again for word alignment, and decodes one window's tokens
at a time. On a CPU most of the time goes to the decoder's per-token steps, which cost nearly
the same for eight windows as for one. So here:

1. The joined speech is cut into chunks of at most 30 s where speech regions meet (the seams
   the VAD left), so no window straddles a seam and no chunk cuts a word. A region longer than
   30 s is cut at the quietest half second of its last 10 s before the 30 s mark, as
   faster-whisper's VAD cuts a long region at its last pause.
2. Each chunk is decoded exactly as ``whisper.transcribe`` decodes a clip (its
   ``clip_timestamps``): the same log-mel (computed once over the whole audio), the same
   decoding options, temperature fallback, no-speech test, segments split at timestamp tokens,
   word timestamps, the hallucination-silence check and, when a window's last segment is
   unfinished, a further window from where it stopped.
3. The windows of different chunks go through the encoder and the decoder together, in batches
   of ``batch_size``; a window that fails the fallback thresholds is decoded again at the next
   temperature together with the other failures of its batch only.

Deliberate differences from ``whisper.transcribe`` (the same arithmetic, so none changes the text
of a recording that fits one window; the tests check it on the clear fixtures):

* The encoder runs once per window; its output is reused for the fallback temperatures and
  for the word alignment (whisper encodes the same window again for each).
* The first decoding step runs the prompt once per window, not once per beam, and computes
  only the logits that are read (see ``_WindowsTask``).
* The initial prompt goes to the first window of every chunk, not only the first window of the
  recording, so the vocabulary biases the whole statement (whisper's ``carry_initial_prompt``
  does the same); later windows of a chunk are unprompted, as with
  ``condition_on_previous_text=False``.
* Each chunk's timing state (the last word heard, and "the start of the audio" in the
  hallucination check) starts at the chunk's own start, since chunks are decoded in parallel.

openai-whisper 20250625 cannot beam-search (or sample best-of-N) more than one window per call:
the cross-attention keys hold one copy of the audio per window where the queries have one per
beam. :func:`group_cross_attention` fixes that without copying the audio features.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import MethodType
from typing import Any

import numpy as np
import torch
import whisper
from whisper.audio import HOP_LENGTH, N_FRAMES, N_SAMPLES, log_mel_spectrogram, pad_or_trim
from whisper.decoding import DecodingResult, DecodingTask
from whisper.timing import add_word_timestamps
from whisper.tokenizer import Tokenizer, get_tokenizer
from whisper.utils import get_end

from models import Segment
from transcription.engines import DecodingOptions, segment_from_whisper
from transcription.openai_cpu import decoder_states, output_logits

FRAMES_PER_SECOND = 100  # log-mel frames: one per HOP_LENGTH (160) samples at 16 kHz
_CHUNK_FRAMES = N_FRAMES  # 30 s, the window the model sees
_SEARCH_FRAMES = 1000  # a long region is cut within the last 10 s before the 30 s mark
_QUIET_FRAMES = 50  # at the centre of its quietest 0.5 s
_PUNCTUATION = "\"'“¿([{-\"'.。,，!！?？:：”)]}、"


# --- where the chunks go ---------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """A stretch of the joined audio decoded on its own: [start, end) in log-mel frames."""

    start: int
    end: int


def plan_chunks(audio: np.ndarray, seams: Sequence[float] = ()) -> list[Chunk]:
    """Cut ``audio`` (16 kHz) into chunks of at most 30 s that cover it end to end.

    ``seams``: seconds in ``audio`` where one speech region ends and the next begins. Chunks
    end only at seams, except inside a region longer than 30 s, which is cut at the quietest
    half second (lowest energy) of the 10 s before each 30 s mark. Regions are then packed
    greedily, in order, into chunks as long as 30 s allows.
    """
    total = audio.size // HOP_LENGTH
    if total == 0:
        return []
    cuts = sorted({round(s * FRAMES_PER_SECOND) for s in seams} - {0})
    bounds = [0, *(c for c in cuts if 0 < c < total), total]
    energy = np.add.reduceat(
        np.square(audio[: total * HOP_LENGTH], dtype=np.float64), np.arange(0, total) * HOP_LENGTH
    )
    summed = np.concatenate([[0.0], np.cumsum(energy)])
    pieces: list[tuple[int, int]] = []
    for start, end in itertools.pairwise(bounds):
        while end - start > _CHUNK_FRAMES:
            # Windows of _QUIET_FRAMES inside [start + 20 s, start + 30 s]; cut at the quietest.
            first = start + _CHUNK_FRAMES - _SEARCH_FRAMES  # first frame of the first window
            count = _SEARCH_FRAMES - _QUIET_FRAMES + 1  # windows that fit before the 30 s mark
            sums = summed[first + _QUIET_FRAMES : first + _QUIET_FRAMES + count]
            sums = sums - summed[first : first + count]
            cut = first + int(np.argmin(sums)) + _QUIET_FRAMES // 2
            pieces.append((start, cut))
            start = cut
        pieces.append((start, end))
    chunks: list[Chunk] = []
    chunk_start, chunk_end = pieces[0]
    for start, end in pieces[1:]:
        if end - chunk_start <= _CHUNK_FRAMES:
            chunk_end = end
        else:
            chunks.append(Chunk(chunk_start, chunk_end))
            chunk_start, chunk_end = start, end
    chunks.append(Chunk(chunk_start, chunk_end))
    return chunks


# --- batched decoding --------------------------------------------------------------------------


def group_cross_attention(model: Any) -> None:
    """Let the decoder's cross-attention serve several beams (or samples) per window.

    In a batch of windows the decoder has ``windows x beams`` query rows but one row of audio
    keys per window. Each window's beams are consecutive rows, so they are folded into one row
    of more query positions: cross-attention has no mask, so this is the same arithmetic as
    giving every beam its own copy of the keys, without the copy (which would be tens of MB
    per window). One window, or as many rows as windows, goes through unchanged.
    """
    for block in model.decoder.blocks:
        attention = block.cross_attn
        if attention is None or getattr(attention, "_grouped", False):
            continue
        original = attention.qkv_attention

        def qkv_attention(
            self: Any,
            q: torch.Tensor,
            k: torch.Tensor,
            v: torch.Tensor,
            mask: torch.Tensor | None = None,
            _original: Any = original,
        ) -> tuple[torch.Tensor, torch.Tensor | None]:
            rows, windows = q.shape[0], k.shape[0]
            if rows == windows or windows == 1:
                out, qk = _original(q, k, v, mask)
                return out, qk
            group, n_ctx = rows // windows, q.shape[1]
            out, qk = _original(q.reshape(windows, group * n_ctx, -1), k, v, mask)
            out = out.reshape(rows, n_ctx, -1)
            if qk is not None:
                heads = qk.shape[1]
                qk = qk.reshape(windows, heads, group, n_ctx, -1).transpose(1, 2)
                qk = qk.reshape(rows, heads, n_ctx, -1)
            return out, qk

        attention.qkv_attention = MethodType(qkv_attention, attention)
        attention._grouped = True


class _WindowsTask(DecodingTask):
    """whisper's DecodingTask for a batch of already-encoded windows, beams and all.

    ``run`` is given encoder output. Its bookkeeping expects one copy of the features per beam
    (it keeps every ``n_group``-th row), so they are handed to it repeated, and the decoding
    loop gets one copy per window (see :func:`group_cross_attention`).

    The loop is whisper's ``_main_loop`` but for its first step, which runs the initial tokens
    (prompt and start of transcript), the same for every beam of a window, once per window, and
    computes the logits of only the two positions read: at the start-of-transcript token (the
    no-speech probability) and at the last one. whisper runs them once per beam and projects
    every position (for a 150-token prompt at beam 5, 750 rows of 51,864 logits per window).
    """

    def _get_audio_features(self, mel: torch.Tensor) -> torch.Tensor:
        features: torch.Tensor = super()._get_audio_features(mel)
        return features.repeat_interleave(self.n_group, dim=0)

    def _detect_language(
        self, audio_features: torch.Tensor, tokens: torch.Tensor
    ) -> tuple[list[str], None]:
        # The language is settled before decoding (see _language); one entry per window.
        return [self.options.language] * tokens.shape[0], None

    def _main_loop(
        self, audio_features: torch.Tensor, tokens: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
        features = audio_features[:: self.n_group]
        sum_logprobs = torch.zeros(tokens.shape[0], device=features.device)
        no_speech_probs = [float("nan")] * tokens.shape[0]
        try:
            for step in range(self.sample_len):
                if step == 0:
                    logits, no_speech_probs = self._first_step(tokens, features)
                else:
                    logits = self.inference.logits(tokens, features)[:, -1]
                for logit_filter in self.logit_filters:
                    logit_filter.apply(logits, tokens)
                tokens, completed = self.decoder.update(tokens, logits, sum_logprobs)
                if completed or tokens.shape[-1] > self.n_ctx:
                    break
        finally:
            self.inference.cleanup_caching()
        return tokens, sum_logprobs, no_speech_probs

    def _first_step(
        self, tokens: torch.Tensor, features: torch.Tensor
    ) -> tuple[torch.Tensor, list[float]]:
        """Logits for the first token of every beam, and each beam's no-speech probability."""
        group, inference, decoder = self.n_group, self.inference, self.model.decoder
        inference.kv_cache, inference.hooks = self.model.install_kv_cache_hooks()
        states = decoder_states(decoder, tokens[::group], features, inference.kv_cache)
        logits = output_logits(decoder, states[:, [self.sot_index, -1]])
        no_speech = [float("nan")] * tokens.shape[0]
        if self.tokenizer.no_speech is not None:
            at_sot = logits[:, 0].softmax(dim=-1)[:, self.tokenizer.no_speech]
            no_speech = at_sot.repeat_interleave(group).tolist()
        # Every beam continues from its own copy of the self-attention cache.
        for module in inference.kv_modules:
            inference.kv_cache[module] = inference.kv_cache[module].repeat_interleave(group, dim=0)
        return logits[:, 1].repeat_interleave(group, dim=0), no_speech


class _Aligner:
    """The model as ``whisper.timing`` sees it, with the window's encoder output already known:
    calling it runs the decoder only (whisper's would encode the window again)."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def __call__(self, features: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self._model.decoder(tokens, features)
        return logits


@dataclass
class _ChunkState:
    """One chunk being decoded window by window; times in seconds of the joined audio."""

    chunk: Chunk
    seek: int  # frame where the next window starts
    prompt: list[int]
    last_speech: float
    segments: list[dict[str, Any]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.seek >= self.chunk.end


def _word_anomaly(word: dict[str, Any]) -> float:
    probability = word.get("probability", 0.0)
    duration = word["end"] - word["start"]
    score = 0.0
    if probability < 0.15:
        score += 1.0
    if duration < 0.133:
        score += (0.133 - duration) * 15
    if duration > 2.0:
        score += duration - 2.0
    return score


def _is_anomaly(segment: dict[str, Any] | None) -> bool:
    if segment is None or not segment["words"]:
        return False
    words = [w for w in segment["words"] if w["word"] not in _PUNCTUATION][:8]
    score = sum(_word_anomaly(w) for w in words)
    return score >= 3 or score + 0.01 >= len(words)


def _next_words_segment(segments: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((s for s in segments if s["words"]), None)


class BatchedDecoder:
    """Transcribe joined speech chunk by chunk, windows of different chunks in one batch.

    batch_size: windows encoded and decoded together; 1 decodes the same windows one at a time
        (the same text, slower). Memory grows with it: each window adds its log-mel, its encoder
        output and the decoder's cross-attention keys and values (about 25 MB for tiny, float32).
    """

    def __init__(self, model: Any, *, batch_size: int, fp16: bool) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.model = model
        self.batch_size = batch_size
        self.fp16 = fp16
        self._dtype = torch.float16 if fp16 else torch.float32
        group_cross_attention(model)

    def transcribe(
        self,
        audio: np.ndarray,
        options: DecodingOptions,
        *,
        seams: Sequence[float] = (),
        progress: Callable[[float], None] | None = None,
    ) -> tuple[str, list[Segment]]:
        """The language and the segments of ``audio`` (times in seconds of ``audio``)."""
        model = self.model
        mel = log_mel_spectrogram(audio, model.dims.n_mels, padding=N_SAMPLES)
        chunks = plan_chunks(audio, seams)
        language = self._language(mel, options)
        tokenizer = get_tokenizer(
            model.is_multilingual,
            num_languages=model.num_languages,
            language=language,
            task=options.task,
        )
        prompt = (
            tokenizer.encode(" " + options.initial_prompt.strip())
            if options.initial_prompt is not None
            else []
        )
        states = [
            _ChunkState(c, c.start, list(prompt), c.start / FRAMES_PER_SECOND) for c in chunks
        ]
        torch.manual_seed(options.seed)
        while pending := [s for s in states if not s.done]:
            # Windows that share a prompt can share a decoder call.
            by_prompt: dict[tuple[int, ...], list[_ChunkState]] = {}
            for state in pending:
                by_prompt.setdefault(tuple(state.prompt), []).append(state)
            for key, group in by_prompt.items():
                for i in range(0, len(group), self.batch_size):
                    batch = group[i : i + self.batch_size]
                    self._decode_windows(batch, mel, list(key), language, tokenizer, options)
                    if progress is not None:
                        done = sum(min(s.seek, s.chunk.end) - s.chunk.start for s in states)
                        progress(done / FRAMES_PER_SECOND)
        return language, [
            segment_from_whisper(segment) for state in states for segment in state.segments
        ]

    def _language(self, mel: torch.Tensor, options: DecodingOptions) -> str:
        if options.language is not None or not self.model.is_multilingual:
            return options.language or "en"
        # As whisper.transcribe: detected once, on the first 30 s.
        window = pad_or_trim(mel, N_FRAMES).to(self.model.device).to(self._dtype)
        _, probs = self.model.detect_language(window)
        return str(max(probs, key=probs.get))

    def _decode_windows(
        self,
        batch: list[_ChunkState],
        mel: torch.Tensor,
        prompt: list[int],
        language: str,
        tokenizer: Tokenizer,
        options: DecodingOptions,
    ) -> None:
        sizes = [min(N_FRAMES, s.chunk.end - s.seek) for s in batch]
        windows = torch.stack(
            [
                pad_or_trim(mel[:, s.seek : s.seek + size], N_FRAMES)
                for s, size in zip(batch, sizes, strict=True)
            ]
        ).to(self.model.device)
        with torch.no_grad():
            features = self.model.encoder(windows.to(self._dtype))
        results = self._decode_with_fallback(features, prompt, language, options)
        for state, size, window_features, result in zip(
            batch, sizes, features, results, strict=True
        ):
            self._take(state, size, window_features, result, tokenizer, options)

    def _decode_with_fallback(
        self,
        features: torch.Tensor,
        prompt: list[int],
        language: str,
        options: DecodingOptions,
    ) -> list[DecodingResult]:
        results: list[DecodingResult | None] = [None] * features.shape[0]
        todo = list(range(features.shape[0]))
        for temperature in options.temperatures:
            decoding = whisper.DecodingOptions(
                task=options.task,
                language=language,
                temperature=temperature,
                # As whisper.transcribe: beams at temperature 0, best-of-N sampling above it.
                beam_size=options.beam_size if temperature == 0 else None,
                best_of=options.best_of if temperature > 0 else None,
                prompt=prompt,
                fp16=self.fp16,
            )
            decoded = _WindowsTask(self.model, decoding).run(features[todo])
            failed = []
            for index, result in zip(todo, decoded, strict=True):
                results[index] = result
                if _needs_fallback(result, options):
                    failed.append(index)
            if not failed:
                break
            todo = failed
        return [r for r in results if r is not None]

    def _take(
        self,
        state: _ChunkState,
        segment_size: int,
        features: torch.Tensor,
        result: DecodingResult,
        tokenizer: Tokenizer,
        options: DecodingOptions,
    ) -> None:
        """whisper.transcribe's handling of one decoded window, for one chunk."""
        seek = state.seek
        time_offset = seek / FRAMES_PER_SECOND
        window_end_time = (seek + N_FRAMES) / FRAMES_PER_SECOND
        segment_duration = segment_size / FRAMES_PER_SECOND
        chunk_start = state.chunk.start / FRAMES_PER_SECOND
        chunk_end = state.chunk.end / FRAMES_PER_SECOND

        if options.no_speech_threshold is not None:
            silent = result.no_speech_prob > options.no_speech_threshold
            if options.log_prob_threshold is not None and (
                result.avg_logprob > options.log_prob_threshold
            ):
                silent = False  # likely enough text despite the no-speech probability
            if silent:
                state.seek += segment_size
                return

        tokens = torch.tensor(result.tokens)

        def new_segment(start: float, end: float, part: torch.Tensor) -> dict[str, Any]:
            ids = part.tolist()
            return {
                "seek": seek,
                "start": start,
                "end": end,
                "text": tokenizer.decode([t for t in ids if t < tokenizer.eot]),
                "tokens": ids,
                "avg_logprob": result.avg_logprob,
                "no_speech_prob": result.no_speech_prob,
                "temperature": result.temperature,
            }

        current: list[dict[str, Any]] = []
        precision = 0.02  # seconds per timestamp token
        is_timestamp = tokens.ge(tokenizer.timestamp_begin)
        single_timestamp_ending = is_timestamp[-2:].tolist() == [False, True]
        consecutive = (torch.where(is_timestamp[:-1] & is_timestamp[1:])[0] + 1).tolist()
        next_seek = seek + segment_size
        if consecutive:
            slices = [*consecutive, len(tokens)] if single_timestamp_ending else consecutive
            last = 0
            for end in slices:
                part = tokens[last:end]
                begin_pos = part[0].item() - tokenizer.timestamp_begin
                end_pos = part[-1].item() - tokenizer.timestamp_begin
                current.append(
                    new_segment(
                        time_offset + begin_pos * precision, time_offset + end_pos * precision, part
                    )
                )
                last = end
            if not single_timestamp_ending:
                # The last segment is unfinished: decode again from its start.
                last_pos = tokens[last - 1].item() - tokenizer.timestamp_begin
                next_seek = seek + last_pos * 2  # two log-mel frames per timestamp step
        else:
            duration = segment_duration
            stamps = tokens[is_timestamp.nonzero().flatten()]
            if len(stamps) > 0 and stamps[-1].item() != tokenizer.timestamp_begin:
                duration = (stamps[-1].item() - tokenizer.timestamp_begin) * precision
            current.append(new_segment(time_offset, time_offset + duration, tokens))

        add_word_timestamps(
            segments=current,
            model=_Aligner(self.model),
            tokenizer=tokenizer,
            mel=features,
            num_frames=segment_size,
            last_speech_timestamp=state.last_speech,
        )
        if not single_timestamp_ending:
            last_word_end = get_end(current)
            if last_word_end is not None and last_word_end > time_offset:
                next_seek = round(last_word_end * FRAMES_PER_SECOND)

        threshold = options.hallucination_silence_threshold
        if threshold is not None:
            if not single_timestamp_ending:
                last_word_end = get_end(current)
                if last_word_end is not None and last_word_end > time_offset:
                    if window_end_time - last_word_end > threshold:
                        next_seek = round(last_word_end * FRAMES_PER_SECOND)
                    else:
                        next_seek = seek + segment_size
            # A doubtful first segment after a long pause: decode again from where it starts.
            first = _next_words_segment(current)
            if first is not None and _is_anomaly(first):
                gap = first["start"] - time_offset
                if gap > threshold:
                    state.seek = seek + round(gap * FRAMES_PER_SECOND)
                    return
            # A doubtful segment with silence (or more doubt) either side: drop it and all
            # after it, and decode again from where it starts.
            hal_last_end = state.last_speech
            for index, segment in enumerate(current):
                if not segment["words"]:
                    continue
                if _is_anomaly(segment):
                    following = _next_words_segment(current[index + 1 :])
                    next_start = (
                        following["words"][0]["start"]
                        if following is not None
                        else time_offset + segment_duration
                    )
                    silence_before = (
                        segment["start"] - hal_last_end > threshold
                        or segment["start"] - chunk_start < threshold
                        or segment["start"] - time_offset < 2.0
                    )
                    silence_after = (
                        next_start - segment["end"] > threshold
                        or _is_anomaly(following)
                        or window_end_time - segment["end"] < 2.0
                    )
                    if silence_before and silence_after:
                        restart = max(time_offset + 1, segment["start"])
                        next_seek = round(restart * FRAMES_PER_SECOND)
                        if chunk_end - segment["end"] < threshold:
                            next_seek = state.chunk.end
                        del current[index:]
                        break
                hal_last_end = segment["end"]

        last_word_end = get_end(current)
        if last_word_end is not None:
            state.last_speech = last_word_end
        kept = [s for s in current if s["start"] != s["end"] and s["text"].strip()]
        state.segments.extend(kept)
        if options.condition_on_previous_text and result.temperature <= 0.5:
            # As whisper: the prompt so far plus this window's text (DecodingTask keeps its end).
            state.prompt = state.prompt + [t for s in kept for t in s["tokens"]]
        else:
            state.prompt = []
        # Never stand still (whisper could, on a window that ends in <|0.00|><|0.00|>).
        state.seek = next_seek if next_seek > seek else seek + segment_size


def _needs_fallback(result: DecodingResult, options: DecodingOptions) -> bool:
    """whisper.transcribe's test: too repetitive or too unlikely, unless it is silence."""
    needs = False
    if (
        options.compression_ratio_threshold is not None
        and result.compression_ratio > options.compression_ratio_threshold
    ):
        needs = True
    if options.log_prob_threshold is not None and result.avg_logprob < options.log_prob_threshold:
        needs = True
    if (
        options.no_speech_threshold is not None
        and result.no_speech_prob > options.no_speech_threshold
        and options.log_prob_threshold is not None
        and result.avg_logprob < options.log_prob_threshold
    ):
        needs = False
    return needs

"""Measures the tests share."""

from __future__ import annotations


def word_error_rate(reference: str, hypothesis: str) -> float:
    """WER after Whisper's own English text normaliser, as the acceptance criterion states."""
    import jiwer
    from whisper.normalizers import EnglishTextNormalizer

    normalise = EnglishTextNormalizer()
    return float(jiwer.wer(normalise(reference), normalise(hypothesis)))

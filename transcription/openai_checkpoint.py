"""CTranslate2 Whisper model -> openai-whisper checkpoint, converted exactly.

The Whisper weights this project bundles are CTranslate2 ``model.bin`` files (float16), which
faster-whisper reads as they are. openai-whisper needs a PyTorch checkpoint
``{"dims": ..., "model_state_dict": ...}`` instead. Both formats hold the same numbers; only the
layout differs (CTranslate2 fuses the attention projections and renames everything), so the
conversion below splits and renames tensors and never does arithmetic on them: the float16
values come out bit-for-bit. Every dimension is read from the tensors, so any Whisper size works.

openai-whisper takes the cross-attention heads used for word timestamps from a table keyed by
official model name, not from the checkpoint; for a converted file they come from
``config.json`` via :func:`alignment_heads_dump`.

Converted checkpoints are cached as ``<name>-from-ct2-<sha256 of model.bin, 12 hex>.pt`` with a
``.sha256`` side file, so a cached file that was changed on disk is noticed and rebuilt.
"""

from __future__ import annotations

import base64
import gzip
import json
import mmap
import os
import re
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from transcription.files import sha256_file

if TYPE_CHECKING:
    import torch
    import whisper.model

SUPPORTED_BINARY_VERSIONS = (6,)  # the layout verified against real files; 4 and 5 may differ

# CTranslate2's DataType enum (include/ctranslate2/types.h). numpy has no bfloat16: those are
# read as their raw 16 bits and widened to float32, which is exact.
_DTYPES: dict[int, np.dtype[Any]] = {
    0: np.dtype("<f4"),
    1: np.dtype("i1"),
    2: np.dtype("<i2"),
    3: np.dtype("<i4"),
    4: np.dtype("<f2"),
    5: np.dtype("<u2"),
}
_BFLOAT16 = 5
_FLOAT_DTYPES = (np.dtype("<f4"), np.dtype("<f2"))

# CTranslate2 scalars that must hold these values for openai-whisper's architecture to compute
# the same function: GELU (ActivationType::GELU == 3), pre-layer-norm, unscaled embeddings.
_EXPECTED_DECODER_SCALARS = {
    "decoder/activation": 3,
    "decoder/pre_norm": 1,
    "decoder/scale_embeddings": 0,
    "decoder/alibi": 0,
}


class CheckpointError(ValueError):
    """A CTranslate2 model file is malformed or cannot be converted exactly."""


# -- reading model.bin ------------------------------------------------------------------------


@dataclass(frozen=True)
class Ct2Model:
    """The contents of a CTranslate2 ``model.bin``.

    ``variables`` maps names such as ``encoder/layer_0/self_attention/linear_0/weight`` to
    read-only arrays (scalars are 0-d arrays); ``aliases`` maps a name to the variable it shares
    storage with (``decoder/projection/weight`` -> ``decoder/embeddings/weight``).
    """

    version: int
    spec: str
    revision: int
    variables: dict[str, np.ndarray]
    aliases: dict[str, str]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.variables[self.aliases.get(name, name)]

    def __contains__(self, name: str) -> bool:
        return self.aliases.get(name, name) in self.variables

    def scalar(self, name: str) -> int:
        """An integer scalar such as ``decoder/num_heads`` (stored as a 0-d int16 array)."""
        value = self[name]
        if value.ndim != 0 or value.dtype.kind not in "iu":
            raise CheckpointError(f"{name} is not an integer scalar (shape {value.shape})")
        return int(value)


class _Cursor:
    """Reads little-endian fields from a buffer, failing cleanly at the end of the data."""

    def __init__(self, buffer: mmap.mmap | bytes, path: Path) -> None:
        self.buffer = buffer
        self.path = path
        self.offset = 0

    def take(self, size: int) -> int:
        """Reserve ``size`` bytes and return where they start."""
        start = self.offset
        if start + size > len(self.buffer):
            raise CheckpointError(
                f"{self.path} is truncated: needed {size} bytes at offset {start}, "
                f"file has {len(self.buffer)}"
            )
        self.offset += size
        return start

    def unpack(self, fmt: str) -> int:
        value: int = struct.unpack_from("<" + fmt, self.buffer, self.take(struct.calcsize(fmt)))[0]
        return value

    def string(self) -> str:
        length = self.unpack("H")
        start = self.take(length)
        raw = bytes(self.buffer[start : start + length])
        if not raw.endswith(b"\0"):
            raise CheckpointError(f"{self.path}: string at offset {start} is not NUL-terminated")
        return raw[:-1].decode("utf-8")


def _read_variable(cursor: _Cursor) -> tuple[str, np.ndarray]:
    name = cursor.string()
    rank = cursor.unpack("B")
    shape = tuple(cursor.unpack("I") for _ in range(rank))
    type_id = cursor.unpack("B")
    if type_id not in _DTYPES:
        raise CheckpointError(f"{cursor.path}: variable {name} has unknown dtype id {type_id}")
    dtype = _DTYPES[type_id]
    num_bytes = cursor.unpack("I")
    count = int(np.prod(shape, dtype=np.int64))
    if num_bytes != count * dtype.itemsize:
        raise CheckpointError(
            f"{cursor.path}: variable {name} of shape {shape} declares {num_bytes} bytes, "
            f"expected {count * dtype.itemsize}"
        )
    start = cursor.take(num_bytes)
    array = np.frombuffer(cursor.buffer, dtype=dtype, count=count, offset=start).reshape(shape)
    if type_id == _BFLOAT16:
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return name, array


def read_ct2_model(model_bin: Path) -> Ct2Model:
    """Parse a CTranslate2 ``model.bin`` without loading CTranslate2 or torch.

    The file is memory-mapped, so the arrays are views of the file and parsing costs nothing
    until they are used. Raises :class:`CheckpointError` for an unsupported version, an
    unknown dtype, a truncated file or trailing bytes (e.g. a badly joined split file).
    """
    with model_bin.open("rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            raise CheckpointError(f"{model_bin} is empty")
        buffer = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    cursor = _Cursor(buffer, model_bin)
    version = cursor.unpack("I")
    if version not in SUPPORTED_BINARY_VERSIONS:
        raise CheckpointError(
            f"{model_bin}: CTranslate2 binary version {version} is not supported "
            f"(supported: {SUPPORTED_BINARY_VERSIONS})"
        )
    spec = cursor.string()
    revision = cursor.unpack("I")
    variables = dict(_read_variable(cursor) for _ in range(cursor.unpack("I")))
    aliases = {}
    for _ in range(cursor.unpack("I")):
        alias = cursor.string()
        aliases[alias] = cursor.string()
    if cursor.offset != len(buffer):
        raise CheckpointError(
            f"{model_bin}: {len(buffer) - cursor.offset} unexpected bytes after the model"
        )
    for alias, target in aliases.items():
        if target not in variables:
            raise CheckpointError(f"{model_bin}: alias {alias} points to missing {target}")
    return Ct2Model(version, spec, revision, variables, aliases)


# -- conversion -------------------------------------------------------------------------------


def _layer_count(ct2: Ct2Model, prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"/layer_(\d+)/")
    indices = {int(m.group(1)) for name in ct2.variables if (m := pattern.match(name))}
    if indices != set(range(len(indices))):
        raise CheckpointError(f"{prefix} layers are not numbered 0..n-1: {sorted(indices)}")
    return len(indices)


def model_dims(ct2: Ct2Model) -> dict[str, int]:
    """openai-whisper ``ModelDimensions`` fields, read from tensor shapes and head counts."""
    conv1 = ct2["encoder/conv1/weight"]
    audio_positions = ct2["encoder/position_encodings/encodings"]
    embeddings = ct2["decoder/embeddings/weight"]
    text_positions = ct2["decoder/position_encodings/encodings"]
    return {
        "n_mels": conv1.shape[1],
        "n_audio_ctx": audio_positions.shape[0],
        "n_audio_state": audio_positions.shape[1],
        "n_audio_head": ct2.scalar("encoder/num_heads"),
        "n_audio_layer": _layer_count(ct2, "encoder"),
        "n_vocab": embeddings.shape[0],
        "n_text_ctx": text_positions.shape[0],
        "n_text_state": embeddings.shape[1],
        "n_text_head": ct2.scalar("decoder/num_heads"),
        "n_text_layer": _layer_count(ct2, "decoder"),
    }


class _Converter:
    """Builds the openai state dict, recording which CTranslate2 variables were used.

    Every non-scalar variable must be used exactly once: a leftover tensor would mean the
    model has a part openai-whisper cannot represent, and the result would silently differ.
    """

    def __init__(self, ct2: Ct2Model) -> None:
        self.ct2 = ct2
        self.state: dict[str, np.ndarray] = {}
        self.used: set[str] = set()

    def get(self, name: str) -> np.ndarray:
        resolved = self.ct2.aliases.get(name, name)
        if resolved not in self.ct2.variables:
            raise CheckpointError(f"CTranslate2 variable {name} is missing")
        array = self.ct2.variables[resolved]
        if array.dtype not in _FLOAT_DTYPES:
            raise CheckpointError(
                f"{name} is {array.dtype}: quantized models cannot be converted exactly; "
                "use a float16/float32 CTranslate2 model"
            )
        self.used.add(resolved)
        return array

    def put(self, name: str, array: np.ndarray) -> None:
        if name in self.state:
            raise CheckpointError(f"openai tensor {name} produced twice")
        self.state[name] = array

    def copy(self, ct2_name: str, openai_name: str) -> None:
        self.put(openai_name, self.get(ct2_name))

    def layer_norm(self, ct2_prefix: str, openai_prefix: str) -> None:
        self.copy(f"{ct2_prefix}/gamma", f"{openai_prefix}.weight")
        self.copy(f"{ct2_prefix}/beta", f"{openai_prefix}.bias")

    def linear(self, ct2_prefix: str, openai_prefix: str) -> None:
        self.copy(f"{ct2_prefix}/weight", f"{openai_prefix}.weight")
        self.copy(f"{ct2_prefix}/bias", f"{openai_prefix}.bias")

    def fused_linear(self, ct2_prefix: str, openai_prefix: str, parts: tuple[str, ...]) -> None:
        """Split a fused projection along its output dimension (``key`` gets no bias)."""
        weight = self.get(f"{ct2_prefix}/weight")
        bias = self.get(f"{ct2_prefix}/bias")
        n = len(parts)
        if weight.shape[0] % n or bias.shape != weight.shape[:1]:
            raise CheckpointError(
                f"{ct2_prefix}: cannot split weight {weight.shape} / bias {bias.shape} into {n}"
            )
        for part, w, b in zip(parts, np.split(weight, n), np.split(bias, n), strict=True):
            prefix = f"{openai_prefix}.{part}"
            self.put(f"{prefix}.weight", w)
            if part == "key":
                # openai's key projection has no bias; a constant key bias would shift every
                # attention logit of a query equally, but a non-zero one means a model we do
                # not know, so refuse rather than guess.
                if np.any(b != 0):
                    raise CheckpointError(f"{ct2_prefix}: key bias is not zero")
            else:
                self.put(f"{prefix}.bias", b)

    def unused(self) -> list[str]:
        return sorted(
            name
            for name, array in self.ct2.variables.items()
            if array.ndim > 0 and name not in self.used
        )


_QKV = ("query", "key", "value")
_KV = ("key", "value")


def _convert_encoder(c: _Converter, n_layer: int) -> None:
    c.linear("encoder/conv1", "encoder.conv1")
    c.linear("encoder/conv2", "encoder.conv2")
    c.copy("encoder/position_encodings/encodings", "encoder.positional_embedding")
    for i in range(n_layer):
        ct2, oa = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        c.fused_linear(f"{ct2}/self_attention/linear_0", f"{oa}.attn", _QKV)
        c.linear(f"{ct2}/self_attention/linear_1", f"{oa}.attn.out")
        c.layer_norm(f"{ct2}/self_attention/layer_norm", f"{oa}.attn_ln")
        c.linear(f"{ct2}/ffn/linear_0", f"{oa}.mlp.0")
        c.linear(f"{ct2}/ffn/linear_1", f"{oa}.mlp.2")
        c.layer_norm(f"{ct2}/ffn/layer_norm", f"{oa}.mlp_ln")
    c.layer_norm("encoder/layer_norm", "encoder.ln_post")


def _convert_decoder(c: _Converter, n_layer: int) -> None:
    c.copy("decoder/embeddings/weight", "decoder.token_embedding.weight")
    c.copy("decoder/position_encodings/encodings", "decoder.positional_embedding")
    for i in range(n_layer):
        ct2, oa = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        c.fused_linear(f"{ct2}/self_attention/linear_0", f"{oa}.attn", _QKV)
        c.linear(f"{ct2}/self_attention/linear_1", f"{oa}.attn.out")
        c.layer_norm(f"{ct2}/self_attention/layer_norm", f"{oa}.attn_ln")
        c.linear(f"{ct2}/attention/linear_0", f"{oa}.cross_attn.query")
        c.fused_linear(f"{ct2}/attention/linear_1", f"{oa}.cross_attn", _KV)
        c.linear(f"{ct2}/attention/linear_2", f"{oa}.cross_attn.out")
        c.layer_norm(f"{ct2}/attention/layer_norm", f"{oa}.cross_attn_ln")
        c.linear(f"{ct2}/ffn/linear_0", f"{oa}.mlp.0")
        c.linear(f"{ct2}/ffn/linear_1", f"{oa}.mlp.2")
        c.layer_norm(f"{ct2}/ffn/layer_norm", f"{oa}.mlp_ln")
    c.layer_norm("decoder/layer_norm", "decoder.ln")
    _check_tied_projection(c)


def _check_tied_projection(c: _Converter) -> None:
    """openai-whisper computes logits with the token embedding; CTranslate2 must agree."""
    name = "decoder/projection/weight"
    if name not in c.ct2:
        raise CheckpointError(f"{name} is missing")
    if c.ct2.aliases.get(name) == "decoder/embeddings/weight":
        return
    if not np.array_equal(c.get(name), c.ct2["decoder/embeddings/weight"]):
        raise CheckpointError(f"{name} differs from the token embedding; openai ties them")
    if "decoder/projection/bias" in c.ct2 and np.any(c.get("decoder/projection/bias") != 0):
        raise CheckpointError("decoder/projection/bias is not zero; openai has none")


def _check_architecture(ct2: Ct2Model) -> None:
    if ct2.spec != "WhisperSpec":
        raise CheckpointError(f"not a Whisper model: spec is {ct2.spec!r}")
    for name, expected in _EXPECTED_DECODER_SCALARS.items():
        if name in ct2 and ct2.scalar(name) != expected:
            raise CheckpointError(
                f"{name} is {ct2.scalar(name)}, openai-whisper's architecture needs {expected}"
            )


def convert_ct2_to_openai(ct2_dir: Path) -> dict[str, Any]:
    """Convert ``ct2_dir/model.bin`` into an openai-whisper checkpoint dictionary.

    Returns ``{"dims": {...}, "model_state_dict": {name: torch.Tensor}}`` with the stored
    dtype kept (float16 stays float16), ready for ``torch.save`` and ``whisper.load_model``.
    """
    import torch

    ct2 = read_ct2_model(ct2_dir / "model.bin")
    _check_architecture(ct2)
    dims = model_dims(ct2)
    converter = _Converter(ct2)
    _convert_encoder(converter, dims["n_audio_layer"])
    _convert_decoder(converter, dims["n_text_layer"])
    if leftover := converter.unused():
        raise CheckpointError(f"CTranslate2 variables with no openai counterpart: {leftover}")
    state_dict: dict[str, torch.Tensor] = {
        name: torch.from_numpy(array.copy()) for name, array in converter.state.items()
    }
    return {"dims": dims, "model_state_dict": state_dict}


# -- alignment heads --------------------------------------------------------------------------


def encode_alignment_heads(
    heads: list[tuple[int, int]], n_text_layer: int, n_text_head: int
) -> bytes:
    """The dump ``whisper.model.Whisper.set_alignment_heads`` decodes.

    That is base85 of gzip of a C-order bool array ``[n_text_layer, n_text_head]``. gzip's
    timestamp is fixed at 0 so the same heads always give the same bytes.
    """
    mask = np.zeros((n_text_layer, n_text_head), dtype=bool)
    for layer, head in heads:
        if not (0 <= layer < n_text_layer and 0 <= head < n_text_head):
            raise CheckpointError(
                f"alignment head ({layer}, {head}) outside {n_text_layer} layers x "
                f"{n_text_head} heads"
            )
        mask[layer, head] = True
    return base64.b85encode(gzip.compress(mask.tobytes(), mtime=0))


def read_alignment_heads(ct2_dir: Path) -> list[tuple[int, int]] | None:
    """``alignment_heads`` from ``config.json`` as (layer, head) pairs; None if not given.

    Without them, CTranslate2 and openai-whisper both fall back to every head of the last
    half of the decoder layers, so None needs no special handling.
    """
    config_path = ct2_dir / "config.json"
    if not config_path.is_file():
        return None
    heads = json.loads(config_path.read_text(encoding="utf-8")).get("alignment_heads")
    if not heads:
        return None
    return [(int(layer), int(head)) for layer, head in heads]


def alignment_heads_dump(ct2_dir: Path) -> bytes | None:
    """The ``set_alignment_heads`` dump for a CTranslate2 directory, or None if unspecified."""
    heads = read_alignment_heads(ct2_dir)
    if heads is None:
        return None
    ct2 = read_ct2_model(ct2_dir / "model.bin")
    return encode_alignment_heads(
        heads, _layer_count(ct2, "decoder"), ct2.scalar("decoder/num_heads")
    )


# -- cache ------------------------------------------------------------------------------------


def checkpoint_filename(name: str, model_bin_sha256: str) -> str:
    """``<name>-from-ct2-<12 hex>.pt``: never an official name, which load_model would fetch."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "model"
    return f"{safe}-from-ct2-{model_bin_sha256[:12]}.pt"


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _recorded_sha256(path: Path) -> str | None:
    try:
        fields = _sidecar(path).read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):
        return None
    return fields[0] if fields else None


def _write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it into place."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def ensure_openai_checkpoint(
    ct2_dir: Path, cache_dir: Path, *, name: str, model_bin_sha256: str | None = None
) -> tuple[Path, str]:
    """Return ``(path, sha256)`` of the converted checkpoint, converting only when needed.

    The file name carries the ``model.bin`` hash, so changed weights get a new file; a caller
    that has already verified ``model.bin`` against a pinned hash passes it as
    ``model_bin_sha256`` rather than have it read again. The checkpoint's own SHA-256 is kept
    in ``<file>.sha256`` (``sha256sum`` format) and checked on every call: a cached file that
    no longer matches is converted again, not trusted.
    """
    bin_sha256 = model_bin_sha256 or sha256_file(ct2_dir / "model.bin")
    path = cache_dir / checkpoint_filename(name, bin_sha256)
    recorded = _recorded_sha256(path)
    if path.is_file() and recorded is not None:
        actual = sha256_file(path)
        if actual == recorded:
            return path, actual

    import torch

    checkpoint = convert_ct2_to_openai(ct2_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    _write_atomically(path, lambda f: torch.save(checkpoint, f))
    digest = sha256_file(path)
    line = f"{digest}  {path.name}\n".encode("ascii")
    _write_atomically(_sidecar(path), lambda f: f.write(line))
    return path, digest


def _hold_projections_in_fp16(model: whisper.model.Whisper) -> None:
    """Store every Linear/Conv1d weight as float16, leaving LayerNorm and embeddings float32.

    openai-whisper's ``Linear`` and ``Conv1d`` cast their weights to the input dtype on each
    call, so this halves their memory without changing a single result (the values were float16
    to begin with). LayerNorm needs float32 parameters for its float32 input, and the token plus
    position embedding sum would round differently in float16, so those stay float32.
    """
    from whisper.model import Conv1d, Linear

    for module in model.modules():
        if isinstance(module, Linear | Conv1d):
            module.half()


def load_checkpoint(
    path: Path,
    *,
    alignment_heads: bytes | None,
    device: str = "cpu",
    fp16_weights: bool = False,
) -> whisper.model.Whisper:
    """Load an openai-whisper checkpoint file with the alignment heads it needs.

    ``alignment_heads`` is a :func:`alignment_heads_dump`; None keeps openai-whisper's default
    (the upper half of the decoder's heads). ``fp16_weights=True`` keeps the projection weights
    in float16 (see :func:`_hold_projections_in_fp16`): less memory, same output.
    """
    import whisper

    model = whisper.load_model(str(path), device="cpu")
    if alignment_heads is not None:
        model.set_alignment_heads(alignment_heads)
    if fp16_weights:
        _hold_projections_in_fp16(model)
    return model.to(device)


def load_openai_model(
    ct2_dir: Path,
    cache_dir: Path,
    *,
    name: str,
    device: str = "cpu",
    fp16: bool = False,
) -> whisper.model.Whisper:
    """Load a CTranslate2 Whisper model into openai-whisper, with its real alignment heads.

    ``fp16=True`` keeps the projection weights in float16. Whether decoding computes in
    float16 is still openai-whisper's ``transcribe(fp16=...)`` option (CUDA only).
    """
    path, _ = ensure_openai_checkpoint(ct2_dir, cache_dir, name=name)
    return load_checkpoint(
        path, alignment_heads=alignment_heads_dump(ct2_dir), device=device, fp16_weights=fp16
    )

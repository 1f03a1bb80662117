"""openai-whisper's PyTorch model made faster on a CPU, without changing what it computes.

Decoding one token costs a pass through the decoder and then the output projection: the
hidden state times the token embedding (51,864 x 384 for tiny, 80 MB in float32), which has
to be read from memory at every step and for tiny takes more time than the rest of the step.

* :func:`contiguous_output_projection` stores the embedding transposed (same values), so the
  projection reads it row by row: about twice as fast on a CPU for a few rows at a time.
* :func:`quantize_int8` quantizes every linear layer, and the output projection, to int8
  weights (a quarter of the bytes to read, products in int8).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import whisper
from torch import nn


def contiguous_output_projection(model: Any) -> None:
    """Keep the token embedding in transposed order in memory (the same tensor values).

    whisper computes the logits as ``x @ embedding.T``; with the embedding stored row-major
    that is a product with a transposed matrix, which BLAS does at half the speed. Storing it
    column-major makes ``embedding.T`` contiguous; looking tokens up still works, by stride.
    """
    embedding = model.decoder.token_embedding
    with torch.no_grad():
        embedding.weight = nn.Parameter(embedding.weight.t().contiguous().t(), requires_grad=False)


def decoder_states(
    decoder: Any, x: torch.Tensor, xa: torch.Tensor, kv_cache: dict[Any, torch.Tensor] | None
) -> torch.Tensor:
    """whisper.model.TextDecoder.forward up to, not including, the output projection."""
    offset = next(iter(kv_cache.values())).shape[1] if kv_cache else 0
    x = decoder.token_embedding(x) + decoder.positional_embedding[offset : offset + x.shape[-1]]
    x = x.to(xa.dtype)
    for block in decoder.blocks:
        x = block(x, xa, mask=decoder.mask, kv_cache=kv_cache)
    states: torch.Tensor = decoder.ln(x)
    return states


def output_logits(decoder: Any, states: torch.Tensor) -> torch.Tensor:
    """The output projection: int8 when the decoder was quantized, else whisper's own."""
    output = getattr(decoder, "output", None)
    if output is not None:
        logits: torch.Tensor = output(states)
    else:
        logits = states @ torch.transpose(decoder.token_embedding.weight.to(states.dtype), 0, 1)
    return logits.float()


class _Int8OutputDecoder(whisper.model.TextDecoder):
    """whisper's TextDecoder with its output projection in int8 (``self.output``)."""

    output: nn.Module

    def forward(
        self, x: torch.Tensor, xa: torch.Tensor, kv_cache: dict[Any, torch.Tensor] | None = None
    ) -> torch.Tensor:
        return output_logits(self, decoder_states(self, x, xa, kv_cache))


def quantize_int8(model: Any) -> None:
    """Quantize a whisper model for the CPU, in place: int8 weights, one scale per output row.

    Dynamic quantization: weights are stored as int8, activations are quantized at each call,
    products run in int8 and come back as float32. It covers every linear layer (attention
    projections and MLPs, encoder and decoder) and the output projection, which whisper takes
    from the token embedding: a separate int8 copy of it (20 MB for tiny) computes the logits,
    while token lookup keeps the float32 embedding. The convolutions, layer norms and
    positional embeddings stay float32.

    openai-whisper's ``Linear`` subclasses ``nn.Linear`` only to cast its weights to the
    input's dtype (float16 on a GPU); ``quantize_dynamic`` matches layers by exact type and
    would skip every one, so they are made plain ``nn.Linear`` first (the same arithmetic in
    float32). Word alignment still works: it hooks the cross-attention modules, which stay.
    """
    for module in model.modules():
        if type(module) is whisper.model.Linear:
            module.__class__ = nn.Linear
    decoder = model.decoder
    embedding = decoder.token_embedding
    output = nn.Linear(embedding.embedding_dim, embedding.num_embeddings, bias=False)
    with torch.no_grad():
        output.weight.copy_(embedding.weight)
    decoder.output = output
    with warnings.catch_warnings():
        # torch 2.13 announces that eager-mode quantization will move to torchao; it still
        # works in the pinned torch.
        warnings.simplefilter("ignore", (UserWarning, DeprecationWarning, FutureWarning))
        torch.ao.quantization.quantize_dynamic(
            model,
            {nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig},
            dtype=torch.qint8,
            inplace=True,
        )
    decoder.__class__ = _Int8OutputDecoder

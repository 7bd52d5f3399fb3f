"""A small transformer encoder over token ids (``ModelSpec("transformer", …)``).

Pre-LN encoder (Xiong et al. 2020, "On layer normalization in the transformer architecture"; the
layout of GPT-2 and of most small transformers studied for their geometry)::

    x_0     = E_tok[ids] + E_pos[0 … T-1]                    (embed, shape (B, T, width))
    x'_k    = x_k + Attn_k(LN(x_k))                          (blocks.k: one residual block)
    x_{k+1} = x'_k + MLP_k(LN(x'_k))
    logits  = head(mean_t LN(x_depth)[t])                    (sequence classification)

``Attn`` is multi-head self-attention without a mask (an encoder: every token sees every
token), written out: ``q, k, v = LN(x)·W_inᵀ + b_in`` split into ``heads`` heads of width
``d_h = width/heads``, ``A = softmax(q kᵀ/√d_h)``, output ``concat_h(A v)·W_outᵀ + b_out`` (the
parametrisation of ``torch.nn.MultiheadAttention``, whose weights it can take). ``MLP`` is
``Linear(width, 4·width) → act → Linear(4·width, width)`` (the 4× expansion of Vaswani et al.
2017). The residual stream ``x_0 … x_depth`` — after the embedding and after each block — is
what :func:`layerflow.capture` records (``capture_layers``); with ``per_token=True`` every token
is a point and a track is one token's path through the layers.
"""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import nn

from layerflow._errors import ConfigError
from layerflow.models._nets import Activation, Linear, _out_features

MLP_RATIO = 4
"""Hidden width of each block's MLP in units of ``width`` (Vaswani et al. 2017: 2048 = 4·512)."""


class Embedding(nn.Embedding):
    """``nn.Embedding`` without PyTorch's own initialisation (no global-RNG draws);
    :func:`layerflow.models.build_model` draws its ``N(0, 1)`` values from a private generator."""

    def reset_parameters(self) -> None:
        return None


class LayerNorm(nn.LayerNorm):
    """``nn.LayerNorm`` whose values :func:`layerflow.models.build_model` sets (γ = 1, β = 0)."""

    def reset_parameters(self) -> None:
        return None


def token_ids(x: torch.Tensor, vocab: int) -> torch.Tensor:
    """Token ids ``(B, T)`` as int64 from integers or floats holding integers (a
    :class:`~layerflow.data.Dataset` stores them as float32), checked against ``vocab``."""
    if x.ndim != 2:
        raise ConfigError(f"a transformer takes token ids of shape (B, T); got shape "
                             f"{tuple(x.shape)}")
    if x.is_floating_point():
        ids = x.long()
        if not torch.equal(ids.to(x.dtype), x):
            raise ConfigError("token ids must be whole numbers; got non-integer values")
    else:
        ids = x.long()
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab):
        raise ConfigError(f"token ids must lie in 0 … vocab-1 = {vocab - 1}; got values "
                             f"from {int(ids.min())} to {int(ids.max())}")
    return ids


class TokenEmbedding(nn.Module):
    """``ids (B, T) -> E_tok[ids] + E_pos[0 … T-1]``, shape ``(B, T, width)``."""

    def __init__(self, vocab: int, length: int, width: int) -> None:
        super().__init__()
        self.vocab = vocab
        self.length = length
        self.token = Embedding(vocab, width)
        self.position = Embedding(length, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids = token_ids(x, self.vocab)
        if ids.shape[1] != self.length:
            raise ConfigError(f"sequences have {ids.shape[1]} tokens; this model was built "
                                 f"for {self.length} (in_dim)")
        return cast(torch.Tensor, self.token(ids) + self.position.weight)


def _softmax_scores(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``softmax(q kᵀ/√d_h)`` over the keys, shape ``(B, heads, T, T)``."""
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)


class SelfAttention(nn.Module):
    """Multi-head self-attention, no mask: ``(B, T, width) -> (B, T, width)`` (module docstring)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        if width % heads:
            raise ConfigError(f"heads={heads!r}: must divide width={width}")
        self.heads = heads
        self.in_proj = Linear(width, 3 * width)
        self.out_proj = Linear(width, width)

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """The attention weights ``A``, shape ``(B, heads, T, T)`` (rows sum to 1)."""
        q, k, _ = self._qkv(x)
        return _softmax_scores(q, k)

    def _qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, t, d = x.shape
        qkv = self.in_proj(x).reshape(b, t, 3, self.heads, d // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, heads, T, d_h)
        return q, k, v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self._qkv(x)
        att = _softmax_scores(q, k)
        return cast(torch.Tensor, self.out_proj((att @ v).transpose(1, 2).reshape(b, t, d)))


class TransformerBlock(nn.Module):
    """One pre-LN block: ``x + Attn(LN x)``, then ``+ MLP(LN ·)``; shape kept ``(B, T, width)``."""

    def __init__(self, width: int, heads: int, activation: str) -> None:
        super().__init__()
        self.ln1 = LayerNorm(width)
        self.attn = SelfAttention(width, heads)
        self.ln2 = LayerNorm(width)
        self.fc1 = Linear(width, MLP_RATIO * width)
        self.act = Activation(activation)
        self.fc2 = Linear(MLP_RATIO * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return cast(torch.Tensor, x + self.fc2(self.act(self.fc1(self.ln2(x)))))


class TransformerEncoder(nn.Module):
    """Sequence classifier over token ids (module docstring); ``in_dim`` is the sequence length.

    ``capture_layers``: ``["embed", "blocks.0", …]`` (the residual stream, all ``(B, T, width)``);
    ``residual_blocks``: the blocks (``TransportPenalty`` reads their velocities with ``h = 1``).
    Inputs are token ids of shape ``(B, T)``, integers or floats holding integers.
    """

    #: whole-number float inputs are token ids (:func:`layerflow._hooks.model_input`)
    float_token_ids = True

    def __init__(self, vocab: int, length: int, width: int, depth: int, heads: int,
                 n_classes: int, activation: str = "relu") -> None:
        super().__init__()
        self.n_classes = n_classes
        self.out_features = _out_features(n_classes)
        self.width = width
        self.heads = heads
        self.embed = TokenEmbedding(vocab, length, width)
        self.blocks = nn.ModuleList(TransformerBlock(width, heads, activation)
                                    for _ in range(depth))
        self.norm = LayerNorm(width)
        self.head = Linear(width, self.out_features)
        self.capture_layers: list[str] = ["embed", *(f"blocks.{i}" for i in range(depth))]
        self.residual_blocks: list[str] = [f"blocks.{i}" for i in range(depth)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x)
        for block in self.blocks:
            h = block(h)
        return cast(torch.Tensor, self.head(self.norm(h).mean(dim=1)))


"""Model shapes as data: :class:`ModelSpec` and the activation registry."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from layerflow._errors import ConfigError


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


#: activation name -> elementwise function (used by the modules and by the batched ensemble path)
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "tanh": torch.tanh,
    "gelu": F.gelu,
    "sigmoid": torch.sigmoid,
    "silu": F.silu,
    "elu": F.elu,
    "leaky_relu": F.leaky_relu,
    "softplus": F.softplus,
    "identity": _identity,
}

#: model kinds and what they build (see :func:`layerflow.models.build_model`)
KINDS: dict[str, str] = {
    "mlp": "plain MLP: `depth` hidden layers of `width` (or the explicit `widths`)",
    "bottleneck": "MLP of `depth` hidden layers of `width` with the middle one narrowed to "
    "`bottleneck_width` (default width // 2), e.g. 50,50,25,50,50",
    "resnet": "residual MLP x_{k+1} = x_k + h·r_k(x_k): lift, `depth` residual blocks of "
    "`width`, linear head; h defaults to 1/depth",
    "transformer": "pre-LN transformer encoder over token ids 0 … `vocab`-1: token + position "
    "embeddings of `width`, `depth` blocks (self-attention with `heads` heads, MLP 4·width), "
    "mean over tokens, linear head; in_dim is the sequence length",
}

#: fields a config leaves out of a run when unset (None), so that the runs of every config written
#: before they existed keep their ids (:mod:`layerflow.sweep`)
OPTIONAL_FIELDS: tuple[str, ...] = ("heads", "vocab")

DEFAULT_HEADS = 4
"""Attention heads of a transformer when ``heads`` is None: 4, as in the one-layer transformer of
Nanda et al. 2023 ("Progress measures for grokking via mechanistic interpretability"), or the
largest of 2, 1 that divides ``width``."""


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name}={value!r}: expected an int >= {minimum}")
    if value < minimum:
        raise ConfigError(f"{name}={value!r}: expected an int >= {minimum}")
    return value


@dataclass(frozen=True)
class ModelSpec:
    """The shape of a network, validated on construction.

    Fields
    ------
    kind
        ``"mlp"``, ``"bottleneck"``, ``"resnet"`` or ``"transformer"`` (see :data:`KINDS`).
    width, depth
        Hidden width and number of hidden layers (MLPs), residual blocks (resnet), or the
        model width ``d_model`` and number of blocks (transformer).
    h
        Step of the residual flow ``x_{k+1} = x_k + h·r_k(x_k)``; ``None`` means ``1/depth``
        (a flow over unit time). Only for ``kind="resnet"``.
    activation
        Name in :data:`ACTIVATIONS`.
    bottleneck_width
        Width of the middle hidden layer (index ``depth // 2``) of a bottleneck MLP; ``None`` means
        ``max(1, width // 2)``. Only for ``kind="bottleneck"``. Depth 5, width 50 gives the Ricci
        paper's 50,50,25,50,50; depth 11 gives 50×5, 25, 50×5.
    widths
        Explicit hidden widths for ``kind="mlp"`` (overrides ``width``/``depth``).
    heads
        Attention heads of a transformer (must divide ``width``); ``None`` means
        :data:`DEFAULT_HEADS`. Only for ``kind="transformer"``.
    vocab
        Number of token ids (inputs are ids ``0 … vocab-1``); required for
        ``kind="transformer"`` and only for it.
    """

    kind: str
    width: int = 50
    depth: int = 5
    h: float | None = None
    activation: str = "relu"
    bottleneck_width: int | None = None
    widths: tuple[int, ...] | None = None
    heads: int | None = None
    vocab: int | None = None

    #: kinds whose blocks are residual, ``x + f(x)``, so the transport cost ``Σ_k mean ‖r_k‖²`` is defined
    #: for them (the sweep's expansion and ``train_ensemble`` read this one tuple)
    RESIDUAL_KINDS: ClassVar[tuple[str, ...]] = ("resnet", "transformer")

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"kind={self.kind!r}: expected one of {sorted(KINDS)}")
        _check_int("width", self.width, 1)
        _check_int("depth", self.depth, 1)
        if self.activation not in ACTIVATIONS:
            raise ConfigError(
                f"activation={self.activation!r}: expected one of {sorted(ACTIVATIONS)}"
            )
        if self.h is not None:
            if self.kind != "resnet":
                raise ConfigError(f"h={self.h!r} applies only to kind='resnet', not {self.kind!r}")
            if isinstance(self.h, bool) or not isinstance(self.h, int | float) or not (
                math.isfinite(self.h) and self.h > 0
            ):
                raise ConfigError(f"h={self.h!r}: expected a finite number > 0 (or None)")
            object.__setattr__(self, "h", float(self.h))
        if self.bottleneck_width is not None:
            if self.kind != "bottleneck":
                raise ConfigError(
                    f"bottleneck_width={self.bottleneck_width!r} applies only to "
                    f"kind='bottleneck', not {self.kind!r}"
                )
            _check_int("bottleneck_width", self.bottleneck_width, 1)
        if self.kind == "bottleneck" and self.depth < 3:
            raise ConfigError(
                f"depth={self.depth!r}: a bottleneck MLP needs depth >= 3 (wide, narrow, wide)"
            )
        if self.widths is not None:
            if self.kind != "mlp":
                raise ConfigError(f"widths={self.widths!r} applies only to kind='mlp'")
            try:
                ws = tuple(self.widths)
            except TypeError as exc:
                raise ConfigError(f"widths={self.widths!r}: expected a sequence of ints") from exc
            if not ws:
                raise ConfigError("widths=(): expected at least one hidden width")
            for i, w in enumerate(ws):
                _check_int(f"widths[{i}]", w, 1)
            object.__setattr__(self, "widths", ws)
        for name in ("heads", "vocab"):
            if getattr(self, name) is not None and self.kind != "transformer":
                raise ConfigError(f"{name}={getattr(self, name)!r} applies only to "
                                     f"kind='transformer', not {self.kind!r}")
        if self.kind == "transformer":
            if self.vocab is None:
                raise ConfigError("vocab=None: kind='transformer' needs the number of token "
                                     "ids, e.g. vocab=10 for ids 0 … 9")
            _check_int("vocab", self.vocab, 2)
            if self.heads is not None:
                _check_int("heads", self.heads, 1)
                if self.width % self.heads:
                    raise ConfigError(f"heads={self.heads!r}: must divide width={self.width}")

    @property
    def n_heads(self) -> int:
        """A transformer's resolved heads: ``heads``, or :data:`DEFAULT_HEADS` (else the largest
        of 2, 1 dividing ``width``) when it is None."""
        if self.heads is not None:
            return self.heads
        return next(h for h in (DEFAULT_HEADS, 2, 1) if self.width % h == 0)

    @property
    def step(self) -> float:
        """The resolved residual step h (``1/depth`` when ``h`` is None)."""
        return self.h if self.h is not None else 1.0 / self.depth

    @property
    def hidden_widths(self) -> tuple[int, ...]:
        """Widths of the hidden states: MLP ``(width,)*depth`` (or ``widths``); bottleneck the same
        with index ``depth // 2`` narrowed; resnet and transformer ``(width,)*depth`` (the
        residual stream)."""
        if self.widths is not None:
            return self.widths
        ws = [self.width] * self.depth
        if self.kind == "bottleneck":
            ws[self.depth // 2] = (
                self.bottleneck_width if self.bottleneck_width is not None else max(1, self.width // 2)
            )
        return tuple(ws)

    def to_dict(self) -> dict[str, Any]:
        """Plain fields (for configs and result tables)."""
        d = asdict(self)
        if d["widths"] is not None:
            d["widths"] = list(d["widths"])
        return d

"""Building a network from a :class:`ModelSpec` and initialising it from a seed.

``model_structure`` gives the module with uninitialised weights (no RNG draws): the template of
an ensemble. ``build_model`` initialises it from a private ``torch.Generator(seed)``;
``initial_values`` gives the same values for many seeds at once, stacked.
"""

from __future__ import annotations

import torch
from torch import nn

from layerflow._errors import ConfigError
from layerflow.models._nets import MLP, ResidualMLP, _out_features
from layerflow.models._spec import ModelSpec
from layerflow.models._transformer import TransformerEncoder


def _draws(module: nn.Module, gen: torch.Generator) -> list[tuple[str, torch.Tensor]]:
    """Initial values of ``module``'s own parameters, drawn from ``gen`` in float64."""
    if isinstance(module, nn.Linear):
        bound = 1.0 / module.in_features**0.5
        out = []
        for pname, p in (("weight", module.weight), ("bias", module.bias)):
            if p is None:
                continue
            vals = torch.rand(p.shape, generator=gen, dtype=torch.float64)
            out.append((pname, (vals * 2.0 - 1.0) * bound))
        return out
    if isinstance(module, nn.Embedding):
        return [("weight", torch.randn(module.weight.shape, generator=gen, dtype=torch.float64))]
    if isinstance(module, nn.LayerNorm):
        return [(pname, torch.full(p.shape, fill, dtype=torch.float64))
                for pname, p, fill in (("weight", module.weight, 1.0), ("bias", module.bias, 0.0))
                if p is not None]
    return []


def initial_values(model: nn.Module, seeds: list[int]) -> dict[str, torch.Tensor]:
    """Initial values of every parameter of ``model``'s shape for each seed, stacked ``(E, …)``
    (``{name: tensor of shape (len(seeds), *param.shape)}``; row e is what ``build_model(…,
    seed=seeds[e])`` gives).

    Drawn in float64 from a private ``torch.Generator(seed)``, module by module in ``modules()``
    order, as PyTorch's own defaults are distributed: every Linear ``U(-1/√fan_in, 1/√fan_in)``
    for weight and bias; every Embedding ``N(0, 1)`` (``nn.Embedding``'s default); every
    LayerNorm γ = 1, β = 0 (no draw). A model of Linears only draws exactly as before the other
    kinds existed.
    """
    dtype = next(model.parameters()).dtype
    out: dict[str, list[torch.Tensor]] = {}
    for seed in seeds:
        gen = torch.Generator(device="cpu").manual_seed(int(seed))
        for name, module in model.named_modules():
            for pname, vals in _draws(module, gen):
                key = f"{name}.{pname}" if name else pname
                out.setdefault(key, []).append(vals.to(dtype))
    missing = [n for n, _ in model.named_parameters() if n not in out]
    if missing:
        raise ConfigError(f"{type(model).__name__}: no initialisation rule for {missing}")
    return {k: torch.stack(v) for k, v in out.items()}


def _init_(model: nn.Module, seed: int) -> None:
    """Initialise ``model`` in place from ``seed`` (see :func:`initial_values`)."""
    values = initial_values(model, [seed])
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(values[name][0])


def build_model(
    spec: ModelSpec,
    in_dim: int,
    n_classes: int,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> nn.Module:
    """Build the network ``spec`` describes, for inputs of width ``in_dim`` and ``n_classes``.

    ``in_dim`` is the input width (MLPs, residual MLPs) or the sequence length T of the token
    ids (``kind="transformer"``, inputs of shape ``(N, T)``). Initialisation is fully determined
    by ``seed`` (a private ``torch.Generator``; the global RNG is not touched): the same
    ``(spec, in_dim, n_classes, seed)`` gives the same weights, whatever ``dtype`` (values are
    drawn in float64 and rounded). Binary tasks (``n_classes == 2``) get one output logit
    (sigmoid/BCE); multi-class tasks ``n_classes`` logits (softmax/CE).
    """
    if not isinstance(spec, ModelSpec):
        raise ConfigError(f"spec={spec!r}: expected a ModelSpec")
    if isinstance(in_dim, bool) or not isinstance(in_dim, int) or in_dim < 1:
        raise ConfigError(f"in_dim={in_dim!r}: expected an int >= 1")
    _out_features(n_classes)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed={seed!r}: expected an int")
    if dtype not in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
        raise ConfigError(f"dtype={dtype!r}: expected a floating torch dtype")
    model = model_structure(spec, in_dim, n_classes, dtype)
    _init_(model, seed)
    return model


def model_structure(
    spec: ModelSpec, in_dim: int, n_classes: int, dtype: torch.dtype = torch.float32
) -> nn.Module:
    """The network ``spec`` describes, with uninitialised weights (no RNG draws): the template
    of an ensemble (:class:`ParameterStack`); :func:`build_model` initialises it."""
    model: nn.Module
    with torch.device("cpu"):
        if spec.kind == "resnet":
            model = ResidualMLP(in_dim, spec.width, spec.depth, n_classes, spec.h, spec.activation)
        elif spec.kind == "transformer":
            assert spec.vocab is not None  # ModelSpec checks it
            model = TransformerEncoder(spec.vocab, in_dim, spec.width, spec.depth,
                                       spec.n_heads, n_classes, spec.activation)
        else:
            model = MLP(in_dim, spec.hidden_widths, n_classes, spec.activation)
    if next(model.parameters()).dtype != dtype:  # .to() walks every submodule: skip when a no-op
        model = model.to(dtype)
    return model

"""ParameterStack: E networks of one shape in one flat tensor (the public stacking of ensembles)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from layerflow._errors import ConfigError
from layerflow.models import ModelSpec, ParameterStack, build_model, initial_values, model_structure

F64 = torch.float64
SEEDS = [3, 0, 7]


@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("kind", ["mlp", "resnet"])
def test_views_and_members_are_the_seeded_models(kind: str, transpose: bool) -> None:
    spec = ModelSpec(kind, width=5, depth=2)
    template = model_structure(spec, 3, 4, F64)
    stack = ParameterStack(template, initial_values(template, SEEDS), transpose_weights=transpose)
    assert stack.n_members == 3 and stack.flat.ndim == 1
    for e, seed in enumerate(SEEDS):
        ref = build_model(spec, 3, 4, seed=seed, dtype=F64)
        for (name, p), v in zip(ref.named_parameters(), stack.views(), strict=True):
            np.testing.assert_array_equal(v[e].numpy(), p.detach().numpy(), err_msg=name)
        member = stack.member(e)
        assert type(member) is type(ref)
        x = torch.randn(4, 3, dtype=F64, generator=torch.Generator().manual_seed(e))
        np.testing.assert_array_equal(member(x).detach().numpy(), ref(x).detach().numpy())
    if transpose:  # weights stored as (E, in, out): the first block is W_0ᵀ of member 0
        w = build_model(spec, 3, 4, seed=SEEDS[0], dtype=F64).state_dict()
        first = next(n for n in w if n.endswith("weight"))
        rows, cols = w[first].shape
        np.testing.assert_array_equal(stack.flat[: rows * cols].reshape(cols, rows).numpy(),
                                      w[first].T.numpy())


def test_stacked_forward_equals_each_member() -> None:
    spec = ModelSpec("resnet", width=4, depth=3, activation="tanh")
    template = model_structure(spec, 2, 3, F64)
    stack = ParameterStack(template, initial_values(template, SEEDS))
    x = torch.randn(3, 6, 2, dtype=F64, generator=torch.Generator().manual_seed(1))
    logits, _ = template.forward_stacked(stack.named(), x)  # type: ignore[operator]
    for e in range(3):
        np.testing.assert_allclose(logits[e].detach().numpy(),
                                   stack.member(e)(x[e]).detach().numpy(), rtol=1e-12)


def test_errors_name_what_is_wrong() -> None:
    template = model_structure(ModelSpec("mlp", width=3, depth=1), 2, 2, F64)
    values = initial_values(template, [0, 1])
    with pytest.raises(ConfigError, match=r"values lack parameters \['head.bias'\] of MLP"):
        ParameterStack(template, {k: v for k, v in values.items() if k != "head.bias"})
    bad = dict(values, **{"head.bias": torch.zeros(3, 1, dtype=F64)})
    with pytest.raises(ConfigError, match=r"values must have shape \(E, \*param.shape\) with "
                                             r"one E for every parameter"):
        ParameterStack(template, bad)
    bad = dict(values, **{"head.bias": torch.zeros(2, 2, dtype=F64)})
    with pytest.raises(ConfigError, match=r"'head.bias': \(2, 2\)"):
        ParameterStack(template, bad)

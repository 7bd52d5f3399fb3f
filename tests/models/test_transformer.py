"""The transformer kind: against torch's own modules, by hand, and its invariances."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from layerflow._capture import capture
from layerflow._errors import ConfigError
from layerflow.maps import jacobian_diagnostics
from layerflow.models import (
    DEFAULT_HEADS,
    ModelSpec,
    TransformerEncoder,
    build_model,
    initial_values,
    model_structure,
)
from layerflow.training import TransportPenalty

F64 = torch.float64


def _model(width: int = 8, depth: int = 1, heads: int | None = 2, vocab: int = 7,
           length: int = 5, n_classes: int = 3, seed: int = 0,
           activation: str = "relu") -> TransformerEncoder:
    spec = ModelSpec("transformer", width=width, depth=depth, heads=heads, vocab=vocab,
                     activation=activation)
    model = build_model(spec, in_dim=length, n_classes=n_classes, seed=seed, dtype=F64)
    assert isinstance(model, TransformerEncoder)
    return model.eval()


def _ids(n: int = 6, length: int = 5, vocab: int = 7, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, vocab, (n, length), generator=torch.Generator().manual_seed(seed))


def _torch_layer(block: nn.Module, width: int, heads: int) -> nn.TransformerEncoderLayer:
    """torch's own pre-LN encoder layer holding ``block``'s weights (dropout off)."""
    ref = nn.TransformerEncoderLayer(width, heads, dim_feedforward=4 * width, dropout=0.0,
                                     activation="relu", batch_first=True, norm_first=True,
                                     dtype=F64)
    with torch.no_grad():
        ref.self_attn.in_proj_weight.copy_(block.attn.in_proj.weight)
        ref.self_attn.in_proj_bias.copy_(block.attn.in_proj.bias)
        ref.self_attn.out_proj.weight.copy_(block.attn.out_proj.weight)
        ref.self_attn.out_proj.bias.copy_(block.attn.out_proj.bias)
        for mine, theirs in ((block.ln1, ref.norm1), (block.ln2, ref.norm2)):
            theirs.weight.copy_(mine.weight)
            theirs.bias.copy_(mine.bias)
        ref.linear1.weight.copy_(block.fc1.weight)
        ref.linear1.bias.copy_(block.fc1.bias)
        ref.linear2.weight.copy_(block.fc2.weight)
        ref.linear2.bias.copy_(block.fc2.bias)
    return ref.eval()


def test_attention_equals_torch_multihead_attention() -> None:
    model = _model(width=8, heads=2)
    attn = model.blocks[0].attn
    mha = nn.MultiheadAttention(8, 2, batch_first=True, dtype=F64)
    with torch.no_grad():
        mha.in_proj_weight.copy_(attn.in_proj.weight)
        mha.in_proj_bias.copy_(attn.in_proj.bias)
        mha.out_proj.weight.copy_(attn.out_proj.weight)
        mha.out_proj.bias.copy_(attn.out_proj.bias)
    x = torch.randn(4, 5, 8, dtype=F64, generator=torch.Generator().manual_seed(1))
    want, want_w = mha(x, x, x, need_weights=True, average_attn_weights=False)
    with torch.no_grad():
        got, got_w = attn(x), attn.weights(x)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got_w, want_w, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got_w.sum(-1), torch.ones(4, 2, 5, dtype=F64))


def test_one_layer_model_equals_hand_computed_forward_with_torchs_layer() -> None:
    model = _model(width=8, depth=1, heads=2, vocab=7, length=5, n_classes=3)
    ids = _ids()
    ref = _torch_layer(model.blocks[0], 8, 2)
    with torch.no_grad():
        x0 = model.embed.token.weight[ids] + model.embed.position.weight[None, :, :]
        x1 = ref(x0)
        final = torch.nn.functional.layer_norm(x1, (8,), model.norm.weight, model.norm.bias)
        want = final.mean(dim=1) @ model.head.weight.T + model.head.bias
        got = model(ids)
        got_float = model(ids.to(F64))  # ids stored as floats (a Dataset's X) give the same
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    assert torch.equal(got, got_float)
    assert got.shape == (6, 3)


def test_a_block_is_permutation_equivariant_over_tokens() -> None:
    """No mask and no positions inside a block: permuting the tokens permutes its output."""
    model = _model(width=8, depth=2, heads=4)
    x = torch.randn(3, 5, 8, dtype=F64, generator=torch.Generator().manual_seed(2))
    perm = torch.tensor([3, 0, 4, 1, 2])
    with torch.no_grad():
        for block in model.blocks:
            torch.testing.assert_close(block(x[:, perm]), block(x)[:, perm], rtol=1e-12,
                                       atol=1e-12)


def test_per_token_capture_rows_are_the_hidden_states_indexed_by_hand() -> None:
    model = _model(width=8, depth=2, heads=2, length=5)
    ids = _ids(n=4)
    traj = capture(model, ids.numpy().astype(np.float32), per_token=True,
                   labels=np.array([0, 1, 2, 1]))
    with torch.no_grad():
        hidden = [model.embed(ids.to(F64))]
        for block in model.blocks:
            hidden.append(block(hidden[-1]))
    assert list(traj.layer_names) == ["input", "embed", "blocks.0", "blocks.1"]
    assert traj.n_samples == 4 * 5 and traj.widths == (1, 8, 8, 8)
    for r in range(traj.n_samples):
        i, t = int(traj.sample_index[r]), int(traj.position[r])
        assert (i, t) == divmod(r, 5)
        assert traj.states[0][r, 0] == ids[i, t]
        for layer, h in enumerate(hidden, start=1):
            np.testing.assert_array_equal(traj.states[layer][r], h[i, t].numpy())
    np.testing.assert_array_equal(traj.labels, np.repeat([0, 1, 2, 1], 5))


def test_build_is_seeded_private_and_draws_pytorchs_defaults() -> None:
    spec = ModelSpec("transformer", width=16, depth=2, vocab=50)
    state = torch.random.get_rng_state()
    a = build_model(spec, in_dim=20, n_classes=2, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG is not touched
    b = build_model(spec, in_dim=20, n_classes=2, seed=3)
    c = build_model(spec, in_dim=20, n_classes=2, seed=4)
    for (n, pa), (_, pb), (_, pc) in zip(a.named_parameters(), b.named_parameters(),
                                        c.named_parameters(), strict=True):
        assert torch.equal(pa, pb), n
        if "ln" not in n and "norm" not in n:
            assert not torch.equal(pa, pc), n
    emb = torch.cat([a.embed.token.weight.flatten(), a.embed.position.weight.flatten()]).detach()
    assert abs(float(emb.mean())) < 0.1 and abs(float(emb.std()) - 1.0) < 0.1  # N(0, 1)
    fc1 = a.blocks[0].fc1.weight.detach()
    assert float(fc1.abs().max()) <= 1 / math.sqrt(16)  # U(-1/√fan_in, 1/√fan_in)
    assert float(fc1.abs().max()) > 0.9 / math.sqrt(16)
    assert torch.equal(a.blocks[1].ln2.weight, torch.ones(16))
    assert torch.equal(a.norm.bias, torch.zeros(16))
    assert a.heads == DEFAULT_HEADS and a.capture_layers == ["embed", "blocks.0", "blocks.1"]
    assert a.out_features == 1  # binary: one logit


def _old_initial_values(model: nn.Module, seeds: list[int]) -> dict[str, torch.Tensor]:
    """initial_values as it was before other module kinds existed (Linears only)."""
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    out: dict[str, list[torch.Tensor]] = {}
    for seed in seeds:
        gen = torch.Generator(device="cpu").manual_seed(int(seed))
        for name, module in layers:
            bound = 1.0 / module.in_features**0.5
            for pname in ("weight", "bias"):
                vals = torch.rand(getattr(module, pname).shape, generator=gen, dtype=F64)
                out.setdefault(f"{name}.{pname}", []).append(((vals * 2.0 - 1.0) * bound).float())
    return {k: torch.stack(v) for k, v in out.items()}


@pytest.mark.parametrize("spec", [ModelSpec("mlp", width=5, depth=3),
                                  ModelSpec("bottleneck", width=6, depth=3),
                                  ModelSpec("resnet", width=4, depth=3)])
def test_linear_only_models_draw_exactly_as_before(spec: ModelSpec) -> None:
    template = model_structure(spec, 3, 2)
    new, old = initial_values(template, [0, 7]), _old_initial_values(template, [0, 7])
    assert list(new) == list(old)
    for name in old:
        assert torch.equal(new[name], old[name]), name


def test_jacobians_of_blocks_and_not_of_the_embedding() -> None:
    model = _model(width=4, depth=2, heads=2, length=3)
    diag = jacobian_diagnostics(model, _ids(n=5, length=3).numpy().astype(np.float32))
    embed, b0, b1 = diag.layers
    assert not embed.applicable and (embed.in_width, embed.out_width) == (3, 12)
    assert b0.applicable and b0.in_width == b0.out_width == 12 and b1.applicable
    # one Jacobian by hand: J of block 0 at sample 0 with torch.autograd.functional.jacobian
    with torch.no_grad():
        x = model.embed(_ids(n=5, length=3).to(F64))[0]
    J = torch.autograd.functional.jacobian(lambda v: model.blocks[0](v.reshape(1, 3, 4))
                                           .reshape(-1), x.reshape(-1))
    np.testing.assert_allclose(b0.logabsdet[0], float(torch.linalg.slogdet(J)[1]), rtol=1e-9)


def test_transport_penalty_reads_each_blocks_displacement() -> None:
    model = _model(width=8, depth=2, heads=2)
    ids = _ids()
    with TransportPenalty(model) as pen:
        model(ids)
        cost = pen.cost()
    with torch.no_grad():
        x0 = model.embed(ids)
        x1 = model.blocks[0](x0)
        x2 = model.blocks[1](x1)
    want = ((x1 - x0) ** 2).mean() + ((x2 - x1) ** 2).mean()  # LAP's mean, h = 1
    torch.testing.assert_close(cost.detach(), want, rtol=1e-12, atol=0.0)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"kind": "transformer"}, "vocab=None"),
        ({"kind": "transformer", "vocab": 1}, "vocab=1"),
        ({"kind": "transformer", "vocab": 10, "width": 10, "heads": 4}, "heads=4: must divide"),
        ({"kind": "transformer", "vocab": 10, "heads": 0}, "heads=0"),
        ({"kind": "mlp", "heads": 2}, "heads=2 applies only"),
        ({"kind": "resnet", "vocab": 5}, "vocab=5 applies only"),
    ],
)
def test_invalid_transformer_specs_name_the_field(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        ModelSpec(**kwargs)  # type: ignore[arg-type]
    assert needle in str(info.value)


def test_default_heads_divide_the_width() -> None:
    assert ModelSpec("transformer", width=32, vocab=3).n_heads == 4
    assert ModelSpec("transformer", width=6, vocab=3).n_heads == 2
    assert ModelSpec("transformer", width=7, vocab=3).n_heads == 1
    assert ModelSpec("transformer", width=6, vocab=3, heads=3).n_heads == 3


@pytest.mark.parametrize(
    ("x", "needle"),
    [
        (torch.tensor([[0.0, 1.5, 2.0, 3.0, 4.0]]), "whole numbers"),
        (torch.tensor([[0, 1, 2, 3, 7]]), "0 … vocab-1 = 6; got values from 0 to 7"),
        (torch.tensor([[-1, 1, 2, 3, 4]]), "from -1 to 4"),
        (torch.tensor([[0, 1, 2]]), "3 tokens; this model was built for 5"),
        (torch.zeros(2, 5, 3), "shape (B, T); got shape (2, 5, 3)"),
    ],
)
def test_bad_token_ids_are_refused_by_name(x: torch.Tensor, needle: str) -> None:
    model = _model()
    with pytest.raises(ConfigError) as info:
        model(x)
    assert needle in str(info.value)


def test_heads_must_divide_width_in_the_module_too() -> None:
    from layerflow.models import SelfAttention

    with pytest.raises(ConfigError, match="heads=3: must divide width=8"):
        SelfAttention(8, 3)


def test_a_parameter_without_an_initialisation_rule_is_named() -> None:
    model = nn.Sequential(nn.Linear(2, 3), nn.Conv1d(3, 3, 1))
    with pytest.raises(ConfigError, match=r"Sequential: no initialisation rule for "
                                             r"\['1.weight', '1.bias'\]"):
        initial_values(model, [0])

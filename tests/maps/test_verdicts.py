"""Invertibility verdicts that never overclaim, and token-id models differentiated from their
embedding on. (Real torchvision blocks: tests/test_vision.py.)"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

import layerflow as lf
from layerflow.maps import MatfreeOptions, jacobian_diagnostics
from layerflow.maps._jacobian import matfree_verdicts

from .nets import Net


def test_verdict_table() -> None:
    bounds = np.array([
        [2.0, 5.0],        # converged, upper bound below cond_max: invertible
        [2.0, 5.0],        # same bounds, not converged: unknown
        [2.0, math.inf],   # converged, smallest singular value unresolved: unknown
        [50.0, 200.0],     # straddles cond_max = 100: unknown
        [150.0, math.inf],  # lower bound above cond_max: known not invertible
    ])
    converged = np.array([True, False, True, True, False])
    inv, known, reasons = matfree_verdicts(bounds, converged, 100.0, 80)
    np.testing.assert_array_equal(inv, [True, False, False, False, False])
    np.testing.assert_array_equal(known, [True, False, False, False, True])
    assert reasons == (
        "invertibility unknown for 1 of 5 samples: the extreme Ritz values did not converge "
        "within max_steps=80",
        "invertibility unknown for 1 of 5 samples: the smallest singular value is unresolved "
        "(upper bound of the condition number ∞)",
        "invertibility unknown for 1 of 5 samples: the condition-number bounds straddle "
        "cond_max=100",
    )


def _diag(s: np.ndarray) -> nn.Linear:
    """x -> diag(s) x: singular values s (known), one of them 0 when asked."""
    lin = nn.Linear(len(s), len(s), bias=False).double()
    with torch.no_grad():
        lin.weight.copy_(torch.diag(torch.as_tensor(s, dtype=torch.float64)))
    return lin


def test_a_singular_map_is_never_called_invertible_by_the_matrix_free_path() -> None:
    s = np.geomspace(1e-3, 1.0, 40)
    s[0] = 0.0
    net = Net([_diag(s)])
    X = np.random.default_rng(0).standard_normal((3, 40))
    exact = jacobian_diagnostics(net, X, method="exact").layers[0]
    assert not exact.invertible.any() and np.all(exact.condition == np.inf)
    mf = jacobian_diagnostics(net, X, method="matfree",
                              matfree=MatfreeOptions(max_steps=10, check_every=5)).layers[0]
    assert not mf.invertible.any()
    assert math.isnan(mf.fraction_invertible)
    assert not mf.invertible_known.all() and "invertibility unknown" in mf.reason
    assert mf.verdict_reasons and mf.reason == "; ".join(mf.verdict_reasons)


def test_a_well_conditioned_map_is_shown_invertible_by_both_paths() -> None:
    net = Net([_diag(np.linspace(0.5, 2.0, 30))])
    X = np.random.default_rng(0).standard_normal((2, 30))
    mf = jacobian_diagnostics(net, X, method="matfree").layers[0]
    assert mf.invertible.all() and mf.invertible_known.all() and mf.fraction_invertible == 1.0
    assert mf.reason == "" and mf.verdict_reasons == ()
    exact = jacobian_diagnostics(net, X, method="exact").layers[0]
    assert exact.invertible_known.all() and exact.fraction_invertible == 1.0


def test_a_token_id_model_is_differentiated_from_its_embedding_output() -> None:
    model = lf.build_model(lf.ModelSpec("transformer", width=8, depth=2, vocab=10), in_dim=5,
                           n_classes=2, seed=0)
    ids = torch.randint(0, 10, (3, 5), generator=torch.Generator().manual_seed(0))
    res = jacobian_diagnostics(model, ids, layers=["embed", "blocks.0", "blocks.1"],
                               method="exact")
    emb, b0 = res["embed"], res["blocks.0"]
    assert not emb.applicable and "takes token ids (torch.int64)" in emb.reason
    assert b0.applicable and b0.in_width == 40 and np.isfinite(b0.logabsdet).all()
    work = model.double().eval()
    with torch.no_grad():
        h = work.embed(ids)
    for i in range(3):
        J = torch.autograd.functional.jacobian(
            lambda v: work.blocks[0](v.reshape(1, 5, 8)).reshape(-1), h[i].reshape(-1))
        np.testing.assert_allclose(b0.logabsdet[i], float(torch.linalg.slogdet(J)[1]),
                                   rtol=1e-8)

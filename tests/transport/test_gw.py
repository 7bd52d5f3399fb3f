"""Gromov–Wasserstein OT score: known answers on isometric copies, across widths."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ortho_group

from layerflow import Trajectory
from layerflow._errors import ConfigError
from layerflow.transport import gw_ot_score


def _embed(X: np.ndarray, dim: int, seed: int) -> np.ndarray:
    """An isometric embedding of X (m, d) into R^dim: pad with zeros, rotate, shift."""
    pad = np.hstack([X, np.zeros((X.shape[0], dim - X.shape[1]))])
    return pad @ ortho_group.rvs(dim, random_state=seed) + 2.5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_isometric_embedding_scores_one(seed: int) -> None:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((120, 3)) * [3.0, 2.0, 1.0]  # generic: no symmetries
    traj = Trajectory([X, _embed(X, 8, seed)], layer_names=["in", "wide"])
    res = gw_ot_score(traj)
    assert res.score == pytest.approx(1.0, abs=1e-9)
    assert res.gw_loss == pytest.approx(0.0, abs=1e-8)
    assert res.m == 120 and res.states == (0, 1)


def test_shuffled_isometric_copy_scores_its_fixed_points() -> None:
    rng = np.random.default_rng(5)
    X = rng.standard_normal((100, 2)) * [2.0, 1.0]
    perm = rng.permutation(100)
    perm[:30] = np.arange(30)  # 30 (or a few more) samples keep their own image
    perm[30:] = 30 + rng.permutation(70)
    traj = Trajectory([X, rng.standard_normal((100, 4)), _embed(X, 5, 0)[perm]])
    res = gw_ot_score(traj)  # first vs last state
    assert res.states == (0, 2)
    assert res.score == pytest.approx(np.mean(perm == np.arange(100)), abs=1e-9)


def test_subsample_and_errors(rng: np.random.Generator) -> None:
    X = rng.standard_normal((50, 2))
    traj = Trajectory([X, rng.standard_normal((50, 3))])
    assert gw_ot_score(traj, m=20, seed=1).m == 20
    assert gw_ot_score(traj, m=51).m == 50  # m is an upper bound, as in ot_score
    with pytest.raises(ConfigError, match=r"source and target are the same state 1"):
        gw_ot_score(traj, source=1, target=-1)
    with pytest.raises(ConfigError, match=r"target=2 is not a state index.*2 states"):
        gw_ot_score(traj, target=2)
    with pytest.raises(TypeError, match=r"got list"):
        gw_ot_score([X, X])  # type: ignore[arg-type]


def _wrap_gw(monkeypatch: pytest.MonkeyPatch, before: object = None, **override: object) -> None:
    """Replace POT's solver by one that emits warnings first and/or overrides keyword arguments."""
    import ot

    real = ot.gromov.gromov_wasserstein

    def wrapped(*args: object, **kwargs: object) -> object:
        if callable(before):
            before()
        kwargs.update(override)
        return real(*args, **kwargs)

    monkeypatch.setattr(ot.gromov, "gromov_wasserstein", wrapped)


def test_unconverged_inner_solve_is_refused(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """POT's own 'numItermax reached' warning (inner EMD capped at 2 iterations) becomes an error."""
    from layerflow._errors import NotComputableError

    _wrap_gw(monkeypatch, numItermaxEmd=2)
    traj = Trajectory([rng.standard_normal((30, 2)), rng.standard_normal((30, 3))])
    with pytest.raises(NotComputableError, match=r"did not converge on m=30 \(numItermax reached"):
        gw_ot_score(traj)


def test_other_pot_warnings_reach_the_caller_with_their_category(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import warnings

    def emit() -> None:
        warnings.warn("POT says: check your input", UserWarning, stacklevel=1)
        warnings.warn("POT says: overflow in a temporary", RuntimeWarning, stacklevel=1)

    _wrap_gw(monkeypatch, before=emit)
    X = rng.standard_normal((40, 2))
    traj = Trajectory([X, _embed(X, 4, 0)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = gw_ot_score(traj)
    got = [(w.category, str(w.message)) for w in caught]
    assert got == [(UserWarning, "POT says: check your input"),
                   (RuntimeWarning, "POT says: overflow in a temporary")]
    assert res.score == pytest.approx(1.0, abs=1e-9)  # the result is still returned
    # under a strict filter (pytest's warnings-as-errors) the first one surfaces as an error
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="check your input"):
            gw_ot_score(traj)

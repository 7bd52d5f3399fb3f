"""State kinds: token ids and the final norm are left out of the views by default, and the views
say so; one argument brings the final norm back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import layerflow as lf
from layerflow._errors import ConfigError
from layerflow._trajectory import Trajectory
from layerflow.views import get_view

KINDS = ("input_ids", "embedding", "block", "block", "block", "final_norm")
NAMES = ("input_ids", "embeddings", "h.0", "h.1", "h.2", "final_norm")


def _tokens(n: int = 60, d: int = 3) -> Trajectory:
    """Tracks of constant steps a (blocks) then a big step b into the final norm."""
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(n, d))
    a = np.array([1.0, 0.0, 0.0])
    b = np.array([0.0, 30.0, 0.0])
    states = [rng.integers(0, 50, size=(n, 1)).astype(float), x0, x0 + a, x0 + 2 * a,
              x0 + 3 * a, x0 + 3 * a + b]
    return Trajectory(states, layer_names=NAMES, kinds=KINDS)


def test_transport_leaves_the_final_norm_out_and_says_so() -> None:
    traj = _tokens()
    res = get_view("transport").measure(traj)
    # three equal steps a along one line: LSS 1, kinetic energy 3·|a|² = 3 (closed forms)
    assert res.scalars["transport_run"] == "1..4 (embeddings..h.2)"
    assert res.scalars["lss_mean"] == pytest.approx(1.0)
    assert res.scalars["kinetic_energy"] == pytest.approx(3.0)
    note = res.scalars["transport_note"]
    assert "state 0 'input_ids' (input_ids" in note and "state 5 'final_norm' (final_norm" in note
    assert "final_norm=True keeps it" in note
    back = get_view("transport").measure(traj, final_norm=True)
    assert back.scalars["transport_run"] == "1..5 (embeddings..final_norm)"
    assert back.scalars["kinetic_energy"] == pytest.approx(3.0 + 900.0)
    # the plain functions: the same default run, and run= names another
    assert lf.transport.line_shape_score(traj).run == (1, 4)
    assert lf.transport.kinetic_energy(traj, run=(1, 5)) == pytest.approx(903.0)


def test_ricci_leaves_token_ids_and_the_final_norm_out() -> None:
    traj = _tokens(n=40)
    rc = lf.ricci.ricci_coefficient(traj, k=5)
    assert rc.layer_names == ("embeddings", "h.0", "h.1", "h.2")
    assert lf.ricci.ricci_coefficient(traj, k=5, final_norm=True).layer_names[-1] == "final_norm"
    # the k scans take the same option (ricci_k_scan did not before the options were shared)
    scan = lf.ricci.ricci_k_scan(traj, ks=(5,), local=False, final_norm=True).global_[5]
    assert scan.layer_names[-1] == "final_norm"
    assert lf.ricci.ricci_k_scan(traj, ks=(5,), local=False).global_[5].layer_names == rc.layer_names
    res = get_view("ricci").measure(traj, k=5)
    assert "state 5 'final_norm'" in res.scalars["ricci_note"]
    assert res.scalars["ricci_layers"] == 3
    plain = Trajectory(list(traj.states))  # no kinds: every state is read
    assert lf.ricci.ricci_coefficient(plain, k=5).layer_names == (
        "input", "layer1", "layer2", "layer3", "layer4", "layer5")


def test_the_ricci_view_reads_a_declared_subsample_of_a_large_trajectory() -> None:
    traj = _tokens(n=80)
    res = get_view("ricci").measure(traj, k=5, max_points=50, seed=3)
    assert res.scalars["ricci_n"] == 50
    assert "a subsample of 50 of the 80 points (seed 3" in res.scalars["ricci_note"]
    direct = lf.ricci.ricci_coefficient(traj.subsample(50, seed=3), k=5)
    assert res.scalars["ricci_rho"] == pytest.approx(direct.coefficient, nan_ok=True)


def test_kinds_travel_through_select_rows_concat_and_files(tmp_path: Path) -> None:
    traj = _tokens(n=10)
    assert traj.select(1, 3).kinds == ("embedding", "block", "block")
    assert traj.subsample(4, seed=0).kinds == KINDS
    for compress in (True, False):
        back = Trajectory.load(traj.save(tmp_path / f"k{compress}.npz", compress=compress),
                               mmap=not compress)
        assert back.kinds == KINDS and back.layer_names == NAMES
        for a, b in zip(back.states, traj.states, strict=True):
            np.testing.assert_array_equal(a, b)
    assert Trajectory([np.eye(2), np.eye(2)]).kinds == ("input", "block")


def test_concat_offsets_sample_index() -> None:
    hs = [np.random.default_rng(1).normal(size=(3, 4, 2)) for _ in range(3)]
    a = Trajectory.from_hidden_states(hs, labels=np.arange(3))
    b = Trajectory.from_hidden_states([h[:2] for h in hs], labels=np.arange(2))
    both = Trajectory.concat([a, b])
    assert both.n_samples == 12 + 8
    np.testing.assert_array_equal(both.sample_index[12:], np.repeat([3, 4], 4))
    np.testing.assert_array_equal(both.position[12:], np.tile(np.arange(4), 2))
    whole = Trajectory.from_hidden_states([np.concatenate([h, h[:2]]) for h in hs])
    np.testing.assert_array_equal(both.states[2], whole.states[2])


@pytest.mark.parametrize(("parts", "needle"), [
    ([], "concat needs at least one trajectory"),
    (["x"], "concat takes Trajectory objects; got str"),
    ([Trajectory([np.eye(2)]), Trajectory([np.eye(3)])], r"trajectory 1 has widths \[3\] but "
     r"trajectory 0 has \[2\]"),
    ([Trajectory([np.eye(2)], labels=[0, 1]), Trajectory([np.eye(2)])],
     "trajectory 1 has no labels but trajectory 0 has; concat needs all or none"),
])
def test_concat_refuses_parts_that_do_not_fit(parts: list, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        Trajectory.concat(parts)


def test_from_hidden_states_subsets_keep_their_names() -> None:
    hs = [np.full((2, 3, 2), float(i)) for i in range(5)]
    sub = Trajectory.from_hidden_states(hs, layers=slice(0, None, 2), final_norm=True)
    assert sub.layer_names == ("embeddings", "layer2", "final_norm")
    assert sub.kinds == ("embedding", "block", "final_norm")
    np.testing.assert_array_equal(sub.states[1], np.full((6, 2), 2.0))
    assert Trajectory.from_hidden_states(hs, layers=[0, -1]).layer_names == ("embeddings",
                                                                             "layer4")


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"layers": 3}, r"layers=3: expected a slice or a list of indices"),
    ({"layers": [0, 7]}, r"layers: 7 is not an index into the 5 hidden states"),
    ({"layers": slice(5, None)}, r"selects none of the 5 hidden states"),
    ({"layers": [1, 1]}, r"repeats a hidden state"),
])
def test_from_hidden_states_refuses_bad_layers(kwargs: dict, needle: str) -> None:
    hs = [np.zeros((2, 3, 2)) for _ in range(5)]
    with pytest.raises(ConfigError, match=needle):
        Trajectory.from_hidden_states(hs, **kwargs)


@pytest.mark.parametrize(("kinds", "needle"), [
    ("block", "kinds='block': expected one kind per state, not a string"),
    (["input"], "kinds has 1 entries but there are 2 states"),
    (["input", "layer"], "state 'layer1' has kind 'layer'; expected one of input, input_ids"),
])
def test_kinds_are_checked(kinds: object, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        Trajectory([np.eye(2), np.eye(2)], kinds=kinds)  # type: ignore[arg-type]


def test_a_trajectory_of_token_ids_only_has_nothing_to_analyse() -> None:
    traj = Trajectory([np.ones((3, 1))], layer_names=["ids"], kinds=["input_ids"])
    with pytest.raises(ConfigError, match="every state is left out of the views"):
        traj.analysed()

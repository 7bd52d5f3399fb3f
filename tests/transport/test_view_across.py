"""The transport view on captures whose widths change: which transitions each metric read and
which it left out, never one run chosen silently; equal-width captures unchanged."""

from __future__ import annotations

import math

import numpy as np
import pytest

from layerflow import Trajectory
from layerflow.transport import gw_ot_score
from layerflow.transport._view import VIEW, measure_transport


def _states(widths: list[int], n: int = 24, seed: int = 0) -> Trajectory:
    rng = np.random.default_rng(seed)
    return Trajectory([rng.normal(size=(n, d)) for d in widths])


def _gw_rows(res) -> dict[str, float]:  # type: ignore[no-untyped-def]
    return {r["layer_name"]: r["value"] for r in res.layers if r["metric"] == "gw_ots"}


@pytest.mark.parametrize("widths", [[5, 5, 5, 5], [2, 5, 5, 5]])
def test_an_equal_width_capture_is_measured_as_before(widths: list[int]) -> None:
    # the built-in studies' captures: every layer one width, the input its own
    traj = _states(widths)
    start = 0 if widths[0] == widths[1] else 1
    res = measure_transport(traj, m=20)
    named = measure_transport(traj, m=20, run=(start, 3))  # the run named: no accounting
    assert res.layers == named.layers and _gw_rows(res) == {}
    assert res.scalars == named.scalars
    assert "transitions" not in res.results


def test_a_block_capture_names_the_transitions_each_metric_read_and_left_out() -> None:
    # widths 4 4 4 | 6 6 | 3: the longest run is input..layer2
    traj = _states([4, 4, 4, 6, 6, 3])
    res = measure_transport(traj, m=20, seed=1)
    named = measure_transport(traj, m=20, seed=1, run=(0, 2))
    # the run metrics' numbers are those of the run, as named
    for key, value in named.scalars.items():
        if key != "transport_note":
            assert res.scalars[key] == value or (math.isnan(value) and math.isnan(
                res.scalars[key]))
    note = res.scalars["transport_note"]
    assert ("read 2 of 5 transitions (input -> layer1, layer1 -> layer2); left out: "
            "layer2 -> layer3 (widths 4 -> 6 differ), layer3 -> layer4 (in the equal-width run "
            "layer3..layer4; the run metrics read one run, the longest), layer4 -> layer5 "
            "(widths 6 -> 3 differ)") in note
    assert "gw_ots" in note and "stage_transport" in note
    # GW OT score of each transition whose widths differ, as gw_ot_score gives it
    expected = {f"layer{i + 1}": gw_ot_score(traj, m=20, seed=1, source=i, target=i + 1).score
                for i in (2, 4)}
    assert _gw_rows(res) == pytest.approx(expected)
    run_use, gw_use = res.results["transitions"]
    assert run_use.used == ("input -> layer1", "layer1 -> layer2")
    assert [lab for lab, _ in run_use.left_out] == ["layer2 -> layer3", "layer3 -> layer4",
                                                    "layer4 -> layer5"]
    assert gw_use.used == ("layer2 -> layer3", "layer4 -> layer5")
    assert [v for _, v in gw_use.parts] == pytest.approx(list(expected.values()))


def test_a_stage_capture_gets_gw_scores_and_nan_run_metrics_with_the_reason() -> None:
    traj = _states([3, 8, 16, 32], n=30)
    res = measure_transport(traj)
    nums = [n for n, c in VIEW.scalar_columns({}) if c.kind != "str"]
    assert all(math.isnan(res.scalars[n]) for n in nums)
    assert res.scalars["transport_run"] == ""
    note = res.scalars["transport_note"]
    assert "read none of the 3 transitions (no two consecutive states have equal width: " \
           "widths [3, 8, 16, 32])" in note
    assert "layer1 -> layer2 (widths 8 -> 16 differ)" in note
    expected = {traj.layer_names[i + 1]: gw_ot_score(traj, m=30, source=i, target=i + 1).score
                for i in range(3)}
    assert _gw_rows(res) == pytest.approx(expected)
    assert res.results["lss"] is None and res.results["transitions"][1].used == (
        "input -> layer1", "layer1 -> layer2", "layer2 -> layer3")


def test_the_gw_column_is_declared_per_layer() -> None:
    col = next(c for c in VIEW.columns if c.name == "gw_ots")
    assert col.per_layer and col.low == 0.0 and col.high == 1.0

"""torchvision's ResNets as torchvision builds them (``weights=None``, random 32×32 images).

Every BasicBlock ends ``relu(x + F(x))``: capture, the transport penalty and the Jacobians read
it at ``x + F(x)``; the expected values are computed here by hand from the block's own layers
(conv1, bn1, conv2, bn2, downsample), never through layerflow's hooks. These tests fail if the
post-add activation is silently included. Skipped where torchvision is not installed (the
``vision`` extra; CI installs it in a second environment).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import layerflow as lf
from layerflow._errors import ConfigError
from layerflow.maps import MatfreeOptions, jacobian_diagnostics

try:
    import torchvision
    from torchvision.models.resnet import BasicBlock, Bottleneck
except Exception as exc:  # not installed, or a build that does not match torch
    pytest.skip(f"torchvision is not importable ({exc})", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = [f"layer{s}.{b}" for s in (1, 2, 3, 4) for b in (0, 1)]
SAME_SHAPE = ["layer1.0", "layer1.1", "layer2.1", "layer3.1", "layer4.1"]


def _resnet18(dtype: torch.dtype = torch.float32) -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None, num_classes=10).to(dtype).eval()


def _images(n: int, size: int = 32, seed: int = 0,
            dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed),
                       dtype=dtype)


def _branch(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """F(x) of a BasicBlock, from its own layers (no module activation called)."""
    return block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(x)))))


def _by_hand(model: nn.Module, x: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """``{block: (input, x' + F(x))}`` with x' the shortcut (identity or downsample)."""
    h = model.maxpool(torch.relu(model.bn1(model.conv1(x))))
    out = {}
    for name in BLOCKS:
        block = model.get_submodule(name)
        short = block.downsample(h) if block.downsample is not None else h
        s = short + _branch(block, h)
        out[name] = (h, s)
        h = torch.relu(s)
    return out


def test_penalty_reads_every_basic_block_before_its_relu() -> None:
    model = _resnet18()
    x = _images(4)
    with lf.TransportPenalty(model, SAME_SHAPE) as pen:
        with torch.no_grad():
            model(x)
        vel = pen.velocities()
        cost = float(pen.cost())
    assert pen.pre_activation == {b: f"{b}.relu" for b in SAME_SHAPE}
    with torch.no_grad():
        hand = _by_hand(model, x)
    expected = 0.0
    for name, v in zip(SAME_SHAPE, vel, strict=True):
        h, s = hand[name]
        torch.testing.assert_close(v, s - h, rtol=1e-4, atol=1e-5)
        clipped = torch.relu(s) - h  # what the block's output gives
        assert not torch.allclose(v, clipped, atol=1e-3)  # the test can tell them apart
        assert float((torch.relu(s) == 0).float().mean()) > 0.1
        assert float((v == 0).float().mean()) < 0.01
        expected += float((s - h).pow(2).mean())
    assert cost == pytest.approx(expected, rel=1e-5)


def test_capture_reads_blocks_and_stages_before_their_relu() -> None:
    model = _resnet18()
    x = _images(4)
    traj = lf.capture(model, x, layers=BLOCKS)
    assert traj.metadata["pre_activation"] == ",".join(BLOCKS)
    with torch.no_grad():
        hand = _by_hand(model, x)
    for i, name in enumerate(BLOCKS, start=1):
        np.testing.assert_allclose(traj.states[i], hand[name][1].reshape(4, -1).numpy(),
                                   rtol=1e-4, atol=1e-5)
    stages = lf.capture(model, x, layers=["layer1", "layer2", "layer3", "layer4"], pool="mean")
    assert list(stages.widths) == [3, 64, 128, 256, 512]
    np.testing.assert_allclose(stages.states[2], hand["layer2.1"][1].mean(dim=(2, 3)).numpy(),
                               rtol=1e-4, atol=1e-5)


def test_stage_capture_gets_a_transport_result_naming_its_transitions() -> None:
    model = _resnet18()
    traj = lf.capture(model, _images(24), layers=["layer1", "layer2", "layer3", "layer4"],
                      pool="mean")
    res = lf.transport.stage_transport(traj, m=24)
    labels = ("input -> layer1", "layer1 -> layer2", "layer2 -> layer3", "layer3 -> layer4")
    assert tuple(t.label for t in res.transitions) == labels
    gw = res["gw_ots"]
    assert gw.used == labels and all(0.0 <= v <= 1.0 for _, v in gw.parts)
    ke = res["kinetic_energy"]
    assert ke.used == () and dict(ke.left_out)["layer1 -> layer2"].startswith(
        "widths 64 -> 128 differ and no projection")
    # a block-level capture: every equal-width run is read, each named
    blocks = lf.capture(model, _images(24), layers=["maxpool", *BLOCKS], pool="mean")
    lss = lf.transport.stage_transport(blocks, m=24)["lss"]
    assert [p for p, _ in lss.parts] == ["maxpool .. layer1.1"]
    assert dict(lss.left_out)["layer2.0 -> layer2.1"] == (
        "a run of one step has LSS 1 by construction")
    ots = lf.transport.stage_transport(blocks, m=24)["ots"]
    assert [p for p, _ in ots.parts] == ["maxpool .. layer1.1", "layer2.0 .. layer2.1",
                                         "layer3.0 .. layer3.1", "layer4.0 .. layer4.1"]


def test_shape_changing_blocks_are_refused_when_the_penalty_is_built() -> None:
    model = _resnet18()
    with pytest.raises(ConfigError, match=r"block 'layer2.0' \(BasicBlock\) maps \(N, 64, H, W\) "
                       r"to \(N, 128, ⌈H/2⌉, ⌈W/2⌉\) \(64 -> 128 channels, stride 2"):
        lf.TransportPenalty(model, ["layer1.0", "layer2.0"])
    with pytest.raises(ConfigError, match=r"block 'layer3' \(Sequential\) maps \(N, 128, H, W\) "
                       r"to \(N, 256, ⌈H/2⌉, ⌈W/2⌉\) .* in its block '0'"):
        lf.TransportPenalty(model, ["layer3"])
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    model(_images(2))  # the model still runs as it was


def test_a_relu_that_runs_twice_is_refused_with_a_way_forward() -> None:
    with pytest.raises(lf.ConfigError, match=r"layer 'layer1.0.relu' ran 2 times in one forward "
                       r"pass.*name the module that calls it, 'layer1.0'"):
        lf.capture(_resnet18(), _images(2), layers=["layer1.0.relu"])


def _exact_and_matfree(model: nn.Module, x: torch.Tensor, post_add: str = "pre_activation"
                       ) -> tuple[lf.maps.LayerJacobian, lf.maps.LayerJacobian]:
    exact = jacobian_diagnostics(model, x, layers=["layer1.0"], method="exact",
                                 post_add=post_add, max_seconds=math.inf)["layer1.0"]
    mf = jacobian_diagnostics(model, x, layers=["layer1.0"], method="matfree", post_add=post_add,
                              max_seconds=math.inf,
                              matfree=MatfreeOptions(probes=4, max_steps=120))["layer1.0"]
    return exact, mf


def _never_overclaims(exact: lf.maps.LayerJacobian, mf: lf.maps.LayerJacobian) -> None:
    assert not np.any(mf.invertible & ~exact.invertible)
    known = mf.invertible_known
    np.testing.assert_array_equal(mf.invertible[known], exact.invertible[known])
    lower, upper = mf.condition_bounds[:, 0], mf.condition_bounds[:, 1]
    assert np.all(lower <= exact.condition * (1 + 1e-6))
    assert np.all(exact.condition <= upper * (1 + 1e-6))


def test_jacobians_of_singular_near_singular_and_well_conditioned_blocks() -> None:
    """layer1.0 of resnet18 on 8×8 images (width 64·2·2 = 256): with its relu (singular),
    without (well-conditioned), and with bn2 scaled so that I + t·∂F/∂x is nearly singular."""
    model = _resnet18(torch.float64)
    x = _images(2, size=8, dtype=torch.float64)
    block = model.layer1[0]
    h = _by_hand(model, x)["layer1.0"][0].detach()
    # independent Jacobian of x -> x + F(x) at sample 0
    J0 = torch.autograd.functional.jacobian(
        lambda v: (v + _branch(block, v[None])[0]).reshape(-1), h[0]).reshape(256, 256)

    # well-conditioned: the rule's map
    exact, mf = _exact_and_matfree(model, x)
    np.testing.assert_allclose(exact.logabsdet[0], float(torch.linalg.slogdet(J0)[1]),
                               rtol=1e-8)
    assert np.isfinite(exact.logabsdet).all() and exact.invertible.all()
    _never_overclaims(exact, mf)
    assert mf.invertible.any()  # the matrix-free path can still say yes

    # singular: the activation included (clipped units give zero rows)
    exact_out, mf_out = _exact_and_matfree(model, x, post_add="output")
    assert np.all(exact_out.logabsdet == -np.inf) and not exact_out.invertible.any()
    assert not mf_out.invertible.any() and math.isnan(mf_out.fraction_invertible)
    _never_overclaims(exact_out, mf_out)

    # near-singular: J_t = I + t·A (A = J0 − I; scaling bn2's weight and bias by t scales F)
    eig = torch.linalg.eigvals(J0 - torch.eye(256, dtype=torch.float64))
    real = eig[eig.imag.abs() < 1e-12].real
    lam = float(real[real.abs().argmax()])
    for gap, invertible in ((1e-5, True), (1e-11, False)):
        t = -(1.0 - gap) / lam
        scaled = _resnet18(torch.float64)
        with torch.no_grad():
            scaled.layer1[0].bn2.weight.mul_(t)
            scaled.layer1[0].bn2.bias.mul_(t)
        exact_t, mf_t = _exact_and_matfree(scaled, x)
        assert bool(exact_t.invertible[0]) is invertible
        assert exact_t.condition[0] > 1e4
        _never_overclaims(exact_t, mf_t)
        assert not mf_t.invertible[0]  # too ill-conditioned to be shown invertible in 120 steps


class SmallConvNet(nn.Module):
    """A stem, two torchvision BasicBlocks of 16 channels, a stage change to 32, a head."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU(inplace=True))
        down = nn.Sequential(nn.Conv2d(16, 32, 1, stride=2, bias=False), nn.BatchNorm2d(32))
        self.layer1 = nn.Sequential(BasicBlock(16, 16), BasicBlock(16, 16))
        self.layer2 = nn.Sequential(BasicBlock(16, 32, stride=2, downsample=down))
        self.head = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.layer2(self.layer1(self.stem(x)))
        return self.head(F.adaptive_avg_pool2d(h, 1).flatten(1))


def test_small_conv_net_trains_with_the_penalty_read_before_each_relu() -> None:
    net = SmallConvNet().train()
    x, y = _images(8), torch.randint(0, 10, (8,), generator=torch.Generator().manual_seed(0))
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    with lf.TransportPenalty(net, ["layer1.0", "layer1.1"]) as pen:
        loss = F.cross_entropy(net(x), y) + 0.1 * pen.cost()
        vel = pen.velocities()
        opt.zero_grad()
        loss.backward()
        opt.step()
    # velocities are the residual branches (train-mode batch norm, as the pass ran)
    net.eval()
    with torch.no_grad():
        h = net.stem(x)
        s0 = h + _branch(net.layer1[0].train(), h)
    assert vel[0].shape == s0.shape and float((vel[0] == 0).float().mean()) < 0.01
    with pytest.raises(ConfigError, match=r"block 'layer2.0' \(BasicBlock\) maps "
                       r"\(N, 16, H, W\) to \(N, 32, ⌈H/2⌉, ⌈W/2⌉\)"):
        lf.TransportPenalty(net, ["layer2.0"])
    net.eval()
    traj = lf.capture(net, x, layers=["stem", "layer1.0", "layer1.1", "layer2.0"], pool="mean")
    assert traj.metadata["pre_activation"] == "layer1.0,layer1.1,layer2.0"
    with torch.no_grad():
        h = net.stem(x)
        s0 = h + _branch(net.layer1[0], h)
    np.testing.assert_allclose(traj.states[2], s0.mean(dim=(2, 3)).numpy(), rtol=1e-4,
                               atol=1e-5)
    res = lf.transport.stage_transport(traj, m=8)
    assert res["kinetic_energy"].used == ("stem -> layer1.0", "layer1.0 -> layer1.1")
    assert res["gw_ots"].used == ("input -> stem", "layer1.1 -> layer2.0")


def test_bottleneck_blocks_follow_the_same_rule() -> None:
    torch.manual_seed(0)
    block = Bottleneck(64, 16).eval()  # 64 -> 16 -> 16 -> 64 channels, no downsample
    net = nn.Sequential(block)
    x = _images(2, size=4).repeat(1, 22, 1, 1)[:, :64]
    traj = lf.capture(net, x, layers=["0"])
    with torch.no_grad():
        f = block.bn3(block.conv3(torch.relu(block.bn2(block.conv2(
            torch.relu(block.bn1(block.conv1(x))))))))
    np.testing.assert_allclose(traj.states[1], (x + f).reshape(2, -1).numpy(), rtol=1e-4,
                               atol=1e-5)


def test_the_cost_estimate_is_quick() -> None:
    """resnet18's layer1.0 at 32×32 (width 4,096): the estimate before the work is taken in
    seconds (the figures against measured times are in benchmarks/README.md)."""
    import time

    model = _resnet18()
    x = _images(64)
    cpu = time.process_time()
    with pytest.raises(lf.BudgetError) as info:
        jacobian_diagnostics(model, x, layers=["layer1.0", "layer1.1"], max_seconds=1.0)
    cpu = time.process_time() - cpu
    est = info.value.estimate
    assert est.methods == ("matfree", "matfree")  # both paths timed before the refusal
    # CPU time, which a loaded machine inflates little: about 0.6 s of it on one thread
    assert cpu < 2.0


@pytest.mark.slow
def test_the_cost_estimate_is_within_2x_of_the_measured_time() -> None:
    """layer4.1 (width 512) at 32×32, both paths: the estimate made before the work against the
    CPU time of the work then done (one thread; calibration subtracted at its CPU share)."""
    import time

    model = _resnet18()
    x = _images(2)
    torch.set_num_threads(1)
    for method in ("exact", "matfree"):
        wall, cpu = time.perf_counter(), time.process_time()
        res = jacobian_diagnostics(model, x, layers=["layer4.1"], method=method,
                                   max_seconds=math.inf)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        est = res.estimate
        assert est is not None and est.methods == (method,)
        work = cpu - est.calibration_seconds * cpu / wall
        assert 0.5 <= est.seconds / work <= 2.0, (method, est.seconds, work)


def test_the_transport_view_names_the_transitions_of_a_stage_capture() -> None:
    """layer1 … layer4 with pool="mean" (widths 64…512): no equal-width run, so the run metrics
    are NaN and the view names every transition, each read by the GW OT score."""
    from layerflow.transport._view import measure_transport

    model = _resnet18()
    traj = lf.capture(model, _images(24), layers=["layer1", "layer2", "layer3", "layer4"],
                      pool="mean")
    res = measure_transport(traj, m=24)
    assert math.isnan(res.scalars["kinetic_energy"]) and res.scalars["transport_run"] == ""
    note = res.scalars["transport_note"]
    for a, b, wa, wb in (("input", "layer1", 3, 64), ("layer1", "layer2", 64, 128),
                         ("layer2", "layer3", 128, 256), ("layer3", "layer4", 256, 512)):
        assert f"{a} -> {b} (widths {wa} -> {wb} differ)" in note
    gw = {r["layer_name"]: r["value"] for r in res.layers if r["metric"] == "gw_ots"}
    expected = {f"layer{i}": lf.transport.gw_ot_score(traj, m=24, source=i - 1, target=i).score
                for i in (1, 2, 3, 4)}
    assert gw == pytest.approx(expected)


def test_the_transport_view_of_a_block_capture_names_what_it_left_out() -> None:
    """A block-level capture across downsampling: the run metrics read maxpool .. layer1.1 and
    the view names each transition they left out, with the reason."""
    from layerflow.transport._view import measure_transport

    model = _resnet18()
    traj = lf.capture(model, _images(24), layers=["maxpool", *BLOCKS])
    res = measure_transport(traj, m=24)
    assert res.scalars["transport_run"] == "1..3 (maxpool..layer1.1)"
    note = res.scalars["transport_note"]
    assert "read 2 of 9 transitions (maxpool -> layer1.0, layer1.0 -> layer1.1)" in note
    assert "layer1.1 -> layer2.0 (widths 4096 -> 2048 differ)" in note
    assert ("layer2.0 -> layer2.1 (in the equal-width run layer2.0..layer2.1; the run metrics "
            "read one run, the longest)") in note
    assert "input -> maxpool (widths 3072 -> 4096 differ)" in note
    run_use, gw_use = res.results["transitions"]
    assert len(run_use.left_out) == 7 and len(gw_use.used) == 4


@pytest.mark.slow
def test_torchvision_example_runs(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg",
           "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-W", "error",
                          str(ROOT / "examples" / "torchvision_resnet.py")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "penalty cost" in out.stdout and "gw_ots" in out.stdout

# %% [markdown]
# # torchvision's ResNet-18, trained with the least-action penalty and read stage by stage
# gallery: skip
#
# `torchvision.models.resnet18(weights=None)` as torchvision builds it, on scikit-learn's
# digits blown up to 32×32 RGB images: trained in a plain PyTorch loop with the transport
# penalty of Karkar et al. 2020, then read by layerflow's views. Needs the `vision` extra
# (`pip install "layerflow[vision]"`); runs offline in a few minutes on two CPU cores.
#
# torchvision's `BasicBlock` ends `relu(x + F(x))`: the ReLU comes after the residual add.
# layerflow reads such a block before that ReLU, at the residual sum `x + F(x)`, the same way
# for the penalty (velocity `F(x)`), capture and the Jacobians (`I + ∂F/∂x`); the first block of
# stages 2–4 changes shape (64 → 128 channels, stride 2) and has no velocity, so the penalty
# refuses it when it is built.

# %%
import torch
import torch.nn.functional as F
import torchvision

import layerflow as lf

torch.manual_seed(0)
torch.set_num_threads(1)

# %% [markdown]
# ## Data: digits as 32×32 RGB images

# %%
ds = lf.load_dataset("digits", seed=0)


def images(X):
    x = torch.as_tensor(X, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0
    return F.interpolate(x, size=32, mode="bilinear", align_corners=False).repeat(1, 3, 1, 1)


X_train, y_train = images(ds.X_train), torch.as_tensor(ds.y_train)
X_test, y_test = images(ds.X_test), torch.as_tensor(ds.y_test)

# %% [markdown]
# ## The penalty on every block that keeps its shape, in a plain loop

# %%
model = torchvision.models.resnet18(weights=None, num_classes=10)
blocks = ["layer1.0", "layer1.1", "layer2.1", "layer3.1", "layer4.1"]
try:
    lf.TransportPenalty(model, ["layer2.0"])
except lf.LayerflowError as err:
    print("refused:", str(err).split(";")[0])
pen = lf.TransportPenalty(model, blocks)  # r_k = F_k(x_k), read before each block's ReLU
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
g = torch.Generator().manual_seed(0)
model.train()
for _ in range(60):
    idx = torch.randint(0, len(X_train), (32,), generator=g)
    loss = F.cross_entropy(model(X_train[idx]), y_train[idx]) + 0.1 * pen.cost()
    opt.zero_grad()
    loss.backward()
    opt.step()
model.eval()
with torch.no_grad(), pen.paused():
    acc = (model(X_test).argmax(1) == y_test).float().mean().item()
    model(X_test[:256])
print(f"test accuracy {acc:.3f}")
with torch.no_grad():
    model(X_test[:256])
print(f"penalty cost {pen.cost().item():.4f} on 256 test images")
pen.remove()

# %% [markdown]
# ## Stage by stage: widths 64, 128, 256, 512
#
# No two stages have the same width: `stage_transport` measures each transition with the
# metrics defined on it (Gromov–Wasserstein OT score across widths) and lists, per metric, the
# transitions it used and those it left out.

# %%
stages = lf.capture(model, X_test[:300], layers=["layer1", "layer2", "layer3", "layer4"],
                    pool="mean", labels=y_test[:300])
res = lf.transport.stage_transport(stages, m=200)
for name, value in res["gw_ots"].parts:
    print(f"gw_ots {name}: {value:.3f}")
print("kinetic energy left out:", res["kinetic_energy"].left_out[1])

# %% [markdown]
# ## Block by block, and the blocks as maps

# %%
layers = ["maxpool", *(f"layer{s}.{b}" for s in (1, 2, 3, 4) for b in (0, 1))]
tracks = lf.capture(model, X_test[:300], layers=layers, pool="mean")
res = lf.transport.stage_transport(tracks, m=200)
print("LSS per equal-width run:", res["lss"].parts)
print("kinetic energy per step:", [f"{p}: {v:.3g}" for p, v in res["kinetic_energy"].parts])
# the time and memory are estimated before the work; a budget a call cannot fit is refused
jd = lf.maps.jacobian_diagnostics(model, X_test[:2], layers=["layer3.1", "layer4.1"],
                                  max_seconds=600)
print(f"estimated {jd.estimate.seconds:.1f} s (calibration {jd.estimate.calibration_seconds:.1f} s)")
for lay in jd.layers:
    print(f"{lay.name} ({lay.method}, width {lay.in_width}): log|det J| "
          f"{lay.logabsdet.mean():.1f}, invertible share {lay.fraction_invertible}")

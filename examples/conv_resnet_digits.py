# %% [markdown]
# # A conv ResNet on digits, image by image
#
# Your own convolutional residual network, trained in your own loop with the least-action
# penalty of Karkar et al. 2020, then read by every view of layerflow: each 8×8 handwritten
# digit is one point, its track the path of its feature maps through the residual blocks.
# Nothing here is specific to layerflow's models: the network is a plain `nn.Module`, and
# layerflow reads it through forward hooks.
#
# Runs offline in about half a minute on two CPU cores.

# %%
import torch
import torch.nn.functional as F
from torch import nn

import layerflow as lf

torch.manual_seed(0)
torch.set_num_threads(1)

# %% [markdown]
# ## Data: digits as images
#
# scikit-learn's bundled digits (1,797 images of 8×8 pixels, ten classes), reshaped to
# `(N, 1, 8, 8)`.

# %%
ds = lf.load_dataset("digits", seed=0)
X_train = torch.as_tensor(ds.X_train).reshape(-1, 1, 8, 8)
y_train = torch.as_tensor(ds.y_train)
X_test = torch.as_tensor(ds.X_test).reshape(-1, 1, 8, 8)
X_train.shape, X_test.shape

# %% [markdown]
# ## A conv ResNet of our own
#
# A 3×3 stem to 8 channels, three basic blocks `x + conv(relu(conv(x)))` at 8×8 and a linear
# head on the last feature maps.


# %%
class Block(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class ConvResNet(nn.Module):
    def __init__(self, channels: int = 8, depth: int = 3, n_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, channels, 3, padding=1)
        self.blocks = nn.Sequential(*(Block(channels) for _ in range(depth)))
        self.head = nn.Linear(channels * 64, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(F.relu(self.stem(x))).flatten(1))


model = ConvResNet()
blocks = ["blocks.0", "blocks.1", "blocks.2"]

# %% [markdown]
# ## Least action in your own loop
#
# `TransportPenalty` reads each block's velocity `r_k = x_{k+1} − x_k` (h = 1) with forward
# hooks during the model's own forward pass; `pen.cost()` is the authors' transport cost
# `C = Σ_k mean r_k²` of that pass, differentiable. Three lines: attach, forward, add.

# %%
pen = lf.TransportPenalty(model, blocks=blocks)  # 1. attach to the residual blocks
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
gen = torch.Generator().manual_seed(0)
costs = []
for _epoch in range(6):
    for idx in torch.randperm(len(y_train), generator=gen).split(64):
        logits = model(X_train[idx])  # 2. the forward pass records the velocities
        loss = F.cross_entropy(logits, y_train[idx]) + 0.1 * pen.cost()  # 3. add C
        opt.zero_grad()
        loss.backward()
        opt.step()
        costs.append(float(pen.cost().detach()))
pen.remove()
model.eval()
with torch.no_grad():
    acc = float((model(X_test).argmax(1).numpy() == ds.y_test).mean())
print(f"test accuracy {acc:.3f}; transport cost {costs[0]:.3f} -> {costs[-1]:.3f}")

# %% [markdown]
# ## Every image a point
#
# `capture` records the stem and each block. By default every feature map is flattened:
# width 8 channels × 64 pixels = 512 per state. `pool="mean"` averages the pixels instead
# (`(N, C, H, W) -> (N, C)`), as representation-similarity studies of conv nets do.

# %%
layers = ["stem", *blocks]
traj = lf.capture(model, X_test, layers=layers, labels=ds.y_test)
pooled = lf.capture(model, X_test, layers=layers, labels=ds.y_test, pool="mean")
traj, pooled

# %% [markdown]
# ## Transport view (Gai & Zhang 2021)
#
# The metrics use the longest run of equal-width states (stem → last block; the 64-pixel input
# has another width) and say which they used.

# %%
lss = lf.transport.line_shape_score(traj)
ots = lf.transport.ot_score(traj)
path = lf.transport.wasserstein_path(traj)
print(f"LSS {lss.mean:.3f}, OTS {ots.score:.3f}, W2 geodesic ratio {path.geodesic_ratio:.3f}, "
      f"kinetic energy {lf.transport.kinetic_energy(traj):.3f}")
print(f"pooled: LSS {lf.transport.line_shape_score(pooled).mean:.3f}, "
      f"OTS {lf.transport.ot_score(pooled).score:.3f}")

# %%
lf.plot.wasserstein_path(path)

# %% [markdown]
# ## Ricci view (Baptista et al. 2024)
#
# kNN graphs of 200 test images per state (k = 50), their Forman curvature and geodesic mass.

# %%
sub = traj.subsample(200, seed=0)
rc = lf.ricci.ricci_coefficient(sub, k=50)
rc_pooled = lf.ricci.ricci_coefficient(pooled.subsample(200, seed=0), k=50)
print(f"ρ flattened {rc.coefficient:.3f} {rc.reason}; ρ pooled {rc_pooled.coefficient:.3f} "
      f"{rc_pooled.reason}")

# %%
lf.plot.ricci_coefficient(rc)

# %% [markdown]
# ## Curve of maps (Dong et al. 2017)
#
# Is each block a local orientation-preserving diffeomorphism of the 512-wide feature maps?
# The exact Jacobian of every block at 16 test images.

# %%
jac = lf.maps.jacobian_diagnostics(model, X_test[:16], layers=blocks)
jac.to_frame()[["name", "in_width", "fraction_diffeomorphic", "fraction_orientation_preserved"]]

# %%
lf.plot.tracks(traj)

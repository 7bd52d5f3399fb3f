# %% [markdown]
# # Least-action training in the low-data regime
#
# Karkar et al. (2020) train residual networks with a transport penalty, the kinetic energy
# `C = Σ_k mean_i ‖r_k(x_i)‖²` of the residual flow, weighted adaptively by the Uzawa rule, and
# find it helps most when data is scarce. Here one residual network is trained on 10 % of two
# moons without and with the penalty; the figure shows C and the weight λ over training.

# %%
import layerflow as lf

ds = lf.load_dataset("moons", n=2000, noise=0.25, seed=0).subset_train(0.1, seed=0)
spec = lf.ModelSpec("resnet", width=16, depth=8)
runs = {}
for arm, extra in (("plain", {}), ("transport", {"uzawa": True})):
    cfg = lf.TrainConfig(optimizer="adam", lr=0.01, epochs=60, batch_size=32, seed=0, **extra)
    runs[arm] = lf.train(lf.build_model(spec, in_dim=2, n_classes=2, seed=0), ds, cfg)
    traj = lf.capture(runs[arm].model, ds.X_test)
    print(f"{arm:9s} test accuracy {runs[arm].test_acc:.3f}  "
          f"kinetic energy {lf.transport.kinetic_energy(traj):.4g}")

# %%
lf.plot.training(runs["transport"])

# %%
lf.plot.training(runs["plain"])

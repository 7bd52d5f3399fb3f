# %% [markdown]
# # A network as a Ricci flow
#
# Baptista et al. (2024) build a kNN graph on each layer's activations and correlate the change
# of geodesic mass `η_l = g_{l+1} − g_l` with the Forman curvature `Ric_l` of the layer: a
# negative coefficient means positively curved layers contract, as under Ricci flow. Here a
# network of the paper's shape (width 25, depth 5, ReLU, RMSprop, BCE) learns the entangled
# double helix; an untrained network of the same shape is the baseline the coefficient has to
# beat.

# %%
import matplotlib.pyplot as plt

import layerflow as lf

ds = lf.load_dataset("entangled_spirals", n=800, seed=0)
spec = lf.ModelSpec("mlp", width=25, depth=5)
trained = lf.train(lf.build_model(spec, in_dim=3, n_classes=2, seed=0), ds,
                   lf.TrainConfig(optimizer="rmsprop", lr=1e-3, epochs=30, batch_size=32, seed=0))
untrained = lf.build_model(spec, in_dim=3, n_classes=2, seed=1)
print(f"test accuracy {trained.test_acc:.3f}")

# %% [markdown]
# A trained network pulls the two classes apart, and on 200 test points its last layers' kNN
# graphs fall into two components unless k is a large share of N: a disconnected graph has an
# infinite geodesic mass and no coefficient (NaN, with the layer named). A sweep over k shows
# where the coefficient is defined:

# %%
traj = lf.capture(trained.model, ds.X_test, labels=ds.y_test)
lf.ricci.ricci_k_scan(traj, ks=(30, 50, 100), local=False)

# %%
K = 100  # half of N, as the built-in paper-ricci study uses
results = {}
for name, model in (("trained", trained.model), ("untrained", untrained)):
    traj = lf.capture(model, ds.X_test, labels=ds.y_test)
    results[name] = (traj, lf.ricci.ricci_coefficient(traj, k=K))
    print(name, results[name][1])

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), layout="constrained")
for ax, (name, (_, rc)) in zip(axes, results.items(), strict=True):
    lf.plot.ricci_coefficient(rc, ax=ax)
    ax.set_title(f"{name}: " + ax.get_title(), fontsize=9)

# %% [markdown]
# Where on the input does the trained network flow like Ricci flow? The local coefficient of each
# test point, drawn on the input (its top-2 principal axes, since the input is 3-D):

# %%
traj, _ = results["trained"]
lf.plot.local_coefficients(traj, k=K)

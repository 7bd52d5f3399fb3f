# %% [markdown]
# # Residual vs plain networks: straight tracks
#
# Gai & Zhang (2021) report that residual networks move data along nearly straight tracks, close
# to the optimal-transport map between input and output, and plain networks do not. Here a
# residual and a plain network of the same width and depth are trained on two concentric
# circles; their tracks are drawn in the same kind of shared projection and their line-shape
# scores side by side.

# %%
import matplotlib.pyplot as plt

import layerflow as lf

ds = lf.load_dataset("circles", n=600, seed=0)
config = lf.TrainConfig(optimizer="adam", lr=0.01, epochs=20, batch_size=32, seed=0)
trajectories = {}
for kind in ("resnet", "mlp"):
    model = lf.build_model(lf.ModelSpec(kind, width=8, depth=6), in_dim=2, n_classes=2, seed=0)
    result = lf.train(model, ds, config)
    traj = lf.capture(result.model, ds.X_test, labels=ds.y_test)
    trajectories[kind] = traj
    lss = lf.transport.line_shape_score(traj)
    ots = lf.transport.ot_score(traj)
    path = lf.transport.wasserstein_path(traj)
    print(f"{kind:6s} test accuracy {result.test_acc:.3f}  LSS {lss.mean:.2f}  "
          f"OTS {ots.score:.2f}  W2 geodesic ratio {path.geodesic_ratio:.2f}")

# %%
fig, axes = plt.subplots(2, 2, figsize=(9, 7), layout="constrained")
for row, (kind, traj) in enumerate(trajectories.items()):
    lf.plot.tracks(traj, n_tracks=40, ax=axes[row, 0])
    lf.plot.line_shape(traj, ax=axes[row, 1])
    axes[row, 0].set_ylabel(f"{kind}\n" + axes[row, 0].get_ylabel())

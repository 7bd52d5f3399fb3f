# %% [markdown]
# # Quick start
#
# README's example: train a residual network on two moons, capture what it does to the test
# points, print the headline number of each view, and draw one figure of the network.

# %%
import layerflow as lf

ds = lf.load_dataset("moons", n=2000, noise=0.1, seed=0)
model = lf.build_model(lf.ModelSpec("resnet", width=16, depth=10), in_dim=2, n_classes=2, seed=0)
result = lf.train(model, ds, lf.TrainConfig(optimizer="adam", lr=0.01, epochs=30, seed=0))
traj = lf.capture(result.model, ds.X_test, labels=ds.y_test)  # input, lift, 10 residual blocks
print(f"test accuracy {result.test_acc:.3f}")
print("LSS", lf.transport.line_shape_score(traj).mean, "OTS", lf.transport.ot_score(traj).score)
print("W2 geodesic ratio", lf.transport.wasserstein_path(traj).geodesic_ratio)
sub = traj.subsample(200, seed=0)  # the Ricci view on 200 points, k = N/2
rc = lf.ricci.ricci_coefficient(sub, k=100)
print("Ricci coefficient", rc.coefficient, rc.reason)
lf.plot.overview(sub, ricci=rc).savefig("overview.png")  # docs/overview.png

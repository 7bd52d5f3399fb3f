"""Saving and loading weights safely: ``torch.load(weights_only=True)``, never a full unpickle."""

from __future__ import annotations

import os
import pickle
import struct
import warnings
from pathlib import Path

import torch
from torch import nn

from layerflow._atomic import atomic_open
from layerflow._errors import DataError


def save_weights(model: nn.Module, path: str | os.PathLike[str]) -> Path:
    """Write ``model.state_dict()`` to ``path`` atomically (tensors only)."""
    path = Path(path)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with atomic_open(path) as fh:
        torch.save(state, fh)
    return path


def load_weights(model: nn.Module, path: str | os.PathLike[str]) -> nn.Module:
    """Load a state dict from ``path`` into ``model`` (in place) and return the model.

    The file is read with ``torch.load(weights_only=True)``: a checkpoint that carries a pickle
    payload (any global other than tensors and plain containers) is refused with
    :class:`DataError` and nothing in it runs. Missing, unexpected or mis-shaped keys are
    refused too.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"weights file {str(path)!r} does not exist")
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    try:
        with warnings.catch_warnings():
            # torch warns about non-default pickle protocols before refusing; the refusal is ours
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise DataError(
            f"{str(path)!r} is not a plain weights file: it carries pickled objects that "
            f"weights_only loading refuses (nothing was executed): {str(exc).splitlines()[0]}"
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError, LookupError, TypeError, AttributeError,
            OverflowError, struct.error) as exc:
        # corrupt files make torch.load raise all of these (KeyError, IndexError and struct.error
        # included: found by feeding it random and bit-flipped bytes)
        raise DataError(
            f"{str(path)!r} is not a readable torch weights file: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise DataError(
            f"{str(path)!r} does not hold a state dict (a mapping of names to tensors); "
            f"got {type(state).__name__}"
        )
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise DataError(
            f"{str(path)!r} does not fit {type(model).__name__}: missing keys {missing}, "
            f"unexpected keys {unexpected}"
        )
    bad = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if tuple(state[k].shape) != tuple(v.shape)
    ]
    if bad:
        raise DataError(f"{str(path)!r} has mis-shaped tensors: {'; '.join(bad)}")
    model.load_state_dict(state)
    return model

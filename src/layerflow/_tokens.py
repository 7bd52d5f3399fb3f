"""One point per token: the rows of a per-token trajectory (images and sequences).

A transformer's residual stream is a state of shape ``(N, T, d)``: N sequences of T tokens of
width d. Per token, every token is a point of width d, so the state becomes ``(N·T, d)`` rows
(padding dropped by an attention mask) and a *track* is one token's path through the layers, as
in the studies of token trajectories (Hosseini & Fedorenko 2023; Aubry et al., ICLR 2025).

Used by :func:`layerflow.capture` (``per_token=True``) and
:meth:`layerflow.Trajectory.from_hidden_states`. NumPy only: no torch, no transformers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from layerflow._errors import ConfigError, LayerflowError


def as_array(x: Any, what: str, error: type[LayerflowError], *, real: bool = True) -> np.ndarray:
    """A NumPy array from a NumPy array, a torch tensor (without importing torch) or a sequence.

    The one converter of user arrays (trajectory states and labels, hidden states, captured
    layers): a tensor is detached and moved to the CPU; bfloat16, which NumPy lacks, becomes
    float32 (exact: every bfloat16 value is a float32 value). ``real=True`` refuses dtypes other
    than bool, integers and reals; ``real=False`` refuses only ``object`` arrays (labels may be
    strings). Raises ``error`` naming ``what``.
    """
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu()
        if str(getattr(x, "dtype", "")) == "torch.bfloat16":  # NumPy has no bfloat16
            x = x.float()
        x = x.numpy()
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists, exotic objects
        raise error(f"{what} could not be converted to an array: {exc}") from exc
    if real and arr.dtype.kind not in "biuf":
        raise error(f"{what} has dtype {arr.dtype}; expected a real numeric array")
    if arr.dtype == object:
        raise error(f"{what} has dtype object; expected a numeric array")
    return arr


@dataclass(frozen=True)
class TokenRows:
    """Per-token states and the row bookkeeping.

    ``states[l]`` has shape ``(M, d_l)`` (M kept tokens); row r is token ``position[r]`` of
    sequence ``sample_index[r]``, sample-major (all kept tokens of sequence 0, then 1, …);
    ``position`` counts the real tokens of the sequence (0 for its first real token, also under
    left padding).
    ``labels`` is ``(M,)`` or None.
    """

    states: list[np.ndarray]
    labels: np.ndarray | None
    sample_index: np.ndarray
    position: np.ndarray


def token_rows(
    states: Sequence[np.ndarray],
    names: Sequence[str],
    attention_mask: Any = None,
    labels: Any = None,
    error: type[LayerflowError] = ConfigError,
) -> TokenRows:
    """Flatten states of shape ``(N, T, d_l)`` (or ``(N, T)``: one scalar per token, e.g. token
    ids) to one row per kept token.

    Parameters
    ----------
    states
        L+1 arrays sharing ``N`` and ``T``.
    names
        Their names (for messages).
    attention_mask
        Shape ``(N, T)``, 1/True for real tokens and 0/False for padding (Hugging Face's
        convention); ``None`` keeps every token.
    labels
        ``(N,)``: one label per sequence, repeated for its tokens; or ``(N, T)``: one per token.

    Raises
    ------
    error
        A state that is not ``(N, T, d)`` / ``(N, T)`` with the first state's N and T, a mask or
        labels of another shape, a mask with values other than 0/1 or one that keeps no token.
    """
    if not states:
        raise error("no states; per-token rows need at least one state of shape (N, T, d)")
    first = states[0]
    if first.ndim not in (2, 3):
        raise error(
            f"state 0 ({names[0]!r}) has shape {first.shape}; per-token states need shape "
            "(N, T, d) (or (N, T) for one scalar per token)"
        )
    n, t = int(first.shape[0]), int(first.shape[1])
    for i, s in enumerate(states):
        if s.ndim not in (2, 3) or s.shape[:2] != (n, t):
            raise error(
                f"state {i} ({names[i]!r}) has shape {s.shape}; per-token states need shape "
                f"(N, T, d) or (N, T) with N={n}, T={t} as state 0 ({names[0]!r}, {first.shape})"
            )
    if attention_mask is None:
        keep = np.ones((n, t), dtype=bool)
    else:
        mask = as_array(attention_mask, "attention_mask", error)
        if mask.shape != (n, t):
            raise error(f"attention_mask has shape {mask.shape}; expected (N, T) = ({n}, {t}) "
                        "like the states")
        if not np.isin(mask, (0, 1)).all():
            raise error("attention_mask has values other than 0/1 (True/False); expected 1 for "
                        "real tokens and 0 for padding")
        keep = mask.astype(bool)
        if not keep.any():
            raise error(f"attention_mask keeps no token of the {n}×{t}; nothing to analyse")
    sample_index, column = np.nonzero(keep)  # row-major: sample-major order
    # the token's index among its sequence's real tokens: left padding does not shift it
    position = (np.cumsum(keep, axis=1) - 1)[sample_index, column]
    rows = [(s[keep] if s.ndim == 3 else s[keep][:, None]) for s in states]
    lab = None
    if labels is not None:
        arr = as_array(labels, "labels", error)
        if arr.shape == (n,):
            lab = arr[sample_index]
        elif arr.shape == (n, t):
            lab = arr[keep]
        else:
            raise error(f"labels have shape {arr.shape}; expected ({n},) (one per sequence) or "
                        f"({n}, {t}) (one per token)")
    return TokenRows(rows, lab, sample_index.astype(np.int64), position.astype(np.int64))

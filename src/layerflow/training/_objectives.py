"""Registry of the data losses (variants as data; the optimizers are in ``_optim``).

Losses take logits of shape ``(..., B, out)`` and labels ``(..., B)`` and return the mean over
the batch, shape ``(...)``: the same function serves one network (``(B, out)`` -> scalar) and a
stacked ensemble (``(E, B, out)`` -> ``(E,)``, one mean per member, never averaged across members).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def _ce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy ``-mean_i log softmax(z_i)[y_i]``."""
    logp = torch.log_softmax(logits, dim=-1)
    return -logp.gather(-1, y.unsqueeze(-1)).squeeze(-1).mean(dim=-1)


def _bce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of one logit with a sigmoid, ``mean_i BCE(σ(z_i), y_i)``."""
    z = logits.squeeze(-1)
    return F.binary_cross_entropy_with_logits(z, y.to(z.dtype), reduction="none").mean(dim=-1)


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {"ce": _ce, "bce": _bce}

def predict(logits: torch.Tensor) -> torch.Tensor:
    """Class predictions: one logit -> ``logit > 0``; several -> argmax."""
    if logits.shape[-1] == 1:
        return (logits[..., 0] > 0).long()
    return logits.argmax(dim=-1)

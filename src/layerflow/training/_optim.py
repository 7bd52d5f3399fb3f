"""The optimizers, as data: one table serves ordinary modules and flat ensembles.

Each entry of :data:`OPTIMIZERS` is an :class:`OptimizerRule` that declares an optimizer once:
the ``torch.optim`` class and its constants (for :func:`layerflow.train` on any module), and the
same update rule written for one flat parameter tensor (for :func:`layerflow.train_ensemble`,
whose E members live in one tensor), with an optional one-pass compiled CPU kernel.
:class:`FlatOptimizer` runs a rule on a flat tensor; it chooses the fused kernel from the table.

The flat rules are the formulas of ``torch.optim``'s single-tensor implementations (``torch``
2.x), applied elementwise, so each member of a flat ensemble is updated exactly as its own
``torch.optim`` optimizer would update it alone (up to rounding; tested in
``tests/training/test_optim.py``). On the CPU the square root is NumPy's (correctly rounded, and
without the slow path that ``torch.sqrt`` takes for zeros, which RMSprop's running average holds
for every weight whose gradient is exactly 0, e.g. behind a dead ReLU).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from numba import njit

Tensor = torch.Tensor

#: dtypes of the NumPy / Numba CPU paths (NumPy has no bfloat16; the kernels take no float16)
NUMPY_DTYPES = (torch.float32, torch.float64)


def _numpy_ok(t: Tensor) -> bool:
    """Whether ``t`` can take the NumPy / Numba path: a float32 or float64 CPU tensor."""
    return t.device.type == "cpu" and t.dtype in NUMPY_DTYPES


def _sqrt_into(src: Tensor, out: Tensor) -> Tensor:
    """``out = sqrt(src)`` elementwise (NumPy on the CPU for float32/float64: correctly rounded
    and fast on zeros; ``torch.sqrt`` otherwise)."""
    if _numpy_ok(src):
        np.sqrt(src.numpy(), out=out.numpy())
    else:
        torch.sqrt(src, out=out)
    return out


@njit(cache=True, nogil=True, error_model="numpy")  # numpy: x/0 -> inf, and SIMD loops
def _rmsprop_kernel(p: np.ndarray, g: np.ndarray, sq: np.ndarray, buf: np.ndarray, neg_lr: Any,
                    alpha: Any, one_minus_alpha: Any, eps: Any, wd: Any, momentum: Any,
                    use_buf: bool) -> None:  # pragma: no cover - compiled
    """One RMSprop step, elementwise in one pass (the order of torch.optim's tensor ops)."""
    for i in range(p.size):
        gi = g[i]
        if wd != 0:
            gi = gi + wd * p[i]
        si = sq[i] * alpha
        si = si + one_minus_alpha * gi * gi
        sq[i] = si
        avg = np.sqrt(si) + eps
        if use_buf:
            b = buf[i] * momentum + gi / avg
            buf[i] = b
            p[i] = p[i] + neg_lr * b
        else:
            p[i] = p[i] + neg_lr * gi / avg


@njit(cache=True, nogil=True, error_model="numpy")  # numpy: x/0 -> inf, and SIMD loops
def _adam_kernel(p: np.ndarray, g: np.ndarray, m: np.ndarray, sq: np.ndarray, neg_step: Any,
                 one_minus_beta1: Any, beta2: Any, one_minus_beta2: Any, bc2_sqrt: Any, eps: Any,
                 wd: Any, decay: Any) -> None:  # pragma: no cover - compiled
    """One Adam (``decay == 1``) or AdamW (``decay = 1 − lr·wd``, ``wd = 0``) step in one pass."""
    for i in range(p.size):
        pi = p[i] * decay
        gi = g[i]
        if wd != 0:
            gi = gi + wd * pi
        mi = m[i]
        mi = mi + one_minus_beta1 * (gi - mi)
        m[i] = mi
        si = sq[i] * beta2
        si = si + one_minus_beta2 * gi * gi
        sq[i] = si
        den = np.sqrt(si) / bc2_sqrt + eps
        p[i] = pi + neg_step * mi / den


# --------------------------------------------------------------------------- update rules
# Each flat rule gets the optimizer (hyperparameters, step count ``t``, state buffers), the
# parameter ``p`` and its gradient ``g`` (coupled weight decay already added where the rule says
# so), and updates ``p`` and the state in place.


def _rmsprop_step(o: FlatOptimizer, p: Tensor, g: Tensor) -> None:
    alpha, eps = o.rule.constants["alpha"], o.rule.constants["eps"]
    sq, buf = o.state["sq"], o.state.get("buf")
    sq.mul_(alpha).addcmul_(g, g, value=1 - alpha)
    avg = _sqrt_into(sq, o.state["den"]).add_(eps)
    if buf is not None:
        buf.mul_(o.momentum).addcdiv_(g, avg)
        p.add_(buf, alpha=-o.lr)
    else:
        p.addcdiv_(g, avg, value=-o.lr)


def _rmsprop_fused(o: FlatOptimizer, p: Tensor, g: Tensor) -> None:
    alpha, eps = o.rule.constants["alpha"], o.rule.constants["eps"]
    pa, sq = p.numpy(), o.state["sq"].numpy()
    f = pa.dtype.type  # scalars in the arrays' precision, as torch's CPU kernels use them
    buf = o.state.get("buf")
    _rmsprop_kernel(pa, g.numpy(), sq, sq if buf is None else buf.numpy(), f(-o.lr), f(alpha),
                    f(1 - alpha), f(eps), f(o.wd), f(o.momentum), buf is not None)


def _adam_step(o: FlatOptimizer, p: Tensor, g: Tensor) -> None:
    (beta1, beta2), eps = o.rule.constants["betas"], o.rule.constants["eps"]
    if o.wd != 0.0 and o.rule.decoupled:  # AdamW
        p.mul_(1 - o.lr * o.wd)
    o.state["m"].lerp_(g, 1 - beta1)
    sq = o.state["sq"]
    sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
    step = float(o.t)
    bc1 = 1 - beta1**step
    bc2_sqrt = (1 - beta2**step) ** 0.5
    den = _sqrt_into(sq, o.state["den"]).div_(bc2_sqrt).add_(eps)
    p.addcdiv_(o.state["m"], den, value=-(o.lr / bc1))


def _adam_fused(o: FlatOptimizer, p: Tensor, g: Tensor) -> None:
    (beta1, beta2), eps = o.rule.constants["betas"], o.rule.constants["eps"]
    pa = p.numpy()
    f = pa.dtype.type
    step = float(o.t)
    bc1 = 1 - beta1**step
    bc2_sqrt = (1 - beta2**step) ** 0.5
    adamw = o.rule.decoupled
    _adam_kernel(pa, g.numpy(), o.state["m"].numpy(), o.state["sq"].numpy(), f(-(o.lr / bc1)),
                 f(1 - beta1), f(beta2), f(1 - beta2), f(bc2_sqrt), f(eps),
                 f(0.0 if adamw else o.wd), f(1 - o.lr * o.wd if adamw else 1.0))


def _sgd_step(o: FlatOptimizer, p: Tensor, g: Tensor) -> None:
    if o.momentum != 0.0:
        buf = o.state.get("buf")
        if buf is None:
            buf = o.state["buf"] = g.detach().clone()
        else:
            buf.mul_(o.momentum).add_(g)
        g = buf
    p.add_(g, alpha=-o.lr)


@dataclass(frozen=True)
class OptimizerRule:
    """One optimizer, declared once for both training paths.

    Attributes
    ----------
    name
        The name ``TrainConfig.optimizer`` uses.
    torch_class, constants
        ``torch.optim`` class and its fixed hyperparameters (torch's own defaults: RMSprop
        ``alpha=0.99, eps=1e-8``; Adam/AdamW ``betas=(0.9, 0.999), eps=1e-8``); the flat rule
        reads the same constants.
    momentum
        Whether ``TrainConfig.momentum`` applies (SGD, RMSprop).
    decoupled
        Weight decay ``p ← (1 − lr·wd)·p`` (AdamW) instead of the coupled ``g ← g + wd·p``.
    buffers
        State tensors of the flat rule, given the momentum (``"buf"`` of SGD is made lazily from
        the first gradient, as ``torch.optim.SGD`` does).
    step, fused
        The flat update with whole-tensor operations, and an optional one-pass compiled CPU
        kernel of the same update (``None``: the tensor operations are used).
    """

    name: str
    torch_class: type[torch.optim.Optimizer]
    step: Callable[[FlatOptimizer, Tensor, Tensor], None]
    fused: Callable[[FlatOptimizer, Tensor, Tensor], None] | None = None
    constants: Mapping[str, Any] = field(default_factory=dict)
    momentum: bool = False
    decoupled: bool = False
    buffers: Callable[[float], tuple[str, ...]] = lambda momentum: ()

    def __call__(self, params: Iterable[Tensor], cfg: Any) -> torch.optim.Optimizer:
        """The ``torch.optim`` optimizer for ``params`` with ``cfg.lr``, ``cfg.weight_decay`` (and
        ``cfg.momentum`` where it applies)."""
        kwargs: dict[str, Any] = {"lr": cfg.lr, **self.constants}
        if self.momentum:
            kwargs["momentum"] = cfg.momentum
        kwargs["weight_decay"] = cfg.weight_decay
        return self.torch_class(params, **kwargs)


_ADAM = {"betas": (0.9, 0.999), "eps": 1e-8}

#: name -> rule; the order is the one error messages list
OPTIMIZERS: dict[str, OptimizerRule] = {
    rule.name: rule
    for rule in (
        OptimizerRule("rmsprop", torch.optim.RMSprop, _rmsprop_step, _rmsprop_fused,
                      {"alpha": 0.99, "eps": 1e-8}, momentum=True,
                      buffers=lambda m: ("sq", "den", "buf") if m > 0 else ("sq", "den")),
        OptimizerRule("adam", torch.optim.Adam, _adam_step, _adam_fused, _ADAM,
                      buffers=lambda m: ("m", "sq", "den")),
        OptimizerRule("adamw", torch.optim.AdamW, _adam_step, _adam_fused, _ADAM,
                      decoupled=True, buffers=lambda m: ("m", "sq", "den")),
        OptimizerRule("sgd", torch.optim.SGD, _sgd_step, momentum=True),
    )
}


def _one_of(names: Iterable[str]) -> str:
    items = list(names)
    return ", ".join(items[:-1]) + f" or {items[-1]}" if len(items) > 1 else items[0]


class FlatOptimizer:
    """An :data:`OPTIMIZERS` rule on one flat parameter tensor, in place (reads ``param.grad``).

    On the CPU (``fused=None`` or ``True``) a rule with a compiled kernel (RMSprop, Adam, AdamW)
    runs as one pass over the arrays instead of five or six whole-tensor operations, for float32
    and float64 parameters (``fused=None`` runs the tensor operations for bfloat16 and float16,
    which NumPy and the kernels do not take). ``lr`` may be changed between steps (learning-rate
    schedules).
    """

    def __init__(self, param: Tensor, cfg: Any, fused: bool | None = None) -> None:
        self.param = param
        self.kind = str(cfg.optimizer)
        if self.kind not in OPTIMIZERS:
            raise ValueError(f"optimizer={self.kind!r}: expected {_one_of(OPTIMIZERS)}")
        self.rule = OPTIMIZERS[self.kind]
        self.lr = float(cfg.lr)
        self.wd = float(cfg.weight_decay)
        self.momentum = float(cfg.momentum)
        self.t = 0
        self.fused = _numpy_ok(param) if fused is None else bool(fused)
        self.state: dict[str, Tensor] = {
            name: torch.zeros_like(param, memory_format=torch.contiguous_format)
            for name in self.rule.buffers(self.momentum)
        }
        if self.fused and not (param.device.type == "cpu" and param.is_contiguous()):
            raise ValueError(f"fused=True needs a contiguous CPU tensor; got {param.device} "
                             f"(contiguous={param.is_contiguous()})")
        if self.fused and param.dtype not in NUMPY_DTYPES:
            raise ValueError(f"fused=True needs float32 or float64; got {param.dtype}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.param.grad = None

    @torch.no_grad()
    def step(self) -> None:
        p = self.param
        g = p.grad
        if g is None:
            return
        self.t += 1
        if self.fused and self.rule.fused is not None:
            self.rule.fused(self, p.detach(), g.contiguous())
            return
        if self.wd != 0.0 and not self.rule.decoupled:
            g = g.add(p, alpha=self.wd)
        self.rule.step(self, p, g)

"""Fast ensemble training: hand-written gradients for stacked MLPs.

Used by :func:`layerflow.train_ensemble` (through the one loop ``_fit``); the results are the
same as autograd up to floating-point rounding (tested in ``tests/training/test_fast.py`` and,
end to end, against solo training in ``test_ensemble.py``). The in-place flat optimizers are in
``_optim`` (:class:`layerflow.training._optim.FlatOptimizer`).

- :class:`StackedMLPGrad`: E MLPs (plain or bottleneck) whose weights live in one flat
  tensor, each weight stored as ``(E, in, out)`` so that the forward pass is ``X @ W`` and the
  backward pass ``dW = Xᵀ dZ``, ``dX = dZ Wᵀ`` with no layout copies. The gradient of the summed
  per-member objective ``Σ_e [loss_e + l2·Σ_W ‖W_e‖²]`` is written straight into one flat
  gradient buffer (``torch.bmm(..., out=view)``): no autograd graph, no per-parameter copies.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
import torch

Tensor = torch.Tensor

#: activation -> (in-place forward, backward from the activation's *output*): ``dz = f'(z)·dh``
ACT_BACKWARD: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor, Tensor], Tensor]]] = {
    "relu": (torch.relu_, lambda g, out: torch.ops.aten.threshold_backward(g, out, 0)),
    "tanh": (torch.tanh_, lambda g, out: torch.ops.aten.tanh_backward(g, out)),
    "sigmoid": (torch.sigmoid_, lambda g, out: torch.ops.aten.sigmoid_backward(g, out)),
    "identity": (lambda x: x, lambda g, out: g),
}


class StackedMLPGrad:
    """Forward and hand-written backward pass of E stacked MLPs (no autograd).

    ``flat`` holds, per layer ``l`` (hidden layers, then the head), the weight block
    ``W_l`` of shape ``(E, d_l, d_{l+1})`` (the transpose of ``nn.Linear.weight``) and then the bias
    ``b_l`` of shape ``(E, d_{l+1})``. With ``h_0 = x`` (shape ``(E, B, d_0)``)::

        h_{l+1} = act(h_l W_l + b_l),   logits = h_L W_L + b_L      (E, B, out)

    and, for the per-member objective ``J_e = loss_e + l2·Σ_l ‖W_l,e‖²`` (``loss_e`` the batch mean
    of BCE with one logit, or of softmax cross-entropy)::

        δ_L = ∂loss/∂logits = (σ(z) − y)/B   or   (softmax(z) − onehot(y))/B
        ∂J/∂W_l = h_lᵀ δ_l + 2·l2·W_l,   ∂J/∂b_l = Σ_i δ_l,i,   δ_{l−1} = act'(·) ⊙ (δ_l W_lᵀ)

    :meth:`backward` writes ``∂(Σ_e J_e)`` into ``grad`` (same layout as ``flat``).
    """

    def __init__(self, flat: Tensor, grad: Tensor, dims: Sequence[int], n_members: int,
                 activation: str, loss: str, l2: float) -> None:
        if activation not in ACT_BACKWARD:
            raise ValueError(f"activation={activation!r}: expected one of {sorted(ACT_BACKWARD)}")
        if loss not in ("bce", "ce"):
            raise ValueError(f"loss={loss!r}: expected 'bce' or 'ce'")
        E = n_members
        self.act, self.act_backward = ACT_BACKWARD[activation]
        self.loss = loss
        self.l2 = float(l2)
        self.W: list[Tensor] = []
        self.b: list[Tensor] = []
        self.gW: list[Tensor] = []
        self.gb: list[Tensor] = []
        need = sum(E * (d_in + 1) * d_out for d_in, d_out in itertools.pairwise(dims))
        if flat.numel() != need or grad.shape != flat.shape:
            raise ValueError(f"flat has {flat.numel()} values and grad {grad.numel()}; "
                             f"dims={tuple(dims)} with E={E} need {need} each")
        off = 0
        for d_in, d_out in itertools.pairwise(dims):
            for shape, dst, gdst in (((E, d_in, d_out), self.W, self.gW),
                                     ((E, 1, d_out), self.b, self.gb)):
                size = int(np.prod(shape))
                dst.append(flat.detach()[off : off + size].view(shape))
                gdst.append(grad[off : off + size].view(shape))
                off += size
        self._hs: list[Tensor] = []
        self._logits: Tensor | None = None
        self._out: dict[int, list[Tensor]] = {}
        self._numpy = flat.device.type == "cpu"

    def _mm(self, a: Tensor, b: Tensor, out: Tensor) -> Tensor:
        """``out = a @ b`` batched over E. On the CPU through NumPy's ``matmul`` (OpenBLAS), which
        is faster than ``torch.bmm`` (MKL) for these small matrices (``benchmarks/README.md``)."""
        if self._numpy:
            with np.errstate(all="ignore"):  # overflow gives inf (as in torch); no warning
                np.matmul(a.numpy(), b.numpy(), out=out.numpy())
        else:
            torch.bmm(a, b, out=out)
        return out

    def _buffers(self, B: int) -> list[Tensor]:
        """Per-layer outputs ``(E, B, d_{l+1})`` for batch size B, reused from step to step."""
        bufs = self._out.get(B)
        if bufs is None:
            bufs = [w.new_empty((w.shape[0], B, w.shape[2])) for w in self.W]
            self._out[B] = bufs
        return bufs

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(E, B, out)`` for inputs ``x`` ``(E, B, d_0)``; keeps the activations.

        The returned tensor is a buffer that the next call overwrites."""
        x = x.contiguous()
        hs = [x]
        h = x
        last = len(self.W) - 1
        for i, (W, b, out) in enumerate(zip(self.W, self.b, self._buffers(int(x.shape[1])),
                                            strict=True)):
            h = self._mm(h, W, out).add_(b)
            if i < last:
                h = self.act(h)
                hs.append(h)
        self._hs = hs
        self._logits = h
        return h

    def backward(self, y: Tensor) -> None:
        """Write the gradient of ``Σ_e J_e`` for the last :meth:`forward` (labels ``y`` (E, B))."""
        z = self._logits
        if z is None:
            raise RuntimeError("backward() before forward()")
        B = int(z.shape[1])
        if self.loss == "bce":
            dz = torch.sigmoid(z)
            dz[..., 0] -= y.to(z.dtype)
        else:
            dz = torch.softmax(z, dim=-1)
            dz.scatter_add_(-1, y.unsqueeze(-1), torch.full_like(dz[..., :1], -1.0))
        dz.div_(B)
        hs = self._hs
        for i in range(len(self.W) - 1, -1, -1):
            self._mm(hs[i].transpose(1, 2), dz, self.gW[i])
            torch.sum(dz, dim=1, keepdim=True, out=self.gb[i])
            if self.l2 > 0.0:
                self.gW[i].add_(self.W[i], alpha=2.0 * self.l2)
            if i > 0:
                dh = self._mm(dz, self.W[i].transpose(1, 2), hs[i].new_empty(hs[i].shape))
                dz = self.act_backward(dh, hs[i])
        self._hs = []
        self._logits = None

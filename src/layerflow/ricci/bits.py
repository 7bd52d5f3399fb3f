"""Bit operations on uint64 words for the Numba kernels (internal): LLVM's ``ctpop``, ``cttz`` and
``ctlz`` intrinsics, each one machine instruction where the CPU has it."""

from __future__ import annotations

from typing import Any

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

__all__ = ["leading_zeros", "popcount", "trailing_zeros"]


def _unary(name: str, *extra: bool) -> Any:
    """An intrinsic uint64 -> uint64 calling ``llvm.<name>`` (with ``extra`` i1 arguments)."""

    @intrinsic
    def fn(typingctx: Any, x: Any) -> Any:  # pragma: no cover - compiled
        if x != types.uint64:
            return None
        sig = types.uint64(types.uint64)

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            tys = [ir.IntType(64)] + [ir.IntType(1)] * len(extra)
            f = builder.module.declare_intrinsic(f"llvm.{name}", tys)
            flags = [ir.Constant(ir.IntType(1), int(b)) for b in extra]
            return builder.call(f, [args[0], *flags])

        return sig, codegen

    return fn


popcount = _unary("ctpop")
popcount.__doc__ = "Number of set bits of a uint64."
# is_zero_poison = False: a zero word gives 64
trailing_zeros = _unary("cttz", False)
trailing_zeros.__doc__ = "Index of the lowest set bit of a uint64 (64 for 0)."
leading_zeros = _unary("ctlz", False)
leading_zeros.__doc__ = "Number of zero bits above the highest set bit of a uint64 (64 for 0)."

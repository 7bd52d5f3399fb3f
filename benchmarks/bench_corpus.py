"""Every per-token view on a corpus of GPT-2-small's shape: time and peak memory.

A trajectory of ``--tokens`` tokens (default 200,000) × 13 states of width 768 (GPT-2 small's
embeddings, 11 block outputs and the final norm; 7.4 GiB of float32) plus the token ids is
written to disk without ever being in memory (``layerflow._trajectory.save_streamed``; no GPT-2
weights are needed: the states are random tracks, each state the previous one plus a drift and
noise, the last layer-normalised). Then, in a child process, it is mapped
(``Trajectory.load(…, mmap=True)``) and measured as ``layerflow analyze`` measures it: the
transport view on every token (LSS, kinetic energy, path length, turning angles in blocks of
rows; the OT score on 1,000 tokens; the W2 path on its declared seeded subsample) and the Ricci
view on its declared seeded subsample (``max_points``, default 20,000). The child's wall time and
peak resident memory (``ru_maxrss``) are printed.

    python benchmarks/bench_corpus.py                       # 200,000 tokens, /tmp/lf-corpus.npz
    /usr/bin/time -v python benchmarks/bench_corpus.py      # the same, with the OS's view
    python benchmarks/bench_corpus.py --tokens 20000 --k 10 # a quick run
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

STATES, WIDTH, SEQ = 13, 768, 512  # GPT-2 small: 13 hidden states of width 768; 512-token rows
ROWS = 8192  # rows generated per chunk


_BASE: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}


def _base(seed: int, start: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """x_0 and v of one chunk, drawn once (the writer holds 2 × 4·768 bytes per token)."""
    key = (seed, start, rows)
    if key not in _BASE:
        rng = np.random.default_rng([seed, start])
        _BASE[key] = (rng.random((rows, WIDTH), dtype=np.float32) * 2 - 1,
                      rng.random((rows, WIDTH), dtype=np.float32) * 2 - 1)
    return _BASE[key]


def _state_chunks(n: int, layer: int, seed: int) -> Iterator[np.ndarray]:
    """Rows of state ``layer``: x_l = x_0 + 0.1·l·v + 0.05·e_l, with x_0, v uniform on
    [-1, 1) per token and e_l = x_0 with its coordinates rotated by l (a different direction
    per layer), the last state layer-normalised; every chunk regenerated from its own seed."""
    for start in range(0, n, ROWS):
        rows = min(ROWS, n - start)
        x0, v = _base(seed, start, rows)
        e = np.roll(x0, 7 * layer + 1, axis=1)
        x = x0 + np.float32(0.1 * min(layer, STATES - 2)) * v + np.float32(0.05) * e
        if layer == STATES - 1:  # final norm: zero mean, unit variance per token
            x -= x.mean(axis=1, keepdims=True)
            x /= x.std(axis=1, keepdims=True)
        yield x


def write(path: Path, n: int, seed: int = 0) -> float:
    from layerflow._trajectory import save_streamed

    t0 = time.perf_counter()
    ids = np.random.default_rng(seed).integers(0, 50257, size=n).astype(np.float32)
    states = [(1, np.float32, lambda: [ids[:, None]])]
    states += [(WIDTH, np.float32, lambda layer=layer: _state_chunks(n, layer, seed))
               for layer in range(STATES)]
    names = ["input_ids", "embeddings", *(f"h.{i}" for i in range(STATES - 2)), "final_norm"]
    kinds = ["input_ids", "embedding", *(["block"] * (STATES - 2)), "final_norm"]
    save_streamed(path, n, states, layer_names=names, kinds=kinds,
                  metadata={"model": "random tracks of GPT-2 small's shape"},
                  sample_index=np.arange(n) // SEQ, position=np.arange(n) % SEQ)
    _BASE.clear()
    return time.perf_counter() - t0


def analyse(path: Path, k: int, max_points: int) -> None:
    """The child: map, measure, print one JSON line."""
    from layerflow._analyze import analyze
    from layerflow._trajectory import Trajectory

    t0 = time.perf_counter()
    traj = Trajectory.load(path, mmap=True)
    times = {"load": time.perf_counter() - t0}
    out = {}
    for view, opts in (("transport", {}), ("ricci", {"k": k, "max_points": max_points})):
        t = time.perf_counter()
        out[view] = analyze(traj, sections=[view], **opts)[view]
        times[view] = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    keys = ("lss_mean", "ots", "ot_m", "kinetic_energy", "w2_geodesic_ratio", "w2_m",
            "transport_run", "transport_note", "ricci_rho", "ricci_n", "ricci_note", "error")
    print(json.dumps({"times_s": times, "peak_rss_bytes": peak,
                      "values": {v: {key: r[key] for key in keys if key in r}
                                 for v, r in out.items()}}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokens", type=int, default=200_000)
    ap.add_argument("--path", type=Path, default=Path("/tmp/lf-corpus.npz"))
    ap.add_argument("--k", type=int, default=30)
    ap.add_argument("--max-points", type=int, default=20_000)
    ap.add_argument("--keep", action="store_true", help="keep the corpus file afterwards")
    ap.add_argument("--reuse", action="store_true",
                    help="analyse the corpus file at --path as it is (written by --keep)")
    ap.add_argument("--analyse-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.analyse_only:
        analyse(args.path, args.k, args.max_points)
        return
    size = args.tokens * (STATES * WIDTH + 1) * 4
    print(f"corpus: {args.tokens} tokens x {STATES} states x {WIDTH} (+ token ids), "
          f"{size / 2**30:.2f} GiB float32 -> {args.path}")
    if args.reuse and args.path.is_file():
        print("reusing the corpus written before")
    else:
        seconds = write(args.path, args.tokens)
        print(f"written in {seconds:.1f} s")
    try:
        t0 = time.perf_counter()
        child = subprocess.run([sys.executable, __file__, "--analyse-only", "--path",
                                str(args.path), "--k", str(args.k), "--max-points",
                                str(args.max_points)], capture_output=True, text=True,
                               check=True)
        wall = time.perf_counter() - t0
    finally:
        if not args.keep:
            args.path.unlink(missing_ok=True)
    res = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"analysis: {wall:.1f} s wall "
          f"({', '.join(f'{k} {v:.1f} s' for k, v in res['times_s'].items())}), "
          f"peak resident memory {res['peak_rss_bytes'] / 2**30:.2f} GiB")
    print(json.dumps(res["values"], indent=2))


if __name__ == "__main__":
    main()

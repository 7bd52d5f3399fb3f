"""How long ``layerflow analyze --help`` takes in a fresh process, with no cache (goal: < 1 s).

Each run is a new interpreter (``python -m layerflow analyze --help``) with ``XDG_CACHE_HOME``
pointed at an empty folder, so nothing kept by an earlier run can help. Prints the median wall
and CPU time (user + system; on a shared machine it does not count the waits for a core) of
``--repeat`` runs of each command and of a bare interpreter (``python -c pass``), the load
average, and the ten slowest imports of ``analyze --help`` by cumulative
time (``python -X importtime``) with the heavy libraries it loaded, if any.

    python benchmarks/bench_help.py                  # 5 runs each
    PYTHONPATH=/other/checkout/src python benchmarks/bench_help.py   # another checkout's code
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

COMMANDS = {
    "python -c pass": ["-c", "pass"],
    "layerflow --help": ["-m", "layerflow", "--help"],
    "layerflow analyze --help": ["-m", "layerflow", "analyze", "--help"],
    "layerflow run --help": ["-m", "layerflow", "run", "--help"],
}
HEAVY = ("torch", "numba", "numpy", "scipy", "pandas", "pyarrow", "ot")


def _run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    ns = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f}")
    for label, args in COMMANDS.items():
        runs = []
        for _ in range(ns.repeat):
            with tempfile.TemporaryDirectory() as cache:
                runs.append(_run(args, {**os.environ, "XDG_CACHE_HOME": cache}))
        walls = [w for w, _ in runs]
        print(f"{label:28s} wall median {statistics.median(walls):.3f} s (min {min(walls):.3f}, "
              f"max {max(walls):.3f}), CPU median {statistics.median(c for _, c in runs):.3f} s "
              f"({ns.repeat} runs)")
    with tempfile.TemporaryDirectory() as cache:
        out = subprocess.run([sys.executable, "-X", "importtime", "-m", "layerflow", "analyze",
                              "--help"], env={**os.environ, "XDG_CACHE_HOME": cache},
                             capture_output=True, text=True, check=True).stderr
    rows = []
    for line in out.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if line.startswith("import time:") and len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].strip()))
    top = [r for r in rows if "." not in r[1]]
    print("slowest top-level imports of analyze --help (cumulative):")
    for cum, name in sorted(top, reverse=True)[:10]:
        print(f"  {cum / 1e3:8.1f} ms  {name}")
    heavy = sorted({n.split(".")[0] for _, n in rows if n.split(".")[0] in HEAVY})
    print(f"heavy libraries imported: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()

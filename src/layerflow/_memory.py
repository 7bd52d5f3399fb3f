"""How much memory a computation may use, and byte counts for messages (shared by the views
that refuse work that would not fit: transport's exact assignments, the Jacobian diagnostics)."""

from __future__ import annotations

import os


def available_bytes() -> int:
    """Memory available to this process (``MemAvailable`` on Linux, else physical memory)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    try:  # pragma: no cover - not Linux
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 1 << 62


def format_bytes(n: float) -> str:
    """``1536 -> "1.50 KiB"``: a byte count in the largest binary unit (up to TiB) keeping it >= 1."""
    if n < 1024:
        return f"{int(n)} bytes"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if n < 1024:
            return f"{n:.2f} {unit}"
    return f"{n / 1024:.2f} TiB"

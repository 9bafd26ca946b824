"""What machine a benchmark ran on: its reports say so, as speeds depend on the CPU."""

from __future__ import annotations

import os
import platform
from pathlib import Path

# The vector extensions the model's kernels choose between (int8 activations pay only
# with VNNI).
EXTENSIONS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni")


def _cpuinfo(field: str) -> str | None:
    """The first CPU's `field` in /proc/cpuinfo, or None where there is none (not Linux)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return None
    return next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith(field)), None)


def vector_extensions() -> str:
    flags = (_cpuinfo("flags") or "").split()
    return " ".join(f for f in EXTENSIONS if f in flags) or "unknown"


def describe() -> str:
    cpu = _cpuinfo("model name") or platform.processor()
    return (
        f"{os.cpu_count()} cores (nproc), {cpu} ({vector_extensions()}), "
        f"Python {platform.python_version()}"
    )

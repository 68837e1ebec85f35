"""Imported first by every stage, before numpy loads.

Two jobs, both about running the same everywhere:

- one readable line, not a traceback, when the stage runs under a Python without the project
  installed (`.venv/bin/dvc repro` from a shell whose `python` is the system's, say);
- the same floating-point kernels on every x86-64 machine. OpenBLAS picks its kernels for the
  CPU it finds, and the kernels sum in different orders: the logistic baseline's coefficients
  differed in the 14th digit between an AVX-512 and an AVX2 machine, which changes the model's
  bytes and so `dvc.lock`. Pinning the AVX2 ("Haswell") kernels, which any x86-64 CPU of the
  last ten years runs, makes `dvc repro` reproduce to the byte across machines. Set
  ``OPENBLAS_CORETYPE`` yourself to choose otherwise; other platforms are left alone.
"""

import os
from pathlib import Path


def _has_avx2() -> bool:
    cpuinfo = Path("/proc/cpuinfo")
    try:
        return " avx2" in cpuinfo.read_text()
    except OSError:
        return False


if _has_avx2():
    os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")

try:
    import loanrisk  # noqa: F401
except ModuleNotFoundError:
    raise SystemExit(
        "error: the loanrisk package is not installed for this Python; run `make setup` "
        "and `source .venv/bin/activate`"
    ) from None

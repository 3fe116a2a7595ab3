"""Set the number of BLAS threads of numpy's OpenBLAS at run time (used by the MuJoCo oracle
and by ``apga experiment``).

Experiment runs multiply small matrices (a 64-unit policy over a few hundred steps). A
multithreaded OpenBLAS gains nothing there and, on a machine whose cores are already busy
(other workers, other jobs), its spinning threads made the policy's backward pass ten times
slower (1.1 ms with one thread, 10 ms with two, measured under load). Workers therefore run
with one BLAS thread; ``apga experiment --blas-threads`` changes it (the robustness rerun
of ``docs/experiments.md`` uses 2).

``OPENBLAS_NUM_THREADS`` only works before numpy is imported, so this calls OpenBLAS's own
setter in the library numpy loaded (found with ctypes).
"""

from __future__ import annotations

import ctypes
import glob
import os

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_", "openblas_set_num_threads")  # fmt: skip
_GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
            "openblas_get_num_threads64_", "openblas_get_num_threads")  # fmt: skip


def _library() -> ctypes.CDLL | None:
    import numpy

    base = os.path.dirname(os.path.dirname(numpy.__file__))
    for path in sorted(glob.glob(os.path.join(base, "numpy.libs", "*openblas*"))):
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def set_blas_threads(n: int) -> bool:
    """Use ``n`` BLAS threads in this process (and processes forked from it); False if numpy's
    BLAS is not an OpenBLAS this can reach (then nothing changes)."""
    lib = _library()
    if lib is None:
        return False
    for name in _SETTERS:
        fn = getattr(lib, name, None)
        if fn is not None:
            fn(ctypes.c_int(int(n)))
            return True
    return False


def get_blas_threads() -> int | None:
    """The current number of OpenBLAS threads (None if unknown)."""
    lib = _library()
    for name in _GETTERS if lib is not None else ():
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.restype = ctypes.c_int
            return int(fn())
    return None

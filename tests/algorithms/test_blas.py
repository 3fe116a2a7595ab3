"""numpy's OpenBLAS thread count can be set and read back at run time."""

import pytest

from algorithms.blas import get_blas_threads, set_blas_threads


def test_set_and_get_blas_threads():
    before = get_blas_threads()
    if before is None:
        pytest.skip("numpy's BLAS is not an OpenBLAS reachable by ctypes")
    try:
        assert set_blas_threads(1) and get_blas_threads() == 1
        assert set_blas_threads(2) and get_blas_threads() == 2
    finally:
        set_blas_threads(before)

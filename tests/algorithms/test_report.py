"""Records on a time grid, bands over seeds and CSV round trips, against hand values."""

from __future__ import annotations

import math
from dataclasses import astuple

import numpy as np

from algorithms.run import IterationRecord
from algorithms.run.report import band, read_csv, step_values, time_to_reach, write_csv


def _rec(it, t, J, g=math.nan):
    return IterationRecord(it, t, it, it, 2 * it, 0.5 * it, J, g)


RUN = [_rec(0, 0.0, 1.0), _rec(1, 2.0, math.nan), _rec(2, 3.0, 5.0)]


def test_step_values_by_hand():
    # right-continuous steps; the NaN record at t = 2 keeps the last evaluated value
    v = step_values(RUN, "J", np.array([-1.0, 0.0, 2.5, 3.0, 9.0]))
    np.testing.assert_array_equal(v, [np.nan, 1.0, 1.0, 5.0, 5.0])


def test_band_by_hand():
    runs = [RUN, [_rec(0, 0.0, 3.0)], [_rec(0, 0.0, 2.0), _rec(1, 1.0, 10.0)]]
    b = band(runs, "J", np.array([0.0, 4.0]))
    # t = 0: values {1, 3, 2}; t = 4: {5, 3, 10}. Linear quantiles of 3 points.
    np.testing.assert_allclose(b.median, [2.0, 5.0])
    np.testing.assert_allclose(b.low, [1.4, 3.8])  # 20%: x_(1) + 0.4 (x_(2) - x_(1))
    np.testing.assert_allclose(b.high, [2.6, 8.0])  # 80%: x_(2) + 0.6 (x_(3) - x_(2))


def test_time_to_reach():
    assert time_to_reach(RUN, "J", 4.0, below=False) == 3.0
    assert time_to_reach(RUN, "J", 1.0) == 0.0
    assert time_to_reach(RUN, "J", 0.5) == math.inf


def test_csv_round_trip(tmp_path):
    write_csv(tmp_path / "r.csv", RUN)
    back = read_csv(tmp_path / "r.csv")
    for a, b in zip(back, RUN, strict=True):  # NaN != NaN: compare as arrays
        np.testing.assert_array_equal(
            np.array(astuple(a), dtype=float), np.array(astuple(b), dtype=float)
        )

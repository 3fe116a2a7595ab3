"""Rounds decided by counting (fixed timing, too many arrivals to list) equal the listed
rounds exactly; spreads and batches beyond memory are answered or refused clearly."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import algorithms.sim.clock as clock_mod
from algorithms.aggregation import plan_malenia, plan_rennala
from algorithms.sim.clock import make_clock


def _record(plan, h, kappa, M, monkeypatch=None, limit=None, **kw):
    if monkeypatch is not None:
        monkeypatch.setattr(clock_mod, "MAX_ARRIVALS", limit)
    return plan(make_clock(h, kappa, **kw), M)


def _same(a, b):
    da, db = dataclasses.asdict(a), dataclasses.asdict(b)
    for key in da:
        if isinstance(da[key], np.ndarray):
            np.testing.assert_array_equal(da[key], db[key], err_msg=key)
        else:
            assert da[key] == db[key], key


@pytest.mark.parametrize("plan", [plan_rennala, plan_malenia])
def test_counting_equals_listing_on_random_clusters(plan, monkeypatch):
    """A limit of 0 arrivals forces counting; the round record must be identical to the
    listed one (exit time, counts, cancelled, unused, uploads), ties included."""
    from algorithms.aggregation import counting

    calls = []
    original = counting.counted_exit

    def spy(*args, **kw):
        calls.append(1)
        return original(*args, **kw)

    rng = np.random.default_rng(3)
    for trial in range(60):
        n = int(rng.integers(1, 8))
        h = rng.choice([0.5, 1.0, 1.5, 2.0, 3.0], n) if trial % 2 else rng.uniform(0.1, 5, n)
        kappa = rng.choice([0.0, 0.25, 1.0], n)
        M = int(rng.integers(1, 60))
        kw = {}
        if trial % 5 == 0 and n > 1:  # an agent failing late, one joining late
            kw = {"fail_at": np.r_[np.inf * np.ones(n - 1), 40.0],
                  "join_at": np.r_[0.5, np.zeros(n - 1)]}
        listed = _record(plan, h, kappa, M, **kw)
        monkeypatch.setattr(counting, "counted_exit", spy)
        counted = _record(plan, h, kappa, M, monkeypatch, 0, **kw)
        monkeypatch.undo()
        _same(listed, counted)
    assert len(calls) == 60  # every round above was counted, not listed


def test_malenia_wide_spread_is_counted_exactly():
    """h = (1e-6, 1e6), M = 10: the slow agent needs M_2 = 3 (n^2 >= M sum 1/M_i gives
    1/M_1 + 1/M_2 <= 0.4), reached at t = 3e6 when the fast agent has 3e12 gradients;
    by hand: 4 >= 10 (1/3e12 + 1/3) holds, 4 >= 10 (1/M_1 + 1/2) never does."""
    rec = plan_malenia(make_clock([1e-6, 1e6]), 10)
    assert rec.t_exit == 3e6 and rec.counts[1] == 3
    assert rec.counts[0] == np.floor(3e6 / 1e-6) or abs(rec.counts[0] - 3e12) <= 1


def test_rennala_huge_batch_is_counted():
    rec = plan_rennala(make_clock([1.0, 2.0]), 10**12)
    # sum_i floor(t / h_i) >= M first at t = 2M/3 (rounded up to the grid of h = 1, 2).
    assert rec.counts.sum() == 10**12 and abs(rec.t_exit - 2e12 / 3) <= 2


def test_random_timing_too_large_to_list_is_refused_naming_h():
    clock = make_clock([1e-6, 1e6], timing="exponential")
    with pytest.raises(ValueError, match=r"^h: AggregateMalenia with exponential timing"):
        plan_malenia(clock, 10)


@pytest.mark.parametrize("kappa, ok", [(1e12, True), (3e16, False)])
def test_clock_resolution(kappa, ok):
    """kappa = 3e16 put times where floats are 4 apart: counts silently changed from
    [6, 3, 1] to [7, 2, 1]. Now refused; 1e12 (floats 1.2e-4 apart) stays exact."""
    clock = make_clock([1.0, 2.0, 4.0], kappa)
    if ok:
        assert plan_rennala(clock, 10).counts.tolist() == [6, 3, 1]
    else:
        with pytest.raises(ValueError, match=r"^kappa: .* floats are 4 apart"):
            plan_rennala(clock, 10)


def test_tiny_times_are_simulated_not_overflowed():
    """h = 1e-300 used to ask for 1e288 arrivals (an absolute 1e-12 horizon slack)."""
    rec = plan_rennala(make_clock([1e-300]), 10)
    assert rec.counts.tolist() == [10] and rec.t_exit == pytest.approx(1e-299)

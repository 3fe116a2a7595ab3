"""The machine-load guard of the wallclock checks (algorithms.wallclock.load) and the
real-speed check's verdict (validation.checks.wallclock.real_result)."""

import os

import pytest

from algorithms.wallclock import load as ld


def _proc(tmp_path, procs):
    """A fake /proc: {pid: (ppid, [thread states])}."""
    for pid, (ppid, states) in procs.items():
        d = tmp_path / str(pid)
        (d / "task").mkdir(parents=True)
        (d / "stat").write_text(f"{pid} (x y) {states[0]} {ppid} 0 0\n")
        for j, st in enumerate(states):
            t = d / "task" / str(pid * 100 + j)
            t.mkdir()
            (t / "stat").write_text(f"{pid} (a) b) {st} {ppid}\n")
    (tmp_path / "self").mkdir()  # not a pid: skipped
    return tmp_path


def test_foreign_running_counts_other_processes_runnable_threads(tmp_path):
    # our tree: 10 -> 11 -> 12 (all busy); others: 20 (two threads R, one S), 21 (sleeping)
    proc = _proc(tmp_path, {10: (1, ["R"]), 11: (10, ["R", "R"]), 12: (11, ["R"]),
                            20: (1, ["R", "R", "S"]), 21: (1, ["S"])})
    assert ld.foreign_running(proc, root=10) == 2
    assert ld.foreign_running(proc, root=20) == 4  # from 20's side, our tree is foreign
    assert ld.foreign_running(tmp_path / "missing") is None


def test_the_loaded_threshold_is_half_a_core():
    assert ld.LOADED == 0.5
    assert ld.judged(0.5) == (True, "", "")
    ok, why, guard = ld.judged(0.51)
    assert not ok and why == "not judged: machine loaded (load 0.51 > 0.5)"
    assert guard == "loaded"
    assert ld.judged(None) == (True, "", "")  # unknown (no /proc): judged
    assert ld.judged(3.0, threshold=4.0)[0]


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_foreign_load_samples_while_a_block_runs():
    with ld.ForeignLoad(interval=0.05) as f:
        import time

        time.sleep(0.2)
    assert len(f.samples) >= 2 and f.load is not None and f.load >= 0
    d = f.to_dict()
    assert set(d) == {"foreign_load", "processes", "steal", "loadavg_before",
                      "loadavg_after", "samples"}
    # the judged load is the processes' plus the hypervisor's steal
    assert d["foreign_load"] == pytest.approx(sum(x for x in (d["processes"], d["steal"])
                                                  if x is not None))


def _stat(tmp_path, steal, idle, cores=2):
    lines = [f"cpu  100 5 50 {idle} 3 0 2 {steal} 0 0"]
    lines += [f"cpu{k} 1 1 1 1 1 0 0 0 0 0" for k in range(cores)]
    lines += ["intr 12345", "ctxt 678"]
    (tmp_path / "stat").write_text("\n".join(lines) + "\n")


def test_steal_time_is_read_from_proc_stat_in_cores(tmp_path):
    _stat(tmp_path, steal=40, idle=800)
    before = ld.cpu_times(tmp_path)
    assert before == (40, 100 + 5 + 50 + 800 + 3 + 0 + 2 + 40, 2)
    # 1000 more jiffies over both cores, 250 of them stolen: a quarter of 2 cores
    _stat(tmp_path, steal=290, idle=1550)
    after = ld.cpu_times(tmp_path)
    assert after[1] - before[1] == 1000
    assert ld.steal_cores(before, after) == pytest.approx(0.5)
    assert ld.steal_cores(before, before) is None  # no time passed
    assert ld.steal_cores(None, after) is None
    assert ld.cpu_times(tmp_path / "missing") is None
    (tmp_path / "stat").write_text("cpu  1 2 3\n")  # a kernel without the steal column
    assert ld.cpu_times(tmp_path) is None
    (tmp_path / "stat").write_text("cpu  a b c d e f g h\n")
    assert ld.cpu_times(tmp_path) is None


def test_speed_moved_and_the_steady_threshold():
    from algorithms.wallclock.cost import DRIFT

    assert ld.STEADY == DRIFT == 0.05  # the interval's stated drift allowance
    assert ld.speed_moved(10.0, 11.0) == pytest.approx(0.1)
    assert ld.speed_moved(10.0, 9.0) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="speed_moved"):
        ld.speed_moved(0.0, 1.0)
    assert ld.judged(0.1, moved=0.05).ok
    ok, why, guard = ld.judged(0.1, moved=0.083)
    assert not ok and why == ("not judged: machine speed moved 8.3% between calibrations "
                              "(> 5%)")
    assert guard == "moved"
    # a prediction that allowed more drift tolerates more (the checks pass its drift)
    assert ld.judged(0.1, moved=0.083, steady=0.1).ok
    assert ld.judged(0.1, moved=0.12, steady=0.1).why.endswith("(> 10%)")
    assert ld.judged(0.1, moved=0.126, steady=0.0643343).why.endswith("(> 6.43%)")
    # load is named first when both hold
    assert ld.judged(0.9, moved=0.2).guard == "loaded"


def _row(error, inside, judged, load=0.1, moved=0.01):
    ok, why, guard = ld.judged(load, moved=moved if not judged else None)
    assert ok == judged  # the rows below are what the guard says of their load and drift
    return {"error": error, "inside": inside, "judged": ok, "why": why, "not_judged": guard,
            "speed_moved": moved, "load": {"foreign_load": load}}


def test_real_check_verdicts():
    from validation.checks.wallclock import real_result

    r = real_result("n", "c", "p", [_row(0.05, True, True), _row(0.08, True, True)], 1.0)
    assert r.verdict == "pass" and "worst error 8.0%" in r.summary
    r = real_result("n", "c", "p", [_row(0.05, True, True), _row(0.12, True, True)], 1.0)
    assert r.verdict == "fail"
    r = real_result("n", "c", "p", [_row(0.05, False, True)], 1.0)
    assert r.verdict == "fail"  # outside its interval
    # loaded rows are not judged; all loaded: "not judged: machine loaded (load L)"
    r = real_result("n", "c", "p", [_row(0.5, False, False, 1.7), _row(0.4, False, False, 2.0)],
                    1.0)
    assert r.verdict == "reported" and r.summary == "not judged: machine loaded (load 2.00)"
    r = real_result("n", "c", "p", [_row(0.02, True, True), _row(0.4, False, False, 2.0)], 1.0)
    assert r.verdict == "pass" and "1 not judged (machine loaded)" in r.summary
    # a run between two calibrations that disagree is not judged either
    r = real_result("n", "c", "p", [_row(0.3, False, False, 0.1, moved=0.12),
                                    _row(0.2, False, False, 0.0, moved=0.09)], 1.0)
    assert r.verdict == "reported"
    assert r.summary == "not judged: machine speed moved 12.0% between calibrations"
    r = real_result("n", "c", "p", [_row(0.03, True, True), _row(0.3, False, False, 0.1, 0.2),
                                    _row(0.4, False, False, 2.0)], 1.0)
    assert r.verdict == "pass"
    assert "2 not judged (machine loaded, machine speed moved)" in r.summary
    assert r.threshold["speed_moved"] == ld.STEADY


def test_a_pilots_share_is_counted_in_the_runs_gradients():
    from validation.checks.wallclock import REAL_M, run_gradients

    assert REAL_M == 20
    assert run_gradients("rennala_nigt", 10) == 200  # M per iteration
    assert run_gradients("malenia_nigt", 10) == 200
    assert run_gradients("sync_nigt", 10) == 20  # one per agent per iteration (b = 1)
    assert run_gradients("afedpg", 10) == 10  # one per server update


def test_gradients_per_round_by_pattern():
    from algorithms.methods.registry import get

    assert get("rennala_nigt").gradients_per_round(20, 4, 3) == 20  # M (Algorithm 1 line 6)
    assert get("malenia_nigt").gradients_per_round(20, 4) == 20
    assert get("sync_nigt").gradients_per_round(20, 4, 3) == 12  # n b
    assert get("afedpg").gradients_per_round(20, 4, 3) == 1  # one arrival per update


def test_the_check_prices_a_row_at_its_measured_length():
    """wallclock_real's error at the measured length, on the hand cost model of
    test_cost: a Synchronized NIGT iteration at mean length L costs 2 L / 15 + 0.11 s, the
    M_init round at theta_0's lengths (mean 15) 2.11 s; K = 4 at L = 30: 18.55 s. A run
    of 20.405 s is 10% off; a tabular row (no lengths recorded) is not priced."""
    from tests.algorithms.test_cost import model
    from validation.checks.wallclock import REAL_M, _at_measured_length, _batches

    m = model(lengths=[[10] * 6, [20] * 6], horizon=40, step=[0.1, 0.1])
    row = {"method": "sync_nigt", "iterations": 4, "mode": "allreduce", "seed": 0,
           "length_measured": 30.0, "measured": 1.1 * 18.55}
    out = _at_measured_length(m, row)
    assert out["at_length_seconds"] == pytest.approx(18.55)
    assert out["at_length_error"] == pytest.approx(0.1)
    assert _at_measured_length(m, {**row, "length_measured": None}) == {
        "at_length_seconds": None, "at_length_error": None}
    assert _batches("rennala_nigt") == {"M": REAL_M, "M_init": REAL_M}
    assert _batches("sync_nigt") == {} and _batches("afedpg") == {}

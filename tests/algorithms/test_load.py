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
    assert ld.judged(0.5) == (True, "")
    ok, why = ld.judged(0.51)
    assert not ok and why == "not judged: machine loaded (load 0.51 > 0.5)"
    assert ld.judged(None) == (True, "")  # unknown (no /proc): judged
    assert ld.judged(3.0, threshold=4.0)[0]


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_foreign_load_samples_while_a_block_runs():
    with ld.ForeignLoad(interval=0.05) as f:
        import time

        time.sleep(0.2)
    assert len(f.samples) >= 2 and f.load is not None and f.load >= 0
    d = f.to_dict()
    assert set(d) == {"foreign_load", "loadavg_before", "loadavg_after", "samples"}


def _row(error, inside, judged, load=0.1):
    return {"error": error, "inside": inside, "judged": judged,
            "load": {"foreign_load": load}}


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

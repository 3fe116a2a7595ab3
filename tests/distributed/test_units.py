"""The real backend's pieces that need no processes: device choice, spec comparison, option
names, checkpoint identity and slots, the clerk, the stop event, round statistics."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from algorithms.backends.distributed.devices import agree, local_choice
from algorithms.backends.distributed.startup import (
    as_option,
    check_same_spec,
    spec_differences,
    spec_hash,
)


# -- device choice (no GPU needed: the logic is pure) ------------------------------------
def test_nccl_only_when_every_rank_has_its_own_gpu():
    own = [local_choice(True, 4, r, 4) for r in range(4)]
    assert [c["device"] for c in own] == ["cuda:0", "cuda:1", "cuda:2", "cuda:3"]
    choice = agree(own, own[2])
    assert choice == {"device": "cuda:2", "backend": "nccl",
                      "reason": "every rank has a GPU of its own"}


def test_more_ranks_than_gpus_falls_back_to_gloo_and_says_why():
    shared = [local_choice(True, 2, r, 4) for r in range(4)]  # 4 ranks, 2 GPUs on the node
    assert all(c["device"] is None for c in shared)
    choice = agree(shared, shared[0])
    assert choice["backend"] == "gloo" and choice["device"] == "cpu"
    assert "4 ranks share 2 GPU(s)" in choice["reason"]


def test_one_node_without_gpu_puts_every_rank_on_gloo():
    node_a = [local_choice(True, 2, r, 2) for r in range(2)]
    node_b = [local_choice(False, 0, r, 2) for r in range(2)]
    choice = agree(node_a + node_b, node_a[0])
    assert choice["backend"] == "gloo" and choice["reason"] == "no GPU on a node"


def test_server_mode_is_always_gloo():
    c = local_choice(True, 8, 0, 1, mode="server")
    assert agree([c], c)["backend"] == "gloo"


# -- the same spec everywhere ---------------------------------------------------------
def _spec(**kw):
    from algorithms.backends.distributed.spec import RunSpec

    return RunSpec(method="rennala_nigt", mode="allreduce", n=2, iterations=3, **kw).to_json()


def test_spec_differences_name_the_options_as_typed():
    a = _spec(hyper={"alpha": 0.05, "M_init": 4}, seed=1, h=[0.1, 0.2])
    b = _spec(hyper={"alpha": 0.5, "M_init": 4}, seed=2, h=[0.1, 0.3])
    diff = spec_differences(a, b)
    assert any(d.startswith("--alpha 0.5 there, 0.05 here") for d in diff), diff
    assert any(d.startswith("--seed") for d in diff) and any(d.startswith("--h") for d in diff)
    assert spec_hash(a) != spec_hash(b)
    assert spec_hash(a) == spec_hash(_spec(hyper={"alpha": 0.05, "M_init": 4}, seed=1,
                                           h=[0.1, 0.2], tensorboard="/elsewhere"))
    hellos = {0: {"spec_hash": spec_hash(a), "spec": a, "host": "x"},
              1: {"spec_hash": spec_hash(b), "spec": b, "host": "y"}}
    with pytest.raises(ValueError, match="--alpha"):
        check_same_spec(a, hellos, {0: "agent 0", 1: "agent 1"})


def test_worker_errors_name_the_option_as_typed():
    assert as_option("env: cannot make 'X'") == "--env: cannot make 'X'"
    assert as_option("nproc: the rendezvous formed 2") == "--nproc: the rendezvous formed 2"
    assert as_option("M_init must be an integer") == "M_init must be an integer"
    assert as_option("horizon: bad") == "--H: bad"
    assert as_option("timeout: round 3 ...") == "--timeout: round 3 ..."


# -- checkpoints (algorithms.run.checkpoint, the format launches use) ------------------
def test_a_checkpoint_whose_saved_identity_has_an_extra_key_is_refused(tmp_path):
    """Identity keys present only in the saved file count as a difference."""
    from algorithms.run import checkpoint as ck

    path = tmp_path / "c"
    w = ck.Writer(path, {"format": 2, "method": "x", "--alpha": 0.1}, 0)
    w.save({"s": 1}, {}, None, [], None, 1)
    w.close()
    with pytest.raises(ck.CheckpointError, match="--alpha"):
        ck.load(path, {"format": 2, "method": "x"})


def test_loading_takes_the_newest_slot(tmp_path):
    from algorithms.run import checkpoint as ck

    path = tmp_path / "c"
    ident = {"format": 2, "method": "x"}
    w = ck.Writer(path, ident, 0)
    for it in (1, 2, 3):
        w.save({"s": it}, {}, None, [], None, it)
    w.close()
    assert ck.load(path, ident)["iteration"] == 3
    # a resumed writer keeps the slots (fresh=False) and goes on numbering
    w = ck.Writer(path, ident, 0, ck.load(path, ident)["save_number"], fresh=False)
    assert ck.load(path, ident)["iteration"] == 3
    w.save({"s": 4}, {}, None, [], None, 4)
    w.close()
    assert ck.load(path, ident)["iteration"] == 4


def test_launch_checkpoint_identity_ignores_how_the_run_is_run():
    from algorithms.backends.distributed.loop import identity
    from algorithms.backends.distributed.spec import RunSpec

    base = {"method": "rennala_nigt", "mode": "allreduce", "n": 2, "iterations": 3}
    a = identity(RunSpec(**base, run_id="a", timeout=5, restarts=1, checkpoint_every=3))
    b = identity(RunSpec(**base, run_id="b", timeout=9, restarts=0, checkpoint_every=7))
    assert a == b
    c = identity(RunSpec(**base, hyper={"alpha": 0.5}))
    assert c["--alpha"] == 0.5 and "--alpha" not in a


# -- the clerk and the stop event ----------------------------------------------------------
def test_the_clerk_answers_in_order_and_hands_errors_to_the_agent():
    """Registrations run on the clerk's thread; answers come back in submission order, and an
    exception raised there is raised by the agent's thread when it takes the answers."""
    from algorithms.backends.distributed.signals import Clerk

    clerk = Clerk()
    seen = []
    for k in range(50):
        clerk.submit(lambda k=k: (seen.append(threading.current_thread().name) or (k, k == 49)))
    answers = clerk.take(wait_for=50, timeout=10)
    assert [a[0] for a in answers] == list(range(50)) and answers[-1][1]
    assert set(seen) == {"apga-clerk"}

    def boom():
        raise RuntimeError("store gone")

    clerk.submit(boom)
    with pytest.raises(RuntimeError, match="store gone"):
        clerk.take(wait_for=1, timeout=10)
    clerk.close()


def test_a_wait_whose_end_came_before_the_stop_counts_as_finished():
    """A computation whose emulated end precedes the stop finished, even if its thread wakes
    after the stop (a loaded machine); one still running when the stop comes is cancelled."""
    from algorithms.backends.distributed.emulate import StopEvent, wait_until

    stop = StopEvent()
    t0 = time.monotonic()
    threading.Timer(0.05, stop.set).start()
    assert wait_until(t0 + 1.0, stop) is False  # interrupted at 0.05 s
    assert time.monotonic() - t0 < 0.5
    late = StopEvent()
    end = time.monotonic() + 0.01
    time.sleep(0.03)
    late.set()  # set after the end: the wait finished
    assert wait_until(end, late) is True
    assert wait_until(time.monotonic() + 0.01, None) is True


# -- bounded summaries ---------------------------------------------------------------
def test_round_stats_are_exact_up_to_the_reservoir_and_bounded_beyond(tmp_path):
    from algorithms.backends.distributed.runlog import RESERVOIR, round_stats

    path = tmp_path / "rounds.jsonl"
    d = np.arange(1, 8) / 10
    with open(path, "w") as fh:
        for k, x in enumerate(d):
            fh.write(json.dumps({"kind": "rennala", "duration": x, "counts": [k, 1],
                                 "unused": 1, "cancelled": 2}) + "\n")
    s = round_stats(path, 2)
    assert s["count"] == 7 and s["duration_median"] == pytest.approx(0.4)
    assert s["duration_total"] == pytest.approx(d.sum())
    assert s["counts_total"] == [21, 7] and s["unused"] == 7 and s["cancelled"] == 14
    assert s["quantiles_from"] == "every round"
    assert s["mean_length"] is None and s["mean_length_rounds"] == 0  # no steps recorded
    # trajectory lengths: rounds 1 and 2 (the first, iteration 0, is the M_init round):
    # 40 / 4 = 10 and 90 / 3 = 30 -> 20 (a round without steps is skipped)
    steps = tmp_path / "steps.jsonl"
    with open(steps, "w") as fh:
        for it, st, ev in ((0, 500, 5), (1, 40, 4), (2, 90, 3), (3, None, 2)):
            fh.write(json.dumps({"kind": "rennala", "duration": 0.1, "counts": [1, 1],
                                 "global_iteration": it, "evaluated": ev,
                                 **({"steps": st} if st else {})}) + "\n")
    s = round_stats(steps, 2)
    assert s["mean_length"] == 20.0 and s["mean_length_rounds"] == 2
    big = tmp_path / "big.jsonl"
    with open(big, "w") as fh:
        for _ in range(RESERVOIR + 500):
            fh.write(json.dumps({"kind": "rennala", "duration": 1.0, "counts": [1, 0]}) + "\n")
    s = round_stats(big, 2)
    assert s["count"] == RESERVOIR + 500 and s["duration_median"] == 1.0
    assert "sample" in s["quantiles_from"] and len(json.dumps(s)) < 2000


def test_the_last_record_is_read_from_the_end_of_the_csv(tmp_path):
    from algorithms.backends.distributed.runlog import RunLog
    from algorithms.run.records import IterationRecord

    log = RunLog(tmp_path, "m", 0)
    assert log.last_record() is None
    for t in range(3):
        log.append(IterationRecord(t, 0.5 * t, t, t, t, 0.0, float("nan"), 1.0), [])
    last = log.last_record()
    assert last.iteration == 2 and last.time == 1.0 and np.isnan(last.J)


# -- one cluster value ----------------------------------------------------------------------
def test_a_run_spec_gives_one_cluster_value_that_the_emulation_and_the_eta_read():
    from algorithms.backends.distributed.emulate import Emulation, clock_seed
    from algorithms.backends.distributed.spec import RunSpec
    from algorithms.sim import timing as tm
    from theory.cluster_file import ClusterSpec

    spec = RunSpec(method="rennala_nigt", mode="allreduce", n=3, h=[0.5, 1.0, 2.0],
                   kappa=[0.0, 0.25, 0.5], timing="lognormal",
                   timing_options={"log_sigma": 1.2}, iterations=5, seed=7)
    assert spec.cluster() == ClusterSpec([0.5, 1.0, 2.0], [0.0, 0.25, 0.5], "lognormal",
                                         {"log_sigma": 1.2})
    emu = Emulation.of(spec)
    assert emu.options == {"log_sigma": 1.2} and emu.kappa.tolist() == [0.0, 0.25, 0.5]
    # round keys drawn as the clock of the run seed draws them; durations the clock's
    key = int(np.random.default_rng(clock_seed(7)).integers(0, 2**63 - 1))
    want = tm.durations("lognormal", {"log_sigma": 1.2}, np.array([2.0]), key,
                        np.array([2]), np.array([4]))[0]
    assert emu.duration(0, 2, 4) == want and want != 2.0
    real = RunSpec(method="rennala_nigt", mode="allreduce", n=2, iterations=5)
    assert real.cluster() is None
    assert Emulation.of(real).duration(0, 1, 0) == 0.0
    assert Emulation.of(real).kappa.tolist() == [0.0, 0.0]


def test_an_experiment_panel_is_one_cluster_value():
    from algorithms.experiments.figures import SQRT_SQRT

    c = SQRT_SQRT.cluster(4, 16)
    np.testing.assert_allclose(c.h, [1.0, 2**0.5, 3**0.5, 2.0], rtol=1e-15)
    assert c.kappa.tolist() == c.h.tolist() and c.timing == "fixed"


def _msg(op, r):
    return np.array([op, r, 0, 0.0])


def test_mailbox_takes_the_newest_and_tells_real_news_from_a_late_wakeup():
    """The agent's mailbox (server mode): a wake-up set for a message already taken is
    not news. An agent that trusted the event gave up the round it had just been sent and
    waited for a message that never came (a server-mode calibration hung on it)."""
    from algorithms.backends.distributed.server import COMPUTE, DONE, Mailbox

    box = Mailbox()
    box.put(_msg(COMPUTE, 1))
    box.put(_msg(COMPUTE, 2))
    assert box.event.is_set()
    assert int(box.take()[1]) == 2  # the newest; the older one is superseded
    assert not box.event.is_set() and not box.news()
    # the race: the receiver queued round 3, the agent took it, then the receiver's set
    box._q.put(_msg(COMPUTE, 3))
    assert int(box.take()[1]) == 3
    box.event.set()  # late
    assert not box.news() and not box.event.is_set()  # not news: the round goes on
    # a message waiting is news, and the event says so
    box.put(_msg(COMPUTE, 4))
    box.event.clear()
    assert box.news() and box.event.is_set()
    # DONE and the server's absence (None) are never superseded
    box.put(_msg(DONE, -1))
    box.put(_msg(COMPUTE, 5))
    assert int(box.take()[0]) == DONE
    box2 = Mailbox()
    box2.put(_msg(COMPUTE, 1))
    box2.put(None)
    assert box2.take() is None

"""``apga calibrate`` on the ranks: measure every primitive a run pays, as a run pays it.

What is measured (each rank runs the same phases in the same order, so the collectives
line up; times in seconds, ``time.perf_counter``):

1. **Gradients, alone** (``pure``): every agent computes ``repetitions`` stochastic
   gradients at theta_0 back to back (after ``warmup`` untimed ones), all agents at once;
   each with its trajectory length (MuJoCo episodes end early; tabular ones have H steps).
2. **The ticket** (AllReduce mode): the same, each gradient registered with the store
   through a clerk thread as a round registers it (Algorithm 2's counter ticket;
   Algorithm 3's sequence number and replay of the arrivals); the clerk times every
   registration.
3. **Communications**: the all_reduce of a round's buffer and of other sizes, within
   groups of the first m agents for m = 2, 4, ..., n (AllReduce mode; in server mode the
   agents' group), each after a barrier, keeping the slowest rank's time; a broadcast of
   the round's buffer; the stop signal's latency (rank 0 sets a stop key while the others
   compute with the real stop watcher; each notes when it noticed); per agent, a
   message of d + 4 floats (an upload: the gradient and its header) to agent 0's peer
   (AllReduce mode) or the server and back.
   Emulated times (``--h``/``--kappa``/``--cluster``) are paid as the backend pays them.
4. **Rounds of each aggregation pattern** the mode runs (read from the method registry:
   ``MethodSpec.pattern`` and ``modes``): the backend's own loop (:class:`.loop.Driver`)
   runs the registry method of that pattern for ``repetitions`` iterations (times M over
   the gradients per round for patterns with fewer: AFedPG M updates, Synchronized NIGT
   M / (n b) rounds per repetition, so every pattern is measured on as many gradients)
   with a step size of 1e-9 (theta stays at theta_0), and on for more rounds until the
   pattern has been measured for at least ``pattern_seconds`` (default
   :data:`PATTERN_SECONDS`; a few hundred milliseconds of rounds gave means 10-25% apart
   between two calibrations a minute apart, and the spread of their block means, which
   the interval uses, was itself a guess), in :data:`PASSES` separate windows with the
   patterns taking turns (so the spread between windows, the drift over the calibration,
   is measured too), and every gradient call is timed in place
   (:class:`TimedOracle`), so the per-agent samples include what a round adds to a
   gradient (the clerk, the watcher, the store's thread on the same cores).
5. **The pilots** (optional): the run's own method(s) and hyperparameters, each for about
   ``pilot`` gradients (:func:`pilot_iterations`), recording how trajectory lengths move
   as theta moves.

Every rank sends its samples to rank 0 (the server in server mode), which writes
``calibration.json`` in the run folder; :mod:`algorithms.wallclock.calibration` turns it
into a cluster file and its companion cost file.

Paper: Assumption 2.5 (h_i = dot h_i H, kappa), Algorithms 1-3, Section H.
"""

from __future__ import annotations

import dataclasses
import json
import math
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np

from algorithms.backends.distributed.allreduce import STATS
from algorithms.backends.distributed.emulate import Emulation, gradient_rng, wait_until
from algorithms.backends.distributed.runlog import dump_json
from algorithms.oracle import Interrupted

#: Calibration rounds use M = 4 gradients per agent unless the pilot gives M.
ROUND_GRADIENTS_PER_AGENT = 4
#: Step size of the pattern rounds: theta moves 1e-9 per iteration, i.e. stays at theta_0.
STILL_ALPHA = 1e-9
#: Buffer sizes (float64 count) timed for the all_reduce besides the round's own.
EXTRA_FLOATS = (1, 1024, 65536)
#: Repetitions of each extra size (the round's own buffer gets ``repetitions``).
EXTRA_REPS = 10
#: Seconds of rounds each aggregation pattern is measured for at least (after its
#: ``repetitions`` rounds): ``apga calibrate --pattern-seconds``.
PATTERN_SECONDS = 2.0
#: Passes over the patterns (each pattern measured in this many separate windows, a share
#: of its repetitions and seconds in each, the patterns taking turns): how far the means
#: of a pattern's windows lie apart is the machine's drift over the calibration, which
#: one contiguous window cannot show (the two windows of 84 pattern entries here were
#: 0.3-59% apart, median 11%). Pass k > 1 of pattern p is stored under the key "p#k".
PASSES = 2
#: At most this many times the ``repetitions`` rounds, whatever ``pattern_seconds`` asks.
PATTERN_ROUNDS_CAP = 1000
#: Name of the options file the command writes next to spec.json.
OPTIONS = "calibrate.json"


def options(run_dir: Path) -> dict[str, Any]:
    """The calibration's options (written by ``apga calibrate`` next to spec.json)."""
    path = run_dir / OPTIONS
    return json.loads(path.read_text()) if path.exists() else {}


class TimedOracle:
    """An oracle that times every ``sample_gradients`` call and keeps its trajectory length.

    Each call appends ``[phase, round, k, start, end, completed, length]`` to
    :attr:`calls`; round and k are read from the call's Generator
    (:func:`gradient_rng` seeds it with ``(stream, seed, agent, round, k)``), so a call is
    placed in its round without touching the backend. The gradient is the inner oracle's:
    for MuJoCo the same two steps as ``MujocoOracle.sample_gradients`` (trajectories, then
    g_H), so the length is known.
    """

    def __init__(self, oracle: Any, horizon: int) -> None:
        self.inner = oracle
        self.dim = oracle.dim
        self.horizon = int(horizon)
        self.phase = "pure"
        self.calls: list[list] = []
        self._mujoco = hasattr(oracle, "trajectories") and hasattr(oracle, "spec")

    #: Hidden from the backend, which then calls :meth:`sample_gradients` for every
    #: gradient (timed here, trajectory and backward pass) instead of sampling the
    #: trajectory itself (:func:`.problem.sample_gradient`).
    HIDDEN = ("trajectories", "spec")

    def __getattr__(self, name: str) -> Any:
        if name in self.HIDDEN:
            raise AttributeError(name)
        return getattr(self.inner, name)

    def sample_gradients(self, theta, agents, rng, should_stop=None):
        r, k = _round_and_k(rng)
        t0 = time.perf_counter()
        try:
            if self._mujoco:
                from algorithms.mujoco.gradient import gradient_samples

                traj = self.inner.trajectories(theta, agents, rng, should_stop)
                out = gradient_samples(self.inner.spec, np.asarray(theta, np.float64), traj,
                                       self.inner.gamma)
                length = int(traj.lengths[0])
            else:
                out = self.inner.sample_gradients(theta, agents, rng, should_stop)
                length = self.horizon
        except Interrupted:
            self.calls.append([self.phase, r, k, t0, time.perf_counter(), False, None])
            raise
        self.calls.append([self.phase, r, k, t0, time.perf_counter(), True, length])
        return out


def _round_and_k(rng) -> tuple[int, int]:
    try:
        entropy = rng.bit_generator.seed_seq.entropy
        return int(entropy[3]), int(entropy[4])
    except (AttributeError, IndexError, TypeError):
        return -1, -1


# ----------------------------------------------------------------------------- phases
def _pure(spec, timed: TimedOracle, theta, agent: int, emu: Emulation) -> None:
    """Phase 1: back-to-back gradients at theta_0 (emulated durations as a round pays them:
    the k-th ends at max(previous end + d_k, its real end)); warm-up calls are dropped."""
    timed.phase = "pure"
    deadline = time.monotonic()
    for k in range(spec.warmup + spec.iterations):
        timed.sample_gradients(theta, np.array([agent]), gradient_rng(spec.seed, agent, 0, k))
        deadline = max(deadline + emu.duration(0, agent, k), time.monotonic())
        wait_until(deadline, None)
        timed.calls[-1][4] = time.perf_counter()  # the end of the emulated duration
        deadline = time.monotonic()
    timed.calls = [c for c in timed.calls if c[2] >= spec.warmup]


def _ticket(spec, timed: TimedOracle, theta, agent: int, store, kind: str) -> list[float]:
    """Phase 2: gradients registered through a clerk as a round of ``kind`` registers them
    (Rennala: one counter ticket; Malenia: a sequence number, the arrival published under
    it and the arrivals before it replayed, as :mod:`.allreduce` does); returns each
    registration's seconds as the clerk saw them (every agent registering at once)."""
    from algorithms.backends.distributed.signals import Clerk, MaleniaExit

    timed.phase = f"ticket-{kind}"
    clerk = Clerk()
    service: list[tuple[int, float]] = []
    prefix = f"calib/{kind}/"
    replay = MaleniaExit(spec.n, 10**12)  # never exits: every arrival is replayed

    def register(k: int) -> None:
        t0 = time.perf_counter()
        if kind == "rennala":
            store.add(prefix + "n", 1)
        else:
            seq = int(store.add(prefix + "s", 1))
            store.set(f"{prefix}a{seq}", str(agent))
            replay.advance(store, prefix, seq - 1)
            replay.advance(store, prefix, seq)
        service.append((k, time.perf_counter() - t0))

    total = spec.warmup + spec.iterations
    for k in range(total):
        timed.sample_gradients(theta, np.array([agent]), gradient_rng(spec.seed, agent, 1, k))
        clerk.submit(lambda k=k: register(k))
        clerk.take()
    deadline = time.monotonic() + spec.timeout
    while len(service) < total and time.monotonic() < deadline:
        time.sleep(0.001)
    clerk.take(wait_for=0)
    clerk.close()
    timed.calls = [c for c in timed.calls if c[2] >= spec.warmup]
    return [t for k, t in sorted(service) if k >= spec.warmup]


def _all_reduce(spec, d: int, group, members: list[int], rank: int, kappa: float,
                floats: int, reps: int) -> list[float]:
    """Slowest-rank seconds of ``reps`` all_reduces of ``floats`` float64 in ``group``
    (each after a barrier; an emulated upload of kappa first, as a round's return)."""
    import torch
    import torch.distributed as dist

    buf = torch.zeros(floats, dtype=torch.float64)
    out = []
    inside = rank in members
    for k in range(min(spec.warmup, 3) + reps):
        dist.barrier()
        t = 0.0
        if inside:
            t0 = time.perf_counter()
            wait_until(time.monotonic() + kappa, None)
            dist.all_reduce(buf, group=group)
            t = time.perf_counter() - t0
        worst = torch.tensor([t], dtype=torch.float64)
        dist.all_reduce(worst, op=dist.ReduceOp.MAX)
        if k >= min(spec.warmup, 3):
            out.append(float(worst[0]))
    return out


def _collectives(spec, d: int, rank: int, agent_ranks: list[int], kappa: np.ndarray,
                 agent: int | None) -> dict[str, Any]:
    """Phase 3 (collective part): all_reduce by size and group, broadcast of a buffer."""
    import torch
    import torch.distributed as dist

    n = len(agent_ranks)
    my_kappa = float(kappa[agent]) if agent is not None else 0.0
    run_floats = d + len(STATS) * n + 1
    groups = sorted({m for m in (2 ** j for j in range(1, 32)) if m < n} | ({n} if n > 1
                                                                               else set()))
    points = []
    for m in groups:
        members = agent_ranks[:m]
        group = dist.new_group(members)
        for floats in sorted({run_floats, *EXTRA_FLOATS}):
            reps = spec.iterations if floats == run_floats else min(spec.iterations, EXTRA_REPS)
            secs = _all_reduce(spec, d, group, members, rank, my_kappa, floats, reps)
            points.append({"agents": m, "floats": floats, "seconds": secs})
    bcast = []
    group = dist.new_group(agent_ranks) if n > 1 else None
    buf = torch.zeros(run_floats, dtype=torch.float64)
    for k in range(min(spec.warmup, 3) + spec.iterations):
        dist.barrier()
        t = 0.0
        if n > 1 and rank in agent_ranks:
            t0 = time.perf_counter()
            dist.broadcast(buf, src=agent_ranks[0], group=group)
            t = time.perf_counter() - t0
        worst = torch.tensor([t], dtype=torch.float64)
        dist.all_reduce(worst, op=dist.ReduceOp.MAX)
        if k >= min(spec.warmup, 3):
            bcast.append(float(worst[0]))
    return {"all_reduce": points, "broadcast": {"agents": n, "floats": run_floats,
                                                "seconds": bcast if n > 1 else []}}


def _stop_latency(spec, timed: TimedOracle, theta, agent: int, rank: int, base) -> list[float]:
    """Phase 3 (stop signal): rank 0 sets a stop key while the other agents compute with
    the real watcher polled between steps; each notes when it stopped (same-host clocks:
    ``time.time``). Returns, on every rank, this agent's latencies (empty on rank 0)."""
    import torch.distributed as dist

    from algorithms.backends.distributed.signals import StopWatcher, clone

    store = dist.PrefixStore("calib-stop/", base)
    watcher = StopWatcher(dist.PrefixStore("calib-stop/", clone(base)))
    out = []
    timed.phase = "stop"
    for j in range(min(spec.warmup, 3) + spec.iterations):
        key = f"stop{j}"
        event = watcher.arm(key)
        dist.barrier()
        if agent == 0:
            time.sleep(0.002 + 0.001 * (j % 3))  # others are mid-trajectory
            store.set(key, repr(time.time()))
        else:
            k = 0
            while not event.is_set():
                try:
                    timed.sample_gradients(theta, np.array([agent]),
                                           gradient_rng(spec.seed, agent, 2, k),
                                           event.is_set)
                except Interrupted:
                    break
                k += 1
            noticed = time.time()
            if j >= min(spec.warmup, 3):
                out.append(noticed - float(store.get(key).decode()))
        event.wait(spec.timeout)
    watcher.close()
    timed.calls.clear()
    return out


def _round_trips(spec, store, d: int, role: str, root: int, kappa: np.ndarray,
                 agent: int | None, peer_of) -> list[list[float]]:
    """Phase 3 (messages): the root sends an upload's d + 4 floats to each agent in turn,
    which sends them back (emulated: the agent waits kappa_i to receive and kappa_i to
    send, as in a run). Returns, on the root, each agent's round trips (agent 0 itself: none in
    AllReduce mode, where the root is agent 0)."""
    import torch
    import torch.distributed as dist

    from algorithms.backends.distributed.server import HEAD_UP

    buf = torch.zeros(d + HEAD_UP, dtype=torch.float64)
    reps = min(spec.warmup, 3) + spec.iterations
    me = dist.get_rank()
    out: list[list[float]] = []
    for a in range(spec.n):
        peer = peer_of(a)
        dist.barrier()
        if peer == root:  # AllReduce mode: agent 0 is the root, no message to itself
            out.append([])
            continue
        if me == peer:
            for _ in range(reps):
                dist.recv(buf, src=root, tag=7)
                wait_until(time.monotonic() + float(kappa[a]), None)
                wait_until(time.monotonic() + float(kappa[a]), None)
                dist.send(buf, root, tag=8)
        elif me == root:
            trips = []
            for k in range(reps):
                t0 = time.perf_counter()
                dist.send(buf, peer, tag=7)
                dist.recv(buf, src=peer, tag=8)
                if k >= min(spec.warmup, 3):
                    trips.append(time.perf_counter() - t0)
            out.append(trips)
    return out


def pattern_methods(mode: str) -> dict[str, str]:
    """The aggregation patterns a mode runs and one registry method of each (the first,
    in registry order, whose ``modes`` include ``mode``), e.g. rennala -> rennala_nigt."""
    from algorithms.methods.registry import REGISTRY

    out: dict[str, str] = {}
    for name, m in REGISTRY.items():
        if mode in m.modes and m.pattern not in out:
            out[m.pattern] = name
    return out


def pilot_iterations(method: str, hyper: dict, n: int, gradients: int) -> int:
    """Iterations of a pilot of about ``gradients`` gradients (at least 2): G / M for
    Rennala and Malenia NIGT, G / (n b) for Synchronized NIGT, G server updates for AFedPG,
    so that every method's lengths are seen over as many trajectories."""
    from algorithms.methods.registry import get

    spec = get(method)
    values, _ = spec.resolve(hyper)
    per = spec.gradients_per_round(int(values.get("M", 1)), n, int(values.get("batch", 1)))
    return max(2, -(-int(gradients) // per))


def _pilots(spec, opts: dict, mode: str) -> list[str]:
    """The methods piloted in this mode (``--pilot N`` with ``--method A,B``)."""
    from algorithms.methods.registry import get

    if not opts.get("pilot"):
        return []
    return [m for m in opts.get("pilot_methods") or [spec.method] if mode in get(m).modes]


def _pattern_seconds(opts: dict) -> float:
    """Seconds of rounds of one pattern in one pass (``pattern_seconds`` / PASSES)."""
    value = opts.get("pattern_seconds")
    return (PATTERN_SECONDS if value is None else float(value)) / PASSES


def _pattern_runs(mode: str, spec, opts: dict) -> list[tuple[str, str, bool]]:
    """(key, method, is_pilot) of every loop phases 4 and 5 run, in order: PASSES passes
    over the mode's patterns (server mode: greedy first in each), then the pilots."""
    order = sorted(pattern_methods(mode).items(), key=lambda pm: pm[0] != "greedy") \
        if mode == "server" else list(pattern_methods(mode).items())
    runs = [(p if k == 0 else f"{p}#{k + 1}", m, False)
            for k in range(PASSES) for p, m in order]
    return runs + [(f"pilot:{m}", m, True) for m in _pilots(spec, opts, mode)]


def _pattern_spec(spec, method: str, opts: dict, pilot: bool):
    from algorithms.methods.registry import get

    mspec = get(method)
    names = {h.name for h in mspec.hyper}
    if pilot:
        hyper = {k: v for k, v in spec.hyper.items() if k in names}
        iterations = pilot_iterations(method, hyper, spec.n, int(opts["pilot"]))
    else:
        M = int(opts.get("M") or ROUND_GRADIENTS_PER_AGENT * spec.n)
        given = {"alpha": STILL_ALPHA, "M": M, "M_init": M,
                 "batch": spec.hyper.get("batch")}
        hyper = {k: v for k, v in given.items() if k in names and v is not None}
        # every pattern gets as many gradients as Rennala's `iterations` rounds of M: a
        # pattern with fewer gradients per round (AFedPG: one per update; Synchronized
        # NIGT: n x batch) runs more rounds, so its mean round is estimated from as many
        # samples (20-30 AFedPG updates gave 1.2 and 2.0 ms on one quiet machine)
        per_round = mspec.gradients_per_round(M, spec.n, int(hyper.get("batch", 1)))
        # each of the PASSES windows gets its share (at least one round)
        iterations = max(1, -(-spec.iterations * max(1, M // per_round) // PASSES))
    return dataclasses.replace(spec, method=method, hyper=hyper, iterations=iterations,
                               time=None, task="run", save_gradients=False, restarts=0)


# ----------------------------------------------------------------------------- modes
def run_calibration(spec: Any, run_dir: Path, rank: int, role: str, agent: int | None,
                    store: Any) -> None:
    """One rank's calibration (see the module docstring); rank 0 / the server writes
    ``calibration.json``."""
    import torch.distributed as dist

    from algorithms.backends.distributed.problem import build_oracle

    opts = options(run_dir)
    oracle, theta = build_oracle(spec)
    timed = TimedOracle(oracle, spec.trajectory_steps)
    emu = Emulation.of(spec)
    kappa = emu.kappa
    d, n = oracle.dim, spec.n
    sample: dict[str, Any] = {"agent": agent, "role": role, "host": socket.gethostname()}
    if spec.mode == "allreduce":
        root = 0
        agent_ranks = list(range(n))
        dist.barrier()
        _pure(spec, timed, theta, agent, emu)
        sample["pure"] = _calls(timed)
        dist.barrier()
        sample["ticket"] = {}
        for kind in ("rennala", "malenia"):
            sample["ticket"][kind] = _ticket(spec, timed, theta, agent, store, kind)
            _calls(timed)
            dist.barrier()
        sample["collectives"] = _collectives(spec, d, rank, agent_ranks, kappa, agent)
        sample["stop"] = (_stop_latency(spec, timed, theta, agent, rank, store) if n > 1
                          else [])
        sample["messages"] = _round_trips(spec, store, d, role, root, kappa, agent,
                                          lambda a: a)
        sample.update(_allreduce_patterns(spec, opts, timed, theta, run_dir, rank, agent,
                                          store))
    else:
        from algorithms.backends.distributed.server import SERVER_RANK, agent_rank

        root = SERVER_RANK
        dist.barrier()
        ranks = {a: agent_rank(a) for a in range(n)}
        agent_ranks = [ranks[a] for a in range(n)]
        if role != "server":
            _pure(spec, timed, theta, agent, emu)
            sample["pure"] = _calls(timed)
        dist.barrier()
        sample["collectives"] = _collectives(spec, d, rank, agent_ranks, kappa, agent)
        sample["messages"] = _round_trips(spec, store, d, role, root, kappa, agent,
                                          lambda a: ranks[a])
        sample.update(_server_patterns(spec, opts, timed, theta, run_dir, rank, role, agent,
                                       ranks, d))
    gathered = [None] * dist.get_world_size() if rank == root else None
    dist.gather_object(sample, gathered, dst=root)
    if rank != root:
        return
    import torch

    agents = sorted((g for g in gathered if g["role"] != "server"), key=lambda g: g["agent"])
    head = next(g for g in gathered if g["role"] == ("server" if spec.mode == "server"
                                                      else "agent") and
                (spec.mode == "server" or g["agent"] == 0))
    dump_json(run_dir / "calibration.json", {
        "mode": spec.mode, "n": n, "dim": d, "env": spec.env, "horizon": spec.trajectory_steps,
        "round_buffer_per_agent": len(STATS),
        "repetitions": spec.iterations, "warmup": spec.warmup,
        "emulated": {"h": spec.h, "kappa": spec.kappa, "timing": spec.timing,
                     "options": spec.timing_options} if spec.emulated or spec.kappa else None,
        "hosts": [g["host"] for g in agents],
        "pure": [g["pure"] for g in agents],
        "ticket": [g.get("ticket") for g in agents] if spec.mode == "allreduce" else None,
        "collectives": head["collectives"],
        "stop": [g.get("stop", []) for g in agents] if spec.mode == "allreduce" else None,
        "messages": head["messages"],
        "patterns": head["patterns"],
        "calls": [g["calls"] for g in agents],
        "pilots": head.get("pilots") or [],
        "torch": torch.__version__,
        "seed": spec.seed,
    })


def _calls(timed: TimedOracle) -> list[list]:
    out, timed.calls = timed.calls, []
    return out


def _driver_run(spec_p, oracle, backend, log_dir: Path | None, theta0,
                min_seconds: float = 0.0):
    """Run one method's loop (the launch's Driver) and return its rounds (rank 0 / server):
    ``spec_p.iterations`` iterations, then more until ``min_seconds`` of the run passed on
    the clock every rank agrees on (``backend.shared_now``, so that all ranks stop after
    the same round), at most :data:`PATTERN_ROUNDS_CAP` times the iterations."""
    from algorithms.backends.distributed.loop import Driver
    from algorithms.backends.distributed.runlog import RunLog

    log = None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        log = RunLog(log_dir, spec_p.method, spec_p.seed)
    driver = Driver(spec_p, oracle, backend, log)
    # the loop ends here, not on the spec's budget (a run's records are not marked last)
    driver.budget = (math.inf, None)
    iterations = int(spec_p.iterations)
    cap = iterations * PATTERN_ROUNDS_CAP
    driver.init(theta0)
    start = float(backend.shared_now)
    while driver.it < iterations or (float(backend.shared_now) - start < min_seconds
                                     and driver.it < cap):
        driver.step()
    driver.close()
    if log is None:
        return None
    from algorithms.backends.distributed.runlog import read_rounds

    return read_rounds(log_dir)


def _allreduce_patterns(spec, opts, timed, theta, run_dir, rank, agent, base
                        ) -> dict[str, Any]:
    """Phases 4 and 5 in AllReduce mode: real rounds of every pattern, then the pilot."""
    import torch.distributed as dist

    from algorithms.backends.distributed.allreduce import AllReduceClock
    from algorithms.backends.distributed.signals import StopWatcher, clone

    runs = _pattern_runs("allreduce", spec, opts)
    patterns: dict[str, Any] = {}
    calls: dict[str, Any] = {}
    pilots = []
    for j, (pattern, method, is_pilot) in enumerate(runs):
        spec_p = _pattern_spec(spec, method, opts, is_pilot)
        prefix = f"calib-{j}/"
        store = dist.PrefixStore(prefix, base)
        watcher = StopWatcher(dist.PrefixStore(prefix, clone(base)))
        emu = Emulation.of(spec)
        clock = AllReduceClock(agent=agent, n=spec.n, oracle=timed, store=store,
                               watcher=watcher, emulation=emu, seed=spec.seed,
                               started=time.monotonic(), timeout=spec.timeout)
        timed.phase = pattern
        dist.barrier()
        rounds = _driver_run(spec_p, timed, clock, run_dir / f"pattern-{pattern}"
                             if rank == 0 else None, theta,
                             0.0 if is_pilot else _pattern_seconds(opts))
        watcher.close()
        dist.barrier()
        entry = {"method": method, "hyper": spec_p.hyper, "iterations": spec_p.iterations,
                 "rounds": rounds, "first_round": 0, "key": pattern}
        if is_pilot:
            pilots.append(entry)
        else:
            patterns[pattern] = entry
        calls[pattern] = _calls(timed)
    return {"patterns": patterns, "pilots": pilots, "calls": calls}


def _server_patterns(spec, opts, timed, theta, run_dir, rank, role, agent, ranks, d
                     ) -> dict[str, Any]:
    """Phases 4 and 5 in server mode: the server runs each pattern's loop in one session
    (greedy first, then the round patterns, each starting past the round ids used so
    far); the agents run the launch's agent loop with the timed oracle until told DONE."""
    from algorithms.backends.distributed import server as srv

    if role != "server":
        timed.phase = "server"
        srv.run_agent(spec, run_dir, rank, agent, oracle=timed)
        return {"calls": {"server": _calls(timed)}}
    from algorithms.backends.distributed.runlog import RunLog

    runs = _pattern_runs("server", spec, opts)
    (run_dir / "server-events").mkdir(exist_ok=True)
    log = RunLog(run_dir / "server-events", spec.method, spec.seed)
    clock = srv.ServerClock(spec=spec, dim=d, log=log, started=time.monotonic())
    patterns: dict[str, Any] = {}
    pilots = []
    try:
        for pattern, method, is_pilot in runs:
            spec_p = _pattern_spec(spec, method, opts, is_pilot)
            first = clock._update = clock.iteration  # AFedPG's versions continue from here
            rounds = _driver_run(spec_p, timed, clock, run_dir / f"pattern-{pattern}", theta,
                                 0.0 if is_pilot else _pattern_seconds(opts))
            clock.iteration = max(clock.iteration, clock._update) + 2  # past stale ids
            entry = {"method": method, "hyper": spec_p.hyper, "iterations": spec_p.iterations,
                     "rounds": rounds, "first_round": first, "last_round": clock.iteration,
                     "key": pattern}
            if is_pilot:
                pilots.append(entry)
            else:
                patterns[pattern] = entry
    finally:
        clock.finish()
    return {"patterns": patterns, "pilots": pilots, "calls": {}}

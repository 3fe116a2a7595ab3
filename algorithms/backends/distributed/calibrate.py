"""``apga calibrate`` on the ranks: time gradients and communications as a run does them.

Computation: every agent computes ``iterations`` stochastic gradients at theta_0 (after
``warmup`` untimed ones), all agents at once as in a run (they share the machine's cores
as they will then). In AllReduce mode each timed gradient includes the store ticket
Algorithm 2's count costs a real round.

Communication: AllReduce mode times ``iterations`` all_reduces of a round's buffer
(d + 10n + 1 float64, :mod:`.allreduce`), each after a barrier, and keeps for each the
slowest rank's time (a round ends when the last rank has it); then ``iterations`` real
AggregateRennala rounds with M = 4n at theta_0 (the backend's own code), whose durations
beyond their gradients give the per-round cost :mod:`algorithms.wallclock.calibration` turns into
kappa. Server mode times, agent by agent, round trips of one (d + 3)-float64 message to
the server and back.

Every rank sends its samples to rank 0 (the server in server mode), which writes
``calibration.json`` in the run folder; :mod:`algorithms.wallclock.calibration` turns it into a
cluster file.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np

from algorithms.backends.distributed.allreduce import STATS
from algorithms.backends.distributed.emulate import Emulation, gradient_rng, wait_until
from algorithms.backends.distributed.runlog import dump_json


def _time_gradients(spec, oracle, theta, agent: int, ticket=None) -> list[float]:
    """Seconds per gradient, back to back; with ``ticket`` each gradient is also registered
    through a clerk thread, as a round registers it (the reply overlaps the next one).
    With emulated times (``spec.h``, to check the calibration itself) each gradient takes
    at least h_i, as in a run."""
    from algorithms.backends.distributed.signals import Clerk

    clerk = Clerk() if ticket is not None else None
    h = spec.h_times()
    out = []
    for k in range(spec.warmup + spec.iterations):
        t0 = time.perf_counter()
        start = time.monotonic()
        oracle.sample_gradients(theta, np.array([agent]), gradient_rng(spec.seed, agent, 0, k))
        if h is not None:
            wait_until(start + float(h[agent]), None)
        if clerk is not None:
            clerk.submit(ticket)
            clerk.take()
        if k >= spec.warmup:
            out.append(time.perf_counter() - t0)
    if clerk is not None:
        clerk.take(wait_for=0)
        clerk.close()
    return out


def run_calibration(spec: Any, run_dir: Path, rank: int, role: str, agent: int | None,
                    store: Any) -> None:
    import torch
    import torch.distributed as dist

    from algorithms.backends.distributed.problem import build_oracle

    oracle, theta = build_oracle(spec)
    d, n = oracle.dim, spec.n
    if spec.mode == "allreduce":
        dist.barrier()
        times = _time_gradients(spec, oracle, theta, agent, lambda: store.add("calib/n", 1))
        dist.barrier()
        buf = torch.zeros(d + len(STATS) * n + 1, dtype=torch.float64)
        comm = []
        kappa = float(spec.kappa_times()[agent])
        for k in range(spec.warmup + spec.iterations):
            dist.barrier()
            t0 = time.perf_counter()
            wait_until(time.monotonic() + kappa, None)  # an emulated upload, as a round's
            dist.all_reduce(buf)
            if k >= spec.warmup:
                comm.append(time.perf_counter() - t0)
        rounds = _rennala_rounds(spec, oracle, theta, agent, store)
        root = 0
    else:
        root = 0  # the server (server.SERVER_RANK)
        dist.barrier()
        times = [] if role == "server" else _time_gradients(spec, oracle, theta, agent)
        dist.barrier()
        comm = _round_trips(spec, d, role, root)
    sample = {"agent": agent, "role": role, "host": socket.gethostname(), "times": times,
              "comm": comm, "rounds": rounds if spec.mode == "allreduce" else None}
    gathered = [None] * dist.get_world_size() if rank == root else None
    dist.gather_object(sample, gathered, dst=root)
    if rank != root:
        return
    agents = sorted((g for g in gathered if g["role"] != "server"), key=lambda g: g["agent"])
    if spec.mode == "allreduce":
        comm_out: Any = np.max([g["comm"] for g in agents], axis=0).tolist()
    else:
        comm_out = next(g["comm"] for g in gathered if g["role"] == "server")
    dump_json(run_dir / "calibration.json", {
        "mode": spec.mode, "n": n, "dim": d, "env": spec.env,
        "horizon": spec.tabular.get("H") if spec.env == "tabular" else spec.horizon,
        "repetitions": spec.iterations, "warmup": spec.warmup,
        "times": [g["times"] for g in agents], "comm": comm_out,
        "rounds": next((g["rounds"] for g in gathered if g["rounds"]), None),
        "round_M": ROUND_GRADIENTS_PER_AGENT * n,
        "hosts": [g["host"] for g in agents], "torch": torch.__version__,
    })


#: Calibration rounds use M = 4 gradients per agent (a round long against its overheads,
#: short enough for many repetitions).
ROUND_GRADIENTS_PER_AGENT = 4


def _rennala_rounds(spec, oracle, theta, agent: int, store) -> list[float]:
    """Durations of real AggregateRennala rounds (the backend's own code, real speed) with
    M = 4 n at theta_0: what a round costs beyond its gradients (stop signal, all_reduce)."""
    from types import SimpleNamespace

    from algorithms.backends.distributed.allreduce import AllReduceClock
    from algorithms.backends.distributed.signals import StopWatcher, clone

    watcher = StopWatcher(clone(store))
    clock = AllReduceClock(agent=agent, n=spec.n, oracle=oracle, store=store, watcher=watcher,
                           emulation=Emulation(spec.h_times(), spec.kappa_times()),
                           seed=spec.seed, started=time.monotonic(), timeout=spec.timeout)
    ctx = SimpleNamespace(rounds=[], hyper={})
    M = ROUND_GRADIENTS_PER_AGENT * spec.n
    for _ in range(spec.warmup + spec.iterations):
        clock.aggregate("rennala", theta, M, ctx)
    watcher.close()
    return [r.duration for r in ctx.rounds[spec.warmup:]]


def _round_trips(spec, d: int, role: str, root: int) -> list[list[float]]:
    """Server: per agent, round-trip seconds of one message; agents: echo. Sequential, so
    one agent's transfer does not share the link with another's."""
    import torch
    import torch.distributed as dist

    buf = torch.zeros(d + 3, dtype=torch.float64)
    reps = spec.warmup + spec.iterations
    kappa = spec.kappa_times()  # emulated seconds per message each way (checks)
    if role != "server":
        me = int(os.environ.get("RANK", "1")) - 1
        for _ in range(reps):
            dist.recv(buf, src=root, tag=7)
            wait_until(time.monotonic() + float(kappa[me]), None)
            dist.send(buf, root, tag=8)
        return []
    from algorithms.backends.distributed.server import agent_rank

    out = []
    for a in range(spec.n):
        peer = agent_rank(a)
        trips = []
        for k in range(reps):
            t0 = time.perf_counter()
            wait_until(time.monotonic() + float(kappa[a]), None)
            dist.send(buf, peer, tag=7)
            dist.recv(buf, src=peer, tag=8)
            if k >= spec.warmup:
                trips.append(time.perf_counter() - t0)
        out.append(trips)
    return out

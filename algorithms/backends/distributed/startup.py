"""How every process of a run starts: its store, a roll call, the same spec everywhere, the
device, the process group; and how it stops on a signal.

Order (:func:`start_process`), each step bounded by ``--rdzv-timeout``:

1. **The store.** The run's c10d store (hosted by rank 0 in AllReduce mode, by the
   launcher of node 0 in server mode, where the rendezvous is static).
2. **Roll call.** Every process publishes ``hello/<rank>``: its role, agent, pid, host,
   its spec and what device it could use; then waits for everyone's. A process that never
   says hello (killed while starting, a node that never came) ends the start with one line
   naming it: ``agent 2 (rank 2) did not start within 60 s (--rdzv-timeout)``.
3. **Same spec everywhere.** Every process compares the specs (their hashes, then the
   fields): nodes started with different arguments (``--alpha 0.05`` on one, ``0.5`` on
   the other) all exit 2 naming the options that differ, before any computation.
4. **Device** (:mod:`.devices`): NCCL only if every rank has a GPU of its own.
5. **Process group**, on the same store; then every process waits (``--rdzv-timeout``) until
   every other has its connections, so that none starts the run while another is still
   connecting (a process that died meanwhile is then the run's business: server mode
   records it as gone and goes on).

Signals (:class:`Lifecycle`): a worker blocks SIGTERM/SIGINT/SIGHUP in every thread and
waits for them on one thread of its own, so a signal is handled at once even while the
main thread is inside a gloo call (Python runs handlers only between bytecodes of the
main thread). On a signal, rank 0 / the server writes a checkpoint of its newest completed
iteration (bounded time), then the process exits. A worker also gets SIGTERM when the
process that started it dies (``PR_SET_PDEATHSIG``), so killing ``apga launch`` with
SIGKILL does not leave workers behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import sys
import threading
from datetime import timedelta
from typing import Any

from algorithms.backends.distributed.pids import alive
from algorithms.backends.distributed.spec import RunSpec

#: RunSpec fields that may differ between nodes (a node's own paths).
PER_NODE = ("tensorboard",)
#: How a spec field is spelled on the command line (for messages naming the option).
FLAGS = {
    "method": "--method", "mode": "--mode", "n": "--nnodes x --nproc", "env": "--env",
    "dim": "--dim", "horizon": "--H", "gamma": "--gamma", "heterogeneous": "--family",
    "h": "--h", "kappa": "--kappa", "timing": "--timing", "iterations": "--iterations",
    "time": "--time", "seed": "--seed", "timeout": "--timeout", "restarts": "--max-restarts",
    "save_gradients": "--save-gradients", "task": "the command (launch or calibrate)",
    "warmup": "--warmup", "checkpoint_every": "--checkpoint-every",
    "eval_every": "--eval-every", "eval_episodes": "--eval-episodes",
    "rdzv_timeout": "--rdzv-timeout", "run_id": "--rdzv-id",
    "tabular.env": "--env", "tabular.S": "--S", "tabular.A": "--A",
    "tabular.gamma": "--gamma", "tabular.H": "--H", "tabular.mdp_seed": "--mdp-seed",
    "tabular.family": "--family", "timing_options.log_sigma": "--log-sigma",
    "timing_options.jitter": "--jitter", "nproc": "--nproc", "nnodes": "--nnodes",
    "spec": "spec", "M": "--M", "M_init": "--M-init", "alpha": "--alpha", "eta": "--eta",
    "batch": "--batch", "repetitions": "--repetitions", "out": "--out", "output": "--output",
    "checkpoint": "--resume", "resume": "--resume",
}


def flag(field: str) -> str:
    """The option a spec field comes from (``hyper.M_init`` -> ``--M-init``)."""
    if field.startswith("hyper."):
        return "--" + field[6:].replace("_", "-")
    return FLAGS.get(field, field)


def as_option(message: str) -> str:
    """A worker's error message with its leading field name spelled as the option:
    ``env: cannot make 'X'`` -> ``--env: cannot make 'X'``."""
    name, sep, rest = message.partition(":")
    if sep and " " not in name and (name in FLAGS or name.startswith("hyper.")):
        shown = flag(name)
        if shown.startswith("--") or name == "spec":
            return f"{shown}:{rest}"
    return message


def spec_hash(spec_json: dict[str, Any]) -> str:
    """SHA-256 of the spec's canonical JSON, without the per-node fields."""
    data = {k: v for k, v in spec_json.items() if k not in PER_NODE}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def spec_differences(mine: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """The options on which two specs differ, as typed, with both values."""
    a = _flatten({k: v for k, v in mine.items() if k not in PER_NODE})
    b = _flatten({k: v for k, v in theirs.items() if k not in PER_NODE})
    out = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            out.append(f"{flag(key)} {_show(b.get(key))} there, {_show(a.get(key))} here")
    return out


def _show(v: Any) -> str:
    if isinstance(v, list):
        return ",".join(f"{x:g}" if isinstance(x, float) else str(x) for x in v)
    return "(not set)" if v is None else (f"{v:g}" if isinstance(v, float) else str(v))


def check_same_spec(mine: dict[str, Any], hellos: dict[int, dict[str, Any]],
                    names: dict[int, str]) -> None:
    """ValueError naming the differing options if any process runs another spec."""
    h = spec_hash(mine)
    for rank in sorted(hellos):
        other = hellos[rank]
        if other["spec_hash"] != h:
            diff = spec_differences(mine, other["spec"])
            raise ValueError(
                f"spec: {names.get(rank, f'rank {rank}')} (host {other['host']}) was started "
                f"with other arguments: {'; '.join(diff[:6]) or 'they differ'}; start every "
                "node with the same arguments")


def process_name(spec: RunSpec, rank: int) -> str:
    """``agent j (rank r)``, or ``the server (rank 0)``."""
    if spec.mode == "server":
        return "the server (rank 0)" if rank == 0 else f"agent {rank - 1} (rank {rank})"
    return f"agent {rank} (rank {rank})"


def base_store(spec: RunSpec, rank: int, world: int):
    """The run's c10d store: rank 0 hosts it in AllReduce mode (c10d rendezvous, torch's
    store not shared with the workers); the launcher of node 0 hosts it in server mode
    (static rendezvous: the workers use the agent's store)."""
    import torch.distributed as dist

    addr, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
    agent_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    timeout = timedelta(seconds=spec.rdzv_timeout)
    if agent_store or rank != 0:
        return dist.TCPStore(addr, port, world, False, timeout)
    return dist.TCPStore(addr, port, world, True, timeout, wait_for_workers=False)


def run_store(base, spec: RunSpec):
    """The keys of this run and attempt (restarts use fresh keys)."""
    import torch.distributed as dist

    restart = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    return dist.PrefixStore(f"apga/{spec.run_id}/{restart}/", base)


def roll_call(store, spec: RunSpec, rank: int, world: int, hello: dict[str, Any]
              ) -> dict[int, dict[str, Any]]:
    """Publish this process's hello, wait (``--rdzv-timeout``) for every other's."""
    store.set(f"hello/{rank}", json.dumps(hello))
    keys = [f"hello/{r}" for r in range(world)]
    try:
        store.wait(keys, timedelta(seconds=spec.rdzv_timeout))
    except Exception:  # noqa: BLE001 - a timeout: name who is missing
        missing = [r for r in range(world) if not store.check([f"hello/{r}"])]
        if missing:
            names = ", ".join(process_name(spec, r) for r in missing)
            raise StartupError(
                f"rdzv-timeout: {names} did not start within {spec.rdzv_timeout:g} s "
                "(--rdzv-timeout): its process died or its node never joined") from None
    hellos = {r: json.loads(store.get(f"hello/{r}")) for r in range(world)}
    # everyone has read everyone's hello before anyone acts on them (rank 0 hosts the store
    # in AllReduce mode: if it left at once, the others could not finish reading)
    store.set(f"read/{rank}", "1")
    try:
        store.wait([f"read/{r}" for r in range(world)], timedelta(seconds=spec.rdzv_timeout))
    except Exception:  # noqa: BLE001 - someone died in between: the start fails below
        pass
    return hellos


class StartupError(RuntimeError):
    """A process of the run could not start (reported as one line naming it)."""


def start_process(spec: RunSpec, rank: int, role: str, agent: int | None, fault: Any = None):
    """Steps 1-5 of the module docstring; returns (store of this run, device choice)."""
    import torch
    import torch.distributed as dist

    from algorithms.backends.distributed.devices import agree, local_choice

    world = int(os.environ.get("WORLD_SIZE", "1"))
    base = base_store(spec, rank, world)
    store = run_store(base, spec)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    mine = local_choice(cuda, torch.cuda.device_count() if cuda else 0, local_rank,
                        local_world, spec.mode)
    spec_json = spec.to_json()
    hello = {"role": role, "agent": agent, "pid": os.getpid(), "host": socket.gethostname(),
             "spec_hash": spec_hash(spec_json), "spec": spec_json, "device": mine}
    hellos = roll_call(store, spec, rank, world, hello)
    if fault is not None:
        fault("hello")
    check_same_spec(spec_json, hellos, {r: process_name(spec, r) for r in hellos})
    device = agree([hellos[r]["device"] for r in sorted(hellos)], mine)
    if device["backend"] == "nccl":
        torch.cuda.set_device(local_rank)
        backend = "cpu:gloo,cuda:nccl"
    else:
        backend = "gloo"
    # server mode: the group's timeout bounds only its start (every message waits without
    # one, see server.py); AllReduce mode: it bounds every all_reduce (--timeout)
    timeout = spec.rdzv_timeout if spec.mode == "server" else spec.timeout
    try:
        dist.init_process_group(backend, store=dist.PrefixStore("pg/", store), rank=rank,
                                world_size=world, timeout=timedelta(seconds=timeout))
    except RuntimeError as exc:
        gone = [process_name(spec, r) for r, h in hellos.items()
                if h["host"] == socket.gethostname() and not alive(h["pid"])]
        who = f"{', '.join(gone)} died while the processes connected" if gone else \
            "a process did not connect"
        raise StartupError(f"rdzv-timeout: the run could not start: {who} "
                           f"({' '.join(str(exc).split())[:120]})") from None
    # every process has its connections before any starts the run (a process that died
    # meanwhile is found by the run itself: server mode records it as gone)
    store.set(f"formed/{rank}", "1")
    try:
        store.wait([f"formed/{r}" for r in range(world)], timedelta(seconds=spec.rdzv_timeout))
    except Exception:  # noqa: BLE001 - someone is gone; AllReduce fails at its first round
        pass
    return store, device


# ----------------------------------------------------------------------------- signals
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Lifecycle:
    """A worker's signal handling (see the module docstring)."""

    def __init__(self) -> None:
        self._callbacks: list[Any] = []
        self.signalled: int | None = None

    def install(self) -> None:
        """Call first, before any thread starts (threads inherit the blocked mask)."""
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        die_with_parent()
        threading.Thread(target=self._wait, name="apga-signals", daemon=True).start()

    def on_stop(self, callback: Any) -> None:
        self._callbacks.append(callback)

    def _wait(self) -> None:
        sig = signal.sigwait(STOP_SIGNALS)
        self.signalled = int(sig)
        for cb in self._callbacks:
            try:
                cb()
            except BaseException:  # noqa: BLE001 - exiting anyway
                pass
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(128 + int(sig))


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(sig), 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass

"""Starting a real run: rendezvous, this node's processes, failures and progress.

``apga launch`` and ``apga calibrate`` validate their arguments into a
:class:`~algorithms.backends.distributed.spec.RunSpec` and a :class:`Processes`, then call
this module: :func:`rendezvous` (where the nodes meet), :func:`run_folder` (a new folder
for the run's files), :func:`start` (this node's processes, through torch's elastic agent:
:mod:`.node`), :func:`failure` (the first error a worker reported) and :class:`Progress`
(a progress bar fed by the run's ``progress.json``). :func:`launch_json` runs the whole
command in a subprocess, for the bench and the validation checks.

Modes: in AllReduce mode one elastic agent starts this node's ``nproc`` workers (torch's
agents restart them all together, ``max_restarts``). In server mode every process of the
run gets an elastic agent of its own (threads of this process), so that one agent's death
ends only its own worker group and the server carries on without it.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Processes:
    """This node's share of a run, with torchrun's semantics.

    nproc:          agents on this node (n = nnodes x nproc)
    nnodes:         nodes of the run
    node_rank:      this node's rank (static rendezvous; server mode: the server is on 0)
    rdzv_timeout:   seconds to wait for every node to join
    max_restarts:   restarts of the worker group after a failure (AllReduce mode)
    """

    nproc: int
    nnodes: int = 1
    node_rank: int | None = None
    rdzv_timeout: float = 60.0
    max_restarts: int = 0


def free_port() -> int:
    """A TCP port free on this machine now (for a one-node rendezvous)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def check_endpoint(endpoint: str) -> None:
    """``HOST:PORT`` with a port in 1..65535, else a ValueError naming rdzv-endpoint."""
    host, _, port = endpoint.rpartition(":")
    ok = bool(host) and port.isdigit() and 0 < int(port) < 65536
    if not ok:
        raise ValueError(f"rdzv-endpoint must be HOST:PORT, got {endpoint!r}")


def rendezvous(endpoint: str | None, rdzv_id: str | None, nnodes: int) -> tuple[str, str]:
    """(endpoint, run id) of the launch: 127.0.0.1 and a free port on one node."""
    if nnodes > 1 and endpoint is None:
        raise ValueError(f"rdzv-endpoint: --nnodes {nnodes} (a multi-node launch) needs "
                         "--rdzv-endpoint HOST:PORT")
    if endpoint is not None:
        check_endpoint(endpoint)
    chosen = endpoint or f"127.0.0.1:{free_port()}"
    run_id = rdzv_id or (
        uuid.uuid4().hex[:12] if endpoint is None
        else "apga-" + chosen.replace(":", "-").replace(".", "-"))
    return chosen, run_id


def check_new_folder(out: str | Path) -> Path:
    """``out`` as a folder a run may write into: absent or empty (never another run's)."""
    path = Path(out)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        what = "is a file" if not path.is_dir() else "is not empty"
        raise ValueError(f"out: {str(path)!r} {what}; a run never writes over another "
                         "run's files, choose a new folder")
    return path


def run_folder(out: str | Path | None, name: str, root: str = "runs/launch") -> Path:
    """The run's folder: ``out`` (absent or empty), or ``root/<name>-<time>-<id>``;
    created and checked writable."""
    from algorithms.run.outputs import writable_dir

    if out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = Path(root) / f"{name}-{stamp}-{uuid.uuid4().hex[:6]}"
    else:
        path = check_new_folder(out)
    return writable_dir(path, "--out")


def plan(spec: Any, endpoint: str, procs: Processes) -> dict[str, Any]:
    """What :func:`start` would start (``--dry-run``), as a JSON-ready dict."""
    return {"spec": spec.to_json(), "endpoint": endpoint, "nnodes": procs.nnodes,
            "nproc": procs.nproc, "processes_here": procs.nproc + (spec.mode == "server")}


def start(spec: Any, run_dir: Path, procs: Processes, endpoint: str) -> int:
    """Start this node's processes for ``spec`` and wait for them; returns an exit code
    (0 success, 2 a worker refused its input, 1 any other failure)."""
    if spec.mode == "allreduce":
        return _start_allreduce(spec, run_dir, procs, endpoint)
    return _start_server(spec, run_dir, procs, endpoint)


def _start_allreduce(spec: Any, run_dir: Path, procs: Processes, endpoint: str) -> int:
    from algorithms.backends.distributed.node import NodeConfig, first_error, run_node

    cfg = NodeConfig(
        run_dir=str(run_dir), nproc=procs.nproc, nnodes=procs.nnodes, endpoint=endpoint,
        run_id=spec.run_id, backend="static" if procs.node_rank is not None else "c10d",
        node_rank=procs.node_rank, max_restarts=procs.max_restarts,
        join_timeout=procs.rdzv_timeout)
    result = run_node(cfg)
    if not result.is_failed():
        return 0
    err = first_error(run_dir)
    return 2 if err and err[0] == 2 else 1


def _start_server(spec: Any, run_dir: Path, procs: Processes, endpoint: str) -> int:
    """One elastic agent per process (the server, each agent), so that one agent's death
    ends only its own worker group; the agents run as threads of this launcher."""
    from algorithms.backends.distributed.node import NodeConfig, RendezvousFailedError, run_node

    node_rank = procs.node_rank or 0
    if procs.nnodes > 1 and procs.node_rank is None:
        raise ValueError("node-rank: server mode on several nodes needs --node-rank "
                         "(the server runs on node 0)")
    roles: list[list[str]] = []
    if node_rank == 0:
        roles.append(["--role", "server"])
    for j in range(procs.nproc):
        roles.append(["--role", "agent", "--agent", str(node_rank * procs.nproc + j)])
    results: dict[int, object] = {}

    def node(k: int, extra: list[str]) -> None:
        cfg = NodeConfig(
            run_dir=str(run_dir), nproc=1, nnodes=spec.n + 1, endpoint=endpoint,
            run_id=spec.run_id, is_host=extra[1] == "server", join_timeout=procs.rdzv_timeout,
            exit_barrier=1.0, worker_args=extra)
        try:
            results[k] = run_node(cfg)
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            results[k] = exc

    threads = [threading.Thread(target=node, args=(k, extra), daemon=True)
               for k, extra in enumerate(roles)]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.2)
    outcomes = [results.get(k) for k in range(len(roles))]
    for res in outcomes:  # a rendezvous that failed anywhere is the launch's error
        if isinstance(res, RendezvousFailedError):
            raise res
    mine = outcomes[0] if node_rank == 0 else None
    if node_rank == 0:  # the server's outcome is the run's; departed agents are events
        if isinstance(mine, Exception):
            raise mine
        return 1 if mine is None or mine.is_failed() else 0
    failed = [r for r in outcomes if isinstance(r, Exception) or r.is_failed()]
    return 1 if failed else 0


def failure(run_dir: Path, code: int, what: str = "the run") -> tuple[int, str] | None:
    """If the processes failed: (exit status, one line) with the first error a worker
    reported, or where the logs are (2 for bad input); None if they did not fail."""
    from algorithms.backends.distributed.node import first_error

    err = first_error(run_dir)
    if err is not None:
        return (2 if err[0] == 2 else 1), err[1]
    if code != 0:
        return (code if code in (1, 2) else 1), (
            f"{what} failed (exit {code}); worker logs are in {run_dir / 'logs'}")
    return None


def launch_json(out: str | Path, *args: str, timeout: float = 900.0) -> dict:
    """Run ``apga launch --out OUT --json ARGS`` in a subprocess; its summary (RuntimeError
    with the launch's error line if it fails). Used by the bench and validation checks."""
    import subprocess

    cmd = [sys.executable, "-m", "algorithms.cli.main", "launch", "--out", str(out), "--json",
           "--no-progress", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"apga launch failed ({proc.returncode}): {proc.stderr.strip()}")
    return json.loads(proc.stdout)


class Progress:
    """A progress bar fed by the run's progress.json (written by rank 0 / the server)."""

    def __init__(self, run_dir: Path, spec: Any, enabled: bool, eta: Any = None) -> None:
        self._stop = threading.Event()
        self._thread = None
        self._eta = eta  # (iteration, seconds) -> seconds left or None
        if not enabled:
            return
        self._path = run_dir / "progress.json"
        self._spec = spec
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        total = self._spec.iterations or self._spec.time
        with Progress(TextColumn(f"{self._spec.method} ({self._spec.mode}, n={self._spec.n})"),
                      BarColumn(), TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                      transient=True) as bar:
            task = bar.add_task("run", total=total, info="starting processes")
            while not self._stop.wait(0.25):
                try:
                    p = json.loads(self._path.read_text())
                except (OSError, ValueError):
                    continue
                done = p["iteration"] if self._spec.iterations else p["time"]
                J = p.get("J")
                info = f"iter {p['iteration']}  {p['time']:.1f} s" + (
                    "" if J is None else f"  J {J:.4g}")
                left = None if self._eta is None else self._eta(p["iteration"], p["time"])
                if left is not None:
                    info += f"  ETA {left:.1f} s"
                bar.update(task, completed=done, info=info)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

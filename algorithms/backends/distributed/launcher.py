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
import math
import os
import signal
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from algorithms.backends.distributed.node import first_error
from algorithms.backends.distributed.pids import alive


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
    """``HOST:PORT`` with an ASCII port in 1..65535, else a ValueError naming rdzv-endpoint."""
    host, _, port = endpoint.rpartition(":")
    ok = bool(host) and port.isascii() and port.isdigit() and 0 < int(port) < 65536
    if not ok:
        raise ValueError(f"rdzv-endpoint must be HOST:PORT with a port in 1..65535, got "
                         f"{endpoint!r}")


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


def check_node_rank(procs: Processes, mode: str) -> None:
    """node rank in 0..nnodes-1; server mode on several nodes needs one."""
    if procs.node_rank is not None and procs.node_rank >= procs.nnodes:
        raise ValueError(f"node-rank must be < --nnodes ({procs.nnodes}), got "
                         f"{procs.node_rank}")
    if mode == "server" and procs.nnodes > 1 and procs.node_rank is None:
        raise ValueError("node-rank: server mode on several nodes needs --node-rank "
                         "(the server runs on node 0)")


#: Files a run folder may hold before a run claims it (the folder lock).
_ALLOWED = {".apga.lock"}


def check_new_folder(out: str | Path) -> Path:
    """``out`` as a folder a run may write into: absent or empty (never another run's)."""
    path = Path(out)
    if path.exists() and (not path.is_dir() or any(p.name not in _ALLOWED
                                                   for p in path.iterdir())):
        what = "is a file" if not path.is_dir() else "is not empty"
        raise ValueError(f"out: {str(path)!r} {what}; a run never writes over another "
                         "run's files, choose a new folder (or add --resume to continue "
                         "the run it holds)")
    return path


def check_writable_target(path: str | Path, flag: str) -> None:
    """What ``--dry-run`` checks of an output path without creating it: an existing folder
    must be writable; a missing one must be creatable under its nearest existing parent."""
    import tempfile

    p = Path(path)
    probe = p
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(f"{flag}: {str(path)!r} is under {str(probe)!r}, which is not a "
                         "folder")
    try:
        fd, name = tempfile.mkstemp(dir=probe, prefix=".apga-probe")
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise ValueError(f"{flag}: cannot write in {str(probe)!r} "
                         f"({exc.strerror or exc})") from None


class RunFolder:
    """The run folder, claimed by this launch for as long as it runs: an exclusive lock
    (:func:`algorithms.run.outputs.lock_folder`, the project's one folder lock) taken
    *before* the folder is checked, so two launches given the same ``--out`` at once
    cannot both pass the check: the second is refused with one line."""

    def __init__(self, out: str | Path | None, name: str, resume: bool = False,
                 root: str = "runs/launch") -> None:
        from algorithms.run.outputs import lock_folder, prepare_dir, writable_dir

        if out is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            out = Path(root) / f"{name}-{stamp}-{uuid.uuid4().hex[:6]}"
        path = Path(out)
        if path.exists() and not path.is_dir():
            check_new_folder(path)
        self.path = prepare_dir(path, "--out")
        self._lock = lock_folder(self.path, "--out")
        try:
            if not resume:
                check_new_folder(self.path)
            writable_dir(self.path, "--out")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def run_folder(out: str | Path | None, name: str, root: str = "runs/launch") -> Path:
    """A new run folder (absent or empty), created and checked writable (not locked: for
    ``apga calibrate``'s sample folder, which is always new)."""
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


#: Seconds between SIGTERM to the workers and SIGKILL when ``apga launch`` is signalled
#: (rank 0 / the server write their last checkpoint in that time).
SIGNAL_GRACE = 6.0
#: Seconds the launcher waits, once the server has finished, for agents to exit before it
#: ends them (a frozen agent never reads the server's DONE).
AGENT_GRACE = 3.0


class Interrupted(Exception):  # noqa: N818 - a stop, not an error
    """``apga launch`` was stopped by a signal (its workers are gone)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _Launch:
    """This node's elastic agents on threads; the main thread waits, handles SIGTERM and
    SIGINT, and enforces the rendezvous deadline."""

    def __init__(self, spec: Any, run_dir: Path, procs: Processes) -> None:
        self.spec, self.run_dir, self.procs = spec, run_dir, procs
        self.nodes: list[Any] = []
        self.threads: list[threading.Thread] = []
        self.results: dict[int, Any] = {}
        self.signalled: int | None = None

    def add(self, cfg: Any) -> None:
        from algorithms.backends.distributed.node import Node

        k = len(self.threads)
        holder: list[Any] = []

        def body() -> None:
            try:
                node = Node(cfg)
                holder.append(node)
                self.results[k] = node.run()
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                self.results[k] = exc

        self.nodes.append(holder)
        self.threads.append(threading.Thread(target=body, name=f"apga-node-{k}", daemon=True))

    def run(self, server_first: bool = False) -> list[Any]:
        old = {}
        main = threading.current_thread() is threading.main_thread()
        if main:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                old[sig] = signal.signal(sig, self._on_signal)
        try:
            for t in self.threads:
                t.start()
            deadline = time.monotonic() + self.procs.rdzv_timeout + RDZV_SLACK
            done_at = None
            while any(t.is_alive() for t in self.threads):
                if self.signalled is not None:
                    self._stop_all()
                    raise Interrupted(self.signalled)
                if time.monotonic() > deadline and not all(
                        h and h[0].started for h in self.nodes):
                    self._kill_workers()
                    from algorithms.backends.distributed.node import RendezvousFailedError

                    raise RendezvousFailedError(
                        f"rdzv-endpoint: nodes could not meet within "
                        f"{self.procs.rdzv_timeout:g} s (--rdzv-timeout); check "
                        "--rdzv-endpoint (is something else listening there?), --nnodes and "
                        "that every node was started")
                if server_first and 0 in self.results and done_at is None:
                    done_at = time.monotonic()
                if done_at is not None and time.monotonic() - done_at > AGENT_GRACE:
                    self._kill_workers()  # agents the server's DONE did not reach
                    done_at = math.inf
                time.sleep(0.05)
            if self.signalled is not None:
                raise Interrupted(self.signalled)
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
        return [self.results.get(k) for k in range(len(self.threads))]

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.signalled is None:
            self.signalled = signum

    def _pids(self) -> set[int]:
        pids: set[int] = set()
        for h in self.nodes:
            if h:
                pids |= h[0].worker_pids()
        return pids

    def _kill_workers(self, sig: int = signal.SIGKILL) -> None:
        for pid in self._pids():
            try:
                os.kill(pid, sig)
            except OSError:
                pass

    def _stop_all(self) -> None:
        """SIGTERM every worker (rank 0 / the server write a last checkpoint), SIGKILL what
        is left after SIGNAL_GRACE seconds, then wait for the agents to notice."""
        for h in self.nodes:
            if h:
                h[0].stop_restarts()
        self._kill_workers(signal.SIGTERM)
        deadline = time.monotonic() + SIGNAL_GRACE
        while time.monotonic() < deadline and any(alive(p) for p in self._pids()):
            time.sleep(0.05)
        self._kill_workers(signal.SIGKILL)
        for t in self.threads:
            t.join(timeout=STOP_JOIN)


#: Seconds beyond --rdzv-timeout after which a launch whose nodes have not met ends itself
#: (torch's rendezvous does not time out against a port held by another kind of server).
RDZV_SLACK = 5.0
#: Seconds to wait for torch's agents to wind down after their workers are gone.
STOP_JOIN = 5.0


def start(spec: Any, run_dir: Path, procs: Processes, endpoint: str) -> int:
    """Start this node's processes for ``spec`` and wait for them; returns an exit code
    (0 success, 2 a worker refused its input, 1 any other failure). Raises
    :class:`Interrupted` if a signal stopped the launch (every worker is gone by then)."""
    check_node_rank(procs, spec.mode)
    if spec.mode == "allreduce":
        return _start_allreduce(spec, run_dir, procs, endpoint)
    return _start_server(spec, run_dir, procs, endpoint)


#: The failed workers of the last start, for :func:`failure` ((node, rank, code, signal)).
LAST_FAILURES: list[tuple[int, int | None, str]] = []


def _record_failures(launch: _Launch, outcomes: list[Any]) -> None:
    LAST_FAILURES.clear()
    for h, res in zip(launch.nodes, outcomes, strict=False):
        if h and res is not None and not isinstance(res, BaseException):
            LAST_FAILURES.extend(h[0].failures(res))


def _start_allreduce(spec: Any, run_dir: Path, procs: Processes, endpoint: str) -> int:
    from algorithms.backends.distributed.node import NodeConfig

    cfg = NodeConfig(
        run_dir=str(run_dir), nproc=procs.nproc, nnodes=procs.nnodes, endpoint=endpoint,
        run_id=spec.run_id, backend="static" if procs.node_rank is not None else "c10d",
        node_rank=procs.node_rank, max_restarts=procs.max_restarts,
        join_timeout=procs.rdzv_timeout)
    launch = _Launch(spec, run_dir, procs)
    launch.add(cfg)
    (result,) = launch.run()
    if isinstance(result, BaseException):
        raise result
    _record_failures(launch, [result])
    if not result.is_failed():
        return 0
    err = first_error(run_dir, spec.run_id)
    return 2 if err and err[0] == 2 else 1


def _start_server(spec: Any, run_dir: Path, procs: Processes, endpoint: str) -> int:
    """One elastic agent per process (the server, each agent), so that one agent's death
    ends only its own worker group; the agents run as threads of this launcher. The
    rendezvous is static: the server is node (and rank) 0, agent j is node j + 1."""
    from algorithms.backends.distributed.node import NodeConfig, RendezvousFailedError

    node_rank = procs.node_rank or 0
    roles: list[tuple[int, list[str]]] = []
    if node_rank == 0:
        roles.append((0, ["--role", "server"]))
    for j in range(procs.nproc):
        a = node_rank * procs.nproc + j
        roles.append((a + 1, ["--role", "agent", "--agent", str(a)]))
    launch = _Launch(spec, run_dir, procs)
    for rank, extra in roles:
        launch.add(NodeConfig(
            run_dir=str(run_dir), nproc=1, nnodes=spec.n + 1, endpoint=endpoint,
            run_id=spec.run_id, backend="static", node_rank=rank,
            join_timeout=procs.rdzv_timeout, exit_barrier=1.0, worker_args=extra))
    outcomes = launch.run(server_first=node_rank == 0)
    _record_failures(launch, outcomes)
    for res in outcomes:  # a rendezvous that failed anywhere is the launch's error
        if isinstance(res, RendezvousFailedError):
            raise res
    if node_rank == 0:  # the server's outcome is the run's; departed agents are events
        mine = outcomes[0]
        if isinstance(mine, BaseException):
            raise mine
        return 1 if mine is None or mine.is_failed() else 0
    failed = [r for r in outcomes if isinstance(r, BaseException) or r.is_failed()]
    return 1 if failed else 0


def failure(run_dir: Path, code: int, what: str = "the run",
            run_id: str | None = None, spec: Any = None) -> tuple[int, str] | None:
    """If the processes failed: (exit status, one line) with the root error of the last
    attempt, else the processes that died (named), or where the logs are (2 for bad
    input); None if they did not fail."""
    err = first_error(run_dir, run_id)
    if run_id is not None:  # errors the run folder could not take: reported, then removed
        import shutil

        from algorithms.backends.distributed.worker import fallback_errors

        shutil.rmtree(fallback_errors(run_id), ignore_errors=True)
    if err is not None:
        return (2 if err[0] == 2 else 1), err[1]
    if code != 0:
        died = [f for f in LAST_FAILURES if f[1] is None or f[1] < 0 or f[2]]
        if died and spec is not None:
            from algorithms.backends.distributed.startup import process_name

            rank, ecode, sig = died[0]
            how = f"was killed ({sig})" if sig else f"exited with status {ecode}"
            return 1, (f"{process_name(spec, rank)} {how} and wrote no error; "
                       f"its output is in {run_dir / 'logs'}")
        return (code if code in (1, 2) else 1), (
            f"{what} failed (exit {code}); worker logs are in {run_dir / 'logs'}")
    return None


def launch_json(out: str | Path, *args: str, timeout: float = 900.0) -> dict:
    """Run ``apga launch --out OUT --json ARGS`` in a subprocess; its summary, plus every round
    as ``rounds`` (read from rounds.jsonl: for the short runs of the bench and the
    validation checks); RuntimeError with the launch's error line if it fails."""
    import subprocess

    from algorithms.backends.distributed.runlog import read_rounds

    cmd = [sys.executable, "-m", "algorithms.cli.main", "launch", "--out", str(out), "--json",
           "--quiet", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"apga launch failed ({proc.returncode}): {proc.stderr.strip()}")
    summary = json.loads(proc.stdout)
    summary["rounds"] = read_rounds(summary["run_dir"])
    return summary


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
                J, ret = p.get("J"), p.get("train_return")
                info = f"iter {p['iteration']}  {p['time']:.1f} s" + (
                    f"  return {ret:.4g}" if ret is not None else
                    "" if J is None else f"  J {J:.4g}")
                left = None if self._eta is None else self._eta(p["iteration"], p["time"])
                if left is not None:
                    info += f"  ETA {left:.1f} s"
                bar.update(task, completed=done, info=info)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

"""One node of a run: torch's elastic agent (the engine of ``torchrun``) starting the workers.

:func:`run_node` does what ``torchrun`` does for one node: a rendezvous (c10d, or static
with a node rank), a :class:`~torch.distributed.elastic.agent.server.local_elastic_agent.
LocalElasticAgent` that starts ``nproc`` workers running
:mod:`algorithms.backends.distributed.worker`,
restarts them all from the run's checkpoint when one fails (``max_restarts``), and stops
them when the run ends. We call the agent API rather than the ``torchrun`` script only to
set the exit-barrier timeout: in server mode a departed agent never reaches the barrier,
and the survivors must not wait torchrun's fixed 300 s for it.

Worker output goes to ``RUN_DIR/logs`` (the terminal shows the launcher's progress); the
workers' one-line errors go to ``RUN_DIR/errors`` and :func:`first_error` reads them.

Server mode runs one such agent per process of the run (as threads of ``apga launch``):
torch's agents are all-or-nothing for the workers they manage, and one agent's death must
end only its own worker group (see :mod:`algorithms.backends.distributed.launcher`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class NodeConfig:
    """What one elastic agent needs.

    run_dir:        the run folder (spec.json, logs, errors)
    nproc:          workers on this node
    nnodes:         nodes in the rendezvous
    endpoint:       rendezvous endpoint host:port
    run_id:         rendezvous id (the run's id)
    backend:        ``c10d`` or ``static`` (then ``node_rank`` is required)
    node_rank:      this node's rank (static rendezvous)
    is_host:        whether this node hosts the c10d store (None: decided from the host name)
    max_restarts:   worker-group restarts before giving up
    join_timeout:   seconds to wait for every node to join the rendezvous
    exit_barrier:   seconds to wait at the end for the other nodes
    worker_args:    extra arguments of the worker program (``--role``, ``--agent``)
    """

    run_dir: str
    nproc: int
    nnodes: int
    endpoint: str
    run_id: str
    backend: str = "c10d"
    node_rank: int | None = None
    is_host: bool | None = None
    max_restarts: int = 0
    join_timeout: float = 60.0
    exit_barrier: float = 300.0
    worker_args: list[str] = field(default_factory=list)


#: Workers start from a fork server: one single-threaded process that imports torch and
#: the worker once, then forks every worker. Forking the agent itself (which has threads:
#: rendezvous keep-alive, and in server mode one agent per thread) let a worker inherit a
#: lock another thread held at that moment: we saw one hang in getaddrinfo's resolver lock.
#: Spawning would import torch again in every worker (a second or more each on 2 cores).
START_METHOD = os.environ.get("APGA_START_METHOD", "forkserver")
PRELOAD = ["numpy", "torch", "torch.distributed", "algorithms.backends.distributed.worker"]


class RendezvousFailedError(ValueError):
    """The nodes could not meet (unreachable endpoint, a node that never joined)."""


def quiet_torch_logs(level: str = "CRITICAL") -> None:
    """Silence torch elastic's own log lines (the launcher prints one line per event).

    Must run before torch is imported for the C++ side (TORCH_CPP_LOG_LEVEL is read when
    libtorch loads): otherwise every TCPStore retry prints a stack trace.
    """
    os.environ.setdefault("LOGLEVEL", level)
    os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "FATAL")
    # torch.multiprocessing.spawn warns "Terminating process ..." when the agent stops a
    # worker group (a restart that then succeeds): not the user's business
    for name in ("torch.distributed", "torch.multiprocessing", "torch.distributed.elastic"):
        logging.getLogger(name).setLevel(os.environ["LOGLEVEL"])
    for name in list(logging.root.manager.loggerDict):
        if name.startswith(("torch.distributed", "torch.multiprocessing")):
            logging.getLogger(name).setLevel(os.environ["LOGLEVEL"])


#: Seconds torch's agent gives workers between SIGTERM and SIGKILL when it stops them
#: (torch's default is 30 s: a hung worker then held the launch that long).
STOP_TIMEOUT = 3


def _agent_class():
    from torch.distributed.elastic.agent.server.local_elastic_agent import LocalElasticAgent

    class Agent(LocalElasticAgent):
        """torch's agent, stopping workers within :data:`STOP_TIMEOUT` seconds."""

        def _stop_workers(self, worker_group, *args, **kwargs) -> None:
            self._shutdown(timeout=STOP_TIMEOUT)

        def _start_workers(self, worker_group):
            ids = super()._start_workers(worker_group)
            # torch.multiprocessing joins a failed group with a 30 s grace before SIGKILL
            # (a frozen worker held the launch that long): give it ours
            pc = getattr(self._pcontext, "_pc", None)
            if pc is not None and hasattr(pc, "join"):
                join = pc.join
                pc.join = lambda timeout=None, grace_period=None: join(
                    timeout, STOP_TIMEOUT if grace_period is None else grace_period)
            return ids

    return Agent


class Node:
    """One elastic agent (torch's ``LocalElasticAgent``) and its rendezvous, to be run on
    a thread of ``apga launch`` (:meth:`run`); the launcher's main thread handles signals
    and calls :meth:`stop_restarts` / reads :meth:`worker_pids`."""

    def __init__(self, cfg: NodeConfig) -> None:
        quiet_torch_logs()
        from torch.distributed.elastic.agent.server.api import WorkerSpec
        from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs, Std
        from torch.distributed.elastic.rendezvous import RendezvousParameters
        from torch.distributed.elastic.rendezvous.api import RendezvousError
        from torch.distributed.elastic.rendezvous.registry import get_rendezvous_handler

        quiet_torch_logs()
        self.cfg = cfg
        # A fresh worker store per attempt (hosted by the workers' rank 0, torch's own
        # opt-out of sharing the rendezvous store): the shared one keeps the failed
        # attempt's gloo addresses, and the restarted workers would dial the dead ones.
        os.environ["TORCH_DISABLE_SHARE_RDZV_TCP_STORE"] = "1"
        timeout = int(max(1, round(cfg.join_timeout)))
        conf: dict[str, object] = {"join_timeout": timeout, "read_timeout": timeout,
                                   "last_call_timeout": 1, "timeout": timeout}
        if cfg.is_host is not None:
            conf["is_host"] = cfg.is_host
        if cfg.backend == "static":
            conf["rank"] = cfg.node_rank
        params = RendezvousParameters(
            backend=cfg.backend,
            endpoint=cfg.endpoint,
            run_id=cfg.run_id,
            min_nodes=cfg.nnodes,
            max_nodes=cfg.nnodes,
            **conf,
        )
        run_dir = Path(cfg.run_dir)
        if cfg.is_host is False or (cfg.backend == "static" and cfg.node_rank):
            _wait_listening(cfg.endpoint, cfg.join_timeout)
        try:
            self.handler = get_rendezvous_handler(params)
        except (RendezvousError, RuntimeError, ValueError, TimeoutError) as exc:
            raise RendezvousFailedError(_rdzv_message(cfg, exc)) from None
        from algorithms.backends.distributed.worker import entry

        spec = WorkerSpec(
            role="apga",
            local_world_size=cfg.nproc,
            entrypoint=entry,
            args=([str(run_dir / "spec.json"), *cfg.worker_args],),
            rdzv_handler=self.handler,
            max_restarts=cfg.max_restarts,
            monitor_interval=0.05,
        )
        if START_METHOD == "forkserver":
            import multiprocessing

            multiprocessing.set_forkserver_preload(PRELOAD)
        logs = DefaultLogsSpecs(log_dir=str(run_dir / "logs"), redirects=Std.ALL,
                                tee=Std.NONE)
        self.agent = _agent_class()(spec, logs_specs=logs, start_method=START_METHOD,
                                    exit_barrier_timeout=cfg.exit_barrier,
                                    shutdown_timeout=STOP_TIMEOUT)

    def run(self):
        """Run this node's workers to the end; returns the agent's RunResult. Raises
        :class:`RendezvousFailedError` when the nodes cannot meet within ``join_timeout``."""
        from torch.distributed.elastic.rendezvous.api import RendezvousError

        try:
            return self.agent.run()
        except (RendezvousError, TimeoutError) as exc:
            raise RendezvousFailedError(_rdzv_message(self.cfg, exc)) from None
        except RuntimeError as exc:
            if "store" in str(exc).lower() or "timeout" in str(exc).lower():
                raise RendezvousFailedError(_rdzv_message(self.cfg, exc)) from None
            raise
        finally:
            try:
                self.handler.shutdown()
            except Exception:  # noqa: BLE001 - the store host may already be gone
                pass

    @property
    def started(self) -> bool:
        """Whether the rendezvous is done and the workers were started."""
        group = getattr(self.agent, "_worker_group", None)
        return group is not None and getattr(group, "group_rank", None) is not None

    def stop_restarts(self) -> None:
        """No more restarts (the launch is being stopped)."""
        self.agent._remaining_restarts = 0

    def worker_pids(self) -> set[int]:
        pc = getattr(self.agent, "_pcontext", None)
        try:
            return set(pc.pids().values()) if pc is not None else set()
        except Exception:  # noqa: BLE001 - not started / already closed
            return set()

    def failures(self, result) -> list[tuple[int, int | None, str]]:
        """(global rank, exit code or None, signal name or "") of the failed workers."""
        out = []
        for rank, f in sorted(getattr(result, "failures", {}).items()):
            code = getattr(f, "exitcode", None)
            name = getattr(f, "signal_name", lambda: "")() if code is not None and code < 0 \
                else ""
            out.append((rank, code, name))
        return out


def run_node(cfg: NodeConfig):
    """Run one node's workers to the end on this thread (tests); see :class:`Node`."""
    return Node(cfg).run()


def _wait_listening(endpoint: str, timeout: float) -> None:
    """Wait until the store host accepts connections: a node that does not host the store
    joins once it is there instead of going through the store client's growing back-off
    (the rendezvous reports if it never comes)."""
    import socket
    import time

    host, _, port = endpoint.rpartition(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, int(port)), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)


def _rdzv_message(cfg: NodeConfig, exc: BaseException) -> str:
    kind = type(exc).__name__
    return (
        f"rdzv-endpoint: nodes could not meet at {cfg.endpoint} within {cfg.join_timeout:g} s "
        f"({kind}); check --rdzv-endpoint, --nnodes and that every node was started"
    )


def first_error(run_dir: Path, run_id: str | None = None) -> tuple[int, str] | None:
    """(exit code, one line) of the root failure of the run's **last** attempt: among the
    error files of the highest restart attempt, the earliest written (the others are
    usually its consequences). Reads ``RUN_DIR/errors`` and, for errors the run folder
    could not take, the worker's fallback folder (:func:`.worker.fallback_errors`)."""
    import re

    folders = [Path(run_dir) / "errors"]
    if run_id is not None:
        from algorithms.backends.distributed.worker import fallback_errors

        folders.append(fallback_errors(run_id))
    found = []
    for folder in folders:
        try:
            paths = list(folder.glob("*.txt")) if folder.is_dir() else []
        except OSError:
            continue
        for path in paths:
            m = re.search(r"attempt(\d+)", path.name)
            try:
                found.append((int(m.group(1)) if m else 0, -path.stat().st_mtime, path))
            except OSError:
                continue
    for _attempt, _t, path in sorted(found, key=lambda x: (-x[0], -x[1])):
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if "\t" in text:
            code, line = text.split("\t", 1)
            return int(code), line
    return None

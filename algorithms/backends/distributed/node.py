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
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("torch.distributed"):
            logging.getLogger(name).setLevel(os.environ["LOGLEVEL"])


def run_node(cfg: NodeConfig):
    """Run this node's workers to the end; returns the agent's RunResult.

    Raises :class:`RendezvousFailedError` (a ValueError naming the rendezvous) when the nodes
    cannot meet within ``join_timeout``.
    """
    quiet_torch_logs()
    from torch.distributed.elastic.agent.server.api import WorkerSpec
    from torch.distributed.elastic.agent.server.local_elastic_agent import LocalElasticAgent
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs, Std
    from torch.distributed.elastic.rendezvous import RendezvousParameters
    from torch.distributed.elastic.rendezvous.api import RendezvousError
    from torch.distributed.elastic.rendezvous.registry import get_rendezvous_handler

    quiet_torch_logs()
    # A fresh worker store per attempt (hosted by the workers' rank 0, torch's own opt-out of
    # sharing the rendezvous store): the shared one keeps the failed attempt's gloo
    # addresses, and the restarted workers would dial the dead ones.
    os.environ["TORCH_DISABLE_SHARE_RDZV_TCP_STORE"] = "1"
    conf: dict[str, object] = {
        "join_timeout": int(max(1, round(cfg.join_timeout))),
        "read_timeout": int(max(1, round(cfg.join_timeout))),
        "last_call_timeout": 1,
    }
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
    if cfg.is_host is False:
        _wait_listening(cfg.endpoint, cfg.join_timeout)
    try:
        handler = get_rendezvous_handler(params)
    except (RendezvousError, RuntimeError, ValueError, TimeoutError) as exc:
        raise RendezvousFailedError(_rdzv_message(cfg, exc)) from None
    from algorithms.backends.distributed.worker import entry

    spec = WorkerSpec(
        role="apga",
        local_world_size=cfg.nproc,
        entrypoint=entry,
        args=([str(run_dir / "spec.json"), *cfg.worker_args],),
        rdzv_handler=handler,
        max_restarts=cfg.max_restarts,
        monitor_interval=0.05,
    )
    if START_METHOD == "forkserver":
        import multiprocessing

        multiprocessing.set_forkserver_preload(PRELOAD)
    logs = DefaultLogsSpecs(log_dir=str(run_dir / "logs"), redirects=Std.ALL, tee=Std.NONE)
    agent = LocalElasticAgent(spec, logs_specs=logs, start_method=START_METHOD,
                              exit_barrier_timeout=cfg.exit_barrier)
    shutdown = True
    try:
        return agent.run()
    except (RendezvousError, TimeoutError) as exc:
        raise RendezvousFailedError(_rdzv_message(cfg, exc)) from None
    except Exception as exc:
        if type(exc).__name__ == "SignalException":
            shutdown = False  # as torchrun: a signalled agent leaves the rendezvous open
            raise KeyboardInterrupt from None
        raise
    finally:
        if shutdown:
            try:
                handler.shutdown()
            except Exception:  # noqa: BLE001 - the store host may already be gone
                pass


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


def first_error(run_dir: Path) -> tuple[int, str] | None:
    """(exit code, one line) of the earliest error a worker of the run wrote, if any."""
    folder = Path(run_dir) / "errors"
    if not folder.is_dir():
        return None
    files = sorted(folder.glob("*.txt"), key=lambda p: p.stat().st_mtime)
    for path in files:
        text = path.read_text().strip()
        if "\t" in text:
            code, line = text.split("\t", 1)
            return int(code), line
    return None

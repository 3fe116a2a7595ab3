"""The program every process of ``apga launch`` runs:
``python -m algorithms.backends.distributed.worker RUN_DIR/spec.json [--role agent|server]
[--agent I]``.

It joins the process group the elastic agent prepared (gloo on CPU; the round's
all_reduce goes over NCCL when every rank has a GPU), builds the oracle of the spec, and
runs the method: Algorithm 1 (or AFedPG) from :mod:`algorithms.methods` with a real
backend as its clock. Records go to the run folder (:mod:`.runlog`).

Errors: a bad argument (ValueError) writes one line to ``RUN_DIR/errors/`` and exits 2;
anything else writes its one-line summary and exits 1. ``apga launch`` reports the first
line it finds.

Restarts (AllReduce mode): torch's elastic agent restarts every rank when one dies
(``--max-restarts``); on restart the ranks resume from ``checkpoint.pkl`` (written by
rank 0 after every completed iteration and broadcast by it to the others).
"""

from __future__ import annotations

import os
import socket
import sys
from datetime import timedelta
from pathlib import Path

from algorithms.backends.distributed.spec import RunSpec

EXIT_BAD_INPUT = 2


def write_error(run_dir: Path, rank: int, code: int, message: str) -> None:
    """One line for ``apga launch`` to report (never raises)."""
    try:
        folder = run_dir / "errors"
        folder.mkdir(exist_ok=True)
        restart = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
        line = " ".join(str(message).split()) or "unknown error"
        (folder / f"rank{rank}-attempt{restart}.txt").write_text(f"{code}\t{line}\n")
    except OSError:
        pass


def _register(run_dir: Path, rank: int, role: str, agent: int | None) -> None:
    import json

    folder = run_dir / "pids"
    folder.mkdir(exist_ok=True)
    info = {"rank": rank, "role": role, "agent": agent, "pid": os.getpid(),
            "host": socket.gethostname(),
            "restart": int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))}
    name = "server" if role == "server" else f"agent{agent}"
    (folder / f"{name}.json").write_text(json.dumps(info) + "\n")


def _parse(argv: list[str]) -> tuple[Path, str, int | None]:
    if not argv:
        raise ValueError("spec: usage: python -m algorithms.backends.distributed.worker SPEC.json")
    spec_path, role, agent = Path(argv[0]), "agent", None
    rest = argv[1:]
    while rest:
        flag, value, rest = rest[0], rest[1], rest[2:]
        if flag == "--role":
            role = value
        elif flag == "--agent":
            agent = int(value)
        else:
            raise ValueError(f"{flag}: unknown worker option")
    return spec_path, role, agent


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    rank = int(os.environ.get("RANK", "0"))
    run_dir = Path(argv[0]).parent if argv else Path(".")
    try:
        spec_path, role, agent = _parse(argv)
        spec = RunSpec.load(spec_path)
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world != spec.world_size:
            server = " + 1 server" if spec.mode == "server" else ""
            raise ValueError(
                f"nproc: the rendezvous formed {world} processes, the run needs "
                f"{spec.world_size} ({spec.n} agents{server})"
            )
        if spec.mode == "allreduce":
            agent = rank
        _one_thread()
        _register(run_dir, rank, role, agent)
        _init_process_group(spec)
        if spec.task == "calibrate":
            from algorithms.backends.distributed.calibrate import run_calibration

            run_calibration(spec, run_dir, rank, role, agent)
        elif spec.mode == "allreduce":
            from algorithms.backends.distributed.loop import run_allreduce

            run_allreduce(spec, run_dir, rank)
        else:
            from algorithms.backends.distributed.server import run_agent, run_server

            if role == "server":
                run_server(spec, run_dir, rank)
            else:
                run_agent(spec, run_dir, rank, agent)
        return 0
    except ValueError as exc:
        write_error(run_dir, rank, EXIT_BAD_INPUT, str(exc))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - reported as one line by apga launch
        if os.environ.get("APGA_DEBUG"):
            import traceback

            traceback.print_exc()
        write_error(run_dir, rank, 1, f"{type(exc).__name__}: {exc}")
        return 1


def entry(argv: list[str]) -> None:
    """The elastic agent's entrypoint (a function, so that workers can be forked from an
    agent that has already imported torch): runs :func:`main`, exits with its code."""
    code = main(list(argv))
    sys.stdout.flush()
    sys.stderr.flush()
    if code:
        raise SystemExit(code)


def _one_thread() -> None:
    """One BLAS and one torch thread per worker: the ranks share the cores, and OpenBLAS's
    spinning threads in numpy's vector operations (the NIGT step on d = 30,000: norm, axpy)
    held every rank up by ~12 ms per round on 2 cores (0.7 ms with one thread)."""
    import torch

    from algorithms.blas import set_blas_threads

    set_blas_threads(1)
    torch.set_num_threads(1)


def _init_process_group(spec: RunSpec) -> None:
    """gloo for CPU tensors, plus NCCL for CUDA tensors on machines with a GPU (the round's
    all_reduce uses it when every rank has one: :func:`reduce_device`)."""
    import torch
    import torch.distributed as dist

    backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend, timeout=timedelta(seconds=spec.timeout))


if __name__ == "__main__":  # pragma: no cover - the elastic agent runs this
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # torch's atexit handlers can wait on peers that already left; the run's files are
    # written and flushed, so leave without them.
    os._exit(code)

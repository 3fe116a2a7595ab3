"""The program every process of ``apga launch`` runs:
``python -m algorithms.backends.distributed.worker RUN_DIR/spec.json [--role agent|server]
[--agent I]``.

It starts as :mod:`.startup` describes (the run's store, a roll call, the same spec on
every process, the device, the process group: gloo, or NCCL when every rank has a GPU of
its own), builds the oracle of the spec, and runs the method: Algorithm 1 (or AFedPG)
from :mod:`algorithms.methods` with a real backend as its clock. Records go to the run
folder (:mod:`.runlog`).

Errors: a bad argument (ValueError) writes one line naming the option as typed to
``RUN_DIR/errors/`` and exits 2; anything else writes its one-line summary and exits 1.
``apga launch`` reports the root failure of the last attempt. If the run folder cannot
take the line, it goes to a folder of the system's temporary directory that the launcher
reads (:func:`fallback_errors`).

Restarts and ``--resume``: the ranks continue from the run's checkpoint (written by rank
0 / the server every ``--checkpoint-every`` iterations, at the end, and on a signal).
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from algorithms.backends.distributed.spec import RunSpec

EXIT_BAD_INPUT = 2


def fallback_errors(run_id: str) -> Path:
    """Where a worker writes its error when the run folder cannot take it (full disk, a
    folder made read-only): a folder of the system's temporary directory that
    ``apga launch`` reads, reports and removes."""
    import tempfile

    return Path(tempfile.gettempdir()) / f"apga-errors-{run_id}"


def write_error(run_dir: Path, rank: int, code: int, message: str,
                run_id: str | None = None) -> None:
    """One line for ``apga launch`` to report (never raises): in ``RUN_DIR/errors``, else
    in :func:`fallback_errors`, else on this process's stderr."""
    restart = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    line = " ".join(str(message).split()) or "unknown error"
    name = f"rank{rank}-attempt{restart}.txt"
    try:
        folder = run_dir / "errors"
        folder.mkdir(exist_ok=True)
        (folder / name).write_text(f"{code}\t{line}\n")
        return
    except OSError as exc:
        why = f"{line} (could not write it to {run_dir / 'errors'}: {exc.strerror or exc})"
    try:
        if run_id is None:
            raise OSError("no run id")
        folder = fallback_errors(run_id)
        folder.mkdir(exist_ok=True)
        (folder / name).write_text(f"{code}\t{why}\n")
    except OSError:
        try:
            sys.stderr.write(f"apga: error: {why}\n")
        except (OSError, ValueError):
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


def _fault(role: str, agent: int | None, rank: int, phase: str) -> None:
    """Fault injection for the fault tests (``APGA_TEST_FAULT=WHO:PHASE[:ATTEMPT]``, WHO =
    ``agentJ`` | ``server`` | ``rankR``): the process kills itself with SIGKILL at PHASE
    (``start``: before the roll call, ``hello``: after it, ``group``: once the process
    group formed), on restart ATTEMPT only if given; ``PHASE!`` raises an error instead.
    Unset in normal runs: nothing happens."""
    spec = os.environ.get("APGA_TEST_FAULT")
    if not spec:
        return
    import signal

    restart = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    for item in spec.split(","):
        who, _, rest = item.partition(":")
        when, _, attempt = rest.partition(":")
        me = {f"rank{rank}", "server" if role == "server" else f"agent{agent}"}
        if who in me and when.rstrip("!") == phase and (not attempt or attempt == restart):
            if when.endswith("!"):
                raise RuntimeError(f"injected failure at {phase} on attempt {restart}")
            os.kill(os.getpid(), signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    from algorithms.backends.distributed.startup import Lifecycle, as_option

    argv = sys.argv[1:] if argv is None else argv
    rank = int(os.environ.get("RANK", "0"))
    run_dir = Path(argv[0]).parent if argv else Path(".")
    run_id = None
    lifecycle = Lifecycle()
    lifecycle.install()
    try:
        spec_path, role, agent = _parse(argv)
        spec = RunSpec.load(spec_path)
        run_id = spec.run_id
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
        _fault(role, agent, rank, "start")
        from algorithms.backends.distributed.startup import start_process

        store, device = start_process(spec, rank, role, agent,
                                       fault=lambda phase: _fault(role, agent, rank, phase))
        _fault(role, agent, rank, "group")
        if spec.task == "calibrate":
            from algorithms.backends.distributed.calibrate import run_calibration

            run_calibration(spec, run_dir, rank, role, agent, store)
        elif spec.mode == "allreduce":
            from algorithms.backends.distributed.loop import run_allreduce

            run_allreduce(spec, run_dir, rank, store, device, lifecycle)
        else:
            from algorithms.backends.distributed.server import run_agent, run_server

            if role == "server":
                run_server(spec, run_dir, rank, lifecycle)
            else:
                run_agent(spec, run_dir, rank, agent)
        return 0
    except ValueError as exc:
        write_error(run_dir, rank, EXIT_BAD_INPUT, as_option(str(exc)), run_id)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - reported as one line by apga launch
        if os.environ.get("APGA_DEBUG"):
            import traceback

            traceback.print_exc()
        from algorithms.backends.distributed.startup import StartupError

        kind = "" if isinstance(exc, StartupError) or str(exc).startswith("timeout:") \
            else f"{type(exc).__name__}: "
        write_error(run_dir, rank, 1, f"{kind}{exc}", run_id)
        return 1


def entry(argv: list[str]) -> None:
    """The elastic agent's entrypoint (a function, so that workers can be forked from an
    agent that has already imported torch): runs :func:`main`. On success it returns (torch's
    wrapper then hands the return value to the agent, which waits for it); on failure it
    leaves at once with the code: torch's exit handlers (the process group's teardown)
    can wait on peers that already left, which held a failed rank for tens of seconds."""
    code = main(list(argv))
    sys.stdout.flush()
    sys.stderr.flush()
    if code:
        os._exit(code)


def _one_thread() -> None:
    """One BLAS and one torch thread per worker: the ranks share the cores, and OpenBLAS's
    spinning threads in numpy's vector operations (the NIGT step on d = 30,000: norm, axpy)
    held every rank up by ~12 ms per round on 2 cores (0.7 ms with one thread)."""
    import torch

    from algorithms.blas import set_blas_threads

    set_blas_threads(1)
    torch.set_num_threads(1)


if __name__ == "__main__":  # pragma: no cover - the elastic agent runs this
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # torch's atexit handlers can wait on peers that already left; the run's files are
    # written and flushed, so leave without them.
    os._exit(code)

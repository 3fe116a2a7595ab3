"""Where a rank's round vectors live: the CPU (gloo), or a GPU of its own (NCCL).

NCCL refuses two ranks on one GPU ("Duplicate GPU detected"), and emulated clusters
often run more ranks than a node has GPUs. So a rank uses ``cuda:LOCAL_RANK`` (after
``torch.cuda.set_device(LOCAL_RANK)``) only if **every** rank of the run has a GPU of its
own: each node's ranks fit its GPUs (``LOCAL_WORLD_SIZE <= device_count``). Otherwise every
rank stays on the CPU over gloo. Server mode is always gloo (point-to-point messages of
CPU vectors). The choice and its reason go into the run's ``summary.json`` (``device``).

:func:`local_choice` is what one rank can see; :func:`agree` combines every rank's (from
the start-up roll call, :mod:`.startup`). Both are pure, so the logic is tested without a
GPU.
"""

from __future__ import annotations

from typing import Any


def local_choice(cuda: bool, device_count: int, local_rank: int, local_world_size: int,
                 mode: str = "allreduce") -> dict[str, Any]:
    """This rank's possible device: ``{"device": "cuda:k" | None, "reason": ...}``."""
    if mode == "server":
        return {"device": None, "reason": "server mode: point-to-point messages over gloo"}
    if not cuda or device_count <= 0:
        return {"device": None, "reason": "no GPU on a node"}
    if local_world_size > device_count:
        return {"device": None, "reason": f"{local_world_size} ranks share {device_count} "
                "GPU(s) on a node; NCCL needs a GPU per rank"}
    if not 0 <= local_rank < device_count:
        return {"device": None, "reason": f"local rank {local_rank} has no GPU of its own"}
    return {"device": f"cuda:{local_rank}", "reason": "every rank has a GPU of its own"}


def agree(choices: list[dict[str, Any]], mine: dict[str, Any]) -> dict[str, Any]:
    """The run's choice from every rank's :func:`local_choice`: NCCL on this rank's GPU if
    every rank has one of its own, else gloo on the CPU (the first reason why not)."""
    if choices and all(c["device"] is not None for c in choices):
        return {"device": mine["device"], "backend": "nccl", "reason": mine["reason"]}
    reason = next((c["reason"] for c in choices if c["device"] is None), "no GPU")
    return {"device": "cpu", "backend": "gloo", "reason": reason}

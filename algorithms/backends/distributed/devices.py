"""Where a rank's round vectors live: the CPU, or its own GPU when every rank has one.

The round's all_reduce goes over NCCL when every rank has a GPU (:func:`reduce_device`);
otherwise everything stays on the CPU over gloo.
"""

from __future__ import annotations

import os


def reduce_device() -> str:
    """``cuda:LOCAL_RANK`` if every rank has a GPU (agreed with one all_reduce), else ``cpu``."""
    import torch
    import torch.distributed as dist

    has = torch.tensor([1.0 if torch.cuda.is_available() else 0.0])
    dist.all_reduce(has, op=dist.ReduceOp.MIN)
    if has.item() < 1:
        return "cpu"
    local = int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count()
    return f"cuda:{local}"

"""Checkpoint files of :func:`algorithms.run.run_method`: which run, its state, its records.

A checkpoint ``PATH`` is two files:

- ``PATH``: the header line ``APGA-CHECKPOINT 2`` then one pickle of the run state (the
  method state, the clock, the oracle Generator, the totals, the iteration, how many
  records belong to it) and of the run's **identity**. One pickle for the state so
  that shared references (a scheduler holding the clock) stay shared after loading.
  It is replaced atomically (a temporary file unique to the process, then
  ``os.replace``).
- ``PATH.records``: the header line ``APGA-RECORDS 2`` then one fixed-size binary row
  per :class:`algorithms.run.IterationRecord` (64 bytes, little-endian, floats exact).
  Rows are appended: a checkpoint every iteration costs the new rows, not a rewrite of
  all of them (the old format pickled every record at every checkpoint, quadratic in
  the run length). Rows beyond the state's count (written just before a crash) are
  dropped when the run resumes.

Identity: method, hyperparameter values, a digest of theta_0, of the clock's
configuration (h, kappa, timing and its options, the clock seed, failures, joins), of
the Generator's starting state, the apga version and the caller's additions (the CLI
adds the setting and the run seed). :func:`load` refuses a checkpoint whose identity
differs, naming what differs; files that are not checkpoints, truncated or corrupt are
refused with one line, never unpickled blindly (the header comes first).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import struct
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 2
MAGIC = b"APGA-CHECKPOINT 2\n"
RECORDS_MAGIC = b"APGA-RECORDS 2\n"
#: iteration, time, gradients evaluated, simulated, communications, communication time,
#: J, ||grad J||: the fields of IterationRecord, in order.
ROW = struct.Struct("<qdqqqddd")
_DTYPE = np.dtype([("iteration", "<i8"), ("time", "<f8"), ("evaluated", "<i8"),
                   ("simulated", "<i8"), ("communications", "<i8"),
                   ("communication_time", "<f8"), ("J", "<f8"), ("grad_norm", "<f8")])
#: Identity entries stored as digests, and what each one covers (for messages).
_DIGESTS = {
    "theta0": "theta_0",
    "clock": "the clock (h, kappa, timing, its options or its seed)",
    "rng": "the oracle Generator's seed",
}


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed: not a checkpoint, corrupt, or another run's."""


def records_path(path: Path) -> Path:
    return path.with_name(path.name + ".records")


def remove(path: Path) -> None:
    """Delete a checkpoint (both files) if present."""
    for p in (path, records_path(path)):
        p.unlink(missing_ok=True)


def _digest(obj: Any) -> str:
    if isinstance(obj, bytes):
        data = obj
    else:
        data = json.dumps(obj, sort_keys=True, default=_plain).encode()
    return hashlib.sha256(data).hexdigest()[:16]


def _plain(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return repr(x)


def identity(method: str, values: Mapping[str, float], theta0: Any, clock: Any, rng: Any,
             extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a run is: everything that changes its records (see the module docstring)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        apga = version("apga")
    except PackageNotFoundError:  # pragma: no cover - a bare checkout
        apga = "unknown"
    ident: dict[str, Any] = {"format": FORMAT, "apga": apga, "method": method}
    ident.update({k: float(v) if isinstance(v, float) else v for k, v in values.items()})
    ident["theta0"] = _digest(np.ascontiguousarray(theta0, dtype=float).tobytes())
    config = clock.state_dict()["config"] if hasattr(clock, "state_dict") else repr(clock)
    ident["clock"] = _digest(config)
    state = rng.bit_generator.state if hasattr(rng, "bit_generator") else repr(rng)
    ident["rng"] = _digest(state)
    for k, v in (extra or {}).items():
        ident[k] = v
    return ident


def differences(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Human-readable entries that differ: "alpha = 0.05 there, 0.1 here"."""
    out = []
    for key in list(current) + [k for k in saved if k not in current]:
        a, b = saved.get(key, _ABSENT), current.get(key, _ABSENT)
        if a == b:
            continue
        if key in _DIGESTS:
            out.append(f"{_DIGESTS[key]} differs")
        else:
            out.append(f"{key} = {_show(a)} there, {_show(b)} here")
    return out


_ABSENT = object()


def _show(x: Any) -> str:
    return "(not set)" if x is _ABSENT else repr(x)


def load(path: Path, ident: Mapping[str, Any]) -> dict[str, Any]:
    """State and records of the checkpoint at ``path`` if it belongs to the run ``ident``."""
    from algorithms.run import IterationRecord

    shown = str(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(MAGIC))
            if head != MAGIC:
                raise CheckpointError(
                    f"checkpoint: {shown} is not an apga checkpoint of this version "
                    "(foreign, older or corrupt file); delete it or run without --resume")
            try:
                blob = pickle.load(fh)  # noqa: S301 - header checked: our own file format
            except Exception as exc:  # noqa: BLE001 - any unpickling failure means corrupt
                raise CheckpointError(
                    f"checkpoint: {shown} is truncated or corrupt ({type(exc).__name__}); "
                    "delete it or run without --resume") from None
    except OSError as exc:
        raise CheckpointError(f"checkpoint: cannot read {shown} ({exc.strerror})") from None
    keys = ("identity", "state", "clock", "rng", "totals", "iteration", "n_records")
    if not isinstance(blob, dict) or any(k not in blob for k in keys):
        raise CheckpointError(f"checkpoint: {shown} is corrupt (missing fields); delete it "
                              "or run without --resume")
    diff = differences(blob["identity"], ident)
    if diff:
        raise CheckpointError(
            f"checkpoint: {shown} belongs to another run ({'; '.join(diff)}); resume with "
            "the arguments of that run, or start afresh without --resume")
    rows = _read_rows(records_path(path), int(blob["n_records"]))
    records = [IterationRecord(*(r.item() for r in row)) for row in rows]
    return {**blob, "records": records}


def _read_rows(path: Path, n: int) -> np.ndarray:
    try:
        data = path.read_bytes()
    except OSError:
        raise CheckpointError(f"checkpoint: its records file {path} is missing; delete the "
                              "checkpoint or run without --resume") from None
    if not data.startswith(RECORDS_MAGIC):
        raise CheckpointError(f"checkpoint: {path} is not an apga records file")
    body = data[len(RECORDS_MAGIC):]
    if len(body) < n * ROW.size:
        raise CheckpointError(f"checkpoint: {path} is truncated ({len(body) // ROW.size} of "
                              f"{n} records); delete it or run without --resume")
    return np.frombuffer(body, dtype=_DTYPE, count=n)


class Writer:
    """Saves a run's checkpoints: appends new records, replaces the state atomically."""

    def __init__(self, path: Path, ident: Mapping[str, Any], n_written: int) -> None:
        self.path = Path(path)
        self.ident = dict(ident)
        self.n_written = n_written
        self.saved_iteration: int | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        rec = records_path(self.path)
        if n_written == 0:
            rec.write_bytes(RECORDS_MAGIC)
        else:  # drop rows written after the state we resume from
            with open(rec, "r+b") as fh:
                fh.truncate(len(RECORDS_MAGIC) + n_written * ROW.size)

    def save(self, state, clock, rng, records, totals, it: int) -> None:
        new = records[self.n_written:]
        if new:
            with open(records_path(self.path), "ab") as fh:
                fh.write(b"".join(ROW.pack(*_fields(r)) for r in new))
        blob = {"version": FORMAT, "identity": self.ident, "state": state, "clock": clock,
                "rng": rng, "totals": totals, "iteration": it, "n_records": len(records)}
        atomic_write(self.path, MAGIC + pickle.dumps(blob, protocol=pickle.HIGHEST_PROTOCOL))
        self.n_written = len(records)
        self.saved_iteration = it


def _fields(r: Any) -> tuple:
    return (r.iteration, r.time, r.gradients_evaluated, r.gradients_simulated,
            r.communications, r.communication_time, r.J, r.grad_norm)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file unique to this process.

    The temporary file lives in the same folder (``os.replace`` is then atomic) and is
    removed if writing fails (a full disk leaves no ``.tmp`` behind).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp's 0600 would hide checkpoints from the group
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

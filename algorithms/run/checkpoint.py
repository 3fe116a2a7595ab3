"""Checkpoint files of :func:`algorithms.run.loop.run_method`: which run, its state, its records.

A checkpoint ``PATH`` is two files:

- ``PATH`` and ``PATH.b``, two slots written in turn: the header line
  ``APGA-CHECKPOINT 2``, a save number, a SHA-256 of the payload, then the payload: one
  pickle of the run state (the method state, the clock, the oracle Generator, the
  totals, the iteration, how many records belong to it) and of the run's **identity**.
  One pickle for the state so that shared references (a scheduler holding the clock)
  stay shared after loading. Loading takes the valid slot with the highest save number,
  so a save torn by a crash leaves the previous one; overwriting a slot in place costs
  a write, where an atomic rename per save cost a millisecond on this machine's disk.
- ``PATH.records``: the header line ``APGA-RECORDS 2`` then one fixed-size binary row
  per :class:`algorithms.run.records.IterationRecord` (64 bytes, little-endian, floats exact).
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
import pickle
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from algorithms.run.records import IterationRecord

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


_HEAD = struct.Struct("<Q32s")  # save number, SHA-256 of the payload


def records_path(path: Path) -> Path:
    return path.with_name(path.name + ".records")


def slots(path: Path) -> tuple[Path, Path]:
    """The two state slots of a checkpoint, written in turn."""
    return path, path.with_name(path.name + ".b")


def exists(path: Path) -> bool:
    """True if a state slot of the checkpoint ``path`` is there (records alone mean the
    run stopped before its first save: there is nothing to resume)."""
    return any(p.exists() for p in slots(path))


def remove(path: Path) -> None:
    """Delete a checkpoint (its slots and records) if present."""
    for p in (*slots(path), records_path(path)):
        p.unlink(missing_ok=True)


def _read_slot(path: Path) -> tuple[int, bytes] | None | str:
    """(save number, payload) of a valid slot; None if absent; a reason if invalid."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    if not data.startswith(MAGIC):
        return "not an apga checkpoint of this version (foreign, older or corrupt file)"
    head = data[len(MAGIC):len(MAGIC) + _HEAD.size]
    if len(head) < _HEAD.size:
        return "truncated"
    number, digest = _HEAD.unpack(head)
    payload = data[len(MAGIC) + _HEAD.size:]
    if hashlib.sha256(payload).digest() != digest:
        return "truncated or corrupt (checksum)"
    return number, payload


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
    shown = str(path)
    found = [_read_slot(p) for p in slots(path)]
    valid = [f for f in found if isinstance(f, tuple)]
    if not valid:
        why = next((f for f in found if isinstance(f, str)), "missing")
        raise CheckpointError(f"checkpoint: {shown} is {why}; delete it or run without "
                              "--resume")
    _, payload = max(valid)
    try:
        blob = pickle.loads(payload)  # noqa: S301 - checksummed payload of our own format
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means corrupt
        raise CheckpointError(f"checkpoint: {shown} is corrupt ({type(exc).__name__}); "
                              "delete it or run without --resume") from None
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
    return {**blob, "records": records, "save_number": max(valid)[0]}


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
    """Saves a run's checkpoints: appends new records, overwrites the older state slot.

    The three files stay open between saves (an ``open`` costs about a millisecond on
    this machine's disk, more than a save itself); every save is flushed to the kernel,
    so it survives the process being killed. Call :meth:`close` at the end.
    """

    def __init__(self, path: Path, ident: Mapping[str, Any], n_written: int,
                 save_number: int = 0, fresh: bool | None = None) -> None:
        self.path = Path(path)
        self.ident = dict(ident)
        self.n_written = n_written
        self.saved_iteration: int | None = None
        self.save_number = save_number
        self.path.parent.mkdir(parents=True, exist_ok=True)
        rec = records_path(self.path)
        self._slots: list[Any] = [None, None]
        if fresh is None:
            fresh = n_written == 0
        if fresh:  # a fresh run: no slot of an older run may outnumber ours
            for slot in slots(self.path):
                slot.unlink(missing_ok=True)
            self._records = open(rec, "wb")  # noqa: SIM115 - held until close()
            self._records.write(RECORDS_MAGIC)
        elif not rec.exists():
            self._records = open(rec, "wb")  # noqa: SIM115 - held until close()
            self._records.write(RECORDS_MAGIC)
        else:  # drop rows written after the state we resume from
            self._records = open(rec, "r+b")  # noqa: SIM115 - held until close()
            self._records.truncate(len(RECORDS_MAGIC) + n_written * ROW.size)
            self._records.seek(0, 2)
        self._records.flush()

    def save(self, state, clock, rng, records, totals, it: int) -> None:
        new = records[self.n_written:]
        if new:
            self._records.write(b"".join(ROW.pack(*_fields(r)) for r in new))
            self._records.flush()
        blob = {"version": FORMAT, "identity": self.ident, "state": state, "clock": clock,
                "rng": rng, "totals": totals, "iteration": it, "n_records": len(records)}
        payload = pickle.dumps(blob, protocol=pickle.HIGHEST_PROTOCOL)
        number = self.save_number + 1
        head = MAGIC + _HEAD.pack(number, hashlib.sha256(payload).digest())
        # Overwrite the slot the last save did not use: the other one stays valid.
        k = (number + 1) % 2  # the first save goes to PATH
        if self._slots[k] is None:
            self._slots[k] = open(slots(self.path)[k], "wb")  # noqa: SIM115
        write_slot(self._slots[k], head + payload)
        self.save_number = number
        self.n_written = len(records)
        self.saved_iteration = it

    def close(self) -> None:
        for fh in (self._records, *self._slots):
            if fh is not None:
                fh.close()


def _fields(r: Any) -> tuple:
    return (r.iteration, r.time, r.gradients_evaluated, r.gradients_simulated,
            r.communications, r.communication_time, r.J, r.grad_norm)


def write_slot(fh: Any, data: bytes) -> None:
    """Overwrite one open state slot in place (a checksum marks a torn write invalid)."""
    fh.seek(0)
    fh.write(data)
    fh.truncate()
    fh.flush()

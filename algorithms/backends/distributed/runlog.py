"""What a real run writes: the records of ``apga train``, the rounds, progress, checkpoints.

Files in the run folder (written by rank 0 in AllReduce mode, by the server in server
mode):

- ``<method>_seed<s>.csv``: one :class:`algorithms.run.IterationRecord` per global
  iteration, the same columns as ``apga train`` (``time`` is wall-clock seconds since the
  start of the run), appended and flushed after every iteration;
- ``rounds.jsonl``: one JSON object per aggregation round, in order (the M_init round
  first): the :class:`algorithms.aggregation.records.RoundRecord` fields plus ``duration``;
- ``events.jsonl``: restarts, agents that left, errors (``{"event": ..., "time": ...}``);
- ``progress.json``: the latest iteration, for the launcher's progress bar;
- ``checkpoint.pkl``: the state after the last completed iteration (AllReduce mode);
- ``summary.json``: written at the end, strict JSON.

Appending makes the per-iteration cost constant; a checkpoint remembers the byte size of
the logs it covers, so a restart truncates whatever the failed attempt appended after it:
completed iterations are neither lost nor repeated.
"""

from __future__ import annotations

import csv
import io
import json
import pickle
from dataclasses import asdict
from pathlib import Path
from typing import Any

from algorithms.run.outputs import atomic_write, write_json
from algorithms.run.records import IterationRecord
from algorithms.run.report import FIELDS
from theory import jsonio

CHECKPOINT = "checkpoint.pkl"
CHECKPOINT_VERSION = 1


def dump_json(path: Path, payload: Any) -> None:
    """Strict JSON, written atomically (:func:`algorithms.run.outputs.write_json`)."""
    write_json(path, payload)


def round_dict(record: Any, iteration: int) -> dict[str, Any]:
    """One line of rounds.jsonl: the RoundRecord, its duration and the global iteration."""
    d = record.to_dict() if hasattr(record, "to_dict") else dict(record)
    d["duration"] = d["end"] - d["start"] if "end" in d and "start" in d else None
    d["global_iteration"] = iteration
    return d


class RunLog:
    """Appends records, rounds and events of one run (one writer process)."""

    def __init__(self, run_dir: Path, method: str, seed: int) -> None:
        self.dir = run_dir
        self.csv = run_dir / f"{method}_seed{seed}.csv"
        self.rounds = run_dir / "rounds.jsonl"
        self.events = run_dir / "events.jsonl"
        if not self.csv.exists():
            with open(self.csv, "w", newline="") as fh:
                csv.DictWriter(fh, fieldnames=FIELDS).writeheader()
        self.rounds.touch()
        self.events.touch()

    def append(self, record: IterationRecord, rounds: list[dict[str, Any]]) -> None:
        buf = io.StringIO()
        csv.DictWriter(buf, fieldnames=FIELDS).writerow(asdict(record))
        _append(self.csv, buf.getvalue())
        _append(self.rounds, "".join(jsonio.dumps(r) + "\n" for r in rounds))

    def event(self, **fields: Any) -> None:
        _append(self.events, jsonio.dumps(fields) + "\n")

    def sizes(self) -> dict[str, int]:
        return {"csv": self.csv.stat().st_size, "rounds": self.rounds.stat().st_size}

    def truncate(self, sizes: dict[str, int]) -> None:
        """Drop what a failed attempt appended after the checkpoint's iteration."""
        for key, path in (("csv", self.csv), ("rounds", self.rounds)):
            with open(path, "r+b") as fh:
                fh.truncate(sizes[key])

    def read_rounds(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.rounds.read_text().splitlines() if line]

    def read_events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.events.read_text().splitlines() if line]

    def progress(self, **fields: Any) -> None:
        dump_json(self.dir / "progress.json", fields)


def _append(path: Path, text: str) -> None:
    # flushed, not fsynced: the fault model is a process that dies, not a machine
    with open(path, "a") as fh:
        fh.write(text)


def save_checkpoint(run_dir: Path, blob: dict[str, Any]) -> None:
    """Atomically replace the run's checkpoint (tmp file private to this process)."""
    atomic_write(run_dir / CHECKPOINT, pickle.dumps({"version": CHECKPOINT_VERSION, **blob},
                                                    protocol=pickle.HIGHEST_PROTOCOL))


def load_checkpoint(run_dir: Path, run_id: str, spec: dict[str, Any]) -> dict[str, Any] | None:
    """The run's checkpoint, or None if there is none; refuses one of another run."""
    path = run_dir / CHECKPOINT
    if not path.exists():
        return None
    try:
        with open(path, "rb") as fh:
            blob = pickle.load(fh)  # noqa: S301 - written by this run (run_id checked below)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a corrupt checkpoint
        raise ValueError(f"checkpoint: {path} is unreadable ({type(exc).__name__})") from None
    if not isinstance(blob, dict) or blob.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"checkpoint: {path} is not an apga launch checkpoint")
    if blob.get("run_id") != run_id or blob.get("spec") != spec:
        raise ValueError(f"checkpoint: {path} belongs to another run (run id or arguments differ)")
    return blob

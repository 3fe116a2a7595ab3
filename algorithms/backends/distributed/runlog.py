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
- ``checkpoint`` (+ ``checkpoint.b``, ``checkpoint.records``): the state after the last
  checkpointed iteration, in :mod:`algorithms.run.checkpoint`'s format (two slots written
  in turn, checksummed, the run's identity inside); see :class:`.loop.RunCheckpoint`;
- ``summary.json``: written at the end, strict JSON, of bounded size: the rounds are
  summarised (:func:`round_stats`, read from ``rounds.jsonl`` line by line), never listed.

Appending makes the per-iteration cost constant; a checkpoint remembers the byte size of
the logs it covers, so a restart truncates whatever the failed attempt appended after it:
completed iterations are neither lost nor repeated.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from algorithms.aggregation.records import RoundRecord
from algorithms.run.outputs import write_json
from algorithms.run.records import IterationRecord
from algorithms.run.report import FIELDS
from theory import jsonio

#: Durations kept for the quantiles of :func:`round_stats` (a uniform sample beyond it).
RESERVOIR = 10_000
#: Events listed in summary.json (all of them are in events.jsonl).
MAX_EVENTS = 100


@dataclass(frozen=True, eq=False)
class RealRound(RoundRecord):
    """A round of a real run: the RoundRecord fields plus what only a real run measures
    (``extra``: e.g. each agent's exit time, who set the stop key, the training return)."""

    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), **self.extra}


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

    def read_events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.events.read_text().splitlines() if line]

    def last_record(self) -> IterationRecord | None:
        """The CSV's last row, read from the end of the file (the CSV may be huge)."""
        return last_csv_record(self.csv)

    def progress(self, **fields: Any) -> None:
        dump_json(self.dir / "progress.json", fields)


def _append(path: Path, text: str) -> None:
    # flushed, not fsynced: the fault model is a process that dies, not a machine
    with open(path, "a") as fh:
        fh.write(text)


def iter_rounds(path: Path) -> Iterator[dict[str, Any]]:
    """The rounds of ``rounds.jsonl`` one at a time (the file is never read whole)."""
    with open(path) as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def read_rounds(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every round of a run (small runs: tests, the validation checks)."""
    return list(iter_rounds(Path(run_dir) / "rounds.jsonl"))


def round_stats(path: Path, n: int, seed: int = 0) -> dict[str, Any]:
    """Summary of every round in ``rounds.jsonl``, read line by line, of bounded size.

    Exact: count, total/mean/min/max duration, per-agent sums of counts, unused,
    cancelled; ``mean_length``, the mean over the rounds after the first (iteration >= 1)
    of their gradients' mean trajectory length (steps / evaluated; None where rounds
    record no steps: tabular runs and calibrations); duration quantiles from every round
    up to :data:`RESERVOIR` rounds, from a uniform sample of that many beyond
    (``quantiles_from`` says which).
    """
    rng = np.random.default_rng(seed)
    sample: list[float] = []
    count = 0
    total = 0.0
    lo, hi = math.inf, -math.inf
    per_agent = np.zeros(n, dtype=np.int64)
    unused = cancelled = 0
    kinds: dict[str, int] = {}
    length_sum, length_rounds = 0.0, 0
    for r in iter_rounds(path):
        it = r.get("global_iteration", r.get("iteration"))
        if r.get("steps") and r.get("evaluated") and it is not None and int(it) >= 1:
            length_sum += float(r["steps"]) / float(r["evaluated"])
            length_rounds += 1
        d = r.get("duration")
        kinds[r.get("kind", "?")] = kinds.get(r.get("kind", "?"), 0) + 1
        per_agent += np.asarray(r.get("counts", [0] * n), dtype=np.int64)[:n]
        unused += int(r.get("unused", 0))
        cancelled += int(r.get("cancelled", 0))
        if d is None:
            continue
        count += 1
        total += d
        lo, hi = min(lo, d), max(hi, d)
        if len(sample) < RESERVOIR:  # Algorithm R (reservoir sampling)
            sample.append(d)
        else:
            j = int(rng.integers(0, count))
            if j < RESERVOIR:
                sample[j] = d
    q = np.quantile(sample, [0.1, 0.5, 0.9]).tolist() if sample else [None] * 3
    return {"count": count, "kinds": kinds, "duration_total": total,
            "duration_mean": total / count if count else None,
            "duration_min": lo if count else None, "duration_max": hi if count else None,
            "duration_p10": q[0], "duration_median": q[1], "duration_p90": q[2],
            "quantiles_from": "every round" if count <= RESERVOIR else
            f"a uniform sample of {RESERVOIR} rounds",
            "counts_total": per_agent.tolist(), "unused": unused, "cancelled": cancelled,
            "mean_length": length_sum / length_rounds if length_rounds else None,
            "mean_length_rounds": length_rounds}


def last_csv_record(path: Path) -> IterationRecord | None:
    """The last row of a records CSV, read from its end."""
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        block = 4096
        data = b""
        while size > 0:
            step = min(block, size)
            size -= step
            fh.seek(size)
            data = fh.read(step) + data
            lines = [x for x in data.splitlines() if x.strip()]
            if len(lines) >= 2 or size == 0:
                break
            block *= 2
    lines = [x for x in data.splitlines() if x.strip()]
    if not lines or lines[-1].startswith(FIELDS[0].encode()):
        return None
    row = next(csv.reader([lines[-1].decode()]))
    types = (int, float, int, int, int, float, float, float)
    return IterationRecord(*(t(v) if v != "" else math.nan for t, v in zip(types, row,
                                                                           strict=True)))

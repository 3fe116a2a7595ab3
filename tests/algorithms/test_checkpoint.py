"""Checkpoint files (algorithms.run.checkpoint): identity, append-only records, bad files."""

from __future__ import annotations

import hashlib
import math
import pickle

import numpy as np
import pytest

from algorithms.methods.registry import get
from algorithms.run import IterationRecord, run_method
from algorithms.run import checkpoint as ck
from algorithms.tabular.setting import TabularSetting

SETTING = TabularSetting(S=5, A=2, H=8, n=4)


def _run(seed=0, **kw):
    oracle, clock, rng, theta0 = SETTING.build(seed)
    return run_method(get("rennala_nigt"), oracle, clock, rng, theta0,
                      max_time=kw.pop("max_time", 40.0), **kw)


def test_records_are_appended_one_row_per_record(tmp_path):
    """Checkpointing every iteration appends 64-byte rows; it never rewrites old ones."""
    path = tmp_path / "c.pkl"
    res = _run(checkpoint=path, checkpoint_every=1)
    body = ck.records_path(path).read_bytes()
    assert body.startswith(ck.RECORDS_MAGIC)
    assert len(body) == len(ck.RECORDS_MAGIC) + ck.ROW.size * len(res.records)
    rows = [ck.ROW.unpack_from(body, len(ck.RECORDS_MAGIC) + i * ck.ROW.size)
            for i in range(len(res.records))]
    assert [IterationRecord(*r) for r in rows] == res.records


def test_rows_hold_floats_exactly_including_nan(tmp_path):
    rec = IterationRecord(3, 0.1 + 0.2, 7, 9, 2, 1e-300, math.nan, 1 / 3)
    (a,) = np.frombuffer(ck.ROW.pack(*ck._fields(rec)), dtype=ck._DTYPE)
    back = IterationRecord(*(x.item() for x in a))
    assert back.time == 0.1 + 0.2 and back.grad_norm == 1 / 3 and math.isnan(back.J)


def test_rows_written_after_the_state_are_dropped_on_resume(tmp_path):
    """A crash between appending records and replacing the state leaves extra rows;
    resuming ignores them and still writes the uninterrupted run's records."""
    full = _run(seed=2)
    path = tmp_path / "c.pkl"
    _run(seed=2, checkpoint=path, checkpoint_every=1, max_iters=4)
    with open(ck.records_path(path), "ab") as fh:  # rows a later, unsaved state wrote
        fh.write(ck.ROW.pack(99, 1.0, 1, 1, 1, 0.0, 0.0, 0.0) * 3)
    resumed = _run(seed=2, checkpoint=path)
    assert resumed.records == full.records


def test_truncated_records_file_is_refused(tmp_path):
    path = tmp_path / "c.pkl"
    _run(checkpoint=path, checkpoint_every=1, max_iters=4)
    rec = ck.records_path(path)
    rec.write_bytes(rec.read_bytes()[:-10])
    with pytest.raises(ck.CheckpointError, match="truncated"):
        _run(checkpoint=path)


def _slot(payload: bytes, digest: bytes | None = None) -> bytes:
    digest = hashlib.sha256(payload).digest() if digest is None else digest
    return ck.MAGIC + ck._HEAD.pack(1, digest) + payload


@pytest.mark.parametrize("content, word", [
    (b"", "not an apga checkpoint"),
    (b"garbage\n", "not an apga checkpoint"),
    (pickle.dumps({"version": 1, "method": "rennala_nigt"}), "not an apga checkpoint"),
    (ck.MAGIC + b"\x80\x05", "truncated"),
    (_slot(pickle.dumps({"identity": {}}), b"0" * 32), "checksum"),
    (_slot(b"\x80\x05not a pickle"), "corrupt"),
    (_slot(pickle.dumps({"identity": {}})), "missing fields"),
])
def test_foreign_and_corrupt_files_are_refused(tmp_path, content, word):
    path = tmp_path / "c.pkl"
    path.write_bytes(content)
    with pytest.raises(ck.CheckpointError, match=word):
        _run(checkpoint=path)


def test_missing_records_file_is_refused(tmp_path):
    path = tmp_path / "c.pkl"
    _run(checkpoint=path, max_iters=2)
    ck.records_path(path).unlink()
    with pytest.raises(ck.CheckpointError, match="records file"):
        _run(checkpoint=path)


def test_state_alternates_between_two_slots_without_leftovers(tmp_path):
    path = tmp_path / "c.pkl"
    _run(checkpoint=path, checkpoint_every=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pkl", "c.pkl.b", "c.pkl.records"]


@pytest.mark.parametrize("torn", [0, 1])
def test_a_torn_save_falls_back_to_the_previous_slot(tmp_path, torn):
    """A crash while a slot is being overwritten leaves a bad checksum there: loading
    takes the other slot (one save older), and the resumed run is still exact."""
    full = _run(seed=3)
    path = tmp_path / "c.pkl"
    _run(seed=3, checkpoint=path, checkpoint_every=1, max_iters=5)
    slot = ck.slots(path)[torn]
    slot.write_bytes(slot.read_bytes()[:-7])
    assert _run(seed=3, checkpoint=path).records == full.records


def test_differences_are_readable():
    a = {"alpha": 0.05, "seed": 5, "clock": "x", "method": "m"}
    b = {"alpha": 0.1, "seed": 4, "clock": "y", "method": "m", "S": 6}
    text = "; ".join(ck.differences(a, b))
    assert "alpha = 0.05 there, 0.1 here" in text and "seed = 5 there, 4 here" in text
    assert "the clock" in text and "S = (not set) there, 6 here" in text


def test_state_slots_do_not_grow_with_the_run(tmp_path):
    """The records live only in the append-only file: a save writes a state of constant
    size, however many iterations came before (the old format re-pickled every record)."""
    sizes = []
    for iters in (5, 60):
        path = tmp_path / f"c{iters}.pkl"
        _run(checkpoint=path, checkpoint_every=1, max_time=1e4, max_iters=iters)
        data = ck.slots(path)[0].read_bytes()
        assert b"IterationRecord" not in data
        sizes.append(len(data))
    assert abs(sizes[1] - sizes[0]) < 64


def test_records_without_a_state_start_afresh(tmp_path):
    """A run killed before its first save leaves only the records file: nothing to
    resume, so the run starts from the beginning (and rewrites that file)."""
    path = tmp_path / "c.pkl"
    ck.records_path(path).write_bytes(ck.RECORDS_MAGIC + b"\0" * 100)
    res = _run(checkpoint=path, max_iters=3)
    assert res.records == _run(max_iters=3).records

"""Output folders and files (algorithms.run.outputs): checked first, locked, one run each."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from algorithms.run.outputs import MANIFEST, OutputDir, write_file


def test_write_file_is_atomic_and_keeps_umask_permissions(tmp_path):
    target = tmp_path / "a.md"
    write_file(target, "one", "--output")
    write_file(target, "two", "--output")
    assert target.read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["a.md"]
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask


def test_full_disk_names_the_flag_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(ValueError, match=r"^--output: cannot write .*No space left"):
        write_file(tmp_path / "a.md", "text", "--output")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_dev_full_is_written_in_place_never_replaced():
    with pytest.raises(ValueError, match="No space left"):
        write_file("/dev/full", "text", "--output")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_another_run_is_refused_naming_what_differs(tmp_path):
    with OutputDir(tmp_path / "o", {"seed": 0, "alpha": 0.05, "time": 10.0}):
        pass
    with pytest.raises(ValueError, match=r"^--out: .* holds another run \(seed = 0 there, 1 here"):
        OutputDir(tmp_path / "o", {"seed": 1, "alpha": 0.05, "time": 10.0}).__enter__()
    # The same run may write again; --resume may extend the budget, not change the run.
    with OutputDir(tmp_path / "o", {"seed": 0, "alpha": 0.05, "time": 10.0}):
        pass
    with pytest.raises(ValueError, match=r"add --resume to continue that run"):
        OutputDir(tmp_path / "o", {"seed": 0, "alpha": 0.05, "time": 20.0}).__enter__()
    with OutputDir(tmp_path / "o", {"seed": 0, "alpha": 0.05, "time": 20.0}, resume=True):
        pass
    held = json.loads((tmp_path / "o" / MANIFEST).read_text())["identity"]
    assert held["time"] == 20.0


def test_second_process_is_refused_while_the_first_writes(tmp_path):
    """flock on <out>/.apga.lock: a second writer is refused with the first one's pid,
    and the lock disappears with the process that held it."""
    out = tmp_path / "o"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from algorithms.run.outputs import OutputDir
            with OutputDir({str(out)!r}, {{"seed": 0}}):
                print("locked", flush=True)
                time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True, env={**os.environ},
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ValueError, match=rf"being written by another apga process \(pid "
                                             rf"{holder.pid}\)"):
            OutputDir(out, {"seed": 0}).__enter__()
    finally:
        holder.kill()
        holder.wait()
    with OutputDir(out, {"seed": 0}):  # kill -9 released it: no stale lock
        pass


@pytest.mark.parametrize("make, word", [
    (lambda p: "", "give a folder name"),
    (lambda p: (p / "f").write_text("x") and str(p / "f"), "exists and is not a folder"),
    (lambda p: (p / "f").write_text("x") and str(p / "f" / "sub"), "under a file"),
])
def test_bad_folders_refused_before_any_work(tmp_path, make, word):
    with pytest.raises(ValueError, match=word):
        OutputDir(make(tmp_path), {}).__enter__()


def test_writing_renames_into_place_and_cleans_up_on_error(tmp_path):
    with OutputDir(tmp_path / "o", {}) as out:
        with out.writing("x.csv") as tmp:
            assert tmp.suffix == ".csv" and tmp.parent == out.path
            tmp.write_text("a")
        with pytest.raises(RuntimeError), out.writing("y.csv") as tmp:
            tmp.write_text("b")
            raise RuntimeError("boom")
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert names == [".apga.lock", MANIFEST, "x.csv"]

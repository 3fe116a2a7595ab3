"""Output folders and files of the CLI: checked before the work, never shared by two runs.

:class:`OutputDir` is what `apga train` and `apga compare` write into:

- **checked first**: the folder is created and a lock file written in it before any
  computation, so an unwritable, read-only or mistyped ``--out`` (an existing file, a
  path under a file) fails in a second with one line naming ``--out``, not after the run;
- **one writer**: an exclusive ``flock`` on ``<out>/.apga.lock`` refuses a second process
  writing into the same folder at the same time (the kernel releases it when a process
  dies, even by kill -9, so there is no stale lock to clean up);
- **one run**: ``<out>/apga-run.json`` records the run the folder holds (command, setting,
  hyperparameters, seeds, budget). Another run into the same folder is refused with one
  line naming what differs; the same run may write again (identical outputs), and
  ``--resume`` may extend its budget (``--time``, ``--iterations``);
- **atomic files**: every file is written to a temporary file unique to the process and
  renamed over the target; on a write error (full disk, permissions) the temporary file
  is removed and the error names ``--out``.

:func:`write_file` does the same for single-file outputs (``apga tables --output``).

The one home for files: :func:`atomic_write` (bytes or text through a temporary file
renamed over the target) and :func:`write_json` (strict JSON, :mod:`theory.jsonio`, written
atomically) are what every part of apga writes its files with; :class:`OutputDir` holds the
one folder lock.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from theory import jsonio

MANIFEST = "apga-run.json"
LOCK = ".apga.lock"


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def prepare_dir(path: str | Path, flag: str) -> Path:
    """Create the folder ``path`` (and parents); ValueError naming ``flag`` if impossible."""
    text = str(path)
    if not text.strip():
        raise ValueError(f"{flag}: give a folder name, got {text!r}")
    p = Path(text)
    if p.exists() and not p.is_dir():
        raise ValueError(f"{flag}: {text!r} exists and is not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ValueError(f"{flag}: {text!r} is under a file, not a folder") from None
    except OSError as exc:
        if exc.errno == errno.ENOTDIR:
            raise ValueError(f"{flag}: {text!r} is under a file, not a folder") from None
        raise ValueError(f"{flag}: cannot create {text!r} ({_why(exc)})") from None
    return p


def writable_dir(path: str | Path, flag: str) -> Path:
    """:func:`prepare_dir`, then prove the folder writable by creating and removing a file
    in it (a read-only folder that already exists passes ``mkdir``); used before work that
    would be lost if its outputs could not be written (``apga launch``, ``apga calibrate``)."""
    p = prepare_dir(path, flag)
    try:
        _temporary(p / ".apga-probe").unlink()
    except OSError as exc:
        raise ValueError(f"{flag}: cannot write in {str(p)!r} ({_why(exc)})") from None
    return p


def write_file(path: str | Path, data: str | bytes, flag: str) -> Path:
    """Write one output file, atomically where possible; ValueError naming ``flag``.

    A regular or new file is written through a temporary file in the same folder and
    renamed; an existing non-regular file (``/dev/stdout``, ``/dev/full``) is written in
    place (never replaced). Errors (a directory, a missing folder, no permission, a full
    disk) name ``flag`` and leave no temporary file.
    """
    text = str(path)
    if not text.strip():
        raise ValueError(f"{flag}: give a file name, got {text!r}")
    p = Path(text)
    if p.is_dir():
        raise ValueError(f"{flag}: {text!r} is a folder; give a file name")
    if not p.parent.is_dir():
        raise ValueError(f"{flag}: folder {str(p.parent)!r} does not exist")
    raw = data.encode() if isinstance(data, str) else data
    try:
        if p.exists() and not p.is_file():
            with open(p, "wb") as fh:
                fh.write(raw)
        else:
            _atomic(p, lambda tmp: tmp.write_bytes(raw))
    except OSError as exc:
        raise ValueError(f"{flag}: cannot write {text!r} ({_why(exc)})") from None
    return p


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temporary(target: Path) -> Path:
    """A new empty file next to ``target``, unique to this process, with the permissions
    a plain ``open`` would give (mkstemp's are 0600)."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.",
                                suffix=target.suffix)
    os.close(fd)
    os.chmod(name, 0o666 & ~_umask())
    return Path(name)


def atomic_write(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` atomically: readers see the old file or the new one,
    never a part (a temporary file unique to this process, renamed over ``path``)."""
    p = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    _atomic(p, lambda tmp: tmp.write_bytes(raw))
    return p


def write_json(path: str | Path, payload: Any, *, indent: int | None = 2,
               sort_keys: bool = False) -> Path:
    """Strict JSON (no NaN/Infinity: null plus a ``*_reason``, :mod:`theory.jsonio`),
    written atomically; the folder is created if missing."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(p, jsonio.dumps(payload, indent=indent, sort_keys=sort_keys) + "\n")


def _atomic(path: Path, write: Callable[[Path], Any]) -> None:
    """``write(tmp)`` then rename tmp over ``path``; tmp is unique and removed on failure.

    The temporary name keeps the suffix (matplotlib picks the format from it).
    """
    tmp = _temporary(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def lock_folder(path: Path, flag: str):
    """Take the exclusive lock of folder ``path`` (``<path>/.apga.lock``, ``flock``);
    returns the open lock file (closing it releases the lock; so does the process's
    death). ValueError naming ``flag`` if another process holds it or the folder cannot
    take the file. The one folder lock of the project: ``apga train``/``compare``
    (:class:`OutputDir`) and ``apga launch`` use it."""
    import fcntl

    lock = Path(path) / LOCK
    try:
        fh = open(lock, "a+")  # noqa: SIM115 - held for the whole run
    except OSError as exc:
        raise ValueError(f"{flag}: cannot write into {str(path)!r} "
                         f"({_why(exc)})") from None
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.seek(0)
        pid = fh.read().strip() or "?"
        fh.close()
        raise ValueError(
            f"{flag}: {str(path)!r} is being written by another apga process "
            f"(pid {pid}); wait for it to finish or choose another {flag}") from None
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
    except OSError as exc:
        fh.close()
        raise ValueError(f"{flag}: cannot write into {str(path)!r} "
                         f"({_why(exc)})") from None
    return fh


class OutputDir:
    """A locked output folder holding one run's files (see the module docstring).

    ``identity`` describes the run; ``continuable`` lists identity keys that ``--resume``
    may change (the budget).
    """

    def __init__(self, path: str | Path, identity: Mapping[str, Any], *, resume: bool = False,
                 flag: str = "--out", continuable: tuple[str, ...] = ("time", "iterations")
                 ) -> None:
        self.flag = flag
        self.identity = jsonio.strict(dict(identity))
        self.resume = resume
        self.continuable = continuable
        self._given = str(path)
        self.path = Path(self._given)
        self._lock_fh = None

    def __enter__(self) -> OutputDir:
        self.path = prepare_dir(self._given, self.flag)
        self._lock()
        try:
            self._claim()
        except BaseException:
            self._unlock()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._unlock()

    def _lock(self) -> None:
        self._lock_fh = lock_folder(self.path, self.flag)

    def _unlock(self) -> None:
        if self._lock_fh is not None:
            self._lock_fh.close()  # closing releases the flock
            self._lock_fh = None

    def _claim(self) -> None:
        """Refuse another run's folder; record ours."""
        import json

        manifest = self.path / MANIFEST
        if manifest.exists():
            try:
                held = json.loads(manifest.read_text()).get("identity", {})
            except (OSError, ValueError, AttributeError):
                held = None
            if not isinstance(held, dict):
                raise ValueError(f"{self.flag}: {str(manifest)!r} is unreadable; delete it or "
                                 f"choose another {self.flag}")
            diff = [k for k in {**held, **self.identity}
                    if held.get(k) != self.identity.get(k)]
            blocking = [k for k in diff if not (self.resume and k in self.continuable)]
            if blocking:
                shown = "; ".join(f"{k} = {held.get(k)!r} there, {self.identity.get(k)!r} "
                                  "here" for k in blocking[:4])
                hint = (" (add --resume to continue that run)" if
                        all(k in self.continuable for k in blocking) else "")
                raise ValueError(
                    f"{self.flag}: {str(self.path)!r} holds another run ({shown}){hint}; "
                    f"choose another {self.flag} or delete that folder")
        self.write_text(MANIFEST, jsonio.dumps({"identity": self.identity}, indent=2,
                                              sort_keys=True) + "\n")

    # -- files ---------------------------------------------------------------------
    def file(self, name: str) -> Path:
        return self.path / name

    @contextlib.contextmanager
    def writing(self, name: str) -> Iterator[Path]:
        """Yield a temporary path to write ``name`` to; renamed into place on success."""
        target = self.file(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            tmp = _temporary(target)
        except OSError as exc:
            raise ValueError(f"{self.flag}: cannot write {str(target)!r} "
                             f"({_why(exc)})") from None
        try:
            yield tmp
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ValueError(f"{self.flag}: cannot write {str(target)!r} "
                             f"({_why(exc)})") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def write_text(self, name: str, text: str) -> Path:
        with self.writing(name) as tmp:
            tmp.write_text(text)
        return self.file(name)

    def write_json(self, name: str, payload: Any) -> Path:
        return self.write_text(name, jsonio.dumps(payload, indent=2, sort_keys=True) + "\n")

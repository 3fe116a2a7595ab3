"""Reading the small text files users hand to apga (cluster files, lists of times).

:func:`read_text` refuses, with one line naming the option, anything that is not a regular
file before opening it (a FIFO would block the reader forever, ``/dev/zero`` would be read
until memory runs out: their ``st_size`` is 0), reads at most ``max_bytes`` (one byte more
tells that a file is too large, whatever its size claims), and refuses binary and
non-UTF-8 content. Standard library only.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_text(path: str | os.PathLike, name: str, max_bytes: int, what: str = "file") -> str:
    """The UTF-8 text of the regular file ``path`` (at most ``max_bytes``; a BOM is dropped).

    ``name`` starts every error message (the option that gave the path); ``what`` says
    what the file should be ("cluster file", "file of times").
    """
    text = str(path)
    if not text.strip():
        raise ValueError(f"{name}: give a file name, got {text!r}")
    shown = repr(text)
    try:
        st = os.stat(text)
    except FileNotFoundError:
        raise ValueError(f"{name}: {shown}: no such file") from None
    except OSError as exc:
        raise ValueError(f"{name}: {shown}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise ValueError(f"{name}: {shown}: is a directory, not a {what}")
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{name}: {shown}: is {_kind(st.st_mode)}, not a {what} "
                         "(give a regular file)")
    if st.st_size > max_bytes:
        raise ValueError(f"{name}: {shown}: {st.st_size} bytes exceed the limit of {max_bytes}")
    try:
        with open(Path(text), "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise ValueError(f"{name}: {shown}: cannot read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise ValueError(f"{name}: {shown}: larger than the limit of {max_bytes} bytes")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ValueError(f"{name}: {shown}: binary file (NUL byte at offset {nul}), "
                         f"expected a {what} (text)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name}: {shown}: not UTF-8 text (invalid byte at offset "
                         f"{exc.start})") from None

"""Whether a process is alive: used by the launcher, the start-up roll call and the tests."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """True while process ``pid`` exists and is not a zombie (a process we may not signal
    counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    try:  # a zombie is dead
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True

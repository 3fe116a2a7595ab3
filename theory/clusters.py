"""Named computation-time profiles and parsing of user-given times.

Profiles (Appendix H uses the first two): ``equal`` h_i = 1, ``sqrt`` h_i = sqrt(i),
``quarter`` h_i = i^(1/4), for i = 1..n.

Paper: Appendix H (h_i = 1 and h_i = sqrt(i), n = 10 and n = 100).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from theory import checks
from theory.files import read_text

PROFILES = ("equal", "sqrt", "quarter")
_EXPONENT = {"equal": 0.0, "sqrt": 0.5, "quarter": 0.25}
#: Most agents a cluster may have: `apga predict` holds a few float arrays of n entries
#: (about 27 bytes per agent: 270 MB and 1.5 s at 10^7); 10^8 would take minutes and GBs.
MAX_AGENTS = 10**7
AGENTS_WHY = "a cluster's arrays take ~27 bytes per agent; 10^7 agents take 1.5 s"
#: Largest times file read (bytes): 10^7 numbers of up to 25 characters.
MAX_FILE_BYTES = 256 * 2**20


def profile(name: str, n: int) -> np.ndarray:
    """Times h_i = i^p for i = 1..n with p = 0 (equal), 1/2 (sqrt) or 1/4 (quarter).

    The one implementation of the named profiles: import it rather than repeat it.

    Notes
    -----
    equal: :math:`h_i = 1`; sqrt: :math:`h_i = \\sqrt{i}`; quarter: :math:`h_i = i^{1/4}`.

    Paper: Appendix H (Figures 1-8: h_i = 1, h_i = sqrt(i), h_i = i^{1/4}).
    """
    checks.choice("profile", name, PROFILES)
    n = checks.count("n", n, maximum=MAX_AGENTS, why=AGENTS_WHY)
    return np.arange(1, n + 1, dtype=float) ** _EXPONENT[name]


def parse_times(text: str, name: str = "h") -> np.ndarray:
    """Numbers separated by commas, whitespace or newlines ('#' starts a comment)."""
    body = "\n".join(line.split("#", 1)[0] for line in str(text).splitlines())
    tokens = [t for t in re.split(r"[,\s;]+", body) if t]
    if len(tokens) > MAX_AGENTS:
        raise ValueError(f"{name}: {len(tokens)} times; at most {MAX_AGENTS} agents are "
                         "supported")
    values = []
    for t in tokens:
        try:
            values.append(float(t))
        except ValueError:
            raise ValueError(f"{name}: {t!r} is not a number") from None
    return checks.times(name, values)


def read_times(path: str | Path, name: str = "h_file") -> np.ndarray:
    """:func:`parse_times` of a UTF-8 text file.

    A ValueError naming ``name`` says what is wrong: missing, a directory, unreadable,
    larger than :data:`MAX_FILE_BYTES`, binary or not UTF-8, or not numbers.
    """
    text = read_text(path, name, MAX_FILE_BYTES, "file of times")
    values = parse_times(text, name)
    if values.size > MAX_AGENTS:
        raise ValueError(f"{name}: {values.size} times; at most {MAX_AGENTS} agents are "
                         "supported")
    return values

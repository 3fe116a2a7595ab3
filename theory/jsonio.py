"""Strict JSON: every file and ``--json`` output parses with any JSON parser.

Python's ``json`` writes ``NaN`` and ``Infinity``, which strict parsers reject (and jq
turns into 1.797e308). :func:`strict` replaces a non-finite number by ``null`` and adds a
sibling ``"<key>_reason"`` saying what it was (``"inf"``, ``"-inf"`` or ``"nan"``) unless
the caller already gave a reason; :func:`dumps` serialises with ``allow_nan=False`` so
that a value that slipped through fails loudly instead of writing non-standard JSON.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np


def _reason(x: float) -> str:
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _plain(x: Any) -> Any:
    """numpy scalars and arrays as Python numbers and lists; tuples as lists."""
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    return x


def strict(x: Any) -> Any:
    """A copy of ``x`` with non-finite floats replaced by None (and a ``_reason`` key)."""
    x = _plain(x)
    if isinstance(x, dict):
        out: dict[str, Any] = {}
        for key, value in x.items():
            value = _plain(value)
            if isinstance(value, float) and not math.isfinite(value):
                out[str(key)] = None
                out.setdefault(f"{key}_reason", _reason(value))
            elif isinstance(value, (list, tuple)) and any(
                isinstance(_plain(v), float) and not math.isfinite(_plain(v)) for v in value
            ):
                kinds = sorted({_reason(_plain(v)) for v in value
                                if isinstance(_plain(v), float) and not math.isfinite(_plain(v))})
                out[str(key)] = strict(list(value))
                out.setdefault(f"{key}_reason", f"null entries were {'/'.join(kinds)}")
            else:
                out[str(key)] = strict(value)
        for key in x:  # an explicit reason given by the caller wins over ours
            if isinstance(key, str) and key.endswith("_reason") and key in out:
                out[key] = x[key]
        return out
    if isinstance(x, (list, tuple)):
        return [strict(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def dumps(x: Any, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`strict` (x), never writing NaN or Infinity."""
    kwargs.setdefault("default", str)
    return json.dumps(strict(x), allow_nan=False, **kwargs)

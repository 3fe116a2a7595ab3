"""Parse-time validators for numeric options: ``type=`` callables for argparse.

A bad value is refused while the command line is parsed, before any work, with one line
naming the option (argparse prefixes ``argument --M:``). Integers are checked exactly
(10**400 is refused, never converted to a float that overflows); floats reject NaN and
+-inf unless allowed, and values outside their range.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from theory import checks


def _show(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")


def integer(minimum: int = 1, maximum: int = checks.MAX_COUNT, why: str = "") -> Callable:
    """An argparse type: an integer in [minimum, maximum] ("1e3" is accepted as 1000).

    ``why`` explains the maximum in the message (e.g. what the limit protects).
    """

    def parse(text: str) -> int:
        try:
            return checks.count("value", text.strip() if isinstance(text, str) else text,
                                minimum, maximum)
        except ValueError:
            pass
        upper = f" and <= {maximum}" if maximum < checks.MAX_COUNT else ""
        reason = f" ({why})" if why and maximum < checks.MAX_COUNT else ""
        raise argparse.ArgumentTypeError(
            f"must be an integer >= {minimum}{upper}{reason}, got {_show(text)}")

    parse.__name__ = "integer"
    return parse


def real(
    minimum: float = -math.inf,
    maximum: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
    why: str = "",
) -> Callable:
    """An argparse type: a float in the interval given (finite unless ``allow_inf``)."""

    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    if minimum == -math.inf and maximum == math.inf:
        what = "a finite number"
    elif maximum == math.inf:
        what = f"a number {'>' if low_open else '>='} {minimum:g}"
    elif minimum == -math.inf:
        what = f"a number {'<' if high_open else '<='} {maximum:g}"
    else:
        what = f"a number in {lo}{minimum:g}, {maximum:g}{hi}"
    if not allow_inf and "finite" not in what:
        what = f"a finite {what[2:]}"
    reason = f" ({why})" if why else ""

    def parse(text: str) -> float:
        try:
            x = float(text)
        except (TypeError, ValueError, OverflowError):
            x = math.nan
        ok = not math.isnan(x) and (allow_inf or math.isfinite(x))
        ok = ok and (x > minimum if low_open else x >= minimum)
        ok = ok and (x < maximum if high_open else x <= maximum)
        if not ok:
            raise argparse.ArgumentTypeError(f"must be {what}{reason}, got {_show(text)}")
        return x

    parse.__name__ = "number"
    return parse


def positive(**kw) -> Callable:
    """A finite float > 0."""
    return real(0.0, low_open=True, **kw)


def nonempty(text: str) -> str:
    """A string option that must not be empty or blank (names, lists, profiles)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text.strip()


nonempty.__name__ = "text"

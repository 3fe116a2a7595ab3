"""``--cluster FILE``: the one description of a cluster that every command reads.

A cluster file (``docs/wallclock.md``, :mod:`theory.cluster_file`) gives per-agent h_i
(seconds per stochastic gradient), kappa_i (seconds per vector communication) and one
timing model. ``--cluster FILE`` is equivalent to the matching flags ``--h``,
``--kappa``, ``--timing`` (``--log-sigma``, ``--jitter``) with the file's values, and
replaces them: giving one of those flags together with ``--cluster`` is an error (exit 2)
naming both. The number of agents is the file's number of rows.

Wiring a command (``apga experiment`` and ``apga launch`` do it the same way)::

    from algorithms.cli._cluster import add_cluster_argument, cluster_from_args

    def add_arguments(p):
        p.add_argument("--h", default=None, ...)   # replaced flags must default to None
        add_cluster_argument(p)

    def run(args):
        spec = cluster_from_args(args)             # ClusterSpec, or None without --cluster
        if spec is not None:
            clock = make_clock(**spec.clock_kwargs(), seed=seed)

This module imports only argparse at load time: every command's parser, ``apga predict``'s
included, is built with it.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

#: Flags (argparse dests) that --cluster replaces.
REPLACED = ("h", "h_file", "profile", "n", "kappa", "timing", "log_sigma", "jitter")

HELP = ("cluster file (CSV: h, kappa per agent in seconds, optional timing model; see "
        "docs/wallclock.md); replaces --h, --kappa, --timing and --n")


def add_cluster_argument(parser: argparse.ArgumentParser | Any) -> None:
    """Add ``--cluster FILE`` (default None) to a parser or an argument group."""
    parser.add_argument("--cluster", default=None, metavar="FILE", help=HELP)


def cluster_from_args(args: argparse.Namespace, replaced: Iterable[str] = REPLACED):
    """The :class:`theory.cluster_file.ClusterSpec` of ``--cluster``, or None without it.

    Raises a one-line ValueError when the file is bad (naming the file and row) or when a
    flag it replaces was given too (a replaced flag counts as given when it is not None).
    """
    path = getattr(args, "cluster", None)
    if path is None:
        return None
    for dest in replaced:
        if getattr(args, dest, None) is not None:
            flag = "--" + dest.replace("_", "-")
            raise ValueError(f"cluster: --cluster replaces {flag}; give one or the other")
    from theory.cluster_file import read_cluster

    return read_cluster(path)


def setting_fields(spec) -> dict[str, Any]:
    """The cluster as :class:`algorithms.setting.TabularSetting` fields (exact: repr floats)."""
    return {
        "n": spec.n,
        "h": ",".join(repr(float(x)) for x in spec.h),
        "kappa": ",".join(repr(float(x)) for x in spec.kappa),
        "timing": spec.timing,
        "timing_options": dict(spec.options) or None,
    }

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

It also defines ``apga predict``'s seconds flags (:func:`add_seconds_arguments`); the
section itself lives in :mod:`algorithms.cli._wallclock`, imported only when asked for.
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
        "docs/wallclock.md)")


def add_cluster_argument(parser: argparse.ArgumentParser | Any) -> None:
    """Add ``--cluster FILE`` (default None) to a parser or an argument group; its help
    names the flags it replaces among those the parser has (add them first)."""
    have = getattr(parser, "_option_string_actions", {})
    flags = [f for f in ("--h", "--h-file", "--profile", "--n", "--kappa", "--timing")
             if f in have]
    more = f"; replaces {', '.join(flags)}" if flags else ""
    parser.add_argument("--cluster", default=None, metavar="FILE", help=HELP + more)


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


# --- apga predict's seconds section (kept here: this module is light) ----------------------
#: argparse dests whose presence turns the seconds section on (--out and --sweep-points
#: alone are then refused: they only make sense with --sweep).
TRIGGERS = ("cluster", "timing", "log_sigma", "jitter", "M", "M_init", "iterations", "batch",
            "seed", "rounds", "sweep", "sweep_points", "out", "alpha", "mode", "eta")


def add_seconds_arguments(p: argparse.ArgumentParser) -> None:
    """``apga predict``'s seconds flags (``docs/wallclock.md``), --cluster among them."""
    g = p.add_argument_group(
        "seconds on the simulated clock (any of these adds the section; h_i are then seconds "
        "per stochastic gradient, kappa_i seconds per vector; see docs/wallclock.md)"
    )
    add_cluster_argument(g)
    g.add_argument("--wallclock", action="store_true",
                   help="predict seconds for the cluster given by --h/--kappa/--profile")
    g.add_argument("--timing", default=None,
                   help="fixed | exponential | lognormal | uniform (default fixed)")
    g.add_argument("--log-sigma", default=None, help="lognormal spread (default 0.5)")
    g.add_argument("--jitter", default=None, help="uniform jitter in [0, 1) (default 0.5)")
    g.add_argument("--M", dest="M", default=None,
                   help="batch of every round, or 'theory' (Theorem 4.2; default: each "
                   "method's, as apga launch)")
    g.add_argument("--M-init", dest="M_init", default=None,
                   help="batch of the first round, or 'theory' (default: each method's)")
    g.add_argument("--batch", default=None,
                   help="Synchronized NIGT: gradients per agent per round (default 1)")
    g.add_argument("--iterations", default=None,
                   help="iterations K of the run (default: T of Theorem 4.1 per method)")
    g.add_argument("--alpha", default=None,
                   help="step size of the run, or 'theory' (with a calibrated cluster: how "
                   "fast the pilot's trajectory lengths move; default: each method's)")
    g.add_argument("--eta", default=None,
                   help="momentum of the run, or 'theory' (reported; default: each method's)")
    g.add_argument("--mode", default=None,
                   help="allreduce | server: the mode of the runs (with a calibrated "
                   "cluster; a method that does not run in it keeps its own; default: the "
                   "file's)")
    g.add_argument("--seed", default=None, help="seed of the simulated clock (default 0)")
    g.add_argument("--rounds", default=None,
                   help="simulated rounds with random timing (default 100; fewer above "
                        "10,000 agents)")
    g.add_argument("--sweep", default=None,
                   help="n=A..B (first n agents; a --profile is extended) or eps=A..B "
                        "(log-spaced): PNG + CSV of predicted run seconds per method")
    g.add_argument("--sweep-points", default=None,
                   help="points of the sweep (default: every n up to 50, else 50; 13 for eps)")
    g.add_argument("--out", default=None,
                   help="folder for sweep files (default runs/predict; a new sub-folder per run)")


def seconds_requested(args: argparse.Namespace) -> bool:
    """True when the seconds section was asked for (a trigger flag was given)."""
    return bool(getattr(args, "wallclock", False)) or any(
        getattr(args, k, None) is not None for k in TRIGGERS)

"""Cluster files: one CSV row per agent with its measured times, read and written here only.

Format (documented in ``docs/wallclock.md``)::

    # any number of comment lines (what was measured, where, when)
    agent,h,kappa,timing,log_sigma
    rank0@node1,0.0132,0.0021,lognormal,0.3
    rank1@node1,0.0141,0.0023,lognormal,0.3

- ``h`` (required): seconds per stochastic gradient g_H on agent i, i.e. h_i = \\dot h_i H
  of Assumption 2.5 at the run's horizon H; finite, > 0.
- ``kappa`` (required): seconds to send one vector between agent i and the server
  (kappa_i of Section H; Assumption 2.5 is kappa_i = kappa); finite, >= 0.
- ``agent`` (optional): a label (rank, host); kept, not interpreted.
- ``timing`` (optional, default ``fixed``): ``fixed`` | ``exponential`` | ``lognormal`` |
  ``uniform``, the duration model of :mod:`algorithms.sim.timing` (mean h_i).
- ``log_sigma`` (lognormal) and ``jitter`` (uniform, in [0, 1)): the model's parameter;
  an empty cell means the default (0.5).

Companion cost file (``apga calibrate`` writes it next to the CSV: ``my.csv`` ->
``my.cost.json``, :func:`cost_path`): strict JSON with what the cost model of
:mod:`algorithms.wallclock.cost` needs and the CSV cannot hold: every agent's measured
gradient times (the ``empirical`` timing model), trajectory lengths and step times, the
communication primitives (all_reduce and broadcast by size and number of agents, the stop
signal, the per-gradient ticket, per-agent messages to a server), real rounds of each
aggregation pattern and an optional pilot. The CSV stays a complete cluster file on its
own (h, kappa, a parametric timing model) for every command; :func:`read_cost` reads the
companion (its top level is checked here, the rest by the cost model) and
``read_cluster(path, empirical=True)`` gives the cluster with the ``empirical`` model.

One timing model per file: the simulated clock draws every agent's durations from one
model with one parameter (:func:`algorithms.sim.clock.make_clock`), so ``timing``,
``log_sigma`` and ``jitter`` must be the same on every row; a row that differs is an error
naming it. Lines starting with ``#`` are comments (kept in order); blank lines are
skipped. Every problem with a file raises one :class:`ValueError` line naming the file
and, where there is one, the row (agent number, 1-based), the line and the column.

Pure numpy and the standard library: ``apga predict`` imports it without slowing down.

Paper: Assumption 2.5 (h_i = \\dot h_i H, kappa), Section H (per-agent kappa_i).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from theory import checks
from theory.files import read_text

COLUMNS = ("agent", "h", "kappa", "timing", "log_sigma", "jitter")
REQUIRED = ("h", "kappa")
#: The models of :data:`algorithms.sim.timing.TIMING_MODELS` (a test keeps the two equal;
#: ``theory`` does not import ``algorithms``).
TIMING_MODELS = ("fixed", "exponential", "lognormal", "uniform")
#: The model that resamples measured durations (:data:`algorithms.sim.timing.EMPIRICAL`):
#: a ClusterSpec may use it with ``samples``; a CSV cannot hold the samples.
EMPIRICAL = "empirical"
#: The companion cost file: its format tag, version and size limit.
COST_FORMAT = "apga-cost"
COST_VERSION = 1
COST_SUFFIX = ".cost.json"
MAX_COST_BYTES = 256 * 2**20
#: Which model each option column belongs to, and its default (as algorithms.sim.timing).
OPTION_MODEL = {"log_sigma": "lognormal", "jitter": "uniform"}
OPTION_DEFAULT = {"log_sigma": 0.5, "jitter": 0.5}
#: Refused up front: more agents than this (the clock keeps several arrays of length n),
#: a file larger than MAX_BYTES, or a time above MAX_SECONDS (31.7 years: a unit error).
MAX_AGENTS = 1_000_000
MAX_BYTES = 128 * 2**20
MAX_SECONDS = 1e9
#: Longest agent label (a rank and host name fit many times over).
MAX_LABEL = 4096

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


@dataclass(frozen=True, eq=False)
class ClusterSpec:
    """A described cluster: per-agent times in seconds and one timing model.

    h:        seconds per stochastic gradient g_H, h_i (> 0, finite), shape (n,)
    kappa:    seconds per vector communication, kappa_i (>= 0, finite), shape (n,)
    timing:   duration model of every agent (``fixed`` | ``exponential`` | ``lognormal`` |
              ``uniform``), mean h_i
    options:  the model's parameter if given: ``log_sigma`` (lognormal) or ``jitter``
              (uniform); absent means the default 0.5
    agents:   optional labels, one per agent (stripped; no line breaks or NUL)
    comments: the file's comment lines (without the leading ``#``), in order
    source:   the file it was read from, if any
    samples:  with timing ``empirical``: each agent's measured seconds per gradient (a
              tuple of read-only arrays; the clock resamples them scaled to mean h_i)

    Arrays are read-only copies. :meth:`clock_kwargs` gives the arguments of
    :func:`algorithms.sim.clock.make_clock`.
    """

    h: np.ndarray
    kappa: np.ndarray
    timing: str = "fixed"
    options: Mapping[str, float] = field(default_factory=dict)
    agents: tuple[str, ...] | None = None
    comments: tuple[str, ...] = ()
    source: str | None = None
    samples: tuple[np.ndarray, ...] | None = None

    def __post_init__(self) -> None:
        h = _bounded("h", checks.times("h", self.h))
        kappa = checks.times("kappa", self.kappa, allow_zero=True)
        if kappa.size == 1 and h.size > 1:
            kappa = np.full(h.size, kappa[0])
        checks.same_length(("kappa", "h"), kappa, h)
        _bounded("kappa", kappa)
        if h.size > MAX_AGENTS:
            raise ValueError(f"h: {h.size} agents exceed the limit of {MAX_AGENTS}")
        checks.choice("timing", self.timing, (*TIMING_MODELS, EMPIRICAL))
        samples = None
        if self.timing == EMPIRICAL:
            if self.samples is None:
                raise ValueError("samples: timing 'empirical' needs each agent's measured "
                                 "seconds per gradient")
            samples = tuple(_bounded(f"samples[{i}]", checks.times(f"samples[{i}]", t))
                            for i, t in enumerate(self.samples))
            checks.same_length(("samples", "h"), samples, h)
            for arr in samples:
                arr.setflags(write=False)
        elif self.samples is not None:
            raise ValueError(f"samples: only for timing 'empirical', not {self.timing!r}")
        object.__setattr__(self, "samples", samples)
        options = {}
        for key, value in dict(self.options).items():
            if OPTION_MODEL.get(key) != self.timing:
                raise ValueError(f"{key}: not an option of timing {self.timing!r}")
            options[key] = check_option(key, value)
        agents = None if self.agents is None else tuple(_label(a) for a in self.agents)
        if agents is not None:
            checks.same_length(("agents", "h"), agents, h)
        for name, arr in (("h", h), ("kappa", kappa)):
            arr = np.array(arr, dtype=float)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "options", MappingProxyType(options))
        object.__setattr__(self, "agents", agents)
        object.__setattr__(self, "comments", tuple(str(c) for c in self.comments))

    @property
    def n(self) -> int:
        return int(self.h.size)

    def first(self, n: int) -> ClusterSpec:
        """The cluster of the first ``n`` agents (for sweeps over n)."""
        n = checks.count("n", n)
        if n > self.n:
            raise ValueError(f"n: the cluster has {self.n} agents, asked for the first {n}")
        return self.subset(range(n))

    def subset(self, agents) -> ClusterSpec:
        """The cluster of the given agents (indices, in that order)."""
        idx = [int(i) for i in agents]
        if not idx:
            raise ValueError("agents: choose at least one agent")
        labels = None if self.agents is None else tuple(self.agents[i] for i in idx)
        samples = None if self.samples is None else tuple(self.samples[i] for i in idx)
        return ClusterSpec(self.h[idx], self.kappa[idx], self.timing, dict(self.options),
                           labels, self.comments, self.source, samples)

    def clock_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`algorithms.sim.clock.make_clock` for this cluster."""
        out = {"h": np.array(self.h), "kappa": np.array(self.kappa), "timing": self.timing,
               **self.options}
        if self.samples is not None:
            out["samples"] = [np.array(t) for t in self.samples]
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (lists of floats; strict JSON: all finite)."""
        return {"n": self.n, "h": self.h.tolist(), "kappa": self.kappa.tolist(),
                "timing": self.timing, "options": dict(self.options),
                "agents": None if self.agents is None else list(self.agents),
                "comments": list(self.comments), "source": self.source,
                "samples": None if self.samples is None else [t.tolist() for t in self.samples]}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ClusterSpec):
            return NotImplemented
        return (np.array_equal(self.h, other.h) and np.array_equal(self.kappa, other.kappa)
                and self.timing == other.timing and dict(self.options) == dict(other.options)
                and self.agents == other.agents and self.comments == other.comments
                and _same_samples(self.samples, other.samples))

    __hash__ = None  # type: ignore[assignment]  # mutable-looking arrays: not hashable


def check_option(key: str, value: object) -> float:
    """A timing option's value: log_sigma >= 0 finite; jitter in [0, 1) (durations > 0)."""
    x = checks.nonnegative(key, value)
    if key == "jitter" and x >= 1:
        raise ValueError(f"jitter must lie in [0, 1) so that durations stay > 0, got {x!r}")
    return x


def _same_samples(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def read_cluster(path: str | os.PathLike, name: str = "cluster", *,
                 empirical: bool = False) -> ClusterSpec:
    """Read a cluster file; one-line ValueError naming the file (and row, line, column).

    ``name`` starts every message (the CLI passes the flag's name). With ``empirical``,
    the cluster uses the ``empirical`` timing model with the measured samples of the
    companion cost file (:func:`cost_path`; an error naming it when it is missing or has
    no samples) instead of the CSV's parametric model.
    """
    path = Path(path)
    where = f"{name}: {str(path)!r}"
    spec = _parse(read_text(path, name, MAX_BYTES, "cluster file"), where, str(path))
    if not empirical:
        return spec
    cost = read_cost(cost_path(path), name)
    samples = cost.get("gradient", {}).get("seconds") if isinstance(cost.get("gradient"),
                                                                      dict) else None
    cwhere = f"{name}: {str(cost_path(path))!r}"
    if not isinstance(samples, list) or len(samples) != spec.n:
        raise ValueError(f"{cwhere}: gradient.seconds must hold one list of samples per "
                         f"agent ({spec.n})")
    try:
        return ClusterSpec(spec.h, spec.kappa, EMPIRICAL, {}, spec.agents, spec.comments,
                           spec.source, tuple(np.asarray(t, dtype=float) for t in samples))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{cwhere}: {exc}") from None


def cost_path(path: str | os.PathLike) -> Path:
    """The companion cost file of a cluster file: ``my.csv`` -> ``my.cost.json``."""
    path = Path(path)
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    return path.with_name(stem + COST_SUFFIX)


def read_cost(path: str | os.PathLike, name: str = "cluster") -> dict[str, Any]:
    """The companion cost file as a dict (strict JSON, tag ``apga-cost``, version 1, a
    positive agent count ``n`` and a ``mode``); the sections are checked by
    :mod:`algorithms.wallclock.cost`. One-line ValueErrors naming the file."""
    path = Path(path)
    where = f"{name}: {str(path)!r}"
    text = read_text(path, name, MAX_COST_BYTES, "cost file")

    def bad_constant(c: str):
        raise ValueError(f"{where}: {c} is not strict JSON (a missing value is null)")

    try:
        data = json.loads(text, parse_constant=bad_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict) or data.get("format") != COST_FORMAT:
        raise ValueError(f"{where}: not an apga cost file (no \"format\": \"{COST_FORMAT}\")")
    if data.get("version") != COST_VERSION:
        raise ValueError(f"{where}: version {data.get('version')!r}; this apga reads "
                         f"version {COST_VERSION}")
    n = data.get("n")
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_AGENTS:
        raise ValueError(f"{where}: n must be a number of agents in 1..{MAX_AGENTS}")
    if data.get("mode") not in ("allreduce", "server"):
        raise ValueError(f"{where}: mode must be allreduce or server, got {data.get('mode')!r}")
    data["source"] = str(path)
    return data


def write_cost(path: str | os.PathLike, data: Mapping[str, Any], *,
               name: str = "cluster") -> Path:
    """Write a companion cost file (strict JSON, atomically, never over an existing file)."""
    path = Path(path)
    where = f"{name}: {str(path)!r}"
    payload = {"format": COST_FORMAT, "version": COST_VERSION,
               **{k: v for k, v in data.items() if k not in ("format", "version", "source")}}
    try:
        text = json.dumps(payload, indent=1, allow_nan=False) + "\n"
    except ValueError:
        raise ValueError(f"{where}: a measured value is not finite") from None
    return _write_new(path, text, where, overwrite=False)


def _parse(text: str, where: str, source: str) -> ClusterSpec:
    comments: list[str] = []
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            comments.append(stripped[1:].strip())
            continue
        try:
            cells = [c.strip() for c in next(csv.reader([line]))]
        except csv.Error as exc:  # e.g. a field beyond csv's limit (131,072 characters)
            raise ValueError(f"{where} line {line_no}: not CSV ({exc})") from None
        if header is None:
            header = _header(cells, where, line_no)
            continue
        if len(rows) >= MAX_AGENTS:
            raise ValueError(f"{where}: more than {MAX_AGENTS} agent rows (line {line_no}); "
                             "refused before reading further")
        if len(cells) != len(header):
            raise ValueError(f"{where} row {len(rows) + 1} (line {line_no}): {len(cells)} "
                             f"cells, the header has {len(header)} columns")
        rows.append((line_no, cells))
    if header is None:
        raise ValueError(f"{where}: empty (no header line; expected columns h,kappa)"
                         if not comments else f"{where}: only comments, no header line")
    if not rows:
        raise ValueError(f"{where}: no agent rows after the header")
    col = {c: j for j, c in enumerate(header)}
    h = np.empty(len(rows))
    kappa = np.empty(len(rows))
    agents = [] if "agent" in col else None
    model: tuple[str, dict[str, float]] | None = None
    for r, (line_no, cells) in enumerate(rows, start=1):
        at = f"{where} row {r} (line {line_no})"
        h[r - 1] = _number(cells[col["h"]], f"{at}, column h", zero=False)
        kappa[r - 1] = _number(cells[col["kappa"]], f"{at}, column kappa", zero=True)
        if agents is not None:
            agents.append(cells[col["agent"]])
        this = _model(cells, col, at)
        if model is None:
            model = this
        elif this != model:
            raise ValueError(f"{at}: timing {_describe(this)} differs from row 1's "
                             f"{_describe(model)}; one timing model per file (the simulated "
                             "clock draws every agent's durations from one model)")
    assert model is not None
    try:
        return ClusterSpec(h, kappa, model[0], model[1], agents, tuple(comments), source)
    except ValueError as exc:  # whole-file limits (agents, labels): name the file
        raise ValueError(f"{where}: {exc}") from None


def _header(cells: list[str], where: str, line_no: int) -> list[str]:
    at = f"{where} line {line_no} (header)"
    seen = set()
    for c in cells:
        if c not in COLUMNS:
            raise ValueError(f"{at}: unknown column {c!r}; columns are {', '.join(COLUMNS)} "
                             "(h and kappa required)")
        if c in seen:
            raise ValueError(f"{at}: column {c!r} appears twice")
        seen.add(c)
    for c in REQUIRED:
        if c not in seen:
            raise ValueError(f"{at}: missing column {c!r} (required: {', '.join(REQUIRED)})")
    for key, need in OPTION_MODEL.items():
        if key in seen and "timing" not in seen:
            raise ValueError(f"{at}: column {key!r} needs the timing column ({need})")
    return cells


def _number(text: str, at: str, *, zero: bool) -> float:
    """A time in seconds from one cell: a decimal number, finite, > 0 (>= 0 with zero)."""
    if not _NUMBER.fullmatch(text):
        try:
            x = float(text)
        except ValueError:
            raise ValueError(f"{at}: {text!r} is not a number") from None
        if math.isnan(x):
            raise ValueError(f"{at}: NaN is not a time")
        if math.isinf(x):
            raise ValueError(f"{at}: {text!r} is not finite")
        raise ValueError(f"{at}: {text!r} is not a plain decimal number")
    x = float(text)
    if math.isinf(x):
        raise ValueError(f"{at}: {text!r} overflows (not finite)")
    if x < 0 or (x == 0 and not zero):
        raise ValueError(f"{at}: must be {'>= 0' if zero else '> 0'} seconds, got {text}")
    if not zero and 0 < x < checks.MIN_TIME:  # h is inverted (rates 1/h_i)
        raise ValueError(f"{at}: {text} is below the smallest normal float "
                         f"{checks.MIN_TIME:.4g} (1/h would overflow)")
    if x > MAX_SECONDS:
        raise ValueError(f"{at}: {text} seconds exceed {MAX_SECONDS:g} (31.7 years; "
                         "a unit error?)")
    return x


def _model(cells: list[str], col: dict[str, int], at: str) -> tuple[str, dict[str, float]]:
    timing = cells[col["timing"]] if "timing" in col else ""
    timing = timing or "fixed"
    if timing not in TIMING_MODELS:
        raise ValueError(f"{at}, column timing: unknown model {timing!r}; choose one of "
                         f"{', '.join(TIMING_MODELS)}")
    options: dict[str, float] = {}
    for key, need in OPTION_MODEL.items():
        text = cells[col[key]] if key in col else ""
        if not text:
            continue
        if timing != need:
            raise ValueError(f"{at}, column {key}: only for timing {need}, this row is {timing}")
        if not _NUMBER.fullmatch(text):
            raise ValueError(f"{at}, column {key}: {text!r} is not a plain decimal number")
        try:
            options[key] = check_option(key, float(text))
        except ValueError as exc:
            raise ValueError(f"{at}, column {key}: {exc}") from None
    return timing, options


def _describe(model: tuple[str, dict[str, float]]) -> str:
    timing, options = model
    opts = "".join(f", {k} = {v:g}" for k, v in options.items())
    return f"{timing}{opts}"


def _bounded(name: str, arr: np.ndarray) -> np.ndarray:
    if arr.size and float(arr.max()) > MAX_SECONDS:
        i = int(np.argmax(arr))
        raise ValueError(f"{name}[{i}] = {arr[i]!r} seconds exceeds {MAX_SECONDS:g} "
                         "(31.7 years; a unit error?)")
    return arr


def write_cluster(path: str | os.PathLike, cluster: ClusterSpec, comments: Iterable[str] = (),
                  *, overwrite: bool = False, name: str = "cluster") -> Path:
    """Write ``cluster`` as a cluster file that :func:`read_cluster` reads back exactly.

    Comment lines: ``cluster.comments`` then ``comments`` (a string with newlines becomes
    several lines). Numbers are written with ``repr`` (shortest exact round trip). The
    file is written to a temporary name in the same folder and then linked into place, so
    a reader never sees half a file; an existing file is an error unless ``overwrite``.
    Returns the path. Errors are one-line ValueErrors naming the file.
    """
    if not isinstance(cluster, ClusterSpec):
        raise ValueError(f"{name}: expected a ClusterSpec, got {type(cluster).__name__}")
    path = Path(path)
    where = f"{name}: {str(path)!r}"
    if cluster.timing == EMPIRICAL:
        raise ValueError(f"{where}: a CSV cannot hold the empirical model's samples; write "
                         "the parametric fit (the samples go to the cost file, write_cost)")
    lines = [f"# {c}" if c else "#" for c in _comment_lines(cluster.comments, comments)]
    header = (["agent"] if cluster.agents is not None else []) + ["h", "kappa", "timing"]
    header += list(cluster.options)
    lines.append(",".join(header))
    opts = [repr(float(v)) for v in cluster.options.values()]
    for i in range(cluster.n):
        cells = [_csv_cell(cluster.agents[i])] if cluster.agents is not None else []
        cells += [repr(float(cluster.h[i])), repr(float(cluster.kappa[i])), cluster.timing]
        lines.append(",".join(cells + opts))
    text = "\n".join(lines) + "\n"
    return _write_new(path, text, where, overwrite)


def _write_new(path: Path, text: str, where: str, overwrite: bool) -> Path:
    """Write ``text`` to a temporary file beside ``path`` and link it into place."""
    if path.is_dir():
        raise ValueError(f"{where}: is a directory")
    if path.exists() and not overwrite:
        raise ValueError(f"{where}: exists; refusing to overwrite it (choose another name)")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"{where}: cannot write (cannot create its folder: "
                         f"{exc.strerror or exc})") from None
    try:
        tmp.write_text(text, encoding="utf-8")
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if the file appeared meanwhile: never overwrite
    except FileExistsError:
        raise ValueError(f"{where}: exists; refusing to overwrite it") from None
    except OSError as exc:
        raise ValueError(f"{where}: cannot write ({exc.strerror or exc})") from None
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # the folder itself could not be created: nothing to remove
            pass
    return path


def _comment_lines(*groups: Iterable[str]) -> list[str]:
    out = []
    for group in groups:
        if isinstance(group, str):
            group = [group]
        for c in group:
            if "\x00" in str(c):
                raise ValueError(f"comments: {str(c)!r} contains NUL")
            out.extend(line.strip() for line in str(c).splitlines() or [""])
    return out


def _label(value: object) -> str:
    """An agent label as the file keeps it: stripped, one line, no NUL, at most
    :data:`MAX_LABEL` characters."""
    text = str(value).strip()
    if "\x00" in text or len(f"x{text}x".splitlines()) > 1:
        raise ValueError(f"agents: label {text[:40]!r} contains a line break or NUL")
    if len(text) > MAX_LABEL:
        raise ValueError(f"agents: a label of {len(text)} characters exceeds {MAX_LABEL} "
                         f"(starts {text[:20]!r})")
    return text


def _csv_cell(text: str) -> str:
    if any(ch in text for ch in ',"') or text != text.strip() or text.startswith("#"):
        return '"' + text.replace('"', '""') + '"'
    return text

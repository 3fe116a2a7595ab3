"""From what ``apga calibrate`` measured to a cluster file and its cost file.

``apga calibrate`` times, on the real backend (:mod:`algorithms.backends.distributed.calibrate`),
every agent's gradients alone, with their store ticket and inside real rounds of each
aggregation pattern, and the communications; this module turns those raw samples
(``calibration.json``) into the companion cost file that :mod:`algorithms.wallclock.cost`
reads (:func:`cost_from_calibration`) and the cluster file every command reads
(:func:`cluster_from_cost`: h_i, kappa_i, one parametric timing model). Pure numpy.

Gradient samples of a pattern, agent i: inside a round the k-th gradient's duration is
the time from its start to the start of the (k+1)-th (computation, any emulated wait, the
clerk's hand-off, in server mode the upload), so every sample is what a round pays per
gradient; a round's last gradient has no successor and counts by its own duration (at
least its emulated one). The cluster file's h_i is agent i's mean over the rounds of the
``rennala`` pattern (the samples the ``empirical`` model resamples), else over the
gradients alone.

The parametric timing model is one for the whole file (the clock draws every agent from
one model, :func:`algorithms.sim.clock.make_clock`), fitted to the pooled ratios
x = t / h_i, which all have mean 1:

- ``fixed`` when their coefficient of variation is below :data:`FIXED_CV` (5%): the
  spread is then too small to matter for a round;
- otherwise the model of largest likelihood among ``exponential`` (x ~ Exp(1)),
  ``lognormal`` (log x ~ N(-s^2/2, s^2), s the standard deviation of log x, the
  parametrisation of :func:`algorithms.sim.timing.durations` with mean 1) and ``uniform``
  (x ~ U[1 - w, 1 + w], w = max |x - 1|, capped below 1).

The cluster file's kappa_i (one vector between agent i and the others, for the commands
that read only the CSV): in AllReduce mode the median all_reduce of a round's buffer among
all n agents (the round's one communication), in server mode half agent i's median round
trip of one d-vector to the server and back. The cost model uses the primitives
themselves, not kappa.

Paper: Assumption 2.5 (h_i = dot h_i H, kappa), Section H (per-agent kappa_i).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

#: Below this coefficient of variation of t / h_i the durations are called fixed.
FIXED_CV = 0.05
#: Uniform jitter must stay below 1 (durations > 0).
MAX_JITTER = 0.99


class TimingFit(NamedTuple):
    """The chosen model, its option, the coefficient of variation and every candidate's
    mean log-likelihood per sample (None for ``fixed``, which has no density)."""

    timing: str
    options: dict[str, float]
    cv: float
    loglik: dict[str, float]


def fit_timing(samples: Sequence[Sequence[float]]) -> TimingFit:
    """One timing model for all agents from their measured durations (see module doc).

    Notes
    -----
    With :math:`x = t/h_i`: exponential :math:`\\ell = \\overline{-x}`; lognormal
    :math:`\\ell = \\overline{-\\log x - \\log(s\\sqrt{2\\pi}) - (\\log x + s^2/2)^2/(2s^2)}`;
    uniform :math:`\\ell = -\\log(2w)` if every :math:`|x-1| \\le w` (else :math:`-\\infty`).
    """
    ratios = []
    for i, t in enumerate(samples):
        t = np.asarray(t, dtype=float)
        if t.size < 2 or not np.isfinite(t).all() or (t <= 0).any():
            raise ValueError(f"samples: agent {i} needs at least 2 positive finite durations")
        ratios.append(t / t.mean())
    x = np.concatenate(ratios)
    cv = float(x.std())
    if cv < FIXED_CV:
        return TimingFit("fixed", {}, cv, {})
    logx = np.log(x)
    s = max(float(logx.std()), 1e-12)
    w = min(float(np.abs(x - 1.0).max()), MAX_JITTER)
    loglik = {
        "exponential": float(np.mean(-x)),
        "lognormal": float(np.mean(-logx - math.log(s * math.sqrt(2 * math.pi))
                                   - (logx + s * s / 2) ** 2 / (2 * s * s))),
        "uniform": -math.log(2 * w) if np.all(np.abs(x - 1.0) <= w) else -math.inf,
    }
    best = max(loglik, key=lambda k: loglik[k])
    options = {"lognormal": {"log_sigma": s}, "uniform": {"jitter": w}}.get(best, {})
    return TimingFit(best, options, cv, loglik)


def _median(x) -> float | None:
    x = np.asarray(x, dtype=float)
    return float(np.median(x)) if x.size else None


def _clock_seed(seed: int) -> int:
    """The timing seed of run seed ``seed`` (as ``seeded_clock`` and the emulation derive it)."""
    clock_seq, _ = np.random.SeedSequence(seed).spawn(2)
    return int(clock_seq.generate_state(1)[0])


class _Emulated:
    """The emulated duration of agent i's k-th gradient of round r (0 without emulation),
    recomputed as the backend draws it (:mod:`algorithms.backends.distributed.emulate`)."""

    def __init__(self, emulated: dict | None, seed: int) -> None:
        self.h = None if not emulated or emulated.get("h") is None else np.asarray(
            emulated["h"], dtype=float)
        self.kappa = None if not emulated or emulated.get("kappa") is None else np.asarray(
            emulated["kappa"], dtype=float)
        self.timing = (emulated or {}).get("timing", "fixed")
        self.options = (emulated or {}).get("options") or {}
        self._rng = np.random.default_rng(_clock_seed(seed))
        self._keys: list[int] = []

    def duration(self, r: int, i: int, k: int) -> float:
        if self.h is None:
            return 0.0
        from algorithms.sim import timing as tm

        while len(self._keys) <= r:
            self._keys.append(int(self._rng.integers(0, 2**63 - 1)))
        opts = tm.check_options(self.timing, self.options)
        return float(tm.durations(self.timing, opts, self.h[i:i + 1], self._keys[r],
                                  np.array([i]), np.array([k]))[0])

    def upload(self, i: int) -> float:
        return 0.0 if self.kappa is None else float(self.kappa[i])


def pattern_samples(calls: Sequence[Sequence[Any]], agent: int, emulated: _Emulated,
                    server: bool) -> tuple[list[float], list[float], dict[int, list[int]]]:
    """(seconds per gradient, their lengths, lengths by round) of one agent's timed calls.

    A call is ``[phase, round, k, start, end, completed, length]``. Within a round, the
    k-th completed gradient lasts until the (k+1)-th starts; the last one of a round lasts
    max(its own duration, its emulated one) (+ kappa_i in server mode, the upload it waits
    before sending).
    """
    by_round: dict[int, dict[int, list]] = {}
    for c in calls:
        by_round.setdefault(int(c[1]), {})[int(c[2])] = c
    seconds, lengths, per_round = [], [], {}
    for r in sorted(by_round):
        row = by_round[r]
        for k in sorted(row):
            c = row[k]
            if not c[5]:
                continue
            nxt = row.get(k + 1)
            if nxt is not None:
                t = float(nxt[3]) - float(c[3])
            else:
                t = max(float(c[4]) - float(c[3]), emulated.duration(r, agent, k))
                if server:
                    t += emulated.upload(agent)
            if t > 0:
                seconds.append(t)
                lengths.append(float(c[6]))
                per_round.setdefault(r, []).append(int(c[6]))
    return seconds, lengths, per_round


def step_fit(seconds: Sequence[float], lengths: Sequence[float]) -> tuple[float, float, str]:
    """(fixed seconds c0, seconds per step c1, how) of t = c0 + c1 L for one agent.

    Least squares when the lengths vary (relative spread above 5% and at least 5
    samples) and both coefficients come out >= 0; otherwise proportional,
    :math:`c_0 = 0, c_1 = \\bar t / \\bar L` (every trajectory as long: the split between
    a fixed part and a per-step part cannot be told apart).

    Paper: Assumption 2.5 (h_i = \\dot h_i H: time per state transition times the length).
    """
    t = np.asarray(seconds, dtype=float)
    L = np.asarray(lengths, dtype=float)
    if t.size == 0 or L.size != t.size or not np.all(L > 0):
        raise ValueError("lengths: one positive trajectory length per measured gradient")
    if t.size >= 5 and L.std() > 0.05 * L.mean():
        c1, c0 = np.polyfit(L, t, 1)
        if c0 >= 0 and c1 > 0:
            return float(c0), float(c1), "least squares"
    return 0.0, float(t.mean() / L.mean()), "proportional"


def _split_server_calls(calls: Sequence, patterns: dict) -> dict[str, list]:
    """Server mode: an agent's calls, split by the round ids each pattern used."""
    out: dict[str, list] = {p: [] for p in patterns}
    for c in calls:
        for p, entry in patterns.items():
            if entry["first_round"] <= int(c[1]) < entry["last_round"]:
                out[p].append(c)
                break
    return out


def _rounds(rounds: list[dict] | None) -> dict[str, list[float]]:
    """Durations, exits (t_exit - start), reduces (end - t_exit) and gaps between rounds."""
    rounds = rounds or []
    out: dict[str, list[float]] = {"rounds": [], "exits": [], "reduces": [], "gaps": []}
    for j, r in enumerate(rounds):
        out["rounds"].append(float(r["end"] - r["start"]))
        out["exits"].append(float(r["t_exit"] - r["start"]))
        out["reduces"].append(float(r["end"] - r["t_exit"]))
        if j:
            out["gaps"].append(float(r["start"] - rounds[j - 1]["end"]))
    return out


def cost_from_calibration(data: dict[str, Any], measured: dict[str, Any]) -> dict[str, Any]:
    """The cost file's content (:mod:`algorithms.wallclock.cost` reads it) from a run's
    ``calibration.json``; ``measured`` says where, when and how (host, time, command)."""
    n, mode = int(data["n"]), data["mode"]
    server = mode == "server"
    emulated = _Emulated(data.get("emulated"), int(data.get("seed", 0)))
    pure_s, pure_L = [], []
    for i in range(n):
        s, L, _ = pattern_samples(data["pure"][i], i, _Emulated(None, 0), False)
        pure_s.append(s)
        pure_L.append(L)
    patterns: dict[str, Any] = {}
    # pass k > 1 of pattern p is the key "p#k" (calibrate's PASSES windows): one entry per
    # pattern, its samples and rounds pooled, each later pass's first round (its M_init
    # round) left out, and how many rounds each pass gave after its first ("passes")
    for key, entry in (data.get("patterns") or {}).items():
        p = key.split("#")[0]
        if server:
            calls = [_split_server_calls(data["calls"][i]["server"], data["patterns"])[key]
                     for i in range(n)]
        else:
            calls = [data["calls"][i][key] for i in range(n)]
        per = [pattern_samples(calls[i], i, emulated, server) for i in range(n)]
        r = _rounds(entry["rounds"])
        if p not in patterns:
            patterns[p] = {"method": entry["method"], "hyper": entry["hyper"],
                           "iterations": entry["iterations"],
                           "seconds": [x[0] for x in per], "lengths": [x[1] for x in per],
                           **r, "passes": [max(len(r["rounds"]) - 1, 0)]}
            continue
        out = patterns[p]
        out["iterations"] += entry["iterations"]
        for i in range(n):
            out["seconds"][i] = out["seconds"][i] + per[i][0]
            out["lengths"][i] = out["lengths"][i] + per[i][1]
        for k in ("rounds", "exits", "reduces"):
            out[k] = out[k] + r[k][1:]
        out["gaps"] = out["gaps"] + r["gaps"]
        out["passes"].append(max(len(r["rounds"]) - 1, 0))
    pilots = []
    for entry in data.get("pilots") or []:
        if server:
            calls = [_split_server_calls(data["calls"][i]["server"], {"p": entry})["p"]
                     for i in range(n)]
        else:
            calls = [data["calls"][i][entry["key"]] for i in range(n)]
        per = [pattern_samples(calls[i], i, emulated, server) for i in range(n)]
        by_round: dict[int, list[int]] = {}
        for x in per:
            for r, Ls in x[2].items():
                by_round.setdefault(r, []).extend(Ls)
        pilots.append({"method": entry["method"], "hyper": entry["hyper"],
                       "iterations": entry["iterations"],
                       "lengths": [float(np.mean(by_round[r])) for r in sorted(by_round)],
                       # the iteration of each (a round with no timed gradient has none)
                       "length_iterations": [r - min(by_round) for r in sorted(by_round)],
                       "seconds": [x[0] for x in per], "lengths_all": [x[1] for x in per],
                       **_rounds(entry["rounds"])})
    main = patterns.get("rennala")
    seconds = main["seconds"] if main and all(main["seconds"]) else pure_s
    lengths = main["lengths"] if main and all(main["seconds"]) else pure_L
    fits = []
    for i in range(n):
        pool_s = list(seconds[i]) + [x for p in pilots for x in p["seconds"][i]]
        pool_L = list(lengths[i]) + [x for p in pilots for x in p["lengths_all"][i]]
        fits.append(step_fit(pool_s, pool_L))
    coll = data["collectives"]
    points = [{"agents": p["agents"], "floats": p["floats"], "seconds": _median(p["seconds"]),
               "samples": p["seconds"]} for p in coll["all_reduce"] if p["seconds"]]
    bc = coll.get("broadcast") or {}
    return {
        "mode": mode, "n": n, "dim": int(data["dim"]), "env": data["env"],
        "round_buffer_per_agent": int(data.get("round_buffer_per_agent", 4)),
        "horizon": int(data["horizon"]), "measured": measured,
        "emulated": data.get("emulated"),
        "gradient": {
            "seconds": [list(map(float, s)) for s in seconds],
            "source": "rennala rounds" if seconds is not pure_s else "gradients alone",
            "lengths": [list(map(float, L)) for L in lengths],
            "pure_seconds": pure_s, "pure_lengths": pure_L,
            "fixed_seconds": [f[0] for f in fits], "step_seconds": [f[1] for f in fits],
            "step_fit": [f[2] for f in fits],
        },
        "ticket": ({kind: {"seconds": [t[kind] for t in data["ticket"]]}
                    for kind in data["ticket"][0]} if data.get("ticket") else None),
        "all_reduce": points,
        "broadcast": ({"agents": bc["agents"], "floats": bc["floats"],
                       "seconds": _median(bc["seconds"]), "samples": bc["seconds"]}
                      if bc.get("seconds") else None),
        "stop": ({"seconds": data["stop"]} if data.get("stop") else None),
        "messages": {"floats": int(data["dim"]) + 3, "round_trip": data["messages"]},
        "patterns": patterns,
        "pilots": pilots,
    }


def cluster_from_cost(cost: dict[str, Any]):
    """(ClusterSpec, TimingFit) of the cluster file: h_i = mean of the gradient samples
    (without the emulated upload a server-mode agent waits after each), kappa_i as the
    module docstring says, the parametric model fitted to the samples."""
    from theory.cluster_file import ClusterSpec

    seconds = cost["gradient"]["seconds"]
    n = cost["n"]
    upload = np.zeros(n)
    emulated = cost.get("emulated") or {}
    if cost["mode"] == "server" and emulated.get("kappa") is not None:
        # a server-mode gradient's samples include the emulated upload the agent waits
        # before sending it; h_i is the computation alone
        upload = np.asarray(emulated["kappa"], dtype=float)
    seconds = [np.maximum(np.asarray(t, dtype=float) - upload[i], 1e-9)
               for i, t in enumerate(seconds)]
    fit = fit_timing(seconds)
    h = np.array([float(np.mean(t)) for t in seconds])
    if cost["mode"] == "allreduce":
        per = int(cost.get("round_buffer_per_agent", 4))
        full = [p["seconds"] for p in cost["all_reduce"]
                if p["agents"] == n and p["floats"] == cost["dim"] + per * n + 1]
        kappa = np.full(n, full[0] if full else 0.0)
    else:
        kappa = np.array([0.5 * float(np.median(t)) for t in cost["messages"]["round_trip"]])
    return ClusterSpec(h, kappa, fit.timing, dict(fit.options)), fit

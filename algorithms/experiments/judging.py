"""Verdicts on the paper's claims: reproduced, contradicted, inconclusive or not judged.

A claim (:class:`algorithms.experiments.figures.Claim`) is a conjunction of paired
comparisons over the reported seeds, on the metric its wording names (``average``: the
time-averaged return over [0, T], "converges faster"; ``final``: the return at T,
"achieves a much higher reward"). Each comparison is a per-seed difference d_s and a
hypothesis about its mean mu:

* ``better`` on panel P: d = subject - baseline, "mu > delta" with delta = ``effect`` x the
  panel's gain (0 for "faster", 20% of the gain for "much higher" / "significantly");
* ``similar`` on panel P: d = a - b for every pair of the listed methods, "|mu| < margin"
  with margin = :data:`SIMILAR_MARGIN` x the panel's gain (an equivalence test);
* ``robust`` (easy panel R -> hard panel P): d = degradation(baseline) -
  degradation(subject), degradation = metric on R - metric on P, "mu > 0" ("the only
  robust method": it loses less than every baseline);
* ``gap_grows`` (reference R -> panel P): d = lead on P - lead on R, lead = subject -
  baseline, "mu > 0";
* ``gap_smaller`` (reference R, panel P): d = lead on R / gain(R) - lead on P / gain(P),
  "mu > 0" (leads in units of the panel's gain: tasks have different return scales).

The panel's gain is the best method's mean metric minus the mean initial return.

**p-values.** Each comparison has a p-value for the claim's side (p_for) and one for the
opposite side (p_against) from the exact sign-flip test (:func:`stats.paired`); a
``better`` comparison tests d - delta both ways, a ``similar`` one is a TOST (p_for =
max(p(d + margin > 0), p(d - margin < 0))) against "|mu| > margin" (twice the smaller of
p(d - margin > 0), p(d + margin < 0)). Exactly one of the two nulls holds (both at the
boundary), so p = min(1, 2 min(p_for, p_against)) is a valid p-value for "the comparison
is decided", and its side is the smaller one.

**Family and Holm.** The family is every comparison of every judged claim of one figure
on one metric, separately for the paper's claims and for our own checks (``family``
"ours"); Holm's adjustment (:func:`stats.holm`) controls the probability of any wrong
decision in the family at alpha = 1 - level. A comparison is decided when its adjusted
p-value is <= alpha.

**Verdict.** Reproduced: every comparison of the claim decided on the claim's side.
Contradicted: at least one decided against it. Inconclusive: otherwise; it states the
seeds the observed effects would need for 80% power (:func:`stats.seeds_for_power`).
Not judged (with the reason) when the run cannot answer the claim:

1. the claim cannot be made testable from the runs (its ``untestable`` note);
2. a panel it needs is not in the plan (``--panels``, ``--cluster``, a reference figure
   not given to ``--merge``);
3. fewer than :data:`MIN_SEEDS` reported seeds;
4. a method makes fewer than :func:`min_steps` server updates in T on some seed (5/eta
   for momentum methods: five momentum windows);
5. a method's learning curve is still in its first rise (:func:`first_rise`);
6. the claim needs the panel's gain (margins, effect sizes, normalised leads) and no
   method improved on the initial return;
7. the family is too large for the seeds: m 2^(1-n) > alpha, so no comparison could be
   decided after Holm.

**Fragility.** Each verdict is recomputed with one (panel, method) at a time switched to
its runner-up tuning configuration (the second best on the tuning seeds); a judged verdict
that becomes another judged verdict under some switch is *fragile* (an alternative that
cannot be judged, e.g. a runner-up in its first rise, is listed but does not make it so).

Paper: none (our method of checking Section 6 and Appendix H).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from algorithms.experiments import stats

METRIC_FIELDS = {"final": "final_returns", "average": "average_returns"}
METRIC_WORDS = {"final": "final return", "average": "time-averaged return"}
VERDICTS = ("reproduced", "contradicted", "inconclusive", "not judged")
MIN_SEEDS = 5
#: "almost the same": every pairwise mean difference within this fraction of the gain
SIMILAR_MARGIN = 0.2
#: the first-rise test: still climbing over the last quarter at >= 80% of its average rate
RISE_FRACTION = 0.2
#: ... and by at least this fraction of the panel's gain (a flat noisy curve is not rising)
RISE_MIN = 0.05
#: minimum server updates of a method without momentum
MIN_STEPS_PLAIN = 10


def min_steps(hyper: Mapping[str, float]) -> int:
    """Fewest server updates in T for a method's run to be judged: ceil(5/eta) for the
    momentum methods (five momentum windows of 1/eta steps: NIGT, AFedPG), else
    :data:`MIN_STEPS_PLAIN`.

    Notes
    -----
    .. math:: K_{\\min} = \\lceil 5/\\eta \\rceil

    Paper: Algorithm 1 (momentum d_{t+1} = (1 - eta) d_t + eta g: a window of 1/eta steps).
    """
    eta = hyper.get("eta")
    if eta is None or not (0 < float(eta) <= 1):
        return MIN_STEPS_PLAIN
    return int(math.ceil(5.0 / float(eta) - 1e-9))


def quarters(curve: Sequence[float], times: Sequence[float],
             T: float) -> tuple[float, float] | None:
    """(Q3, Q4): mean of the curve over the grid times in (T/2, 3T/4] and (3T/4, T]
    (None when a quarter holds no grid time)."""
    c, t = np.asarray(curve, dtype=float), np.asarray(times, dtype=float)
    q3 = c[(t > T / 2) & (t <= 0.75 * T + 1e-12 * T)]
    q4 = c[t > 0.75 * T + 1e-12 * T]
    if q3.size == 0 or q4.size == 0:
        return None
    return float(q3.mean()), float(q4.mean())


def first_rise(curve: Sequence[float], times: Sequence[float], T: float,
               panel_gain: float) -> bool | None:
    """Whether a (median) learning curve is still in its first rise at T.

    With J_0 the curve at t = 0 and Q3, Q4 its means over the third and last quarter of
    [0, T] (:func:`quarters`), the curve is still rising if, over the last quarter, it
    still climbs at >= 80% of its average rate since t = 0 and by at least
    :data:`RISE_MIN` of the panel's gain:

    .. math:: Q_4 - Q_3 \\ge 0.2\\,(Q_4 - J_0) \\quad\\text{and}\\quad
              Q_4 - Q_3 \\ge 0.05\\, g_{panel},\\quad Q_4 > J_0

    (a linear rise gives Q4 - Q3 = 0.29 (Q4 - J_0); a curve saturating with time constant
    T/4 gives 0.07). None when a quarter holds no evaluation.

    Paper: none (our adequacy rule).
    """
    q = quarters(curve, times, T)
    if q is None:
        return None
    q3, q4 = q
    j0 = float(np.asarray(curve, dtype=float)[0])
    gain = q4 - j0
    climb = q4 - q3
    return bool(gain > 0 and climb >= RISE_FRACTION * gain
                and climb >= RISE_MIN * max(panel_gain, 0.0))


# ----------------------------------------------------------------------------- arms
@dataclass(frozen=True)
class Arm:
    """One method on one panel under one configuration: the per-seed metric and what the
    adequacy rules read."""

    panel: str
    method: str
    config: str
    values: np.ndarray
    steps: int
    min_steps: int
    curve: np.ndarray
    times: np.ndarray
    T: float


def _arm(panels: Mapping[str, Any], pk: str, method: str, metric: str,
         role: str = "winner") -> Arm | None:
    m = panels[pk]["methods"].get(method)
    if m is None:
        return None
    key = m["tuning"][metric][role]
    if key is None:
        return None
    c = m["configs"][key]
    return Arm(pk, method, key, np.asarray(c[METRIC_FIELDS[metric]], dtype=float),
               int(min(c["iterations"])), int(c["min_steps"]),
               np.asarray(c["curve_median"], dtype=float),
               np.asarray(panels[pk]["eval_times"], dtype=float), float(panels[pk]["max_time"]))


class _Panels:
    """The arms of one scenario (winners, or one (panel, method) switched to its
    runner-up)."""

    def __init__(self, panels: Mapping[str, Any], metric: str,
                 switch: tuple[str, str] | None = None) -> None:
        self.panels, self.metric, self.switch = panels, metric, switch

    def arm(self, pk: str, method: str) -> Arm | None:
        role = "runner_up" if self.switch == (pk, method) else "winner"
        return _arm(self.panels, pk, method, self.metric, role)

    def methods(self, pk: str) -> list[str]:
        return list(self.panels[pk]["methods"])

    def initial(self, pk: str) -> float:
        return float(self.panels[pk]["initial_return"])

    def gain(self, pk: str) -> float:
        """Best method's mean metric minus the mean initial return."""
        arms = [a for a in (self.arm(pk, m) for m in self.methods(pk)) if a is not None]
        return max(float(np.mean(a.values)) for a in arms) - self.initial(pk)

    def curve_gain(self, pk: str) -> float:
        """Largest rise of a median curve: max over methods of Q4 - J_0."""
        best = 0.0
        for m in self.methods(pk):
            a = self.arm(pk, m)
            if a is None:
                continue
            q = quarters(a.curve, a.times, a.T)
            if q is not None:
                best = max(best, q[1] - float(a.curve[0]))
        return best


def match_panel(key: str, panels: Sequence[str]) -> str | None:
    """The panel whose key is ``key`` or ends / starts with it (scenario key, env id);
    ``figN:KEY`` names a panel of a reference figure. None if not exactly one."""
    if ":" in key:
        prefix, rest = key.split(":", 1)
        hits = [p for p in panels if p.startswith(prefix + ":")
                and _same(p.split(":", 1)[1], rest)]
    else:
        hits = [p for p in panels if ":" not in p and _same(p, key)]
    return hits[0] if len(hits) == 1 else None


def _same(p: str, key: str) -> bool:
    return p == key or p.endswith("_" + key) or p.startswith(key + "_")


# ----------------------------------------------------------------------------- comparisons
@dataclass
class _Comparison:
    label: str
    x: np.ndarray
    y: np.ndarray
    kind: str  # "greater" (mu > shift) or "equivalent" (|mu| < margin)
    bound: float  # shift or margin


def _comparisons(claim: Any, sc: _Panels, P: str, R: str | None
                 ) -> tuple[list[_Comparison], list[Arm], str | None]:
    """The comparisons of ``claim`` and the arms they read; a reason when the claim
    cannot be judged on these runs (a missing method, no gain)."""
    comps: list[_Comparison] = []
    arms: list[Arm] = []

    def arm(pk: str, m: str) -> Arm:
        a = sc.arm(pk, m)
        if a is None:
            raise LookupError(f"{m} is not run on {pk}")
        arms.append(a)
        return a

    try:
        others = [o for o in claim.others if o in sc.methods(P)]
        if not others or claim.subject not in sc.methods(P):
            return [], [], f"the claim's methods are not run on {P}"
        for test in claim.tests:
            s = arm(P, claim.subject)
            if test == "better":
                delta = 0.0
                if claim.effect:
                    g = sc.gain(P)
                    if not g > 0:
                        return [], arms, f"no method improved on the initial return on {P} " \
                                         "(the effect size is a fraction of the gain)"
                    delta = claim.effect * g
                for o in others:
                    b = arm(P, o)
                    lab = f"{claim.subject} - {o} on {P}" + (f" > {delta:.4g}" if delta else "")
                    comps.append(_Comparison(lab, s.values, b.values, "greater", delta))
            elif test == "similar":
                g = sc.gain(P)
                if not g > 0:
                    return [], arms, f"no method improved on the initial return on {P} " \
                                     "(the margin is a fraction of the gain)"
                margin = SIMILAR_MARGIN * g
                ms = [claim.subject, *others]
                for i, a_name in enumerate(ms):
                    for b_name in ms[i + 1:]:
                        a, b = arm(P, a_name), arm(P, b_name)
                        comps.append(_Comparison(f"|{a_name} - {b_name}| on {P} < {margin:.4g}",
                                                 a.values, b.values, "equivalent", margin))
            elif test in ("robust", "gap_grows", "gap_smaller"):
                assert R is not None
                sR = arm(R, claim.subject)
                gP = gR = 1.0
                if test == "gap_smaller":
                    gP, gR = sc.gain(P), sc.gain(R)
                    if not (gP > 0 and gR > 0):
                        bad = P if not gP > 0 else R
                        return [], arms, (f"no method improved on the initial return on {bad} "
                                          "(leads are in units of the gain)")
                for o in others:
                    if o not in sc.methods(R):
                        return [], arms, f"{o} is not run on {R}"
                    bP, bR = arm(P, o), arm(R, o)
                    if test == "robust":
                        lab = f"degradation {R} -> {P}: {o} - {claim.subject}"
                        x, y = s.values - sR.values, bP.values - bR.values
                    elif test == "gap_grows":
                        lab = f"lead over {o}: on {P} - on {R}"
                        x, y = s.values - bP.values, sR.values - bR.values
                    else:
                        lab = f"lead over {o} / gain: on {R} - on {P}"
                        x, y = (sR.values - bR.values) / gR, (s.values - bP.values) / gP
                    comps.append(_Comparison(lab, x, y, "greater", 0.0))
            else:
                raise ValueError(f"claim {claim.key}: unknown test {test!r}")
    except LookupError as exc:
        return [], arms, str(exc)
    return comps, arms, None


def _p_values(c: _Comparison, level: float) -> dict[str, Any]:
    """Both one-sided p-values of a comparison, its estimate and interval."""
    d = c.x - c.y
    base = stats.paired(c.x, c.y, level, "two-sided")
    if c.kind == "greater":
        p_for = stats.sign_flip_p(d - c.bound, "greater")
        p_against = stats.sign_flip_p(d - c.bound, "less")
        eff = base["effect"] if base["sd"] == 0 else (base["estimate"] - c.bound) / base["sd"]
    else:
        mu = c.bound
        p_for = max(stats.sign_flip_p(d + mu, "greater"), stats.sign_flip_p(d - mu, "less"))
        p_against = min(1.0, 2 * min(stats.sign_flip_p(d - mu, "greater"),
                                     stats.sign_flip_p(d + mu, "less")))
        sd = base["sd"]
        eff = (mu - abs(base["estimate"])) / sd if sd > 0 else None
    p = min(1.0, 2 * min(p_for, p_against))
    side = "for" if p_for <= p_against else "against"
    f = lambda v: v if v is not None and math.isfinite(v) else None  # noqa: E731
    return {"difference": c.label, "test": c.kind, "bound": c.bound,
            "estimate": f(base["estimate"]), "low": f(base["low"]), "high": f(base["high"]),
            "sd": f(base["sd"]), "n": base["n"], "p_for": p_for, "p_against": p_against,
            "p_value": p, "side": side, "effect": f(eff)}  # fmt: skip


# ----------------------------------------------------------------------------- verdicts
def _prepare(claim: Any, sc: _Panels, n: int, level: float) -> dict[str, Any]:
    """A claim's comparisons with raw p-values, or its reason not to be judged."""
    if claim.untestable:
        return {"reason": f"not testable from these runs: {claim.untestable}"}
    names = list(sc.panels)
    P = match_panel(claim.panel, names)
    R = match_panel(claim.ref_panel, names) if claim.ref_panel else None
    if P is None or (claim.ref_panel and R is None):
        miss = claim.panel if P is None else claim.ref_panel
        hint = (" (give that figure's folder to --merge)" if ":" in miss
                else " (not in this plan)")
        return {"reason": f"panel {miss} was not run{hint}"}
    if n < MIN_SEEDS:
        return {"reason": f"{n} reported seeds < {MIN_SEEDS}"}
    comps, arms, why = _comparisons(claim, sc, P, R)
    if why:
        return {"reason": why}
    short = sorted({f"{a.method} on {a.panel}: {a.steps} < {a.min_steps} steps"
                    for a in arms if a.steps < a.min_steps})
    if short:
        return {"reason": "too few server updates in T (minimum 5/eta): " + "; ".join(short)}
    rising, unknown = set(), set()
    for a in arms:
        fr = first_rise(a.curve, a.times, a.T, sc.curve_gain(a.panel))
        if fr is None:
            unknown.add(f"{a.method} on {a.panel}")
        elif fr:
            rising.add(f"{a.method} on {a.panel}")
    if unknown:
        return {"reason": "too few evaluations to test the first rise: "
                + "; ".join(sorted(unknown))}
    if rising:
        return {"reason": "learning curve still in its first rise at T: "
                + "; ".join(sorted(rising))}
    return {"comparisons": [_p_values(c, level) for c in comps], "panel_key": P,
            "ref_key": R}


def judge_claims(claims: Sequence[Any], panels: Mapping[str, Any], n: int,
                 level: float = stats.LEVEL,
                 switch: tuple[str, str, str] | None = None) -> list[dict[str, Any]]:
    """Verdict of every claim under one scenario (the winners, or ``switch`` = (metric,
    panel, method) on its runner-up); Holm within each (family, metric)."""
    alpha = 1.0 - level
    rows = []
    for c in claims:
        sw = (switch[1], switch[2]) if switch and switch[0] == c.metric else None
        rows.append(_prepare(c, _Panels(panels, c.metric, sw), n, level))
    families: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for i, (c, r) in enumerate(zip(claims, rows, strict=True)):
        for j in range(len(r.get("comparisons", []))):
            families.setdefault((c.family, c.metric), []).append((i, j))
    for (fam, metric), members in families.items():
        m = len(members)
        if m * stats.smallest_p(n) > alpha:
            for i in {i for i, _ in members}:
                rows[i] = {"reason": (
                    f"{m} comparisons in the family ({fam} claims, {METRIC_WORDS[metric]}): "
                    f"with {n} seeds the smallest p-value, {stats.smallest_p(n):.3g}, "
                    f"exceeds alpha/{m} = {alpha / m:.3g} after Holm")}
            continue
        adj = stats.holm([rows[i]["comparisons"][j]["p_value"] for i, j in members])
        for (i, j), a in zip(members, adj, strict=True):
            comp = rows[i]["comparisons"][j]
            comp["p_adjusted"] = a
            comp["decided"] = comp["side"] if a <= alpha else None
            rows[i]["family_size"] = m
    out = []
    for r in rows:
        if "reason" in r:
            out.append({"verdict": "not judged", "reason": r["reason"], "comparisons": []})
            continue
        comps = r["comparisons"]
        decided = [x["decided"] for x in comps]
        if "against" in decided:
            v = "contradicted"
        elif decided and all(x == "for" for x in decided):
            v = "reproduced"
        else:
            v = "inconclusive"
        row = {"verdict": v, "reason": None, "comparisons": comps,
               "family_size": r["family_size"]}
        if v == "inconclusive":
            row.update(_power(comps, alpha / r["family_size"]))
        out.append(row)
    return out


def _power(comps: list[dict[str, Any]], alpha: float) -> dict[str, Any]:
    """Seeds for 80% power at the observed effects: to reproduce (every comparison on the
    claim's side), or, when some comparison points against the claim, to contradict it
    (the easiest such comparison)."""
    for c in comps:
        c["seeds_for_80_power"] = stats.seeds_for_power(c["effect"], alpha)
    against = [c for c in comps if c["side"] == "against"]
    if against:
        ns = [c["seeds_for_80_power"] for c in against if c["seeds_for_80_power"]]
        return {"seeds_for_80_power": min(ns) if ns else None, "power_towards": "contradicted"}
    ns = [c["seeds_for_80_power"] for c in comps]
    return {"seeds_for_80_power": None if None in ns else max(ns),
            "power_towards": "reproduced"}


def judge(claims: Sequence[Any], panels: Mapping[str, Any], n: int,
          level: float = stats.LEVEL) -> list[dict[str, Any]]:
    """Every claim's verdict (winners), with its fragility under the runner-ups.

    ``panels`` maps panel keys (``figN:KEY`` for a reference figure's panels) to the
    summary's panel dicts; ``n`` is the number of reported seeds.
    """
    base = judge_claims(claims, panels, n, level)
    switches = []
    for metric in sorted({c.metric for c in claims}):
        for pk, p in panels.items():
            for method, m in p["methods"].items():
                if m["tuning"].get(metric, {}).get("runner_up") is not None:
                    switches.append((metric, pk, method))
    alts = {s: judge_claims(claims, panels, n, level, s) for s in switches}
    out = []
    for i, (c, b) in enumerate(zip(claims, base, strict=True)):
        row = {
            "claim": c.key, "source": c.source, "text": c.text, "tests": list(c.tests),
            "panel": c.panel, "ref_panel": c.ref_panel, "subject": c.subject,
            "others": list(c.others), "metric": c.metric, "effect": c.effect,
            "family": c.family, "note": c.note or None, "level": level, **b,
        }
        mine = [s for s in switches if s[0] == c.metric]
        if b["verdict"] == "not judged":
            row["fragile"] = None
            row["runner_up"] = []
        elif not mine:
            row["fragile"] = None
            row["fragile_reason"] = "no runner-up configuration (one configuration per method)"
            row["runner_up"] = []
        else:
            changed = []
            for s in mine:
                v = alts[s][i]["verdict"]
                if v != b["verdict"]:
                    key = panels[s[1]]["methods"][s[2]]["tuning"][c.metric]["runner_up"]
                    changed.append({"switched": f"{s[2]} on {s[1]} -> {key}", "verdict": v,
                                    "reason": alts[s][i]["reason"]})
            row["fragile"] = any(x["verdict"] != "not judged" for x in changed)
            row["runner_up"] = changed
            row["runner_up_checked"] = len(mine)
        out.append(row)
    return out


def budget_note(seeds: int, budget: str) -> str:
    """One line: what a budget with ``seeds`` reported seeds can show."""
    if seeds < MIN_SEEDS:
        return (f"{budget} budget: {seeds} reported seed(s) < {MIN_SEEDS}: it checks that "
                "everything runs; every claim is 'not judged'")
    return (f"{budget} budget: {seeds} seeds; a claim is judged only where every method makes "
            ">= 5/eta updates in T and has left its first rise; a family of m comparisons can "
            f"be decided only if m x {stats.smallest_p(seeds):.3g} <= alpha")


__all__ = ["METRIC_FIELDS", "METRIC_WORDS", "MIN_SEEDS", "SIMILAR_MARGIN", "VERDICTS",
           "budget_note", "first_rise", "judge", "judge_claims", "match_panel", "min_steps",
           "quarters"]  # fmt: skip

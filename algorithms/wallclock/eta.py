"""A launch's predicted seconds and its ETA: the same model as ``apga predict``, then the run.

:func:`launch_prediction` turns a run (a :class:`~algorithms.backends.distributed.spec.RunSpec`)
into a prediction before it starts:

- at real speed with a calibrated cluster file (``apga launch --predict-from FILE``, the
  file ``apga calibrate`` wrote, with its .cost.json): the cost model
  (:func:`algorithms.wallclock.cost.predict_run`) for the run's method, mode, batches,
  step size and iterations, the point and the interval;
- emulated (``--cluster FILE`` or ``--h``/``--kappa``): the simulated clock of the run's
  seed on the emulated times (:func:`algorithms.wallclock.run_timeline`), which the
  emulation reproduces gradient by gradient; the real rounds also pay the machine's
  coordination (milliseconds), so the interval is [the clock's total, +
  :data:`EMULATED_MARGIN`];
- otherwise no prediction (the ETA then comes from the measured iterations alone).

:func:`eta` updates the remaining time as the run goes: after k of K iterations in e
seconds, the measured seconds per iteration e / k and the predicted one are weighted
k : :data:`PRIOR_ITERATIONS` (the prediction counts as that many measured iterations), and
the remaining K - k iterations take that each. :func:`compare` puts the prediction
beside the actual seconds for summary.json.

Paper: Algorithm 1 (the run: first round, then one round per iteration), Assumption 2.5.
"""

from __future__ import annotations

import math
from typing import Any

#: The real rounds of an emulated run are longer than the clock's by the machine's
#: coordination: the upper end of the interval (the wallclock check's run target).
EMULATED_MARGIN = 0.15
#: The prediction weighs as much as this many measured iterations in the ETA.
PRIOR_ITERATIONS = 10


def launch_prediction(spec: Any, cluster_file: str | None = None) -> dict[str, Any]:
    """The prediction of a launch (module docstring): a JSON-ready dict with
    ``total_seconds`` (point), ``total_seconds_low``/``_high``, ``init_seconds``,
    ``per_iteration_seconds``, ``source``; or ``{"total_seconds": None, "reason": ...}``
    when there is none. ``cluster_file``: a calibrated cluster file (real-speed runs)."""
    from algorithms.methods.registry import get

    mspec = get(spec.method)
    values, _ = mspec.resolve(spec.hyper)
    M = int(values.get("M", 1))
    M_init = int(values.get("M_init", M))
    batch = int(values.get("batch", 1))
    if spec.iterations is None:
        return {"total_seconds": None, "reason": f"a time budget ({spec.time:g} s): the run "
                "takes its budget; the prediction is of iterations, not seconds"}
    K = int(spec.iterations)
    if cluster_file is not None:
        if spec.emulated:
            raise ValueError("predict-from: the run is emulated (--h/--cluster); its "
                             "prediction comes from the emulated times, give one or the other")
        from algorithms.wallclock.cost import CostModel, predict_run

        model = CostModel.from_file(cluster_file, "predict-from")
        H = spec.trajectory_steps
        if model.env != spec.env or model.horizon != H:
            raise ValueError(f"predict-from: {cluster_file!r} was measured on env "
                             f"{model.env} with H = {model.horizon}, the run is {spec.env} "
                             f"with H = {H}")
        if spec.n > model.n:
            raise ValueError(f"predict-from: {cluster_file!r} measured {model.n} agents, the "
                             f"run has {spec.n}")
        p = predict_run(model, spec.method, K, M=M, M_init=M_init, batch=batch,
                        alpha=values.get("alpha"), mode=spec.mode, seed=spec.seed,
                        agents=range(spec.n))
        per = (p.total_seconds - p.init_seconds) / K
        return {"total_seconds": p.total_seconds, "total_seconds_low": p.total_seconds_low,
                "total_seconds_high": p.total_seconds_high, "init_seconds": p.init_seconds,
                "per_iteration_seconds": per, "iterations": K,
                "source": f"cost model {cluster_file}", "point_source": p.point_source,
                "drift": p.drift, "drift_source": p.drift_source,
                "residual_source": p.residual_source,
                "mean_length": p.lengths["point_mean"]}
    if spec.emulated:
        from algorithms.wallclock import WALLCLOCK_METHODS, run_timeline

        if spec.method not in WALLCLOCK_METHODS:
            return {"total_seconds": None,
                    "reason": f"the simulated clock's timeline predicts "
                    f"{', '.join(WALLCLOCK_METHODS)}, not {spec.method}"}
        tl = run_timeline(spec.method, spec.cluster(), K, M=M, M_init=M_init, batch=batch,
                          run_seed=spec.seed)
        total = float(tl.ends[-1])
        init = float(tl.ends[0])
        return {"total_seconds": total, "total_seconds_low": total,
                "total_seconds_high": total * (1 + EMULATED_MARGIN), "init_seconds": init,
                "per_iteration_seconds": (total - init) / K, "iterations": K,
                "source": "simulated clock of the run seed on the emulated times",
                "point_source": "the clock's timeline (the emulation follows it)"}
    return {"total_seconds": None,
            "reason": "real speed without a calibrated cluster file (--predict-from FILE)"}


def eta(prediction: dict[str, Any] | None, iteration: int, elapsed: float,
        iterations: int | None) -> float | None:
    """Seconds left after ``iteration`` of ``iterations`` in ``elapsed`` seconds (None when
    nothing can be said: a time budget, or no prediction before the first iteration).

    Notes
    -----
    With w = k / (k + P) (P = PRIOR_ITERATIONS) and the predicted seconds per iteration p:
    :math:`\\text{left} = (K - k)\\,(w\\, e/k + (1 - w)\\, p)`; before any iteration, the
    predicted total minus the elapsed time.
    """
    if iterations is None:
        return None
    K, k = int(iterations), int(iteration)
    per_pred = None if not prediction or prediction.get("total_seconds") is None else \
        float(prediction["per_iteration_seconds"])
    if k <= 0:
        if per_pred is None:
            return None
        return max(float(prediction["total_seconds"]) - elapsed, 0.0)
    measured = elapsed / k
    if per_pred is None:
        per = measured
    else:
        w = k / (k + PRIOR_ITERATIONS)
        per = w * measured + (1 - w) * per_pred
    return max(K - k, 0) * per


def compare(prediction: dict[str, Any] | None, actual_seconds: float,
            rounds: dict[str, Any] | None = None) -> dict[str, Any]:
    """The prediction beside the actual seconds (summary.json's ``prediction``), and,
    where the prediction assumed a mean trajectory length and the run's ``rounds``
    (summary.json's ``round_stats``) measured one, that length beside it
    (``mean_length_actual``): a miss with lengths as predicted is the machine's speed, one
    with other lengths is the pilot's trend."""
    out = dict(prediction or {"total_seconds": None, "reason": "no prediction"})
    out["actual_seconds"] = actual_seconds
    if out.get("mean_length") is not None:
        out["mean_length_actual"] = (rounds or {}).get("mean_length")
    p = out.get("total_seconds")
    if p is None or not math.isfinite(actual_seconds) or p <= 0:
        out["ratio"] = out["inside_interval"] = None
        return out
    out["ratio"] = p / actual_seconds
    out["error"] = abs(actual_seconds - p) / p
    out["inside_interval"] = bool(out["total_seconds_low"] <= actual_seconds
                                  <= out["total_seconds_high"])
    return out

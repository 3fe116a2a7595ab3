"""Writing run records (CSV, JSON) and plotting them in the paper's style.

The paper plots each method's median over seeds with a (20%, 80%) band against
simulated time (Section H: "We run every experiment with 5 seeds and report (20%, 80%)
confidence intervals"). Runs record at their own event times, so each run is first
read on a common time grid as a step function: the value at time t is the one of the
last record with time <= t.
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import NamedTuple

import numpy as np

from algorithms.run.records import IterationRecord, RunResult

FIELDS = [f.name for f in fields(IterationRecord)]


def write_csv(path: Path, records: Sequence[IterationRecord]) -> None:
    """One row per iteration with the columns of :class:`IterationRecord`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS)
        w.writeheader()
        for r in records:
            w.writerow(asdict(r))


def read_csv(path: Path) -> list[IterationRecord]:
    """Inverse of :func:`write_csv`."""
    out = []
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            out.append(
                IterationRecord(
                    int(row["iteration"]),
                    float(row["time"]),
                    int(row["gradients_evaluated"]),
                    int(row["gradients_simulated"]),
                    int(row["communications"]),
                    float(row["communication_time"]),
                    float(row["J"]),
                    float(row["grad_norm"]),
                )
            )
    return out


def step_values(records: Sequence[IterationRecord], field: str, grid: np.ndarray) -> np.ndarray:
    """Values of ``field`` on ``grid`` read as a right-continuous step function.

    Before the first record the value is NaN. NaN entries (not evaluated) are skipped,
    so the value is the last evaluated one.
    """
    pts = [(r.time, getattr(r, field)) for r in records if not math.isnan(getattr(r, field))]
    if not pts:
        return np.full(grid.shape, np.nan)
    t = np.array([p[0] for p in pts])
    v = np.array([p[1] for p in pts])
    idx = np.searchsorted(t, grid, side="right") - 1
    out = np.where(idx >= 0, v[np.clip(idx, 0, None)], np.nan)
    return out


class Band(NamedTuple):
    """Median and (20%, 80%) quantiles over seeds on a time grid."""

    grid: np.ndarray
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray


def band(
    runs: Sequence[Sequence[IterationRecord]],
    field: str,
    grid: np.ndarray,
    q: tuple[float, float] = (0.2, 0.8),
) -> Band:
    """Median and quantile band of ``field`` over runs (Section H's plots)."""
    vals = np.vstack([step_values(r, field, grid) for r in runs])
    with warnings.catch_warnings():  # grid times before every run's first record: NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        med, lo, hi = np.nanquantile(vals, (0.5, *q), axis=0)
    return Band(grid, med, lo, hi)


def time_to_reach(
    records: Sequence[IterationRecord], field: str, target: float, below: bool = True
) -> float:
    """First simulated time at which ``field`` is <= target (``below``) or >= target."""
    for r in records:
        v = getattr(r, field)
        if not math.isnan(v) and ((v <= target) if below else (v >= target)):
            return r.time
    return math.inf


def time_average(
    records: Sequence[IterationRecord], field: str, t_end: float, points: int = 200
) -> float:
    """Time-average of ``field`` over [0, t_end]: the tuning score of `compare --tune` and
    `apga experiment`.

    Notes
    -----
    .. math:: \\frac{1}{T}\\int_0^T J(\\theta_{t(s)})\\, ds \\text{ on a uniform grid of
              ``points`` times; before the first evaluation, the first evaluated value}

    Paper: our choice (Appendix H tunes alpha per plot without stating the score).
    """
    v = step_values(records, field, np.linspace(0.0, t_end, points))
    first = next(
        (getattr(r, field) for r in records if not math.isnan(getattr(r, field))), math.nan
    )
    return float(np.mean(np.where(np.isnan(v), first, v)))


def finish_figure(fig, axes, path: Path, title: str = "", dpi: int = 120) -> Path:
    """Legend on the first panel, title, tight layout, save to ``path`` and close."""
    import matplotlib.pyplot as plt

    axes[0][0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def draw_bands(
    ax,
    runs_by_label: Mapping[str, Sequence[Sequence[IterationRecord]]],
    field: str,
    grid: np.ndarray,
) -> None:
    """On ``ax``: per label, the median of ``field`` over runs and its 20-80% band."""
    for label, runs in runs_by_label.items():
        b = band(runs, field, grid)
        (line,) = ax.plot(grid, b.median, label=label)
        ax.fill_between(grid, b.low, b.high, color=line.get_color(), alpha=0.2, linewidth=0)


def plot_runs(
    results: Mapping[str, Sequence[RunResult]],
    path: Path,
    *,
    fields_: Sequence[tuple[str, str]] = (("J", "J(theta)"), ("grad_norm", "||grad J(theta)||")),
    title: str = "",
    log_y: Sequence[str] = ("grad_norm",),
    points: int = 400,
) -> Path:
    """Plot median and 20-80% band of each field against simulated time, one panel each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t_end = max(r.records[-1].time for runs in results.values() for r in runs)
    grid = np.linspace(0.0, t_end, points)
    fig, axes = plt.subplots(1, len(fields_), figsize=(5.5 * len(fields_), 4), squeeze=False)
    for ax, (fld, label) in zip(axes[0], fields_, strict=True):
        draw_bands(
            ax, {name: [r.records for r in runs] for name, runs in results.items()}, fld, grid
        )
        ax.set_xlabel("simulated time (s)")
        ax.set_ylabel(label)
        if fld in log_y:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    return finish_figure(fig, axes, path, title)

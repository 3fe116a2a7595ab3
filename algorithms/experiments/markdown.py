"""The docs' tables of one experiment, from its summary.json (``apga experiment ... --replot
--markdown`` prints them): per panel the tuned hyperparameters, final and time-averaged
returns, and the verdict table of the paper's claims."""

from __future__ import annotations

import math
from typing import Any


def _g(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}g}"


def _alpha(a: float) -> str:
    k = math.log2(a)
    return f"2^{k:g}" if k == round(k) else f"{a:g}"


def panel_table(key: str, panel: dict[str, Any], order: list[str] | None = None) -> str:
    """One markdown table: a row per method (in ``order``, the plan's, when given: the
    JSON keys are sorted)."""
    from algorithms.methods.registry import get

    lines = [
        f"**{key}** (T = {_g(panel['max_time'])} s; initial return {_g(panel['initial_return'])})",
        "",
        "| method | alpha, M (tuned) | final return, median (20%, 80%) | time-averaged return, "
        "median | iterations | gradients | tuning: best score (time-avg / final) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in order or list(panel["methods"]):
        m = panel["methods"][name]
        hp = _alpha(m["hyper"]["alpha"]) if "alpha" in m["hyper"] else "-"
        if "M" in m["hyper"]:
            hp += f", M = {m['hyper']['M']:g}"
        best = max(m["tuning"], key=lambda r: r["score"]) if m["tuning"] else None
        tune = f"{_g(best['score'])} / {_g(best['score_final'])}" if best else "not tuned"
        lines.append(
            f"| {get(name).title} | {hp} | {_g(m['final_return_median'])} "
            f"({_g(m['final_return_q20'])}, {_g(m['final_return_q80'])}) | "
            f"{_g(m['average_return_median'])} | {m['iterations']:.0f} | "
            f"{m['gradients_evaluated']:.0f} | {tune} |"
        )
    return "\n".join(lines)


def verdict_table(verdicts: list[dict[str, Any]]) -> str:
    """A row per claim and metric: verdict and the intervals it rests on."""
    if not verdicts:
        return ""
    level = verdicts[0]["level"]
    lines = [
        f"| claim | metric | verdict | mean difference over seeds [{level:.0%} bootstrap "
        "interval] |",
        "|---|---|---|---|",
    ]
    for v in verdicts:
        for metric, label in (("final", "final return"), ("average", "time-averaged return")):
            r = v[metric]
            comps = "; ".join(
                f"{c['difference']}: {_g(c['estimate'], 3)} [{_g(c['low'], 3)}, "
                f"{_g(c['high'], 3)}]"
                for c in r["comparisons"]
            )
            margin = f" (margin +-{_g(r['margin'], 3)})" if r.get("margin") else ""
            lines.append(f"| {v['claim']} | {label} | **{r['verdict']}**{margin} | {comps} |")
    return "\n".join(lines)


def summary_markdown(payload: dict[str, Any]) -> str:
    """Every panel table, then the verdict table, of one summary.json payload."""
    order = payload["plan"]["methods"]
    keys = [p["key"] for p in payload["plan"]["panels"]]
    parts = [panel_table(k, payload["summary"][k], order) for k in keys]
    parts.append(verdict_table(payload["verdicts"]))
    return "\n\n".join(parts) + "\n"

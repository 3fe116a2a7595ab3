"""The docs' tables of one experiment, from its summary.json (``apga experiment ... --replot
--markdown`` prints them): per panel the tuned hyperparameters (winner and runner-up),
final and time-averaged returns and server updates in T; then the verdict table of the
paper's claims with raw and Holm-adjusted p-values, adequacy, fragility and power, headed
by what the budget can show."""

from __future__ import annotations

import math
from typing import Any

from algorithms.experiments.judging import METRIC_WORDS


def _g(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}g}"


def _p(x: Any) -> str:
    if x is None:
        return "-"
    return f"{x:.2g}" if x >= 0.001 else f"{x:.1e}"


def _alpha(a: float) -> str:
    k = math.log2(a)
    return f"2^{k:g}" if abs(k * 64 - round(k * 64)) < 1e-9 else f"{a:g}"


def _hp(h: dict[str, Any]) -> str:
    hp = _alpha(h["alpha"]) if "alpha" in h else "-"
    if "M" in h:
        hp += f", M = {h['M']:g}"
    return hp


def panel_table(key: str, panel: dict[str, Any], order: list[str] | None = None) -> str:
    """One markdown table: a row per method (in ``order``, the plan's, when given: the
    JSON keys are sorted)."""
    from algorithms.methods.registry import get

    lines = [
        f"**{key}** (T = {_g(panel['max_time'])} s; initial return {_g(panel['initial_return'])})",
        "",
        "| method | alpha, M (winner) | final return, median (20%, 80%) | time-averaged "
        "return, median | updates in T | gradients | tuning score: winner / runner-up "
        "(alpha, M) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in order or list(panel["methods"]):
        m = panel["methods"][name]
        tunes = []
        for metric, t in m["tuning"].items():
            rows = {r["config"]: r for r in t["rows"]}
            if not rows:
                tunes.append("not tuned")
                continue
            w, r = rows[t["winner"]], rows.get(t["runner_up"] or "")
            txt = f"{_g(w['score'])} / " + (f"{_g(r['score'])} ({_hp(r['hyper'])})" if r
                                            else "-")
            tunes.append(txt + (f" [{metric}]" if len(m["tuning"]) > 1 else ""))
        lines.append(
            f"| {get(name).title} | {_hp(m['hyper'])} | {_g(m['final_return_median'])} "
            f"({_g(m['final_return_q20'])}, {_g(m['final_return_q80'])}) | "
            f"{_g(m['average_return_median'])} | {m['iterations']:.0f} | "
            f"{m['gradients_evaluated']:.0f} | {'; '.join(tunes)} |"
        )
    return "\n".join(lines)


def verdict_table(verdicts: list[dict[str, Any]], note: str = "") -> str:
    """A row per claim: verdict, metric, the comparisons (mean difference with its t
    interval, raw and Holm-adjusted p-values), the reason when not judged, fragility and
    the seeds for 80% power of an inconclusive verdict."""
    if not verdicts:
        return ""
    level = verdicts[0]["level"]
    lines = [note, ""] if note else []
    lines += [
        f"| claim | metric | verdict | comparisons: mean difference [{level:.0%} t interval]"
        ", p raw / Holm | not judged because / fragile / seeds for 80% power |",
        "|---|---|---|---|---|",
    ]
    for v in verdicts:
        comps = "; ".join(
            f"{c['difference']}: {_g(c['estimate'], 3)} [{_g(c['low'], 3)}, "
            f"{_g(c['high'], 3)}], p {_p(c['p_value'])} / {_p(c.get('p_adjusted'))}"
            for c in v["comparisons"]
        )
        extra = []
        if v["reason"]:
            extra.append(v["reason"])
        if v.get("fragile"):
            extra.append("**fragile**: " + "; ".join(f"{x['switched']} gives {x['verdict']}"
                                                    for x in v["runner_up"]))
        elif v.get("fragile") is False:
            extra.append(f"not fragile ({v.get('runner_up_checked', 0)} runner-ups)")
        if v["verdict"] == "inconclusive":
            n = v.get("seeds_for_80_power")
            extra.append(f"{n if n else 'no finite number of'} seeds for 80% power "
                         f"(towards {v.get('power_towards')})")
        lines.append(f"| {v['claim']} | {METRIC_WORDS[v['metric']]} | **{v['verdict']}** | "
                     f"{comps or '-'} | {'; '.join(extra) or '-'} |")
    return "\n".join(lines)


def summary_markdown(payload: dict[str, Any]) -> str:
    """Every panel table, then the verdict table, of one summary.json payload."""
    order = payload["plan"]["methods"]
    keys = [p["key"] for p in payload["plan"]["panels"]]
    parts = [panel_table(k, payload["summary"][k], order) for k in keys]
    parts.append(verdict_table(payload["verdicts"],
                               f"*{payload.get('budget_can_show', '')}*"))
    return "\n\n".join(parts) + "\n"

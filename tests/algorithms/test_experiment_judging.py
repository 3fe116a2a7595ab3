"""The four verdicts on synthetic panels: the rules of each test, Holm families, the
adequacy rules ("not judged"), fragility under the runner-up and power. No MuJoCo needed."""

import math

import numpy as np
import pytest

from algorithms.experiments import judging
from algorithms.experiments.figures import Claim
from algorithms.experiments.judging import first_rise, judge, min_steps

T, P = 100.0, 20
TIMES = [T * k / P for k in range(P + 1)]


def _saturating(j0=10.0, gain=100.0):
    return [j0 + gain * (1 - math.exp(-t / (T / 8))) for t in TIMES]


def _config(values, steps=200, curve=None, final=None):
    values = list(map(float, values))
    return {"average_returns": values, "final_returns": list(final or values),
            "iterations": [steps] * len(values), "min_steps": 50,
            "curve_median": curve or _saturating(), "hyper": {"eta": 0.1}}


def _panel(winners, runner_ups=None, initial=10.0):
    methods = {}
    for m, w in winners.items():
        r = (runner_ups or {}).get(m)
        methods[m] = {"configs": {"w": w, **({"r": r} if r else {})},
                      "tuning": {k: {"winner": "w", "runner_up": "r" if r else None}
                                 for k in ("average", "final")}}
    return {"initial_return": initial, "max_time": T, "eval_times": TIMES, "methods": methods}


def _claim(tests=("better",), panel="P", **kw):
    return Claim(kw.pop("key", "c"), "S", "text", tests, panel, **kw)


BASE = np.random.default_rng(0).normal(100.0, 10.0, 10)  # a per-seed level (common numbers)


def _verdict(claims, panels, n=10):
    return judge(claims if isinstance(claims, list) else [claims], panels, n)


# ---------------------------------------------------------------- better
def test_better_reproduced_contradicted_inconclusive():
    noise = np.random.default_rng(1).normal(0, 1, 10)
    panels = {"E_P": _panel({"rennala_nigt": _config(BASE + 20), "afedpg_agent": _config(BASE
                             + noise), "sync_nigt": _config(BASE - 5)})}
    (v,) = _verdict(_claim(), panels)
    assert v["verdict"] == "reproduced" and v["reason"] is None and v["family_size"] == 2
    for c in v["comparisons"]:
        # every seed on the claim's side: 2^-10, doubled (two-sided), times 2 (Holm)
        assert c["p_value"] == pytest.approx(2.0**-9) and c["p_adjusted"] == pytest.approx(2**-8)
        assert c["decided"] == "for" and c["low"] > 0
    panels["E_P"]["methods"]["sync_nigt"]["configs"]["w"] = _config(BASE + 40)
    (v,) = _verdict(_claim(), panels)
    assert v["verdict"] == "contradicted" and [c["decided"] for c in v["comparisons"]] == \
        ["for", "against"]
    rng = np.random.default_rng(2)
    panels["E_P"]["methods"]["sync_nigt"]["configs"]["w"] = _config(BASE + 19 + rng.normal(0, 10,
                                                                                     10))
    (v,) = _verdict(_claim(), panels)
    assert v["verdict"] == "inconclusive"
    assert v["seeds_for_80_power"] >= 10 and v["power_towards"] in ("reproduced", "contradicted")
    assert all("seeds_for_80_power" in c for c in v["comparisons"])


def test_effect_size_much_higher():
    # gain = best mean - initial = (100 + 40) - 10 = 130 (BASE averages about 100);
    # "much higher" needs a lead > 0.2 x gain = 26
    def panels(lead):
        return {"E_P": _panel({"malenia_nigt": _config(BASE + lead),
                               "afedpg_agent": _config(BASE)})}
    claim = _claim(subject="malenia_nigt", others=("afedpg_agent",), effect=0.2)
    (v,) = _verdict(claim, panels(60.0))
    assert v["verdict"] == "reproduced"
    c = v["comparisons"][0]
    assert c["bound"] == pytest.approx(0.2 * (np.mean(BASE) + 60 - 10))
    (v,) = _verdict(claim, panels(5.0))  # ahead, but by much less than the stated effect
    assert v["verdict"] == "contradicted"


# ---------------------------------------------------------------- similar, robust, gaps
def test_similar_is_an_equivalence_test():
    rng = np.random.default_rng(3)
    same = {m: _config(BASE + 20 + rng.normal(0, 0.5, 10))
            for m in ("rennala_nigt", "afedpg_agent", "sync_nigt")}
    (v,) = _verdict(_claim(("similar",)), {"E_P": _panel(same)})
    assert v["verdict"] == "reproduced" and len(v["comparisons"]) == 3
    margin = judging.SIMILAR_MARGIN * (max(np.mean(c["average_returns"]) for c in same.values())
                                       - 10.0)
    assert v["comparisons"][0]["bound"] == pytest.approx(margin)
    same["sync_nigt"] = _config(BASE - 40)
    (v,) = _verdict(_claim(("similar",)), {"E_P": _panel(same)})
    assert v["verdict"] == "contradicted"


def test_robust_and_gap_tests_by_hand():
    easy = {"rennala_nigt": _config(BASE + 10), "afedpg_agent": _config(BASE + 10),
            "sync_nigt": _config(BASE + 10)}
    hard = {"rennala_nigt": _config(BASE + 5), "afedpg_agent": _config(BASE - 20),
            "sync_nigt": _config(BASE - 25)}
    panels = {"E_easy": _panel(easy), "E_hard": _panel(hard)}
    (v,) = _verdict(_claim(("robust",), "hard", ref_panel="easy"), panels)
    # Rennala NIGT loses 5, AFedPG 30, Synchronized NIGT 35: differences 25 and 30
    assert v["verdict"] == "reproduced"
    assert [c["estimate"] for c in v["comparisons"]] == pytest.approx([25.0, 30.0])
    (v,) = _verdict(_claim(("gap_grows",), "hard", ref_panel="easy"), panels)
    assert v["verdict"] == "reproduced"  # the same differences, read as leads
    assert [c["estimate"] for c in v["comparisons"]] == pytest.approx([25.0, 30.0])
    (v,) = _verdict(_claim(("gap_grows",), "easy", ref_panel="hard"), panels)
    assert v["verdict"] == "contradicted"
    # gap_smaller: leads in units of the gain; on "hard" the lead is 25 of a gain ~95,
    # on "easy" 0: the lead on easy is *smaller*, so "smaller on hard" is contradicted
    (v,) = _verdict(_claim(("gap_smaller",), "hard", ref_panel="easy"), panels)
    assert v["verdict"] == "contradicted"
    gain = np.mean(BASE) + 5 - 10
    assert v["comparisons"][0]["estimate"] == pytest.approx(0 - 25 / gain)


def test_two_tests_in_one_claim_must_both_hold():
    easy = {m: _config(BASE + 10) for m in ("rennala_nigt", "afedpg_agent", "sync_nigt")}
    hard = {"rennala_nigt": _config(BASE + 5), "afedpg_agent": _config(BASE - 20),
            "sync_nigt": _config(BASE + 30)}  # sync degrades less and ends higher
    panels = {"E_easy": _panel(easy), "E_hard": _panel(hard)}
    (v,) = _verdict(_claim(("robust", "better"), "hard", ref_panel="easy"), panels)
    assert v["verdict"] == "contradicted" and len(v["comparisons"]) == 4


# ---------------------------------------------------------------- not judged
def _good():
    return {"E_P": _panel({"rennala_nigt": _config(BASE + 20), "afedpg_agent": _config(BASE),
                           "sync_nigt": _config(BASE - 5)})}


@pytest.mark.parametrize("n", [2, 4])
def test_not_judged_with_fewer_than_5_seeds(n):
    panels = {"E_P": _panel({m: _config(BASE[:n] + d) for m, d in
                             (("rennala_nigt", 20), ("afedpg_agent", 0), ("sync_nigt", -5))})}
    (v,) = _verdict(_claim(), panels, n=n)
    assert v["verdict"] == "not judged" and v["reason"] == f"{n} reported seeds < 5"
    assert v["fragile"] is None and v["comparisons"] == []


def test_not_judged_on_too_few_steps():
    panels = _good()
    panels["E_P"]["methods"]["sync_nigt"]["configs"]["w"]["iterations"] = [8] * 10
    (v,) = _verdict(_claim(), panels)
    assert v["verdict"] == "not judged"
    assert "sync_nigt on E_P: 8 < 50 steps" in v["reason"] and "5/eta" in v["reason"]
    assert min_steps({"eta": 0.1}) == 50 and min_steps({"eta": 0.25}) == 20
    assert min_steps({}) == judging.MIN_STEPS_PLAIN


def test_not_judged_in_the_first_rise():
    panels = _good()
    linear = [10.0 + t for t in TIMES]  # still climbing at its average rate
    panels["E_P"]["methods"]["afedpg_agent"]["configs"]["w"]["curve_median"] = linear
    (v,) = _verdict(_claim(), panels)
    assert v["verdict"] == "not judged" and "first rise" in v["reason"]
    assert "afedpg_agent on E_P" in v["reason"]


def test_first_rise_by_hand():
    # linear: Q3 = mean(J(55..75)) = 75, Q4 = mean(J(80..100)) = 100 (J = 10 + t, 5 points
    # each), Q4 - J0 = 90 and Q4 - Q3 = 25 >= 0.2 x 90
    linear = [10.0 + t for t in TIMES]
    assert judging.quarters(linear, TIMES, T) == pytest.approx((75.0, 100.0))
    assert first_rise(linear, TIMES, T, panel_gain=90.0) is True
    assert first_rise(_saturating(), TIMES, T, panel_gain=100.0) is False
    # a flat curve with noise: its last-quarter climb is below 5% of the panel's gain
    flat = [10.0 + (1.0 if k > 15 else 0.0) for k in range(P + 1)]
    assert first_rise(flat, TIMES, T, panel_gain=100.0) is False
    assert first_rise(flat, TIMES, T, panel_gain=5.0) is True
    # too few evaluations to have a third and a last quarter
    assert first_rise([1.0, 2.0], [0.0, T], T, 1.0) is None


def test_not_judged_when_holm_cannot_reach_alpha():
    # 5 seeds: the smallest two-sided p is 2^-4 = 0.0625 > 0.05 even for one comparison
    panels = {"E_P": _panel({m: _config(BASE[:5] + d) for m, d in
                             (("rennala_nigt", 20), ("afedpg_agent", 0), ("sync_nigt", -5))})}
    (v,) = _verdict(_claim(), panels, n=5)
    assert v["verdict"] == "not judged" and "after Holm" in v["reason"]
    # 6 seeds, one comparison: 2^-5 = 0.031 <= 0.05
    panels = {"E_P": _panel({m: _config(BASE[:6] + d) for m, d in
                             (("rennala_nigt", 20), ("afedpg_agent", 0))})}
    (v,) = _verdict(_claim(others=("afedpg_agent",)), panels, n=6)
    assert v["verdict"] == "reproduced" and v["family_size"] == 1


def test_untestable_and_missing_panels():
    (v,) = _verdict(_claim((), untestable="needs several n"), _good())
    assert v["verdict"] == "not judged" and "not testable" in v["reason"]
    (v,) = _verdict(_claim(panel="Q"), _good())
    assert v["verdict"] == "not judged" and "not in this plan" in v["reason"]
    c = _claim(("gap_grows",), "P", ref_panel="fig6:P")
    (v,) = _verdict(c, _good())
    assert v["verdict"] == "not judged" and "--merge" in v["reason"]
    ref = _panel({"rennala_nigt": _config(BASE), "afedpg_agent": _config(BASE),
                  "sync_nigt": _config(BASE)})
    (v,) = _verdict(c, {**_good(), "fig6:E_P": ref})
    assert v["verdict"] == "reproduced"  # leads of 20 and 25 against 0 in Figure 6


def test_families_and_holm_across_claims():
    claims = [_claim(key="a"), _claim(key="b", others=("sync_nigt",)),
              _claim(key="x", family="ours", others=("sync_nigt",))]
    va, vb, vx = _verdict(claims, _good())
    assert va["family_size"] == vb["family_size"] == 3  # the paper's: 2 + 1 comparisons
    assert vx["family_size"] == 1  # ours: its own family
    assert vx["comparisons"][0]["p_adjusted"] == pytest.approx(2.0**-9)
    assert va["comparisons"][0]["p_adjusted"] == pytest.approx(3 * 2.0**-9)


# ---------------------------------------------------------------- fragility
def test_fragile_when_the_runner_up_flips_the_verdict():
    panels = {"E_P": _panel({"rennala_nigt": _config(BASE + 20), "afedpg_agent": _config(BASE),
                             "sync_nigt": _config(BASE - 5)},
                            runner_ups={"sync_nigt": _config(BASE + 40),
                                        "afedpg_agent": _config(BASE + 1)})}
    (v,) = _verdict(_claim(), panels)
    assert v["verdict"] == "reproduced" and v["fragile"] is True
    assert v["runner_up_checked"] == 2
    (flip,) = v["runner_up"]
    assert flip["switched"] == "sync_nigt on E_P -> r" and flip["verdict"] == "contradicted"
    # a runner-up that changes nothing
    panels["E_P"]["methods"]["sync_nigt"]["configs"]["r"] = _config(BASE - 3)
    (v,) = _verdict(_claim(), panels)
    assert v["fragile"] is False and v["runner_up"] == []
    # a runner-up that cannot be judged (too few steps) is listed, not fragile
    panels["E_P"]["methods"]["sync_nigt"]["configs"]["r"] = _config(BASE + 40, steps=5)
    (v,) = _verdict(_claim(), panels)
    assert v["fragile"] is False and v["runner_up"][0]["verdict"] == "not judged"


def test_null_panels_rarely_give_a_verdict():
    """Under the null (every method the same in distribution), a 2-comparison claim with 10
    seeds is decided (reproduced or contradicted) in at most alpha of the cases
    (+3 Monte Carlo s.e.)."""
    rng = np.random.default_rng(7)
    reps, hits = 60, 0
    for _ in range(reps):
        base = rng.normal(100, 10, 10)
        panels = {"E_P": _panel({m: _config(base + rng.standard_t(3, 10) * 5) for m in
                                 ("rennala_nigt", "afedpg_agent", "sync_nigt")})}
        (v,) = _verdict(_claim(), panels)
        hits += v["verdict"] in ("reproduced", "contradicted")
    assert hits / reps <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / reps)


def test_budget_note():
    assert "not judged" in judging.budget_note(2, "tiny")
    assert "5/eta" in judging.budget_note(10, "medium")

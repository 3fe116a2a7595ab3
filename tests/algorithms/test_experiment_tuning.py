"""The tuning search (grid and staged), followed stage by stage on synthetic scores.
No MuJoCo needed."""

import math

import pytest

from algorithms.experiments.planning import ALPHA_PAPER
from algorithms.experiments.tuning import config_key, make_config, search
from algorithms.methods.registry import get

COARSE = (2.0**-10, 2.0**-7, 2.0**-4, 2.0**-1)
MS = (20, 30, 50)
RENNALA, AFEDPG = get("rennala_nigt"), get("afedpg_agent")


def _e(c):
    return math.log2(c["alpha"])


def _run(spec, score, alphas=COARSE, Ms=MS, staged=True, **kw):
    """Replay the search, 'running' what it asks for, until it is done; returns the
    outcome and the configurations each stage asked for."""
    seen, asked = {}, []
    while True:
        out = search(spec, alphas, Ms, staged, lambda c: seen.get(config_key(c)), **kw)
        if out.done:
            return out, asked
        asked.append([config_key(c) for c in out.need])
        for c in out.need:
            seen[config_key(c)] = score(c)


def test_config_keys():
    assert config_key(make_config(RENNALA, 2.0**-4, 30)) == "e-4_M30"
    assert config_key(make_config(AFEDPG, 2.0**-4.5, None)) == "e-4.5"
    assert config_key({"alpha": 0.05}) == "a0.05"
    assert config_key(make_config(AFEDPG, 1.0, 30)) == "e0"  # AFedPG has no M
    assert make_config(RENNALA, 0.5, 20) == {"eta": 0.1, "alpha": 0.5, "M": 20, "M_init": 20}


def test_staged_search_by_hand():
    # score peaks at alpha = 2^-3, prefers M = 20
    def score(c):
        return -((_e(c) + 3) ** 2) - (c["M"] - 20) / 100

    out, asked = _run(RENNALA, score)
    assert asked == [
        ["e-10_M30", "e-7_M30", "e-4_M30", "e-1_M30"],  # coarse at M_0 = 30
        ["e-4_M20", "e-4_M50"],  # M at the coarse winner 2^-4
        ["e-5_M20", "e-3_M20"],  # alpha x 2^-+1 at M = 20
        ["e-2_M20"],  # 2^-3 is the largest tried at M = 20: one more past it
    ]
    assert out.winner == "e-3_M20"
    # runner-up: e-4_M20 and e-2_M20 tie at -1; the earlier in the search wins the tie
    assert out.runner_up == "e-4_M20"
    assert [r["stage"] for r in out.rows] == ["coarse"] * 4 + ["M"] * 2 + ["refine"] * 2 \
        + ["extend-1"]


def test_an_edge_winner_extends_the_grid():
    out, asked = _run(AFEDPG, _e)  # larger is always better
    assert asked == [["e-10", "e-7", "e-4", "e-1"], ["e-2", "e0"], ["e1"], ["e2"], ["e3"]]
    assert out.winner == "e3" and out.runner_up == "e2"  # at most 3 extensions
    out, asked = _run(AFEDPG, lambda c: -_e(c))  # smaller is always better
    assert asked[1] == ["e-11", "e-9"] and asked[2:] == [["e-12"], ["e-13"], ["e-14"]]


def test_configurations_that_cannot_be_judged_are_not_candidates():
    def short(c):  # M = 50 makes 12 < 50 updates in T
        return 12 if c["M"] == 50 else None

    out, asked = _run(RENNALA, lambda c: -abs(_e(c) + 4) - c["M"] / 10, adequate=short)
    flat = [k for stage in asked for k in stage]
    assert not any(k.endswith("M50") for k in flat)
    row = next(r for r in out.rows if r["config"] == "e-4_M50")
    assert row["steps_below_minimum"] == 12 and row["score"] is None
    # nothing adequate at all: searched unfiltered (the verdicts then say "too few steps")
    out, asked = _run(RENNALA, lambda c: -abs(_e(c) + 4), adequate=lambda c: 3)
    assert out.winner is not None and asked[0][0] == "e-10_M30"


def test_grid_search_runs_every_point_at_once():
    out, asked = _run(RENNALA, lambda c: -abs(_e(c) + 5) - abs(c["M"] - 30),
                      alphas=(2.0**-7, 2.0**-5, 2.0**-3), staged=False)
    assert len(asked) == 1 and len(asked[0]) == 9
    assert out.winner == "e-5_M30" and out.runner_up in ("e-5_M20", "e-7_M30", "e-3_M30")


@pytest.mark.parametrize("spec", [RENNALA, AFEDPG])
def test_the_staged_grid_spans_the_papers_alphas(spec):
    out, asked = _run(spec, lambda c: -abs(_e(c) + 6))
    tried = {r["hyper"]["alpha"] for r in out.rows}
    assert min(tried) <= min(ALPHA_PAPER) and max(tried) >= max(ALPHA_PAPER)
    assert out.winner.startswith("e-6")

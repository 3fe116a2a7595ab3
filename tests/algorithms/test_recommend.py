"""Which method apga predict recommends (algorithms.wallclock.recommend), on constructed
clusters, and one set of defaults for predict and launch (algorithms.wallclock.defaults)."""

import json

import pytest

from algorithms.cli.main import main
from algorithms.wallclock import recommend as rc
from algorithms.wallclock.defaults import TheoryInputs, resolve
from theory import parameters as tp


def predict_json(capsys, *args):
    capsys.readouterr()
    assert main(["predict", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_one_straggler_never_recommends_synchronized_nigt(capsys):
    # three agents at 1 s per gradient, one at 20 s: a synchronized round waits 20 s
    out = predict_json(capsys, "--h", "1,1,1,20", "--kappa", "0.01", "--M", "10",
                       "--M-init", "10", "--iterations", "50")
    rec = out["recommendation"]
    assert rec["method"] != "sync_nigt"
    assert "20x slower" in out["ranking"]["excluded"]["sync_nigt"]
    assert out["ranking"]["straggler_ratio"] == pytest.approx(20.0)
    assert set(rec) >= {"method", "M", "agents", "seconds", "reason"}
    assert 1 <= rec["agents"] <= 4 and rec["seconds"] > 0


def test_communication_far_above_computation_never_recommends_afedpg(capsys):
    # kappa = 10 s per message against 1 s per gradient: AFedPG sends every gradient
    out = predict_json(capsys, "--h", "1,1,1,1", "--kappa", "10", "--M", "10", "--M-init",
                       "10", "--iterations", "50")
    assert out["recommendation"]["method"] != "afedpg"
    assert "communication dominates" in out["ranking"]["excluded"]["afedpg"]
    assert out["ranking"]["message_over_gradient"] == pytest.approx(20.0)


def test_equal_fast_cluster_ranks_every_method_both_ways(capsys):
    out = predict_json(capsys, "--h", "1,1", "--kappa", "0", "--M", "4", "--M-init", "4",
                       "--iterations", "10")
    r = out["ranking"]
    assert not r["excluded"] and set(r["ranking_gradients"]) == set(out["wallclock"])
    assert "afedpg" not in r["ranking_eps"]  # no explicit T in the paper for AFedPG
    # (a) the same gradients: G = M_init + K M = 44; Sync. NIGT (2 per round) needs 21
    # rounds after its first, AFedPG 44 updates
    rows = {x["method"]: x for x in r["rows"]}
    assert out["ranking"]["gradients_budget"]["G"] == 44
    assert rows["sync_nigt"]["iterations_gradients"] == 21
    assert rows["afedpg"]["iterations_gradients"] == 44
    assert rows["rennala_nigt"]["iterations_gradients"] == 10
    assert out["recommendation"]["criterion"] == "eps"


def test_recommend_picks_the_fastest_agents_and_explains():
    # fake predictions: seconds = K x (a method factor) x a cost that is least at m = 2
    cost = {1: 3.0, 2: 1.0, 3: 2.0}
    factor = {"rennala_nigt": 1.0, "malenia_nigt": 2.0, "sync_nigt": 0.5, "afedpg": 0.1}
    out = rc.recommend(
        list(factor), h=[1.0, 1.0, 50.0], message_seconds=5.0,
        seconds=lambda m, k, K: K * factor[m] * cost[k],
        eps_iterations=lambda m, k: None if m == "afedpg" else 100,
        gradients=lambda m, k: 10, M=lambda m: 20 if "nigt" in m and m != "sync_nigt" else None)
    # sync_nigt is fastest but the third agent is 50x slower; afedpg: messages 5x a gradient
    assert set(out["excluded"]) == {"sync_nigt", "afedpg"}
    rec = out["recommendation"]
    assert (rec["method"], rec["agents"], rec["M"]) == ("rennala_nigt", 2, 20)
    assert rec["seconds"] == 100 * 1.0 * 1.0
    assert "2x faster than Malenia NIGT" in rec["reason"]
    assert "fastest 2 of 3 agents" in rec["reason"]
    assert out["ranking_eps"][0] == "sync_nigt"  # ranked, but excluded from the choice


def test_straggler_ratio_and_counts_by_hand():
    assert rc.straggler([1.0, 1.0, 1.0, 20.0]) == (20.0, 3)
    assert rc.straggler([2.0]) == (1.0, 0)
    assert rc.gradients_iterations("rennala", 44, 4, 4, 2, 1) == 10
    assert rc.gradients_iterations("synchronized", 44, 4, 4, 2, 1) == 21
    assert rc.gradients_iterations("greedy", 44, 4, 4, 2, 1) == 44
    assert rc.agent_counts(5) == [1, 2, 3, 4, 5]
    grid = rc.agent_counts(1000)
    assert grid[0] == 1 and grid[-1] == 1000 and len(grid) <= rc.MAX_AGENT_COUNTS + 2


# --- one set of defaults ----------------------------------------------------------------
def test_resolver_by_hand():
    # nothing given: the registry defaults
    v, s = resolve("rennala_nigt", {})
    assert (v["M"], v["M_init"], v["alpha"], v["eta"]) == (20, 20, 0.05, 0.1)
    assert set(s.values()) == {"default"}
    # theory: Theorem 4.2's M, M_init at eps = 0.01 with unit constants; eta, alpha of
    # Theorem 4.1 at that M
    v, s = resolve("rennala_nigt", {"M": "theory", "M_init": "theory", "alpha": "theory",
                                    "eta": "theory"})
    b = tp.batch_sizes(0.01, 1, 1, 1, 1)
    eta = tp.momentum(b.M, 0.01, 1.0)
    assert (v["M"], v["M_init"]) == (b.M, b.M_init) == (910, 10_000)
    assert v["eta"] == eta and v["alpha"] == tp.step_size(0.01, eta, 1.0, 1.0)
    assert s["M"].startswith("theory: Theorem 4.2") and s["alpha"].startswith(
        "theory: Theorem 4.1 at M = 910")
    # a given M: the theory's alpha at that M
    v, _ = resolve("rennala_nigt", {"M": 30, "alpha": "theory"},
                   TheoryInputs(eps=0.1, L_g=2.0))
    eta30 = tp.momentum(30, 0.1, 1.0)
    assert v["M"] == 30 and v["alpha"] == tp.step_size(0.1, eta30, 2.0, 1.0)
    # synchronized: eta at M = n b
    v, _ = resolve("sync_nigt", {"eta": "theory"}, n=4)
    assert v["eta"] == tp.momentum(4, 0.01, 1.0)
    with pytest.raises(ValueError, match="alpha: 'theory' gives Theorems 4.1/4.2's values"):
        resolve("afedpg", {"alpha": "theory"})


def _launch_hyper(capsys, *args):
    capsys.readouterr()
    assert main(["launch", "--dry-run", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)["spec"]["hyper"]


@pytest.mark.parametrize("flags", [
    [],
    ["--M", "12", "--M-init", "30", "--alpha", "0.02", "--eta", "0.2"],
    ["--M", "theory", "--M-init", "theory", "--alpha", "theory", "--eta", "theory"],
    ["--M", "50", "--alpha", "theory", "--eps", "0.1", "--sigma", "2"],
])
def test_predict_and_launch_resolve_the_same_hyperparameters(capsys, flags):
    pytest.importorskip("torch")
    # apga predict's seconds section and apga launch, given the same flags, describe the
    # same run: the same M, M_init, alpha and eta for Rennala NIGT
    out = predict_json(capsys, "--h", "1,2", "--kappa", "0", "--wallclock",
                       "--methods", "rennala_nigt", *flags)
    predicted = out["wallclock"]["rennala_nigt"]["hyper"]
    launched = _launch_hyper(capsys, "--nproc", "2", "--method", "rennala_nigt", *flags)
    from algorithms.methods.registry import get

    resolved, _ = get("rennala_nigt").resolve(launched)  # what the ranks run
    assert resolved == predicted
    if "theory" in flags:
        sources = out["wallclock"]["rennala_nigt"]["hyper_source"]
        assert any(v.startswith("theory") for v in sources.values())


def test_launch_theory_inputs_only_with_a_theory_value(capsys):
    pytest.importorskip("torch")
    capsys.readouterr()
    assert main(["launch", "--dry-run", "--eps", "0.1"]) == 2
    assert "eps: only used with a 'theory' value" in capsys.readouterr().err

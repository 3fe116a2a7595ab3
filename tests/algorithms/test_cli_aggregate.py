"""``apga aggregate``: output, JSON keys and one-line errors with exit status 2."""

import json

import pytest

from algorithms.cli.main import main


def test_rennala_json_by_hand(capsys):
    assert main(["aggregate", "--method", "rennala", "--h", "1,2,3", "--M", "5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["time"] == 3.0 and out["counts"] == [3, 1, 1]
    # Lemma C.1: min_m (M + m) / sum_{i<=m} 1/h_i = min(6, 7/1.5, 8/(11/6)) = 48/11, m* = 3
    assert out["bound"] == pytest.approx(48 / 11) and out["m_star"] == 3


def test_malenia_json_with_kappa(capsys):
    assert main(["aggregate", "--method", "malenia", "--h", "1,2,3", "--M", "5",
                 "--kappa", "0.5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["time"] == 5.0 and out["counts"] == [4, 2, 1]
    assert out["bound"] == pytest.approx(1.0 + 3.0 + 2.0 * 5 / 3) and out["m_star"] == 3


def test_text_output_profile_and_random_timing(capsys):
    assert main(["aggregate", "--h", "sqrt", "--n", "30", "--M", "100", "--kappa", "sqrt",
                 "--timing", "exponential", "--seed", "3"]) == 0
    text = capsys.readouterr().out
    for word in ("simulated time", "Lemma C.1 bound", "m*", "per-agent counts", "10 more agents",
                 "bound assumes fixed times"):
        assert word in text


@pytest.mark.parametrize("argv, word", [
    (["--h", "1,-2", "--M", "3"], "h must be > 0"),
    (["--h", "1,nan", "--M", "3"], "h must not contain NaN"),
    (["--h", "1,2", "--M", "0"], "argument --M: must be an integer >= 1"),
    (["--h", "1,2", "--M", "3", "--kappa", "1,2,3"], "length mismatch: --kappa"),
    (["--h", "1,2", "--M", "3", "--timing", "gamma"], "timing: unknown value"),
    (["--h", "1,2", "--M", "3", "--method", "fedavg"], "method: unknown value"),
    (["--h", "1,2", "--n", "3", "--M", "3"], "length mismatch: --h has 2, --n is 3"),
    (["--h", "1,2", "--M", "3", "--timing", "uniform", "--jitter", "2"], "jitter"),
    (["--h", "1,inf", "--M", "3", "--method", "malenia"], "h must be finite (index 1 is inf)"),
])
def test_bad_input_one_line_exit_2(capsys, argv, word):
    assert main(["aggregate", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("apga: error:") and word in err


def test_no_arguments_runs_the_documented_default(capsys):
    """README: every command runs with no arguments. Section H cluster n = 10,
    h_i = sqrt(i), kappa = 0, M = 20: the same round as the explicit arguments."""
    assert main(["aggregate", "--json"]) == 0
    default = json.loads(capsys.readouterr().out)
    assert main(["aggregate", "--h", "sqrt", "--n", "10", "--M", "20", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == default
    assert sum(default["counts"]) == 20 and len(default["counts"]) == 10

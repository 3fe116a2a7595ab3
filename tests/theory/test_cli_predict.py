"""``apga predict``: output, JSON shape, and one-line errors (exit 2) for bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest

from algorithms.cli.main import main
from theory import complexity as cx
from theory.constants import proposition_2_3
from theory.parameters import batch_sizes, horizon_from_policy


def run(capsys, *argv):
    code = main(["predict", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_default_run_ranks_rennala_nigt_first(capsys):
    code, out, err = run(capsys)
    assert code == 0 and err == ""
    assert "n = 10" in out and "eps = 0.01" in out
    lines = [ln for ln in out.splitlines() if "│ 1 " in ln]
    assert lines and "Rennala NIGT" in lines[0]
    assert "M = 910" in out and "O-constants are taken as 1" in out


def test_json_shape_and_values(capsys):
    code, out, _ = run(capsys, "--json")
    assert code == 0
    d = json.loads(out)
    assert set(d["methods"]) == set(cx.TABLE1_METHODS)
    h = np.sqrt(np.arange(1, 11))
    expect = cx.table1(h, 0.01, 1.0)
    for name, row in d["methods"].items():
        assert {"computation", "communication", "total"} <= set(row)
        assert row["total"] == pytest.approx(expect[name].total)
    assert {"M", "M_init", "T", "m_star"} <= set(d["parameters"])
    assert (d["parameters"]["M"], d["parameters"]["M_init"]) == batch_sizes(0.01, 1, 1, 1, 1)
    assert d["parameters"]["m_star"] == expect["rennala_nigt"].m_star
    assert d["ranking"][0] == "rennala_nigt"
    lb = expect["lower_bound"].total
    assert d["ratio_to_lower_bound"]["afedpg"] == pytest.approx(expect["afedpg"].total / lb)
    assert "O-constants are taken as 1" in d["note"]
    assert d["inputs"]["n"] == 10 and d["inputs"]["h"] == pytest.approx(list(h))


def test_heterogeneous_afedpg_unsupported(capsys):
    code, out, _ = run(capsys, "--json", "--setting", "heterogeneous")
    d = json.loads(out)
    assert d["methods"]["afedpg"] == {**d["methods"]["afedpg"], "computation": None,
                                      "communication": None, "total": None,
                                      "status": "unsupported"}
    assert d["ranking"][-1] == "afedpg"
    code, out, _ = run(capsys, "--setting", "heterogeneous")
    assert "unsupported" in out


def test_h_sources_agree(capsys, tmp_path):
    f = tmp_path / "h.txt"
    f.write_text("# four agents\n1 2\n3,4\n")
    outs = []
    for args in (["--h", "1,2,3,4"], ["--h-file", str(f)], ["--h", "4, 3,2,1"]):
        code, out, _ = run(capsys, "--json", *args)
        assert code == 0
        outs.append(json.loads(out)["methods"])
    assert outs[0] == outs[1] == outs[2]
    code, out, _ = run(capsys, "--json", "--profile", "equal", "--n", "5")
    assert json.loads(out)["inputs"]["h"] == [1.0] * 5


def test_theorem_form_with_proposition_inputs(capsys):
    code, out, _ = run(capsys, "--json", "--form", "theorem", "--r-max", "1", "--M-g", "2",
                       "--M-h", "1", "--l2", "3", "--gamma", "0.9")
    assert code == 0
    d = json.loads(out)
    c = proposition_2_3(1.0, 2.0, 1.0, 3.0, 0.9, 1.0)
    k = d["inputs"]["constants"]
    assert k["L_g"] == pytest.approx(c.L_g) and k["L_h"] == pytest.approx(c.L_h)
    assert k["sigma"] == pytest.approx(c.sigma)
    p = d["parameters"]  # H solved from the Proposition 2.3 inputs (r_max, M_g, M_h) given
    assert p["H"] == horizon_from_policy(0.01, p["eta"], p["alpha"], 1.0, 2.0, 1.0, 0.9)
    assert d["methods"]["rennala_nigt"]["source"] == "Theorem 4.4"
    assert d["methods"]["afedpg"]["status"] == "unsupported"


def test_methods_filter_and_mu(capsys):
    code, out, _ = run(capsys, "--json", "--methods", "afedpg,rennala_nigt")
    assert set(json.loads(out)["methods"]) == {"afedpg", "rennala_nigt"}
    code, out, _ = run(capsys, "--json", "--form", "theorem", "--mu", "0.5")
    d = json.loads(out)
    assert d["methods"]["rennala_nigt"]["source"] == "Theorem A.2"


BAD = [
    (["--h", "1,-1"], "h"), (["--h", "1,0"], "h"), (["--h", "1,nan"], "h"),
    (["--h", "1,inf"], "h"), (["--h", ""], "h"), (["--h", "1,x"], "h"),
    (["--kappa", "-1"], "kappa"), (["--kappa", "nan"], "kappa"), (["--eps", "0"], "eps"),
    (["--eps", "-0.1"], "eps"), (["--eps", "abc"], "eps"), (["--gamma", "1"], "gamma"),
    (["--gamma", "0"], "gamma"), (["--L-g", "0"], "L_g"), (["--L-h", "-1"], "L_h"),
    (["--sigma", "0"], "sigma"), (["--Delta", "0"], "Delta"), (["--profile", "foo"], "profile"),
    (["--n", "0"], "n"), (["--n", "2.5"], "n"), (["--methods", "foo"], "methods"),
    (["--form", "foo"], "form"), (["--setting", "foo"], "setting"),
    (["--h-file", "/no/such/file"], "h_file"), (["--r-max", "1"], "M_g"),
    (["--mu", "0"], "mu"), (["--D-g", "-1"], "D_g"),
    (["--r-max", "1", "--M-g", "1", "--M-h", "1", "--l2", "1", "--L-g", "1"], "L_g"),
    (["--r-max", "-1", "--M-g", "1", "--M-h", "1", "--l2", "1"], "r_max"),
    (["--setting", "heterogeneous", "--methods", "sync_nigt"], "methods"),
    (["--h", "1,2", "--n", "3"], "n"),
]


@pytest.mark.parametrize("argv, name", BAD)
def test_bad_input_one_line_exit_2(capsys, argv, name):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("apga: error: ")
    assert "--" + name.replace("_", "-") in err  # the option as typed, not the Python name


def test_subprocess_no_traceback():
    p = subprocess.run([sys.executable, "-m", "algorithms.cli.main", "predict", "--h", "1,-2"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == ["apga: error: --h must be > 0, got h[1] = -2.0"]


def test_theorem_form_text_says_totals_use_h_over_one_minus_gamma(capsys):
    """Issue 12, item 14: the theorem form's totals are 1/(1-gamma) times the table's
    per-step scale; the text output (not only the JSON note) says so."""
    code, out, _ = run(capsys, "--form", "theorem", "--gamma", "0.9")
    assert code == 0
    flat = " ".join(out.split())
    assert "totals use h_i = dot h_i / (1 - gamma) = 10 dot h_i" in flat
    code, out, _ = run(capsys)
    assert "1 - gamma" not in " ".join(out.split())


def test_predict_json_strict_and_overflow_refused(capsys):
    """`--h 1e308` printed inf totals and nan ratios with exit 0; now one line, exit 2."""
    code, out, err = run(capsys, "--h", "1e308", "--json")
    assert code == 2 and out == "" and err.startswith("apga: error: --h: 1e+308 is too extreme")

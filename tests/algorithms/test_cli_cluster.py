"""--cluster FILE on the command line: equal to the flags, per-agent kappa, seconds, sweeps."""

import csv
import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest

from algorithms.cli.main import main
from theory import complexity as cx
from theory.cluster_file import ClusterSpec, write_cluster


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def strict_json(text):
    def refuse(name):
        raise AssertionError(f"non-strict JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def h124(tmp_path):
    return write_cluster(tmp_path / "h124.csv", ClusterSpec([1.0, 2.0, 4.0], [0.5] * 3),
                         ["hand-made: h = 1, 2, 4 s, kappa = 0.5 s"])


def test_predict_seconds_by_hand_from_file_and_flags(capsys, h124):
    outs = []
    for src in (["--cluster", str(h124)], ["--h", "1,2,4", "--kappa", "0.5", "--wallclock"]):
        code, out, err = run(capsys, "predict", "--json", "--M", "10", "--M-init", "10", *src)
        assert code == 0 and err == ""
        outs.append(strict_json(out))
    a, b = outs
    w = a["wallclock"]
    assert set(w) == {"rennala_nigt", "malenia_nigt", "sync_nigt", "afedpg"}
    assert w["rennala_nigt"]["round_seconds"] == 7.0  # 0.5 + 6 + 0.5
    assert w["sync_nigt"]["round_seconds"] == 5.0  # 0.5 + 4 + 0.5
    assert w["malenia_nigt"]["round_seconds"] == 9.0  # 0.5 + 8 + 0.5
    assert w["rennala_nigt"]["bound_seconds"] == pytest.approx(1 + 13 / 1.75)
    K = w["rennala_nigt"]["iterations"]
    assert w["rennala_nigt"]["total_seconds"] == 7.0 + K * 7.0  # M_init = 10: same round
    assert w["sync_nigt"]["total_seconds"] == (w["sync_nigt"]["iterations"] + 1) * 5.0
    # --cluster equals the flags: same tables, same seconds (only the source differs)
    assert a["methods"] == b["methods"] and a["parameters"] == b["parameters"]
    assert a["wallclock"] == b["wallclock"]
    assert a["wallclock_setup"]["cluster"]["comments"] == [
        "hand-made: h = 1, 2, 4 s, kappa = 0.5 s"]


def test_cluster_equals_flags_with_random_timing(capsys, tmp_path):
    p = write_cluster(tmp_path / "c.csv", ClusterSpec([1.0, 3.0], [0.2, 0.4], "lognormal",
                                                      {"log_sigma": 0.3}))
    flags = ["--h", "1,3", "--kappa", "0.2,0.4", "--timing", "lognormal", "--log-sigma", "0.3"]
    outs = []
    for src in (["--cluster", str(p)], flags):
        code, out, _ = run(capsys, "predict", "--json", "--seed", "4", "--rounds", "20", *src)
        assert code == 0
        outs.append(strict_json(out))
    assert outs[0]["wallclock"] == outs[1]["wallclock"]
    assert outs[0]["wallclock"]["rennala_nigt"]["round_seconds_std"] > 0
    assert outs[0]["wallclock"]["rennala_nigt"]["rounds_simulated"] == 20


def test_predict_accepts_per_agent_kappa_and_uses_the_max_in_the_rows(capsys):
    code, out, err = run(capsys, "predict", "--json", "--h", "1,2,3,4", "--kappa", "1,2,3,4")
    assert code == 0 and err == ""
    d = strict_json(out)
    expect = cx.table1([1, 2, 3, 4], 0.01, 4.0)
    for name, row in d["methods"].items():
        assert row["total"] == pytest.approx(expect[name].total)
    assert d["inputs"]["kappa"] == 4.0 and d["inputs"]["kappa_per_agent"] == [1, 2, 3, 4]
    assert "max_i kappa_i" in d["inputs"]["kappa_rule"] and "wallclock" not in d
    code, out, _ = run(capsys, "predict", "--h", "1,2,3,4", "--kappa", "1,2,3,4")
    assert "kappa = max_i kappa_i = 4" in out and "kappa = max_i kappa_i in the Table" in out


def test_section_h_kappa_sqrt_i_d_quarter(capsys, tmp_path):
    # kappa_i = sqrt(i) d^(1/4), d = 16: (2, 2 sqrt 2, 2 sqrt 3, 4); h_i = 1 s.
    kappa = 2 * np.sqrt(np.arange(1, 5))
    p = write_cluster(tmp_path / "sectionH.csv", ClusterSpec(np.ones(4), kappa))
    outs = []
    for src in (["--cluster", str(p)], ["--h", "1,1,1,1", "--kappa", "sqrt_d4", "--d", "16",
                                        "--wallclock"]):
        code, out, err = run(capsys, "predict", "--json", "--M", "4", "--M-init", "4", *src)
        assert code == 0, err
        outs.append(strict_json(out))
    a, b = outs
    assert a["wallclock"] == b["wallclock"] and a["methods"] == b["methods"]
    w = a["wallclock"]
    assert w["rennala_nigt"]["round_seconds"] == pytest.approx(1 + 4 * math.sqrt(3))
    assert w["malenia_nigt"]["round_seconds"] == 9.0 and w["sync_nigt"]["round_seconds"] == 9.0
    assert a["inputs"]["kappa"] == 4.0
    assert a["inputs"]["kappa_per_agent"] == pytest.approx(list(kappa))


def test_theorem_form_with_seconds_per_gradient(capsys):
    # seconds mode: h_i already includes the horizon, so no 1/(1-gamma) factor
    base = ["predict", "--json", "--form", "theorem", "--h", "1,2", "--gamma", "0.9"]
    code, out, _ = run(capsys, *base)
    plain = strict_json(out)["methods"]["rennala_nigt"]
    code, out, _ = run(capsys, *base, "--wallclock")
    d = strict_json(out)
    per_gradient = d["methods"]["rennala_nigt"]
    assert per_gradient["computation"] == pytest.approx(plain["computation"] * (1 - 0.9))
    assert per_gradient["communication"] == pytest.approx(plain["communication"])
    assert "1/(1-gamma)" in d["inputs"]["h_rule"]


def test_text_output_has_the_seconds_table(capsys, h124, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # every column (at 80 the table drops some)
    code, out, _ = run(capsys, "predict", "--cluster", str(h124), "--M", "10", "--iterations",
                       "3")
    assert code == 0
    for word in ("predicted seconds: cluster", "Rennala NIGT", "low-high s", "(b) K",
                 "M_init", "AFedPG", "K: given by --iterations", "recommended:"):
        assert word in out
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in out.splitlines()]
    sync = next(r for r in rows if r and r[0] == "Sync. NIGT")
    # grads/round 3, round 5 s, K = 3, total (3 + 1) x 5 s, fixed times: the interval is it
    assert sync[1:6] == ["3", "5", "3", "20", "20-20"]


def test_docs_worked_example(capsys):
    # docs/wallclock.md: h = (1, 2, 4) s, kappa = 0.5 s, M = 10, M_init = 20, K = 100
    from pathlib import Path

    hand = Path(__file__).resolve().parents[2] / "docs" / "clusters" / "hand.csv"
    code, out, _ = run(capsys, "predict", "--json", "--cluster", str(hand), "--M", "10",
                       "--M-init", "20", "--iterations", "100", "--eps", "0.1")
    w = strict_json(out)["wallclock"]
    got = {m: (w[m]["round_seconds"], w[m]["init_seconds"], w[m]["total_seconds"]) for m in w}
    assert got == {"rennala_nigt": (7.0, 13.0, 713.0), "malenia_nigt": (9.0, 17.0, 917.0),
                   "sync_nigt": (5.0, 5.0, 505.0),
                   "afedpg": (pytest.approx(30 / 31, rel=1e-15), 0.0, 98.0)}


def test_methods_filter_applies_to_the_seconds(capsys, h124):
    code, out, _ = run(capsys, "predict", "--json", "--cluster", str(h124), "--methods",
                       "rennala_nigt,afedpg")
    assert set(strict_json(out)["wallclock"]) == {"rennala_nigt", "afedpg"}


def test_sweep_over_n_writes_csv_and_png_in_a_new_folder(capsys, tmp_path, h124):
    argv = ["predict", "--cluster", str(h124), "--M", "10", "--M-init", "10", "--iterations",
            "5", "--sweep", "n=1..3", "--out", str(tmp_path / "out"), "--json"]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    s = strict_json(out)["sweep"]
    assert s["values"] == [1, 2, 3]
    with open(s["csv"]) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 12
    got = {(int(r["value"]), r["method"]): float(r["total_seconds"]) for r in rows}
    # n = 1 (h = 1, kappa = 0.5): Rennala round 0.5 + 10 + 0.5 = 11, total 11 + 5 x 11
    assert got[(1, "rennala_nigt")] == 66.0
    assert got[(3, "rennala_nigt")] == 7.0 + 5 * 7.0 and got[(3, "sync_nigt")] == 6 * 5.0
    with open(s["png"], "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    code, out, _ = run(capsys, *argv)  # a second run never touches the first one's files
    s2 = strict_json(out)["sweep"]
    assert s2["folder"] != s["folder"] and open(s["csv"]).read() == open(s2["csv"]).read()


def test_sweep_over_eps_and_extended_profile(capsys, tmp_path):
    code, out, err = run(capsys, "predict", "--json", "--profile", "sqrt", "--kappa", "sqrt",
                         "--sweep", "n=8..12", "--out", str(tmp_path))
    assert code == 0, err
    assert strict_json(out)["sweep"]["values"] == [8, 9, 10, 11, 12]  # beyond --n 10
    code, out, err = run(capsys, "predict", "--json", "--h", "1,2", "--kappa", "0.1",
                         "--sweep", "eps=0.01..0.1", "--sweep-points", "3", "--out", str(tmp_path),
                         "--M", "theory", "--M-init", "theory")
    assert code == 0, err
    s = strict_json(out)["sweep"]
    assert s["values"] == pytest.approx([0.01, 0.1**1.5, 0.1])
    Ms = {r["value"]: r["M_init"] for r in s["rows"] if r["method"] == "rennala_nigt"}
    assert Ms[0.01] == 10_000 and Ms[0.1] == 100  # M_init = ceil(sigma^2 / eps^2)


BAD_FILES = [
    ("h,kappa\n1,nan\n", "row 1 (line 2), column kappa"),
    ("h,kappa\n-1,1\n", "row 1 (line 2), column h"),
    ("h\n1\n", "missing column 'kappa'"),
    ("", "empty"),
    (b"h,kappa\n\xff,1\n", "not UTF-8"),
    ("h,kappa,timing\n1,1,fixed\n1,1,uniform\n", "row 2 (line 3)"),
]


@pytest.mark.parametrize("command", ["predict", "aggregate", "train", "compare"])
@pytest.mark.parametrize("content, word", BAD_FILES)
def test_bad_cluster_file_is_one_line_exit_2(capsys, tmp_path, command, content, word):
    p = tmp_path / "bad.csv"
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    extra = {"aggregate": ["--M", "3"], "train": ["--out", str(tmp_path / "o")],
             "compare": ["--out", str(tmp_path / "o")]}.get(command, [])
    code, out, err = run(capsys, command, "--cluster", str(p), *extra)
    assert code == 2 and out == ""
    # (the CLI may spell the parameter as its flag: "cluster:" or "--cluster:")
    assert err.count("\n") == 1 and re.match(r"apga: error: (--)?cluster:", err)
    assert str(p) in err and word in err


@pytest.mark.parametrize("argv, word", [
    (["predict", "--h", "1,2"], "--cluster replaces --h"),
    (["predict", "--kappa", "1"], "--cluster replaces --kappa"),
    (["predict", "--timing", "exponential"], "--cluster replaces --timing"),
    (["aggregate", "--M", "2", "--n", "3"], "--cluster replaces --n"),
    (["train", "--h", "sqrt"], "--cluster replaces --h"),
])
def test_cluster_and_the_flags_it_replaces_clash(capsys, h124, argv, word):
    code, _, err = run(capsys, *argv, "--cluster", str(h124))
    assert code == 2 and word in err and err.count("\n") == 1


@pytest.mark.parametrize("argv, word", [
    (["--wallclock", "--M", "0"], "M must be an integer >= 1"),
    (["--wallclock", "--M", "1e400"], "M must be an integer"),
    (["--iterations", "-3"], "iterations"),
    (["--seed", "x"], "seed"),
    (["--rounds", "1000000"], "rounds"),
    (["--timing", "gamma"], "timing"),
    (["--timing", "lognormal", "--log-sigma", "abc"], "log[_-]sigma"),
    (["--timing", "uniform", "--jitter", "1"], "jitter"),
    (["--log-sigma", "0.3"], "not an option of timing 'fixed'"),
    (["--sweep", "m=1..3"], "sweep must look like"),
    (["--sweep", "n=3..1"], "A <= B"),
    (["--sweep", "n=1..11"], "cluster has 10 agents"),
    (["--sweep", "eps=0..1"], "sweep"),
    (["--h", "1,2", "--kappa", "1,2,3"], "length mismatch"),
    (["--kappa", "sqrt_d4"], "needs the dimension d"),
    (["--kappa", "1", "--d", "16"], "d: only used with --kappa sqrt_d4"),
    (["--kappa", "sqrt_d4", "--d", "0"], "d must be an integer >= 1"),
    (["--out", "x"], "out: only used with --sweep"),
    (["--h", "1e308", "--wallclock"], "exceeds"),
    (["--wallclock", "--M-init", "3000000"], r"M[_-]init: a rennala_nigt round of 3000000"),
    (["--wallclock", "--M", "3000000"], r"(^|-)M: a rennala_nigt round of 3000000"),
])
def test_bad_seconds_flags_one_line_exit_2(capsys, argv, word):
    if argv[0] == "--sweep" and argv[1] == "n=1..11":
        argv = ["--h", ",".join(["1"] * 10), *argv]
    code, out, err = run(capsys, "predict", *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and re.search(word, err.removeprefix("apga: error: ")), err


def test_aggregate_with_cluster_equals_flags(capsys, tmp_path):
    p = write_cluster(tmp_path / "c.csv", ClusterSpec([1.0, 2.0, 3.0], [0.1, 0.2, 0.3],
                                                      "exponential"))
    outs = []
    for src in (["--cluster", str(p)], ["--h", "1,2,3", "--kappa", "0.1,0.2,0.3", "--timing",
                                        "exponential"]):
        code, out, err = run(capsys, "aggregate", "--method", "malenia", "--M", "7",
                             "--seed", "2", "--json", *src)
        assert code == 0, err
        outs.append(strict_json(out))
    assert outs[0] == outs[1]


def test_train_and_compare_with_cluster_equal_flags(tmp_path, capsys):
    p = write_cluster(tmp_path / "c.csv", ClusterSpec([1.0, 2.0], [0.5, 0.25], "uniform",
                                                      {"jitter": 0.3}))
    flags = ["--n", "2", "--h", "1,2", "--kappa", "0.5,0.25", "--timing", "uniform"]
    for command in ("train", "compare"):
        records = []
        for k, src in enumerate((["--cluster", str(p)], flags)):
            out = tmp_path / f"{command}{k}"
            extra = ["--seeds", "1", "--methods", "rennala_nigt"] if command == "compare" else []
            code = main([command, *src, *extra, "--time", "30", "--no-plot", "--no-progress",
                         "--out", str(out)])
            assert code == 0, capsys.readouterr().err
            records.append((out / "rennala_nigt_seed0.csv").read_text())
        # the flags have no --jitter: the file's jitter 0.3 must make a difference ...
        assert records[0] != records[1]
    # ... and with the default jitter written in the file the two agree exactly
    q = write_cluster(tmp_path / "d.csv", ClusterSpec([1.0, 2.0], [0.5, 0.25], "uniform"))
    texts = []
    for k, src in enumerate((["--cluster", str(q)], flags)):
        out = tmp_path / f"t{k}"
        assert main(["train", *src, "--time", "30", "--no-plot", "--no-progress", "--out",
                     str(out)]) == 0
        texts.append((out / "rennala_nigt_seed0.csv").read_text())
    assert texts[0] == texts[1]
    summary = json.loads((tmp_path / "t0" / "summary.json").read_text())
    assert summary["cluster"] == str(q) and summary["setting"]["h"] == "1.0,2.0"


CODE = """
import io, contextlib, sys
from algorithms.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    assert main(["predict"]) == 0
heavy = ("torch", "matplotlib", "scipy", "algorithms.sim.clock", "algorithms.sim.timing",
         "algorithms.wallclock", "theory.cluster_file", "algorithms.aggregation",
         "algorithms.cli._wallclock")
print("IMPORTED:" + ",".join(m for m in heavy if m in sys.modules))
"""


def test_predict_without_arguments_imports_nothing_heavy():
    p = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1] == "IMPORTED:"


def test_experiment_cluster_replaces_the_scenarios(tmp_path):
    """`apga experiment --cluster FILE`: one panel per environment with the file's h_i,
    kappa_i and timing model, n from the file; the paper's claims are not judged; the plan
    id (hence the output folder) differs from the figure's."""
    from algorithms.experiments import plan
    from theory.cluster_file import read_cluster

    path = tmp_path / "c.csv"
    path.write_text("h,kappa,timing\n1,0.5,exponential\n2,0.25,exponential\n3,0,exponential\n")
    cluster = read_cluster(path)
    p = plan("fig1", "tiny", dims=lambda env, het: 16, cluster=cluster)
    base = plan("fig1", "tiny", dims=lambda env, het: 16)
    assert p.experiment.n == 3 and p.experiment.claims == ()
    assert len(p.panels) == len({pp.panel.env_id for pp in base.panels})
    pp = p.panels[0]
    assert pp.h.tolist() == [1.0, 2.0, 3.0] and pp.kappa.tolist() == [0.5, 0.25, 0.0]
    assert pp.timing == "exponential"
    assert p.plan_id != base.plan_id
    assert any("--cluster" in line for line in p.scaled)
    # the figures' own plans keep their ids: timing keys appear only when not fixed
    assert "timing" not in base.to_dict()["panels"][0]

"""apga calibrate on real processes writes a cluster file that the rest of apga reads, and
measures what it is given: on an emulated cluster (--h, --kappa) its h and kappa are the
emulated ones plus this machine's small overheads, never less (the emulation is a floor),
so the check holds on a loaded machine (it measured kappa = 0 there when it compared the
machine's real speed with itself)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")

from algorithms.cli.main import main  # noqa: E402
from theory.cluster_file import read_cluster  # noqa: E402

pytestmark = pytest.mark.distributed

H = (0.05, 0.1)
KAPPA = 0.03
#: Seconds of overhead a measurement may add to an emulated time on a loaded 2-core
#: machine (the store ticket, a gloo message, waking a thread): small against H, KAPPA.
SLACK = 0.02


@pytest.mark.parametrize("mode", ["allreduce", pytest.param("server", marks=pytest.mark.slow)])
def test_calibrate_measures_the_emulated_cluster_and_predict_reads_it(tmp_path, capsys, mode):
    out = tmp_path / f"{mode}.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "algorithms.cli.main", "calibrate", "--nproc", "2", "--mode",
         mode, "--repetitions", "6", "--h", ",".join(map(str, H)), "--kappa", str(KAPPA),
         "--output", str(out), "--json", "--quiet"],
        capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout, parse_constant=lambda c: pytest.fail(f"JSON has {c}"))
    cluster = read_cluster(out)
    assert cluster.n == 2
    np.testing.assert_array_equal(cluster.h, result["h"])
    # h: at least the emulated seconds, at most SLACK more
    assert np.all(cluster.h >= np.array(H) * (1 - 1e-9)), cluster.h
    assert np.all(cluster.h <= np.array(H) + SLACK), cluster.h
    # kappa: the emulated one within the overheads (half a round's or a round trip's)
    assert np.all(np.abs(cluster.kappa - KAPPA) <= SLACK), cluster.kappa
    assert cluster.timing == result["timing"]
    assert any("measured by apga calibrate" in c for c in cluster.comments)
    assert any(("all_reduce" if mode == "allreduce" else "round trip") in c
               for c in cluster.comments)
    if mode == "allreduce":  # one all_reduce per round: the same kappa for every agent
        assert cluster.kappa[0] == cluster.kappa[1]
    capsys.readouterr()
    assert main(["predict", "--cluster", str(out), "--M", "10", "--M-init", "10",
                 "--iterations", "5", "--json"]) == 0
    pred = json.loads(capsys.readouterr().out)
    assert pred["wallclock"]["rennala_nigt"]["round_seconds"] > 0


def test_calibrate_refuses_an_existing_output_before_measuring(tmp_path, capsys):
    out = tmp_path / "c.csv"
    out.write_text("h,kappa\n1,1\n")
    assert main(["calibrate", "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "output" in err[0]
    assert out.read_text() == "h,kappa\n1,1\n"

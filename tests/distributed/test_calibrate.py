"""apga calibrate on real processes writes a cluster file that the rest of apga reads."""

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


@pytest.mark.parametrize("mode", ["allreduce", "server"])
def test_calibrate_writes_a_file_predict_reads_back(tmp_path, capsys, mode):
    out = tmp_path / f"{mode}.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "algorithms.cli.main", "calibrate", "--nproc", "2", "--mode",
         mode, "--repetitions", "6", "--output", str(out), "--json", "--no-progress"],
        capture_output=True, text=True, timeout=150)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout, parse_constant=lambda c: pytest.fail(f"JSON has {c}"))
    cluster = read_cluster(out)
    assert cluster.n == 2 and np.all(cluster.h > 0) and np.all(cluster.kappa > 0)
    np.testing.assert_array_equal(cluster.h, result["h"])
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

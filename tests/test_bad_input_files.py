"""Bad inputs that used to get through (issue 18): special files, huge labels, tiny times,
huge clusters, and files MuJoCo used to leave behind.

Each refusal is one line naming the option as typed, exit 2, before any work starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from algorithms.cli.main import main


def _one_line(capsys, argv, *, flag):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("apga: error:"), err
    assert flag in err, err
    return err


@pytest.mark.parametrize("argv, flag", [
    (["predict", "--cluster", "{fifo}"], "--cluster"),
    (["predict", "--h-file", "{fifo}"], "--h-file"),
    (["predict", "--cluster", "/dev/zero"], "--cluster"),
    (["predict", "--h-file", "/dev/zero"], "--h-file"),
    (["train", "--cluster", "{fifo}", "--dry-run"], "--cluster"),
    (["aggregate", "--cluster", "/dev/null"], "--cluster"),
])
def test_special_files_are_refused_not_read(argv, flag, tmp_path, capsys):
    """A FIFO would block the reader forever and /dev/zero would be read until memory runs
    out (st_size is 0 for both): anything but a regular file is refused before opening."""
    fifo = tmp_path / "cluster.csv"
    os.mkfifo(fifo)
    argv = [a.replace("{fifo}", str(fifo)) for a in argv]
    err = _one_line(capsys, argv, flag=flag)
    assert "regular file" in err


def test_a_label_longer_than_csvs_field_limit(tmp_path, capsys):
    path = tmp_path / "label.csv"
    path.write_text("agent,h,kappa\n" + "x" * 140_000 + ",1,0\n")
    _one_line(capsys, ["predict", "--cluster", str(path)], flag="--cluster")
    path.write_text("agent,h,kappa\n" + "y" * 5000 + ",1,0\n")  # under csv's, over ours
    err = _one_line(capsys, ["predict", "--cluster", str(path)], flag="--cluster")
    assert "label" in err


def test_a_subnormal_time_in_a_cluster_file_names_the_file_row_and_column(tmp_path, capsys):
    path = tmp_path / "tiny.csv"
    path.write_text("h,kappa\n1,0\n5e-324,0\n")
    err = _one_line(capsys, ["predict", "--cluster", str(path)], flag="--cluster")
    assert "row 2" in err and "column h" in err and "--h " not in err


def test_a_huge_cluster_is_predicted_without_blaming_an_option_never_given(tmp_path, capsys):
    """100,000 agents: AFedPG's T_explicit exceeds 2^53; the K-th update is then K/S."""
    path = tmp_path / "big.csv"
    path.write_text("h,kappa\n" + "1,0\n" * 100_000)
    assert main(["predict", "--cluster", str(path), "--json"]) == 0
    assert "--iterations" not in capsys.readouterr().err


def test_greedy_update_time_beyond_2_53_is_within_the_exact_bracket():
    """K/S <= t_K <= (K + n)/S (docstring of greedy_update_time), checked at K = 2^60."""
    from algorithms.wallclock import greedy_update_time

    h, kappa = np.array([1.0, 2.0, 3.0]), np.array([0.5, 0.0, 0.25])
    S = float(np.sum(1.0 / (h + 2 * kappa)))
    K = 2**60
    t = greedy_update_time(h, kappa, K)
    assert K / S * (1 - 1e-15) <= t <= (K + h.size) / S * (1 + 1e-15)
    # and below 2^53 it is the exact K-th smallest of {j c_i}: c = (2, 2, 3.5)
    assert greedy_update_time(h, kappa, 5) == 4.0  # 2, 2, 3.5, 4, 4 -> the 5th is 4


@pytest.mark.mujoco
def test_launch_family_with_a_length_mismatch_prints_one_line(capsys):
    pytest.importorskip("torch")
    err = _one_line(capsys, ["launch", "--family", "reward", "--h", "1,2,3", "--nproc", "2",
                             "--dry-run"], flag="--h")
    assert "length mismatch" in err


@pytest.mark.mujoco
def test_mujoco_leaves_no_log_file_in_the_current_folder(tmp_path):
    """MuJoCo's model warnings (Humanoid's deprecated settotalmass) used to be appended to
    MUJOCO_LOG.TXT in the user's folder; they go to the apga.mujoco logger."""
    pytest.importorskip("mujoco")
    code = ("import numpy as np\n"
            "from algorithms.mujoco import MujocoOracle\n"
            "o = MujocoOracle('Humanoid-v4', 4)\n"
            "o.sample_gradients(o.init_theta(np.random.default_rng(0)), np.array([0]),"
            " np.random.default_rng(1))\n")
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, timeout=120,
                   env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True)
    assert not (tmp_path / "MUJOCO_LOG.TXT").exists()

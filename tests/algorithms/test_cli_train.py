"""`apga train` and `apga compare`: outputs, resume, tuning, one-line errors."""

from __future__ import annotations

import json

import pytest

from algorithms.cli.main import main
from algorithms.run.report import read_csv

SMALL = ["--S", "5", "--A", "2", "--H", "10", "--n", "4", "--no-progress"]


def test_train_writes_records_summary_and_plot(tmp_path, capsys):
    out = tmp_path / "t"
    assert main(["train", *SMALL, "--time", "30", "--out", str(out)]) == 0
    records = read_csv(out / "rennala_nigt_seed0.csv")
    assert records[0].iteration == 0 and records[-1].time >= 30
    summary = json.loads((out / "summary.json").read_text())
    assert summary["summary"]["rennala_nigt"]["hyper_source"]["alpha"] == "default"
    assert (out / "train.png").stat().st_size > 1000
    assert "apga train" in capsys.readouterr().out


def test_train_json_and_given_hyperparameters(tmp_path, capsys):
    out = tmp_path / "t"
    code = main(
        [
            "train",
            *SMALL,
            "--time",
            "20",
            "--out",
            str(out),
            "--json",
            "--alpha",
            "0.2",
            "--M",
            "3",
            "--no-plot",
        ]
    )
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    row = payload["summary"]["rennala_nigt"]
    assert row["hyper"]["alpha"] == 0.2 and row["hyper_source"]["alpha"] == "given"
    assert row["hyper"]["M"] == 3 and row["hyper_source"]["M_init"] == "default"
    assert not (out / "train.png").exists()


def test_train_resume_writes_the_uninterrupted_records(tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    args = [*SMALL, "--time", "60", "--no-plot", "--method", "afedpg"]
    assert main(["train", *args, "--out", str(full)]) == 0
    # An interrupted run: stopped after 5 iterations with a checkpoint every iteration.
    assert (
        main(["train", *args, "--out", str(part), "--max-iters", "5", "--checkpoint-every", "1"])
        == 0
    )
    assert len(read_csv(part / "afedpg_seed0.csv")) == 6
    assert main(["train", *args, "--out", str(part), "--resume"]) == 0
    assert read_csv(part / "afedpg_seed0.csv") == read_csv(full / "afedpg_seed0.csv")


def test_train_theory_hyperparameters_are_labelled(tmp_path, capsys):
    out = tmp_path / "t"
    assert (
        main(
            [
                "train",
                *SMALL,
                "--time",
                "5",
                "--out",
                str(out),
                "--json",
                "--no-plot",
                "--hyper-from",
                "theory",
                "--eps",
                "0.5",
            ]
        )
        == 0
    )
    row = json.loads(capsys.readouterr().out)["summary"]["rennala_nigt"]
    assert row["hyper_source"]["eta"].startswith("theory: Theorem 4.1")
    assert row["hyper_source"]["M"].startswith("theory: Theorem 4.2")


def test_compare_same_seeds_and_plot(tmp_path, capsys):
    out = tmp_path / "c"
    code = main(
        [
            "compare",
            *SMALL,
            "--time",
            "30",
            "--seeds",
            "2",
            "--out",
            str(out),
            "--methods",
            "rennala_nigt,sync_nigt",
            "--json",
        ]
    )
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(payload["summary"]) == {"rennala_nigt", "sync_nigt"}
    for name in ("rennala_nigt", "sync_nigt"):
        for s in (0, 1):
            assert (out / f"{name}_seed{s}.csv").exists()
    assert (out / "compare.png").stat().st_size > 1000


def test_compare_tune_picks_from_the_grid(tmp_path, capsys):
    out = tmp_path / "c"
    code = main(
        [
            "compare",
            *SMALL,
            "--time",
            "20",
            "--seeds",
            "1",
            "--out",
            str(out),
            "--methods",
            "sync_nigt",
            "--tune",
            "--tune-grid",
            "0.05,0.2",
            "--tune-seeds",
            "1",
            "--json",
            "--no-plot",
        ]
    )
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    table = payload["tuning"]["sync_nigt"]
    best = max(table, key=lambda r: r["mean_J"])
    assert payload["summary"]["sync_nigt"]["hyper"]["alpha"] == best["alpha"]
    assert payload["summary"]["sync_nigt"]["hyper_source"]["alpha"].startswith("tuned")


def test_compare_list(capsys):
    assert main(["compare", "--list"]) == 0
    out = capsys.readouterr().out
    assert "rennala_nigt" in out and "fast_fedpg" in out


@pytest.mark.parametrize(
    "argv, name",
    [
        (["train", "--method", "nope"], "method"),
        (["train", "--gamma", "1.5"], "gamma"),
        (["train", "--h", "1,nan", "--n", "2"], "h"),
        (["train", "--h", "1,2,3", "--n", "2"], "length mismatch"),
        (["train", "--kappa", "-1"], "kappa"),
        (["train", "--M", "0"], "M"),
        (["train", "--family", "rewards"], "family"),
        (["train", "--timing", "gamma"], "timing"),
        (["compare", "--methods", "rennala_nigt,bogus"], "method"),
        (["compare", "--tune", "--tune-grid", "2^a..2^b"], "tune-grid"),
        (["train", "--time", "-3"], "time"),
        (["train", "--max-iters", "-1"], "max-iters"),
    ],
)
def test_bad_input_one_line_exit_2(argv, name, capsys, tmp_path):
    code = main([*argv, "--no-progress", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("apga: error:") and name in err
    assert len(err.strip().splitlines()) == 1

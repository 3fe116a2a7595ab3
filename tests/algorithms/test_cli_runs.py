"""`apga train` / `apga compare` as issue 12 reproduced them: resume, shared --out,
strict JSON, Ctrl-C, warnings."""

from __future__ import annotations

import json
import shutil

import pytest

from algorithms.cli.main import main
from algorithms.run.report import read_csv

SMALL = ["--S", "5", "--A", "2", "--H", "8", "--n", "4", "--no-progress", "--no-plot"]


def _err(capsys) -> str:
    return capsys.readouterr().err


@pytest.mark.parametrize("change", [
    ["--alpha", "0.1"], ["--S", "6"], ["--mdp-seed", "3"], ["--h", "equal"], ["--n", "5"],
    ["--seed", "4"], ["--kappa", "1"], ["--timing", "exponential"], ["--method", "afedpg"],
])
def test_resume_refuses_another_run(change, tmp_path, capsys):
    """Issue 12, item 1: `--resume` with other arguments used to continue the old run and
    label it with the new ones. Now: exit 2, one line naming what differs."""
    out = ["--out", str(tmp_path / "r1")]
    assert main(["train", *SMALL, *out, "--time", "60", "--max-iters", "5",
                 "--checkpoint-every", "1"]) == 0
    capsys.readouterr()
    assert main(["train", *SMALL, *out, "--time", "60", "--resume", *change]) == 2
    err = _err(capsys)
    assert err.count("\n") == 1 and "holds another run" in err
    name = change[0].lstrip("-").replace("-", "_")
    assert name in err


def test_resume_extends_the_budget_and_equals_a_fresh_run(tmp_path, capsys):
    common = [*SMALL, "--time", "80", "--method", "afedpg"]
    assert main(["train", *common, "--out", str(tmp_path / "full")]) == 0
    part = ["--out", str(tmp_path / "part")]
    assert main(["train", *SMALL, "--time", "30", "--method", "afedpg", *part,
                 "--checkpoint-every", "1"]) == 0
    assert main(["train", *common, *part, "--resume"]) == 0
    assert read_csv(tmp_path / "part" / "afedpg_seed0.csv") == read_csv(
        tmp_path / "full" / "afedpg_seed0.csv")
    # Without --resume a longer budget would replace that run's files: refused.
    capsys.readouterr()
    assert main(["train", *SMALL, "--time", "90", "--method", "afedpg", *part]) == 2
    assert "add --resume to continue that run" in _err(capsys)


def test_checkpoint_copied_under_another_seed_is_refused(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["train", *SMALL, "--time", "40", "--seed", "5", "--out", str(a),
                 "--max-iters", "3", "--checkpoint-every", "1"]) == 0
    assert main(["train", *SMALL, "--time", "40", "--seed", "4", "--out", str(b),
                 "--max-iters", "3", "--checkpoint-every", "1"]) == 0
    for suffix in ("", ".b", ".records"):
        shutil.copy(a / "checkpoints" / f"rennala_nigt_seed5.pkl{suffix}",
                    b / "checkpoints" / f"rennala_nigt_seed4.pkl{suffix}")
    capsys.readouterr()
    assert main(["train", *SMALL, "--time", "40", "--seed", "4", "--out", str(b),
                 "--max-iters", "3", "--resume"]) == 2
    err = _err(capsys)
    assert err.startswith("apga: error: --resume: ") and "seed = 5 there, 4 here" in err


def test_resume_without_checkpoint_says_it_starts_afresh(tmp_path, capsys):
    assert main(["train", *SMALL, "--time", "10", "--out", str(tmp_path / "o"), "--resume"]) == 0
    err = _err(capsys)
    assert "apga: warning: --resume: no checkpoint of rennala_nigt seed 0" in err
    assert "started afresh" in err


def test_two_seeds_into_one_out_never_overwrite(tmp_path, capsys):
    out = ["--out", str(tmp_path / "o")]
    assert main(["train", *SMALL, "--time", "10", *out]) == 0
    before = (tmp_path / "o" / "summary.json").read_text()
    capsys.readouterr()
    assert main(["train", *SMALL, "--time", "10", *out, "--seed", "1"]) == 2
    assert "seed = 0 there, 1 here" in _err(capsys)
    assert (tmp_path / "o" / "summary.json").read_text() == before
    assert not (tmp_path / "o" / "rennala_nigt_seed1.csv").exists()


def test_summary_and_json_output_are_strict(tmp_path, capsys):
    """A target never reached used to be Infinity; now null with the reason."""
    out = tmp_path / "o"
    assert main(["compare", *SMALL, "--time", "5", "--seeds", "2", "--out", str(out),
                 "--target", "1e-9", "--target-J", "1e9", "--json"]) == 0
    printed = capsys.readouterr().out

    def strict(text):
        return json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard {c}"))

    for doc in (strict(printed), strict((out / "summary.json").read_text())):
        row = doc["summary"]["rennala_nigt"]
        assert row["time_to_target"] is None and row["time_to_J"] is None
        assert row["time_to_target_reason"].startswith("not reached within the budget")
        assert "in 0 of 2 runs" in row["time_to_J_reason"]


def test_ctrl_c_says_where_the_checkpoint_is(tmp_path, capsys, monkeypatch):
    from algorithms.methods import nigt

    calls = {"n": 0}
    step = nigt.NIGT.step

    def interrupted(self, state, ctx):
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt
        return step(self, state, ctx)

    monkeypatch.setattr(nigt.NIGT, "step", interrupted)
    out = tmp_path / "o"
    code = main(["train", *SMALL, "--time", "500", "--out", str(out), "--checkpoint-every", "5"])
    err = _err(capsys)
    assert code == 130 and err.count("\n") == 1
    ckpt = out / "checkpoints" / "rennala_nigt_seed0.pkl"
    assert f"checkpoint {ckpt} holds iteration 5" in err and "--resume" in err
    monkeypatch.setattr(nigt.NIGT, "step", step)
    assert main(["train", *SMALL, "--time", "500", "--out", str(out), "--resume"]) == 0


def test_homogeneous_method_on_a_family_warns_it_is_biased(tmp_path, capsys):
    assert main(["train", *SMALL, "--time", "5", "--family", "reward",
                 "--out", str(tmp_path / "o")]) == 0
    err = _err(capsys)
    assert "apga: warning: rennala_nigt is designed for the homogeneous setting" in err
    assert "biased" in err
    assert main(["train", *SMALL, "--time", "5", "--family", "reward",
                 "--method", "malenia_nigt", "--out", str(tmp_path / "m")]) == 0
    assert "warning" not in _err(capsys)


@pytest.mark.parametrize("argv, word", [
    (["--tune-M", "10,20"], "--tune-M: only used with --tune"),
    (["--tune-grid", "0.1"], "--tune-grid: only used with --tune"),
    (["--tune", "--tune-grid", "0^-1..0^-2"], "--tune-grid: the base must be"),
    (["--tune", "--tune-grid", "2^-300..2^300"], "--tune-grid: at most 100 values"),
    (["--tune", "--tune-seeds", "0"], "argument --tune-seeds"),
    (["--methods", ","], "--methods: give at least one method"),
    (["--methods", "afedpg,afedpg"], "--methods: afedpg listed twice"),
    (["--checkpoint-every", "-1"], "argument --checkpoint-every"),
    (["--checkpoint-every", "0", "--resume"], "--resume: --checkpoint-every 0"),
    (["--seeds", "1" + "0" * 400], "argument --seeds"),
])
def test_compare_options_checked(argv, word, tmp_path, capsys):
    assert main(["compare", *SMALL, "--time", "5", "--out", str(tmp_path / "o"), *argv]) == 2
    err = _err(capsys)
    assert err.count("\n") == 1 and word in err


def test_version_and_train_help(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("apga ")
    assert main(["train", "--help"]) == 0
    text = capsys.readouterr().out
    for flag, words in (("--eta", "momentum"), ("--alpha", "step size"),
                        ("--M-init", "initial batch"), ("--K", "local steps")):
        assert flag in text and words in text


def test_full_disk_while_checkpointing_names_out(tmp_path, capsys, monkeypatch):
    import errno

    from algorithms.run import checkpoint

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint, "write_slot", full)
    assert main(["train", *SMALL, "--time", "20", "--out", str(tmp_path / "o"),
                 "--checkpoint-every", "1"]) == 2
    err = _err(capsys)
    assert err.count("\n") == 1 and err.startswith("apga: error: --out: cannot write the "
                                                   "checkpoint") and "No space left" in err
    assert not [p for p in (tmp_path / "o").rglob("*") if p.name.endswith(".tmp")]

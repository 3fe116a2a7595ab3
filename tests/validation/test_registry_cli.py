"""Registry, report files and the `apga validate` command."""

import json

import pytest

from algorithms.cli.main import main
from validation import registry
from validation.report import markdown, payload, write_report
from validation.result import Budget, CheckResult

STABLE = [
    "lemma_c1",
    "lemma_c2",
    "unbiased_rennala",
    "unbiased_malenia",
    "rennala_bias_heterogeneous",
    "variance_rennala",
    "variance_malenia",
    "prop_2_3",
    "theorem_4_1",
    "straggler",
    "time_complexity_shape",
    "wallclock",
    "wallclock_real",
]


def test_stable_names():
    assert registry.names() == STABLE


def test_select():
    assert [s.name for s in registry.select("straggler, lemma_c1")] == ["lemma_c1", "straggler"]
    with pytest.raises(ValueError, match="only"):
        registry.select("lemma_c1,bogus")
    with pytest.raises(ValueError, match="only"):
        registry.select(" , ")


def _fake(verdict):
    return CheckResult(
        name="fake",
        claim="c",
        paper="p",
        measured={"x": 1.0},
        threshold={"x": 2.0},
        verdict=verdict,
        summary=f"x = 1 ({verdict})",
    )


def test_crashing_check_becomes_a_failed_result():
    def boom(budget):
        raise RuntimeError("broken")

    res = registry.run_check(registry.CheckSpec("boom", "c", "p", boom), Budget())
    assert res.failed and "broken" in res.summary and "traceback" in res.details


def test_budget_and_result_validation():
    with pytest.raises(ValueError, match="mode"):
        Budget(mode="medium")
    with pytest.raises(ValueError, match="verdict"):
        _fake("maybe")
    assert Budget(seed=3).rng(1).random() == Budget(seed=3).rng(1).random()


def test_report_files(tmp_path):
    results = [_fake("pass"), _fake("reported")]
    paths = write_report(results, Budget(), 1.5, tmp_path)
    doc = json.loads(paths["json"].read_text())
    assert doc["ok"] and doc["verdicts"] == {"pass": 1, "fail": 0, "reported": 1}
    text = paths["markdown"].read_text()
    assert "`fake`" in text and "x = 1 (pass)" in text
    assert not payload([_fake("fail")], Budget(), 0.0)["ok"]
    assert "**fail**" in markdown([_fake("fail")], Budget(), 0.0)


def test_cli_json_and_exit_codes(tmp_path, capsys, monkeypatch):
    rc = main(["validate", "--only", "prop_2_3", "--json", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0
    doc = json.loads(out)
    assert [c["name"] for c in doc["checks"]] == ["prop_2_3"]
    assert (tmp_path / "report.md").exists() and (tmp_path / "report.json").exists()
    # Unknown names: one line, exit 2.
    assert main(["validate", "--only", "nope", "--no-write"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("apga: error: --only") and err.count("\n") == 1
    # A failing check makes the command exit 1.
    spec = registry.CheckSpec("fake", "c", "p", lambda budget: _fake("fail"))
    monkeypatch.setitem(registry.CHECKS, "fake", spec)
    assert main(["validate", "--only", "fake", "--no-write"]) == 1
    assert "FAILED: fake" in capsys.readouterr().out


def test_cli_list(capsys):
    assert main(["validate", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in STABLE)

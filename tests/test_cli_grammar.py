"""One CLI grammar: the same flag means the same thing in every command.

- hyperparameter flags come from the method registry: every hyperparameter of every method
  a command runs is a flag of that command, with the registry's name, range and default;
- options are never abbreviated, and unknown options point to the subcommand's help;
- a command's help mentions only its own options (or another command's, after its name);
- every command that starts long work has --dry-run, every one with progress has --quiet;
- every table fits an 80-column terminal.
"""

from __future__ import annotations

import json
import math
import re

import pytest

from algorithms.cli.main import _subcommand_modules, build_parser, main
from algorithms.methods.registry import REGISTRY

COMMANDS = [m.COMMAND for m in _subcommand_modules()]


def subparser(command: str):
    parser = build_parser(command)
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return action.choices[command]


def options(command: str) -> dict[str, object]:
    return {o: a for a in subparser(command)._actions for o in a.option_strings}


def _runs(command: str) -> list:
    """The registry entries a command runs."""
    if command in ("train", "compare"):
        return list(REGISTRY.values())
    if command == "launch":
        return [s for s in REGISTRY.values() if {"allreduce", "server"} & set(s.modes)]
    return []


@pytest.mark.parametrize("command", ["train", "compare", "launch"])
def test_every_hyperparameter_of_the_registry_is_a_flag(command):
    opts = options(command)
    for spec in _runs(command):
        for hp in spec.hyper:
            flag = "--" + hp.name.replace("_", "-")
            assert flag in opts, f"apga {command} has no {flag} ({spec.name})"
            action = opts[flag]
            assert action.dest == f"hp_{hp.name}" and action.default is None
            # the help states this method's default, as the registry does
            assert f"{hp.default:g}" in action.help, (command, flag, spec.name)
            # the flag's type takes the default and refuses what the registry refuses
            assert action.type(str(hp.default)) == hp.default
            with pytest.raises(Exception):  # noqa: B017 - argparse's ArgumentTypeError
                action.type("0")
            if hp.maximum is not None:
                with pytest.raises(Exception):  # noqa: B017
                    action.type(str(hp.maximum * 2))


@pytest.mark.parametrize("command", ["train", "launch"])
def test_a_flag_left_out_means_the_methods_default(command, tmp_path):
    """Parsing without hyperparameter flags resolves to the registry's defaults."""
    from algorithms.cli import _hyper

    parser = build_parser(command)
    args = parser.parse_args([command])
    for spec in _runs(command):
        values, sources = spec.resolve(_hyper.given(args, spec))
        assert values == {h.name: h.default for h in spec.hyper}
        assert set(sources.values()) == {"default"}


def test_no_abbreviations(capsys):
    """`--h` is never read as `--help`, nor `--met` as `--method`. (calibrate has its own
    --h now, to emulate a cluster; validate has none.)"""
    assert main(["validate", "--h", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --h 0.1" in err and "usage" not in err
    assert main(["train", "--met", "rennala_nigt"]) == 2
    assert "unrecognized arguments" in capsys.readouterr().err


@pytest.mark.parametrize("command", COMMANDS)
def test_unknown_options_point_to_the_subcommands_help(command, capsys):
    assert main([command, "--no-such-option"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"`apga {command} --help`" in err


@pytest.mark.parametrize("command", COMMANDS)
def test_help_names_only_its_own_options(command):
    own = set(options(command))
    text = subparser(command).format_help()
    # "apga other --flag" names another command's option: that is allowed
    text = re.sub(r"apga [a-z]+(?: [^`\n;,)]*)?", "", text)
    named = set(re.findall(r"(?<![\w-])--[A-Za-z][\w-]*", text))
    assert named <= own, f"apga {command} --help names {sorted(named - own)}"


LONG_WORK = ["train", "compare", "launch", "calibrate", "validate"]


@pytest.mark.parametrize("command", LONG_WORK)
def test_long_work_has_dry_run_and_quiet(command):
    opts = options(command)
    assert "--dry-run" in opts and "--quiet" in opts


@pytest.mark.parametrize("flag, commands", [
    ("--iterations", ["train", "compare", "launch", "predict"]),
    ("--env", ["train", "compare", "launch", "calibrate"]),
    ("--method", ["train", "launch", "aggregate"]),
    ("--h", ["train", "compare", "launch", "predict", "aggregate"]),
    ("--kappa", ["train", "compare", "launch", "predict", "aggregate"]),
    ("--seed", ["train", "launch", "calibrate", "aggregate", "validate", "predict"]),
    ("--json", COMMANDS[:0] + ["predict", "aggregate", "train", "compare", "launch",
                               "calibrate", "validate", "experiment"]),
])
def test_shared_flags(flag, commands):
    for command in commands:
        assert flag in options(command), f"apga {command} has no {flag}"


def test_env_tabular_and_h_profiles_everywhere(tmp_path, capsys):
    """`--env tabular` (launch's name for garnet) works for train; `--h sqrt` for predict."""
    assert main(["train", "--env", "tabular", "--dry-run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["setting"]["env"] == "garnet"
    assert main(["predict", "--h", "sqrt", "--n", "5", "--json"]) == 0
    by_h = json.loads(capsys.readouterr().out)
    assert main(["predict", "--profile", "sqrt", "--n", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == by_h


def test_aggregate_takes_registry_names(capsys):
    assert main(["aggregate", "--method", "malenia_nigt", "--json"]) == 0
    named = json.loads(capsys.readouterr().out)
    assert main(["aggregate", "--method", "malenia", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == named


def test_train_and_compare_write_a_new_folder_per_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    small = ["--S", "4", "--A", "2", "--H", "5", "--n", "2", "--time", "5", "--quiet",
             "--no-plot"]
    assert main(["train", *small]) == 0
    assert main(["train", "--method", "malenia_nigt", *small]) == 0
    folders = sorted(p.name for p in (tmp_path / "runs" / "train").iterdir())
    assert len(folders) == 2 and folders[0].startswith(("malenia_nigt", "rennala_nigt"))
    # --resume without --out continues the newest run of the same arguments
    assert main(["train", "--method", "malenia_nigt", *small[:-4], "--time", "8", "--quiet",
                 "--no-plot", "--resume"]) == 0
    assert len(list((tmp_path / "runs" / "train").iterdir())) == 2
    capsys.readouterr()


# ------------------------------------------------------------------------- 80 columns
def _widths(text: str) -> int:
    from rich.text import Text

    return max((Text(line).cell_len for line in text.splitlines()), default=0)


@pytest.mark.parametrize("argv", [
    ["predict"],
    ["predict", "--cluster", "docs/clusters/hand.csv", "--M", "10", "--iterations", "100"],
    ["predict", "--form", "theorem", "--r-max", "1", "--M-g", "1", "--M-h", "1", "--l2", "1"],
    ["train", "--S", "4", "--A", "2", "--H", "5", "--n", "2", "--time", "5", "--quiet",
     "--no-plot", "--target-J", "1"],
    ["compare", "--S", "4", "--A", "2", "--H", "5", "--n", "2", "--time", "5", "--quiet",
     "--no-plot", "--seeds", "2", "--target-J", "1"],
    ["aggregate"],
])
def test_tables_fit_80_columns(argv, tmp_path, monkeypatch, capsys):
    import os

    root = os.getcwd()
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(tmp_path)
    argv = [a if not a.startswith("docs/") else os.path.join(root, a) for a in argv]
    assert main(argv) == 0
    out = capsys.readouterr().out
    table = "\n".join(line for line in out.splitlines() if re.search("[\u2500-\u257f]", line))
    assert _widths(table or out) <= 80  # aggregate prints lines, not a table


def test_launch_and_calibrate_and_validate_tables_fit_80_columns(monkeypatch, capsys):
    """Their tables from records (no processes started)."""
    monkeypatch.setenv("COLUMNS", "80")
    from algorithms.cli.calibrate import _print
    from algorithms.cli.launch import _print_table
    from validation.report import rich_table
    from validation.result import CheckResult

    summary = {"title": "Rennala NIGT", "mode": "allreduce", "n": 4, "iterations": 100,
               "wall_seconds": 12.3456, "round_stats": {"duration_median": 0.12345678},
               "final": {"gradients_evaluated": 123456, "communications": 1234567,
                         "J": 0.123456789, "grad_norm": 1.23456e-05},
               "events": [], "run_dir": "runs/launch/x"}
    _print_table(summary)
    result = {"n": 2, "dim": 30, "mode": "allreduce", "h": [0.0123456, 0.0234567],
              "kappa": [0.00123, 0.00234], "options": {"log_sigma": 0.25},
              "timing": "lognormal", "cv": 0.123, "output": "my.csv",
              "cost": "my.cost.json",
              "primitives": {"gradient_alone": [0.0111111, 0.0222222],
                             "seconds_per_step": [0.000411, 0.000781],
                             "all_reduce_round_buffer": 0.000321, "stop": 0.00111,
                             "message": [0.000123, 0.000234],
                             "ticket": {"rennala": [6e-05, 7e-05], "malenia": [0.0003, 0.0004]}}}
    _print(result, {"hosts": ["node-with-a-long-name-0", "node-1"]})
    out = capsys.readouterr().out
    from algorithms.run.tables import console

    con = console()
    res = CheckResult(name="lemma_c1", paper="Lemma C.1", claim="the bound holds",
                      measured={"ratio": 0.93}, threshold={"ratio": 1.0}, verdict="pass",
                      summary="max ratio 0.93 over 200 clusters " * 4, seconds=1.5)
    with con.capture() as cap:
        con.print(rich_table([res], con))
    for text in (out, cap.get()):
        table = "\n".join(line for line in text.splitlines()
                          if re.search("[\u2500-\u257f]", line))
        assert table and _widths(table) <= 80
    assert not math.isnan(summary["wall_seconds"])


def test_validate_help_names_every_registered_check(capsys):
    """The help's list of stable names is the registry's, not an older copy."""
    from validation.registry import CHECKS

    assert main(["validate", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    missing = [name for name in CHECKS if name not in text]
    assert not missing, f"validate --help does not name {missing}"

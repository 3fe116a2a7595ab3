"""Every option of every subcommand through the classes of bad input (issue 12, item 15).

The promise (README, team guide): bad input gets ONE line on stderr naming the option and
exit status 2; never a traceback, never "internal error", never exit 0 with NaN/Infinity
in the output. Each case below runs ``apga <command> <base> <option> <value>`` in-process
(``algorithms.cli.main.main``) with a tiny base configuration and asserts one of:

- exit 2, exactly one stderr line ``apga: error: ...`` that contains the option as typed;
- exit 0 (the value is valid), stdout strict JSON (every command runs with ``--json``
  where it has one), and stderr only ``apga: warning:`` lines.

Values: empty, blank, negative, zero, NaN, +-inf, +-1e308, 1e-308, 10**400, non-numeric,
non-integral, unicode; for files: missing, a folder, empty, binary, non-UTF-8, garbage,
NaN and 1e400 inside; for outputs: empty, an existing file, a path under a file, an
unreachable folder, /dev/full. A few cases also run as real subprocesses.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from algorithms.cli.main import main

BIG = "1" + "0" * 400
NUMBERS = ["", " ", "-1", "0", "nan", "inf", "-inf", "1e308", "-1e308", "1e-308", BIG,
           "abc", "2.5", "π", "１２"]
WORDS = ["", " ", ",", "abc", "π", "nan", "1e308", BIG, "sqrt,sqrt"]
LISTS = ["", ",", "1,", "1,-1", "1,0", "1,nan", "1,inf", "1e308", "1e-308", "1,1e308",
         "1,1e-300", "abc", "π", BIG]

TINY = ["--S", "4", "--A", "2", "--H", "4", "--n", "3", "--time", "4", "--no-plot",
        "--no-progress", "--json"]

# (command, base arguments, {option: values})
TABLE = [
    ("predict", ["--json"], {
        "--h": LISTS, "--n": NUMBERS, "--profile": WORDS, "--kappa": NUMBERS,
        "--eps": NUMBERS, "--L-g": NUMBERS, "--L-h": NUMBERS, "--sigma": NUMBERS,
        "--Delta": NUMBERS, "--gamma": NUMBERS, "--mu": NUMBERS, "--form": WORDS,
        "--setting": WORDS, "--methods": WORDS,
    }),
    ("predict", ["--json", "--form", "theorem"], {
        "--D-g": NUMBERS, "--eps": ["1e-300", "1e308", "1e-80"], "--sigma": ["1e308"],
        "--L-g": ["1e308", "1e-308"], "--gamma": ["0.999999999999", "1e-300"],
    }),
    ("predict", ["--json", "--D-g", "1"], {"--D-h": NUMBERS}),
    ("predict", ["--json", "--M-g", "1", "--M-h", "1", "--l2", "1"], {"--r-max": NUMBERS}),
    ("predict", ["--json", "--r-max", "1", "--M-h", "1", "--l2", "1"], {"--M-g": NUMBERS}),
    ("predict", ["--json", "--r-max", "1", "--M-g", "1", "--l2", "1"], {"--M-h": NUMBERS}),
    ("predict", ["--json", "--r-max", "1", "--M-g", "1", "--M-h", "1"], {"--l2": NUMBERS}),
    ("predict", ["--json", "--wallclock"], {
        "--timing": WORDS, "--M": NUMBERS, "--M-init": NUMBERS, "--iterations": NUMBERS,
        "--seed": NUMBERS, "--rounds": NUMBERS, "--batch": NUMBERS,
        "--sweep": WORDS + ["n=1..1e9", "eps=1e-300..1"],
    }),
    ("predict", ["--json", "--wallclock", "--timing", "lognormal"], {"--log-sigma": NUMBERS}),
    ("predict", ["--json", "--wallclock", "--timing", "uniform"], {"--jitter": NUMBERS}),
    ("predict", ["--json", "--kappa", "sqrt_d4"], {"--d": NUMBERS}),
    ("aggregate", ["--json"], {
        "--method": WORDS, "--h": LISTS + ["1e-9,1e9"], "--n": NUMBERS, "--M": NUMBERS,
        "--kappa": NUMBERS + ["3e16"], "--timing": WORDS, "--seed": NUMBERS,
    }),
    ("aggregate", ["--json", "--method", "malenia"], {
        "--h": ["1e-9,1e9", "1e-6,1e6", "1e-300,1"], "--M": [BIG, "1e15"],
    }),
    ("aggregate", ["--json", "--timing", "lognormal"], {"--log-sigma": NUMBERS + ["20"]}),
    ("aggregate", ["--json", "--timing", "uniform"], {"--jitter": NUMBERS + ["0.999"]}),
    ("train", TINY, {
        "--method": WORDS, "--seed": NUMBERS, "--env": WORDS, "--S": NUMBERS, "--A": NUMBERS,
        "--gamma": NUMBERS, "--H": NUMBERS, "--mdp-seed": NUMBERS, "--family": WORDS,
        "--n": NUMBERS, "--h": LISTS, "--kappa": NUMBERS, "--timing": WORDS,
        "--time": NUMBERS, "--max-iters": NUMBERS, "--target": NUMBERS,
        "--target-J": NUMBERS, "--eta": NUMBERS, "--alpha": NUMBERS, "--M": NUMBERS,
        "--M-init": NUMBERS, "--checkpoint-every": NUMBERS, "--hyper-from": WORDS,
    }),
    ("train", [*TINY, "--method", "sync_nigt"], {"--batch": NUMBERS}),
    ("train", [*TINY, "--method", "lapg"], {"--xi": NUMBERS, "--D": NUMBERS}),
    ("train", [*TINY, "--method", "fast_fedpg"], {"--K": NUMBERS, "--alpha-g": NUMBERS}),
    ("train", [*TINY, "--hyper-from", "theory"], {"--eps": NUMBERS}),
    ("train", [*TINY, "--method", "malenia_nigt"], {"--h": ["1e-9,1e9,1", "1e-6,1e6,1"]}),
    ("compare", [*TINY, "--methods", "rennala_nigt", "--seeds", "1"], {
        "--methods": WORDS + ["rennala_nigt,rennala_nigt", "all"], "--seeds": NUMBERS,
        "--tune-grid": ["1,2"], "--tune-M": ["1,2"], "--tune-seeds": ["1"],
    }),
    ("compare", [*TINY, "--methods", "rennala_nigt", "--seeds", "1", "--tune",
                 "--tune-grid", "0.1"], {
        "--tune-grid": WORDS + ["0^-1..0^-2", "2^-1000..2^1000", "1e308,1", "2^-3..3^-1",
                                "2^-2..2^-1"],
        "--tune-seeds": NUMBERS, "--tune-M": LISTS,
    }),
    # launch / calibrate: --dry-run checks every argument as a launch does, starting nothing
    ("launch", ["--dry-run", "--json"], {
        "--nproc": NUMBERS, "--nnodes": NUMBERS, "--node-rank": NUMBERS,
        "--rdzv-endpoint": WORDS + ["host:0", "host:99999", ":1"], "--rdzv-timeout": NUMBERS,
        "--max-restarts": NUMBERS, "--timeout": NUMBERS, "--mode": WORDS,
        "--method": WORDS + ["afedpg", "lapg"], "--eta": NUMBERS, "--alpha": NUMBERS,
        "--M": NUMBERS, "--M-init": NUMBERS, "--env": WORDS + ["NoSuchEnv-v0"],
        "--dim": NUMBERS, "--family": WORDS, "--S": NUMBERS, "--A": NUMBERS, "--H": NUMBERS,
        "--gamma": NUMBERS, "--mdp-seed": NUMBERS, "--h": LISTS, "--kappa": LISTS,
        "--timing": WORDS, "--iterations": NUMBERS, "--time": NUMBERS, "--seed": NUMBERS,
    }),
    ("launch", ["--dry-run", "--json", "--method", "sync_nigt"], {"--batch": NUMBERS}),
    ("launch", ["--dry-run", "--json", "--h", "1,2", "--timing", "lognormal"],
     {"--log-sigma": NUMBERS}),
    ("launch", ["--dry-run", "--json", "--h", "1,2", "--timing", "uniform"],
     {"--jitter": NUMBERS}),
    ("launch", ["--dry-run", "--json", "--env", "synthetic"], {"--dim": ["1e8", "9999999"]}),
    ("calibrate", ["--dry-run", "--json"], {
        "--nproc": NUMBERS, "--repetitions": NUMBERS, "--warmup": NUMBERS, "--seed": NUMBERS,
        "--env": WORDS, "--mode": WORDS, "--H": NUMBERS, "--output": ["", " "],
    }),
    ("validate", ["--no-write"], {"--only": WORDS}),
    ("validate", ["--no-write", "--only", "prop_2_3"], {"--seed": NUMBERS}),
    ("tables", [], {"--output": ["", " "]}),
]

CASES = [
    pytest.param(cmd, base, opt, value, id=f"{cmd}{'+' if base else ''} {opt} {value[:12]!r}")
    for cmd, base, options in TABLE
    for opt, values in options.items()
    for value in values
]


def _check(code: int, out: str, err: str, option: str, json_out: bool) -> None:
    lines = err.strip().splitlines()
    assert "Traceback" not in err and "internal error" not in err, err
    if code == 2:
        assert len(lines) == 1, f"expected one stderr line, got {lines}"
        assert lines[0].startswith("apga: error:"), lines
        assert option in lines[0], f"the error does not name {option}: {lines[0]}"
        return
    assert code == 0, f"exit {code}: {err}"
    assert all(line.startswith("apga: warning:") for line in lines), lines
    if json_out:
        json.loads(out, parse_constant=_reject)  # strict: no NaN / Infinity


def _reject(token: str):
    raise AssertionError(f"non-standard JSON constant {token}")


@pytest.mark.parametrize("cmd, base, option, value", CASES)
def test_option_value(cmd, base, option, value, tmp_path, capsys):
    argv = [cmd, *base]
    if cmd in ("train", "compare"):
        argv += ["--out", str(tmp_path / "out")]
    code = main([*argv, option, value])
    out, err = capsys.readouterr()
    _check(code, out, err, option, "--json" in base)


# --- files ------------------------------------------------------------------------------
def _files(tmp: Path) -> dict[str, Path]:
    files = {
        "missing": tmp / "nope.txt",
        "folder": tmp,
        "empty": tmp / "empty.txt",
        "binary": tmp / "bin.dat",
        "latin1": tmp / "latin1.txt",
        "garbage": tmp / "garbage.txt",
        "nan": tmp / "nan.txt",
        "huge": tmp / "huge.txt",
        "negative": tmp / "neg.txt",
    }
    files["empty"].write_text("")
    files["binary"].write_bytes(bytes(range(256)))
    files["latin1"].write_bytes("1, 2, 3 # caf\xe9\n".encode("latin-1"))
    files["garbage"].write_text("1, 2, {three}\n")
    files["nan"].write_text("1\nnan\n2\n")
    files["huge"].write_text(f"1 {BIG}\n")
    files["negative"].write_text("1 -2\n")
    return files


FILE_KINDS = ["missing", "folder", "empty", "binary", "latin1", "garbage", "nan", "huge",
              "negative"]


@pytest.mark.parametrize("kind", FILE_KINDS)
def test_h_file(kind, tmp_path, capsys):
    path = _files(tmp_path)[kind]
    code = main(["predict", "--json", "--h-file", str(path)])
    out, err = capsys.readouterr()
    assert code == 2
    _check(code, out, err, "--h-file", True)


@pytest.mark.parametrize("kind", FILE_KINDS)
@pytest.mark.parametrize("argv", [["predict", "--json"], ["aggregate", "--json"],
                                  ["train", *TINY], ["compare", *TINY, "--seeds", "1"]],
                         ids=["predict", "aggregate", "train", "compare"])
def test_cluster_file(argv, kind, tmp_path, capsys):
    path = _files(tmp_path)[kind]
    out_dir = ["--out", str(tmp_path / "o")] if argv[0] in ("train", "compare") else []
    code = main([*argv, *out_dir, "--cluster", str(path)])
    out, err = capsys.readouterr()
    assert code == 2
    _check(code, out, err, "--cluster", True)


def _outputs(tmp: Path) -> dict[str, str]:
    afile = tmp / "afile"
    afile.write_text("x")
    return {
        "empty": "",
        "existing file": str(afile),
        "under a file": str(afile / "sub"),
        "unreachable": "/proc/apga-cannot-create/here",
    }


@pytest.mark.parametrize("kind", ["empty", "existing file", "under a file", "unreachable"])
@pytest.mark.parametrize("cmd", ["train", "compare", "validate"])
def test_unwritable_out_refused_before_any_work(cmd, kind, tmp_path, capsys):
    target = _outputs(tmp_path)[kind]
    base = {"train": TINY, "compare": [*TINY, "--seeds", "1", "--methods", "rennala_nigt"],
            "validate": ["--only", "prop_2_3"]}[cmd]
    code = main([cmd, *base, "--out", target])
    out, err = capsys.readouterr()
    assert code == 2
    _check(code, out, err, "--out", False)


@pytest.mark.parametrize("target", ["/dev/full", "afile/sub", "."])
def test_tables_output_refused(target, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    code = main(["tables", "--output", target])
    out, err = capsys.readouterr()
    assert code == 2
    _check(code, out, err, "--output", False)
    code = main(["tables", "--check", "--output", target if target != "/dev/full" else "."])
    out, err = capsys.readouterr()
    assert code == 2


# --- the same, as a user would run it -----------------------------------------------------
@pytest.mark.parametrize("argv, option", [
    (["aggregate", "--h", "1,2,4", "--M", BIG], "--M"),
    (["predict", "--eps", "1e-300"], "--eps"),
    (["predict", "--h", "1e308"], "--h"),
    (["train", "--time", "nan"], "--time"),
])
def test_subprocess_one_line(argv, option, tmp_path):
    p = subprocess.run([sys.executable, "-m", "algorithms.cli.main", *argv],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("apga: error:") and option in lines[0]

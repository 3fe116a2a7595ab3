"""Every example in README.md and docs/ runs, so that a doc cannot drift from the code.

- A fenced ``apga ...`` command runs (in a fresh folder holding a copy of docs/clusters)
  and must exit 0, unless a transcript shows what it prints: ``$ command`` followed by
  output lines, which must then appear in what it prints (exit status aside).
- A command whose comment starts with ``long`` (``# long: minutes``) is run with
  ``--dry-run`` instead: every argument is still checked, nothing long starts.
- A command with placeholders (``DIR``, ``$VAR``, ``...``, ``[--option]``) is a template:
  every option it names must be an option of its subcommand.
- A ``python`` block runs as a script, after the file's earlier python blocks (a reader
  follows a page as one session), and must exit 0, unless its first line is
  ``# not run: <why>`` (signatures).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
#: Seconds one example may take; an example that needs more is marked ``# long``.
LIMIT = 120
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_PLACEHOLDER = re.compile(r"\.\.\.|\$|\bDIR\d*\b|\[--|<\w+>")


@dataclass(frozen=True)
class Example:
    where: str
    kind: str  # "run", "dry-run", "template", "python"
    text: str
    expected: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.where if self.kind == "python" else \
            f"{self.where}: {self.text.splitlines()[0][:70]}"


def _split_comment(line: str) -> tuple[str, str]:
    """(command, comment) of a shell line: a ' #' outside quotes starts the comment."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), line[i + 1:].strip()
    return line, ""


def examples() -> list[Example]:
    out = []
    for path in DOCS:
        text = path.read_text()
        rel = path.relative_to(ROOT)
        session: list[str] = []
        for m in _FENCE.finditer(text):
            lang, body = m.group(1), m.group(2)
            line_no = text[: m.start()].count("\n") + 1
            where = f"{rel}:{line_no}"
            if lang == "python":
                first = body.lstrip().splitlines()[0] if body.strip() else ""
                if not first.startswith("# not run:"):
                    session.append(body)
                    out.append(Example(where, "python", "\n".join(session)))
                continue
            lines = body.replace("\\\n", " ").splitlines()
            for k, raw in enumerate(lines):
                transcript = raw.startswith("$ ")
                line = raw[2:] if transcript else raw
                command, comment = _split_comment(line.strip())
                if command.startswith("pip ") and "&& apga" in command:
                    command = command.split("&&", 1)[1].strip()  # `pip install . && apga X`
                if not re.search(r"(^|[;&|]\s*)apga ", command):
                    continue
                expected: tuple[str, ...] = ()
                if transcript:
                    after = []
                    for nxt in lines[k + 1:]:
                        if nxt.startswith("$ "):
                            break
                        if nxt.strip():
                            after.append(nxt.strip())
                    expected = tuple(after)
                if _PLACEHOLDER.search(command):
                    kind = "template"
                elif comment.startswith("long"):
                    kind = "dry-run"
                else:
                    kind = "run"
                out.append(Example(where, kind, command, expected))
    return out


EXAMPLES = examples()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A fresh working folder with docs/clusters (the files the examples read)."""
    shutil.copytree(ROOT / "docs" / "clusters", tmp_path / "docs" / "clusters")
    return tmp_path


def _env(folder: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80", "MPLBACKEND": "Agg"}
    bindir = folder / "bin"
    bindir.mkdir(exist_ok=True)
    apga = bindir / "apga"  # the checkout's apga, whatever is installed
    apga.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m algorithms.cli.main "
                    '"$@"\n')
    apga.chmod(0o755)
    env["PATH"] = f"{bindir}{os.pathsep}{env['PATH']}"
    return env


def _apga_parts(command: str) -> list[list[str]]:
    """The argument lists of the ``apga`` invocations in a shell line."""
    parts = []
    for piece in re.split(r"&&|;|\|", command):
        words = shlex.split(piece)
        if words and words[0] == "apga":
            parts.append(words[1:])
    return parts


@pytest.mark.parametrize("ex", EXAMPLES, ids=str)
def test_example(ex: Example, folder: Path) -> None:
    env = _env(folder)
    if ex.kind == "python":
        proc = subprocess.run([sys.executable, "-c", ex.text], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=LIMIT)
        assert proc.returncode == 0, f"{ex.where}\n{proc.stderr[-2000:]}"
        return
    if ex.kind == "template":
        for argv in _apga_parts(ex.text):
            _check_options(ex, argv)
        return
    command = ex.text
    if ex.kind == "dry-run":  # commands without --dry-run (apga predict) are only checked
        runs = []
        for argv in _apga_parts(ex.text):
            if "--dry-run" in _options(argv[0]):
                runs.append("apga " + shlex.join([*argv, "--dry-run"]))
            else:
                _check_options(ex, argv)
        command = " && ".join(runs) or "true"
    proc = subprocess.run(["bash", "-c", command], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=LIMIT)
    said = proc.stdout + proc.stderr
    if ex.expected:
        _check_transcript(ex, said)
        return
    assert proc.returncode == 0, f"{ex.where}: exit {proc.returncode}\n{said[-2000:]}"


def _options(command: str) -> set[str]:
    """The option strings of ``apga COMMAND``."""
    from algorithms.cli.main import build_parser

    parser = build_parser(command)
    sub = next(a for a in parser._actions
               if a.__class__.__name__ == "_SubParsersAction").choices[command]
    return {o for a in sub._actions for o in a.option_strings}


def _check_options(ex: Example, argv: list[str]) -> None:
    """Every option a template names is an option of its subcommand."""
    own = _options(argv[0])
    unknown = [w for w in argv[1:] if w.startswith("--") and w.split("=")[0] not in own]
    assert not unknown, f"{ex.where}: apga {argv[0]} has no {unknown}"


_BOX = re.compile("[\u2500-\u257f]")
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w.])")


def _check_transcript(ex: Example, said: str) -> None:
    """What a transcript shows is what the command prints: a short plain line verbatim
    (spaces aside); a table row or a long (wrapped) line by its numbers, which must all be
    among the numbers printed. ``...`` marks output left out."""
    flat = " ".join(said.split())
    printed = _NUMBER.findall(said)
    for line in ex.expected:
        if "..." in line:
            continue
        if _BOX.search(line) or len(line) > 80:
            missing = [x for x in _NUMBER.findall(line) if x not in printed]
            assert not missing, f"{ex.where}: {missing} of {line!r} not printed:\n{said[-3000:]}"
        else:
            assert " ".join(line.split()) in flat, \
                f"{ex.where}: expected {line!r} in\n{said[-3000:]}"


def test_examples_found() -> None:
    """The collector sees the README's examples (a broken pattern would test nothing)."""
    readme = [e for e in EXAMPLES if e.where.startswith("README.md")]
    assert any(e.text.startswith("apga predict") for e in readme)
    assert any(e.kind == "python" for e in readme)

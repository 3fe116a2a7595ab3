"""Entry point of the ``apga`` command.

Subcommands are discovered from the modules of :mod:`algorithms.cli`: every module that
defines ``COMMAND`` (its name), ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int`` becomes ``apga COMMAND``. Only the command being run gets its
arguments (``add_arguments`` may import the method registry: ``apga predict`` does not pay
for it), and subcommand modules import heavy dependencies (torch, matplotlib) inside
``run``. Options are never abbreviated (``--h`` is ``--h``, not ``--help``), and an
unknown option is reported against the subcommand's ``--help``.

Errors: a :class:`ValueError` (bad input, named parameter), a missing file or an
argument error prints one line ``apga: error: ...`` on stderr and exits 2; an
unexpected exception prints one line and exits 1 (``APGA_DEBUG=1`` shows the traceback).
A ValueError names the parameter by its Python name (``eps``, ``M_init``, ``h_file``);
the message is rewritten to the command's flag (``--eps``, ``--M-init``, ``--h-file``) so
that the user reads the option they typed. Warnings (numpy's RuntimeWarning, say) are
collected: dropped when the command fails, printed one line each when it succeeds.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import pkgutil
import re
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

import algorithms.cli as _cli_pkg

EXIT_BAD_INPUT = 2
#: Packages of the ``mujoco`` extra: a command that needs one says how to install it.
EXTRAS = ("torch", "gymnasium", "mujoco")


class _OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit 2, with no abbreviations."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"apga: error: {message} (see `{self.prog} --help`)\n")
        raise SystemExit(EXIT_BAD_INPUT)


def _subcommand_modules() -> list[ModuleType]:
    mods = []
    for info in pkgutil.iter_modules(_cli_pkg.__path__):
        if info.name.startswith("_") or info.name == "main":
            continue
        mod = importlib.import_module(f"algorithms.cli.{info.name}")
        if hasattr(mod, "COMMAND") and hasattr(mod, "run"):
            mods.append(mod)
    mods.sort(key=lambda m: (getattr(m, "ORDER", 100), m.COMMAND))
    return mods


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``apga`` parser; with ``command``, only that subcommand gets its arguments (every
    one is listed in ``apga --help`` either way)."""
    parser = _OneLineParser(
        prog="apga",
        description=(
            "Asynchronous policy gradient aggregation (Rennala NIGT / Malenia NIGT): "
            "predict wall-clock, simulate, verify."
        ),
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_OneLineParser)
    for mod in _subcommand_modules():
        # argparse %-formats help strings: escape a literal '%' ("20-80% band").
        p = sub.add_parser(
            mod.COMMAND,
            help=mod.HELP.replace("%", "%%"),
            description=getattr(mod, "DESCRIPTION", mod.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if command is None or command == mod.COMMAND:
            mod.add_arguments(p)
            p.set_defaults(_run=mod.run, _flags=flag_names(p), _parser=p)
    return parser


class _Version(argparse.Action):
    """``--version``, read from the package metadata only when asked (importlib.metadata
    costs ~10 ms that `apga predict` does not pay)."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: D102
        sys.stdout.write(f"apga {_version()}\n")
        parser.exit()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("apga")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown (not installed)"


def flag_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Parameter name -> the option that sets it, for every option of ``parser``.

    Keys are the destination (``M_init``, ``hp_M_init`` without its ``hp_`` prefix) and
    the flag without dashes in both spellings (``M-init``, ``M_init``); hidden aliases
    (former names) are left out.
    """
    out: dict[str, str] = {}
    for action in parser._actions:
        longs = [o for o in action.option_strings if o.startswith("--")]
        if not longs or action.dest == "help" or action.help == argparse.SUPPRESS:
            continue
        flag = longs[0]
        bare = flag[2:]
        dest = action.dest[3:] if action.dest.startswith("hp_") else action.dest
        for key in (dest, bare, bare.replace("-", "_")):
            out.setdefault(key, flag)
    # Names the library uses for what these flags set (run_method's max_time and
    # checkpoint, the clock's simulated time).
    for name, flag in (("max_time", "time"), ("max_iters", "iterations"),
                       ("checkpoint", "resume")):
        if flag in out:
            out.setdefault(name, out[flag])
    return out


_LEAD = re.compile(r"^(\w[\w-]*)((?:, \w[\w-]*)*)(?=[ :\[])")
_MISMATCH = re.compile(r"(?<=[:,] )(\w+)(?= (?:has|is) )")


def name_flag(message: str, flags: dict[str, str]) -> str:
    """Rewrite the parameter names a message starts with to the flags that set them.

    ``"eps must be > 0"`` -> ``"--eps must be > 0"``; ``"time, h: ..."`` ->
    ``"--time, --h: ..."``; ``"length mismatch: h has 2, n is 3"`` ->
    ``"length mismatch: --h has 2, --n is 3"``. Names that are not options stay.
    """
    if message.startswith("length mismatch:"):
        return _MISMATCH.sub(lambda m: flags.get(m.group(1), m.group(1)), message)
    m = _LEAD.match(message)
    if not m:
        return message
    names = [m.group(1)] + [x for x in m.group(2).split(", ") if x]
    if not any(n in flags for n in names):
        return message
    return ", ".join(flags.get(n, n) for n in names) + message[m.end():]


@functools.cache
def _parser(command: str | None) -> argparse.ArgumentParser:
    # Built once per process and command: parsing does not change it, and in-process
    # callers (the bad-input test suite runs main() ~1000 times) save the time it takes.
    return build_parser(command)


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (the first word that is not an option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser(_command(argv))
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # reported by the subcommand, so that the hint names its --help
            sub = getattr(args, "_parser", parser)
            sub.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # --help, --version, or a one-line argument error (exit 2)
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = _run(args)
    if code == 0:
        seen = set()
        for w in caught:
            line = f"apga: warning: {str(w.message).splitlines()[0]}"
            if line not in seen:
                seen.add(line)
                sys.stderr.write(line + "\n")
    return code


def _run(args: argparse.Namespace) -> int:
    flags = getattr(args, "_flags", {})
    try:
        return int(args._run(args) or 0)
    except (ValueError, FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        if os.environ.get("APGA_DEBUG"):
            raise
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        sys.stderr.write(f"apga: error: {name_flag(msg, flags)}\n")
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # stdout closed early (`apga predict | head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt as exc:
        # algorithms.run.Interrupted says where the last checkpoint is and how to resume.
        detail = str(exc).splitlines()[0] if str(exc) else ""
        sys.stderr.write(f"apga: interrupted{'; ' + detail if detail else ''}\n")
        sys.stderr.flush()
        # The one line is the whole report: background threads that die with the run (a
        # process pool's queue feeder writing to a pipe its ended workers closed) must not
        # print tracebacks after it while the interpreter shuts down.
        if sys.stderr is sys.__stderr__:  # the process's own stderr (not a test's capture)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stderr.fileno())
        return 130
    except ModuleNotFoundError as exc:
        # torch, gymnasium and mujoco are extras: the calculator installs without them
        if os.environ.get("APGA_DEBUG"):
            raise
        if exc.name not in EXTRAS:
            return _internal(exc)
        sys.stderr.write(
            f"apga: error: `apga {args.command}` needs {exc.name}, which comes with the mujoco "
            "extra: pip install -e '.[mujoco]' (torch 2.13.0 CPU, gymnasium[mujoco])\n"
        )
        return EXIT_BAD_INPUT
    except MemoryError:
        if os.environ.get("APGA_DEBUG"):
            raise
        sys.stderr.write(
            "apga: error: out of memory: the inputs ask for more than this machine holds; "
            "use a smaller problem (fewer agents, states or seeds)\n"
        )
        return EXIT_BAD_INPUT
    except OSError as exc:  # disk full, permissions: files the command could not write
        if os.environ.get("APGA_DEBUG"):
            raise
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        sys.stderr.write(f"apga: error: {exc.strerror or exc}{where}\n")
        return EXIT_BAD_INPUT
    except Exception as exc:  # noqa: BLE001 - the CLI never shows a traceback by default
        if os.environ.get("APGA_DEBUG"):
            raise
        return _internal(exc)


def _internal(exc: BaseException) -> int:
    """One line for an unexpected error (exit 1)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    sys.stderr.write(
        f"apga: internal error: {type(exc).__name__}: {text} "
        "(APGA_DEBUG=1 shows the traceback)\n"
    )
    return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

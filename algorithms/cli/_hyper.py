"""Hyperparameter flags, generated from the method registry.

Each method's registry entry (:class:`algorithms.methods.base.MethodSpec`) declares its
hyperparameters once: name, default, meaning, range. A command that runs methods calls
:func:`add_hyper_arguments` with the methods it can run; every hyperparameter any of them
has becomes one flag (``M_init`` -> ``--M-init``, dest ``hp_M_init``), with its range
checked when parsed and, in its help, each method's default as the registry states it.
A flag left out means "the method's own default" (its value is None).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import Any

from algorithms.cli import _types as ty

#: Prefix of the argparse dests of hyperparameter flags.
PREFIX = "hp_"


def flag(name: str) -> str:
    """The flag of hyperparameter ``name`` (``M_init`` -> ``--M-init``)."""
    return "--" + name.replace("_", "-")


def collect(methods: Iterable[Any]) -> dict[str, list[tuple[Any, Any]]]:
    """name -> [(method spec, its Hyperparameter)] over ``methods``, in first-seen order."""
    out: dict[str, list[tuple[Any, Any]]] = {}
    for spec in methods:
        for hp in spec.hyper:
            out.setdefault(hp.name, []).append((spec, hp))
    return out


def _type(hp: Any, maximum: int | None):
    if hp.integer:
        return ty.integer(1, maximum, "gradients of a round are sampled in one batch") \
            if maximum is not None else ty.integer(1)
    if hp.maximum is not None:
        return ty.real(0.0, hp.maximum, low_open=True)
    return ty.positive()


def defaults_text(entries: list[tuple[Any, Any]]) -> str:
    """"20" when every method has that default, else "0.05 (rennala_nigt, ...); 0.01 (...)"."""
    groups: dict[float, list[str]] = {}
    for spec, hp in entries:
        groups.setdefault(hp.default, []).append(spec.name)
    if len(groups) == 1:
        return f"{next(iter(groups)):g}"
    return "; ".join(f"{value:g} ({', '.join(names)})" for value, names in groups.items())


#: Hyperparameters the theory gives (``--M theory``: algorithms.wallclock.defaults).
THEORETICAL = ("M", "M_init", "eta", "alpha")


def _or_theory(parse):
    """``parse``, or the word ``theory`` (the value then comes from Theorems 4.1/4.2)."""
    def either(text: str):
        return "theory" if isinstance(text, str) and text.strip() == "theory" else parse(text)

    either.__name__ = getattr(parse, "__name__", "value")
    return either


def add_hyper_arguments(parser: argparse.ArgumentParser | Any, methods: Iterable[Any], *,
                        batch_maximum: int | None = None, theory: bool = False) -> None:
    """One flag per hyperparameter of ``methods`` (a parser or an argument group).

    ``batch_maximum`` bounds the integer ones (batches) where the command samples a round
    in memory; with ``theory``, M, M_init, eta and alpha also accept the word ``theory``.
    """
    for name, entries in collect(methods).items():
        hp = entries[0][1]
        typ = _type(hp, batch_maximum)
        more = ""
        if theory and name in THEORETICAL:
            typ, more = _or_theory(typ), " or 'theory'"
        parser.add_argument(
            flag(name), dest=PREFIX + name, type=typ, default=None,
            metavar=name.upper() if len(name) > 1 else name,
            help=f"{hp.doc} (default: {defaults_text(entries)}{more})")


def given(args: argparse.Namespace, spec: Any | None = None) -> dict[str, float]:
    """The hyperparameter flags given (name -> value); with ``spec``, only its own."""
    names = None if spec is None else {h.name for h in spec.hyper}
    out = {}
    for key, value in vars(args).items():
        if key.startswith(PREFIX) and value is not None:
            name = key[len(PREFIX):]
            if names is None or name in names:
                out[name] = value
    return out


def refuse_foreign(values: Mapping[str, float], spec: Any) -> None:
    """A ValueError naming the first given flag that ``spec`` has no hyperparameter for."""
    known = {h.name for h in spec.hyper}
    for name in values:
        if name not in known:
            raise ValueError(f"{name}: not a hyperparameter of {spec.name} "
                             f"(it has {', '.join(sorted(known)) or 'none'})")

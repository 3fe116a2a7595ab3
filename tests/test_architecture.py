"""The import structure: no circles, and no lower layer importing a higher one.

Layers, from the bottom (a module may import its own layer and the layers below):

0. ``theory``: the paper's formulas (numpy, sympy);
1. the core of ``algorithms``: oracles, the simulated clock, aggregation procedures,
   methods, environments, records, checkpoints, outputs, predictions in seconds, and the
   Backend protocol the methods call;
2. backends and the loop that drives them: ``algorithms.backends.simulated``,
   ``algorithms.backends.distributed``, ``algorithms.run.loop`` (and ``algorithms.run``,
   which re-exports it);
3. ``algorithms.experiments`` and ``validation``;
4. ``algorithms.cli``.

Imports are read from the source (every ``import`` statement, at module level or inside a
function: a deferred import is still a dependency), so the test needs nothing installed.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("theory", "algorithms", "validation")
LAYER_NAMES = ("theory", "algorithms core", "backends", "experiments/validation", "cli")


def modules() -> dict[str, Path]:
    """Dotted name -> file of every module of the packages (a package is its __init__)."""
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project's modules that module ``name`` imports (``from P import m`` where P.m is
    a module counts as importing P.m, not the package P)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known else target)
    out = set()
    for mod in found:  # the longest known prefix (import a.b.c where a.b.c is a module)
        parts = mod.split(".")
        while parts and ".".join(parts) not in known:
            parts.pop()
        if parts and ".".join(parts) != name:
            out.add(".".join(parts))
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports(name, path, known) for name, path in mods.items()}


def layer(name: str) -> int:
    if name.split(".")[0] == "theory":
        return 0
    if name.startswith("algorithms.cli"):
        return 4
    if name.startswith(("algorithms.experiments", "validation")):
        return 3
    if name.startswith(("algorithms.backends.simulated", "algorithms.backends.distributed",
                        "algorithms.run.loop")) or name == "algorithms.run":
        return 2
    return 1


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_the_graph_is_read() -> None:
    """The reader sees known edges (a broken reader would find no circles in anything)."""
    g = graph()
    assert "algorithms.run.records" in g["algorithms.run.checkpoint"]
    assert "algorithms.methods.base" in g["algorithms.methods.patterns"]
    assert "algorithms.backends.distributed.problem" in g["algorithms.backends.distributed.loop"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_no_lower_layer_imports_a_higher_one() -> None:
    g = graph()
    bad = [f"{a} ({LAYER_NAMES[layer(a)]}) imports {b} ({LAYER_NAMES[layer(b)]})"
           for a, targets in sorted(g.items()) for b in sorted(targets) if layer(b) > layer(a)]
    assert bad == []


def test_theory_imports_no_algorithms_and_no_torch() -> None:
    """The calculator installs without torch: theory needs numpy, scipy and sympy only."""
    for name, path in modules().items():
        if not name.startswith("theory"):
            continue
        tree = ast.parse(path.read_text())
        names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                 for a in n.names}
        names |= {(n.module or "").split(".")[0] for n in ast.walk(tree)
                  if isinstance(n, ast.ImportFrom) and not n.level}
        assert not names & {"torch", "gymnasium", "mujoco", "algorithms", "validation"}, name

"""The package's layers: no import cycle, and no module importing one above it.

Data flows one way (../shared/GUIDE.md): data -> nn -> models -> train -> metrics ->
evaluation -> report -> cli. Every import counts, also those inside functions (a lazy
import is still an arrow), except those under ``if TYPE_CHECKING:`` (type hints only).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

LAYERS: list[tuple[str, ...]] = [
    ("genzoo._version", "genzoo.errors", "genzoo.io", "genzoo.config", "genzoo.threads"),
    ("genzoo.declare",),  # what families declare for the upper floors (torch-free)
    ("genzoo.progress",),  # above threads: its bars tick the thread tuner
    ("genzoo.data",),
    ("genzoo.nn", "genzoo.losses"),
    ("genzoo.estimators",),
    ("genzoo.models",),
    ("genzoo.registry",),
    ("genzoo.sampling",),
    ("genzoo.viz.grid", "genzoo.viz.points", "genzoo.viz.latent", "genzoo.viz.prior"),
    ("genzoo.viz",),
    ("genzoo.train.checkpoint",),
    ("genzoo.runs", "genzoo.train", "genzoo.zoo"),
    ("genzoo.metrics",),
    ("genzoo.evaluation",),
    ("genzoo.viz.views", "genzoo.report"),
    ("genzoo.commands", "genzoo.app"),  # the command line's options; the web app
    ("genzoo.cli", "genzoo.__main__", "genzoo"),
]
"""From the bottom up; a module belongs to the layer of its longest matching prefix."""


def layer_of(module: str) -> int:
    best, best_len = -1, -1
    for i, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best_len:
                best, best_len = i, len(p)
    assert best >= 0, f"{module} is in no layer: add it to LAYERS"
    return best


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / "genzoo").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(module: str, path: Path, known: set[str], types: bool = False) -> set[str]:
    """The genzoo modules ``module`` imports (resolved to modules, not names); with
    ``types``, those under ``if TYPE_CHECKING:`` too."""
    tree = ast.parse(path.read_text())
    skip = set() if types else _type_checking_lines(tree)
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name.startswith("genzoo") and name != module:
                found.add(name)
    return found


def graph(types: bool = False) -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {m: imports_of(m, p, known, types) for m, p in mods.items()}


def test_no_module_imports_one_above_it():
    upward = [
        f"{m} (layer {layer_of(m)}) imports {d} (layer {layer_of(d)})"
        for m, deps in graph().items()
        for d in sorted(deps)
        if layer_of(d) > layer_of(m) and not (m == "genzoo" or d == "genzoo")
    ]
    assert upward == []


def test_no_import_cycles():
    """None, type-only imports included (a circle of type hints is still a circle of
    concepts, and breaks as soon as one of them is needed at run time)."""
    g = graph(types=True)
    # genzoo/__init__ only re-exports lazily; package parents are not import arrows
    g = {m: {d for d in deps if d != "genzoo"} for m, deps in g.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for d in sorted(g.get(m, ())):
            if d.startswith(m + "."):
                continue  # a package importing its own submodules
            if state.get(d) == 1:
                cycles.append([*stack[stack.index(d) :], d] if d in stack else [m, d])
            elif d not in state:
                visit(d, [*stack, d])
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_no_model_imports_the_trainer_lightning_or_torch_distributed():
    """What the loop owns (schedules, optimizer state, the world of processes) reaches a
    model through its StepContext, never through an import."""
    found = []
    for module, path in modules().items():
        if not module.startswith("genzoo.models"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            found += [
                f"{module} imports {n}"
                for n in names
                if n.split(".")[0] in ("lightning", "lightning_fabric")
                or n.startswith(("torch.distributed", "genzoo.train"))
            ]
    assert found == []

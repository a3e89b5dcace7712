"""The shape of the package: no import cycles, layers that only look down, and providers that are
one package each (no module outside ``providers/<name>/`` names a provider, but the registry's table)."""

from __future__ import annotations

import ast
from pathlib import Path

import batchkit

ROOT = Path(batchkit.__file__).parent
BUILTIN = ("hume", "resemble")


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every batchkit module ``name`` imports, at any level (TYPE_CHECKING and function bodies too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in out if m in known and m != name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def test_no_import_cycles() -> None:
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    # a package's __init__ re-exporting its own submodules is not a cycle between layers
    cycles = [c for c in cycles if not all(m.startswith(c[0] + ".") or m == c[0] for m in c)]
    assert cycles == []


def layer(module: str) -> str:
    if module.startswith("batchkit._kernel") or module in ("batchkit.errors", "batchkit.models", "batchkit.samples",
                                                           "batchkit.observing"):
        return "kernel"
    if module.startswith("batchkit.providers"):
        return "providers"
    if module.startswith("batchkit._orchestration") or module == "batchkit.config":
        return "orchestration"
    return "surface"


def test_layers_only_look_down() -> None:
    order = {"kernel": 0, "providers": 1, "orchestration": 2, "surface": 3}
    wrong = []
    for module, targets in graph().items():
        for target in targets:
            own_fake = module.endswith(".emulator") or module.endswith("fake_predictions")
            if own_fake and target.startswith("batchkit.emulator"):
                continue  # a provider's emulator fake is built from the emulator's parts
            if order[layer(target)] > order[layer(module)]:
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def named_providers(path: Path) -> set[str]:
    """Provider names in the code of ``path``: string constants and names, not docstrings or comments."""
    tree = ast.parse(path.read_text())
    docstrings = {  # module, class, function and attribute docstrings: bare string statements
        id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            text = node.value.lower()
        elif isinstance(node, ast.Name):
            text = node.id.lower()
        elif isinstance(node, ast.Attribute):
            text = node.attr.lower()
        else:
            continue
        found.update(name for name in BUILTIN if name in text)
    return found


def test_no_module_outside_a_provider_package_names_a_provider() -> None:
    naming = {}
    for name, path in modules().items():
        if any(name.startswith(f"batchkit.providers.{p}") for p in BUILTIN) or name == "batchkit.providers":
            continue
        if found := named_providers(path):
            naming[name] = found
    assert naming == {}
    assert named_providers(ROOT / "providers" / "__init__.py") == set(BUILTIN), "only the table of built-ins"


def test_no_module_reaches_a_submodule_through_the_package_unimported() -> None:
    """``batchkit.results.summary`` works only where ``batchkit.results`` was imported (the package's own
    lazy names aside, such as ``batchkit.runs``): a command run in a fresh process would fail on it."""
    lazy = {"runs", *batchkit.__all__}
    stray = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "batchkit"
                    and f"batchkit.{node.attr}" in modules() and node.attr not in lazy):  # fmt: skip
                stray.append(f"{name}:{node.lineno} batchkit.{node.attr}")
    assert not stray

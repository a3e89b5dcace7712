"""Build batchkit's API reference from its docstrings into ``build/api/`` (pdoc, ``pip install -e '.[docs]'``),
after checking that every public name has a docstring; exits 1 naming those that have none.

    .venv/bin/python .ci/api_docs.py            # check, then build build/api/index.html
    .venv/bin/python .ci/api_docs.py --check    # check only (of other modules: --check MODULE...)

pdoc imports what it documents and runs ``if TYPE_CHECKING:`` blocks in those modules, so run this in a
process of its own, not inside another program.
"""

from __future__ import annotations

import sys
import typing
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PUBLIC = (
    "batchkit", "batchkit.async_client", "batchkit.results", "batchkit.report", "batchkit.runs", "batchkit.webhooks",
    "batchkit.testing", "batchkit.emulator", "batchkit.engines", "batchkit.ray", "batchkit.providers",
    "batchkit.providers.base", "batchkit.errors",
    "batchkit.models", "batchkit.config", "batchkit.providers.hume.options", "batchkit.providers.hume.models",
    "batchkit.providers.resemble.options", "batchkit.providers.resemble.models",
    "batchkit.providers.hume_expression.options", "batchkit.providers.hume_expression.models",
    "batchkit.observing", "batchkit.metrics", "batchkit.tracing",
)  # fmt: skip
"""The modules of the reference: the public surface, the testing tools and each provider's options and models
(the command line is documented by ``batchkit --help``)."""
OUTPUT = Path(__file__).resolve().parent.parent / "build" / "api"


def undocumented(modules: tuple[str, ...] = PUBLIC) -> list[str]:
    """Every public module, class, function, method and module-level name the reference shows without a
    docstring (class fields are described in their class's docstring)."""
    import pdoc.doc

    def walk(doc: pdoc.doc.Namespace[Any], assigned: set[str]) -> Iterator[pdoc.doc.Doc[Any]]:
        for member in doc.own_members:
            if member.name.startswith("_"):
                continue
            if isinstance(member, pdoc.doc.Variable) and (
                isinstance(doc, pdoc.doc.Class)  # a field: its class's docstring describes it
                or isinstance(member.default_value, typing.TypeVar)  # a name for a type
                or member.name not in assigned  # imported: documented where it is assigned
            ):
                continue
            yield member
            if isinstance(member, pdoc.doc.Class):
                yield from walk(member, assigned)

    missing = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # annotations pdoc cannot evaluate are shown as written
        for name in modules:
            module = pdoc.doc.Module.from_name(name)
            missing += [name] if not module.docstring.strip() else []
            missing += [doc.fullname for doc in walk(module, _assigned(module.obj)) if not doc.docstring.strip()]
    return sorted(set(missing))


def _assigned(module: object) -> set[str]:
    """The names a module's own top-level statements assign (not those it imports)."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def main(argv: list[str]) -> int:
    try:
        import pdoc
        import pdoc.render
    except ImportError:
        print("the API reference needs pdoc: pip install -e '.[docs]'", file=sys.stderr)
        return 1
    modules = tuple(a for a in argv if not a.startswith("--")) or PUBLIC
    missing = undocumented(modules)
    if missing:
        print(f"{len(missing)} public name(s) have no docstring:", *missing, sep="\n  ", file=sys.stderr)
        return 1
    if "--check" in argv:
        return 0
    pdoc.render.configure(docformat="restructuredtext", show_source=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pdoc.pdoc(*PUBLIC, output_directory=OUTPUT)
    print(f"API reference: {OUTPUT / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

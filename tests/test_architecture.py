"""The layout follows the pipeline: each package imports only itself and the packages before it.

testsets → corpus → systems → store → scoring → runs → gate → history → render, over a foundation (errors,
environment, paths, textio, registry), with the CLI and the tiny-model tool on top. Imports inside functions count
too: a lazy import that points the wrong way is still a cycle waiting to happen.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "evalharness"
FOUNDATION = {"errors", "environment", "paths", "textio", "registry", "languages", "__init__"}
LAYERS = ["foundation", "testsets", "corpus", "systems", "store", "scoring", "runs", "gate", "history", "render",
          "human", "top"]
TOP = {"cli", "commands", "tiny_model", "__main__"}


def _layer(module: str) -> str:
    """The layer of a module path like ``evalharness.runs.files`` or ``evalharness.textio``."""
    parts = module.split(".")
    name = parts[1] if len(parts) > 1 else "__init__"
    if name in FOUNDATION:
        return "foundation"
    if name in TOP:
        return "top"
    assert name in LAYERS, f"{module}: not in any layer; add its folder to LAYERS and to the README's Architecture"
    return name


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return [(line, name) for line, name in found if name == "evalharness" or name.startswith("evalharness.")]


def test_every_import_points_down() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = "evalharness." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        mine = LAYERS.index(_layer(module))
        for line, target in _imports(path):
            if LAYERS.index(_layer(target)) > mine:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {_layer(module)} imports {target}")
    assert not wrong, "imports that point up the pipeline:\n" + "\n".join(wrong)


def test_readme_architecture_names_every_folder() -> None:
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    folders = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file())
    assert folders, "no subpackages found"
    for folder in folders:
        assert f"`{folder}/`" in section, f"README Architecture does not describe {folder}/"


# --------------------------------------------------------------------------- function length

MAX_FUNCTION_LINES = 60
"""Longer than this, a function does several things: split it into named steps."""

PARSER_TABLES = {"register", "build_parser"}
"""Functions that are argument-parser tables (one ``add_argument`` after another): exempt by name, as are
``_add_*`` option helpers."""

KNOWN_LONG: set[str] = set()  # none: keep it so


def _functions(tree: ast.AST, prefix: str = "") -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function and method of a module, nested ones included, named ``Class.method`` / ``outer.inner``."""
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append((prefix + node.name, node))
            found += _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            found += _functions(node, f"{prefix}{node.name}.")
        else:
            found += _functions(node, prefix)
    return found


def _is_parser_table(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last in PARSER_TABLES or last.startswith("_add_")


def test_no_function_over_sixty_lines() -> None:
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE.parent).as_posix()
        for name, node in _functions(ast.parse(path.read_text(encoding="utf-8"))):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > MAX_FUNCTION_LINES and not _is_parser_table(name) and f"{where}:{name}" not in KNOWN_LONG:
                long.append(f"{where}:{name}: {lines} lines")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines (split them into named steps):\n" + "\n".join(long)


def test_function_length_check_sees_a_long_function() -> None:
    """The measurement itself: a 61-line function is found, a parser table is not."""
    body = "\n".join(f"    x{i} = {i}" for i in range(60))
    tree = ast.parse(f"def long():\n{body}\n\ndef register(sub):\n{body}\n")
    lengths = {name: (node.end_lineno or 0) - node.lineno + 1 for name, node in _functions(tree)}
    assert lengths == {"long": 61, "register": 61}
    assert not _is_parser_table("long") and _is_parser_table("register") and _is_parser_table("_add_where")


# --------------------------------------------------------------------------- import cycles


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Module → the package's modules it imports, anywhere in the file (inside functions too).

    ``from evalharness.x import y`` is an import of module ``evalharness.x.y`` when that is a module, else of
    ``evalharness.x``."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module in modules:
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    targets.add(sub if sub in modules else node.module)
        graph[name] = targets - {name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan), as a path back to its start."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_path_through(graph, c) for c in components]


def _path_through(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A cycle within ``component`` from its first module back to it (breadth-first, so a shortest one)."""
    start, inside = component[0], set(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & inside):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    return component  # unreachable for a strongly connected component


KNOWN_CYCLES: set[frozenset[str]] = set()  # none: keep it so


def test_no_import_cycle() -> None:
    cycles = [c for c in _cycles(_import_graph()) if frozenset(c) not in KNOWN_CYCLES]
    assert not cycles, "import cycles (module level or inside functions):\n" + "\n".join(" → ".join(c) for c in cycles)


def test_cycle_check_sees_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []

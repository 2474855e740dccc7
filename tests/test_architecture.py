"""The layout follows the pipeline: each package imports only itself and the packages before it.

testsets → corpus → systems → store → scoring → runs → gate → render, over a foundation (errors, environment, paths,
textio, registry), with the CLI and the tiny-model tool on top. Imports inside functions count too: a lazy import
that points the wrong way is still a cycle waiting to happen.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "evalharness"
FOUNDATION = {"errors", "environment", "paths", "textio", "registry", "languages", "__init__"}
LAYERS = ["foundation", "testsets", "corpus", "systems", "store", "scoring", "runs", "gate", "render", "top"]
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

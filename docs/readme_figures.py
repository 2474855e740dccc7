"""Regenerate the README's figures from the commands they document, so they cannot drift.

    python docs/readme_figures.py            # rewrite the marked blocks of README.md
    python docs/readme_figures.py --check    # exit 1 (and show the difference) if README.md is stale

Each figure sits between ``<!-- figure: NAME -->`` and ``<!-- /figure -->`` in README.md and is made here by
running evalharness itself: today the ``summary.md`` example, from the ``demo`` config on the random-weight
tiny model (its scores are noise but deterministic for the pinned versions in constraints.txt).
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
BLOCK = re.compile(r"(<!-- figure: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /figure -->)", re.DOTALL)


def _evalharness(*argv: str, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "evalharness", *argv], capture_output=True, text=True, env=env,
                          cwd=REPO, check=False)
    if done.returncode != 0:
        raise SystemExit(f"evalharness {' '.join(argv)} failed: {done.stderr.strip()}")
    return done.stdout


def summary_table(work: Path) -> str:
    """The score table and signatures of ``summary.md`` after ``evalharness demo``."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EVALHARNESS_CACHE_DIR": str(work / "cache")}
    _evalharness("demo", "--dir", str(work / "demo"), "-q", env=env)
    summary = (work / "demo" / "run" / "summary.md").read_text(encoding="utf-8")
    start = summary.index("| system |")
    end = summary.index("\n## Flags")
    return "```\n" + summary[start:end].strip() + "\n```\n"


FIGURES: dict[str, Callable[[Path], str]] = {"summary-table": summary_table}


def render(text: str) -> str:
    """README text with every marked figure made afresh."""
    with tempfile.TemporaryDirectory(prefix="readme-figures-") as tmp:
        made = {name: make(Path(tmp)) for name, make in FIGURES.items()}

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in made:
            raise SystemExit(f"README.md has a figure {name!r} that docs/readme_figures.py does not make")
        return match.group(1) + made[name] + match.group(4)

    return BLOCK.sub(replace, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when README.md is stale")
    args = parser.parse_args()
    old = README.read_text(encoding="utf-8")
    new = render(old)
    if args.check:
        if new != old:
            sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True), "README.md",
                                                       "README.md (regenerated)"))
            return 1
        print("README.md figures are up to date")
        return 0
    README.write_text(new, encoding="utf-8")
    print("README.md figures regenerated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

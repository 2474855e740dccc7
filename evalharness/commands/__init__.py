"""The CLI's commands, one module a command (or command group).

Each module defines ``register(sub)``, which adds its sub-parser(s) to the ``evalharness`` parser's
sub-parsers and sets ``func`` on each, and the handlers it names. A handler takes the parsed
``argparse.Namespace`` and returns an exit code; it raises typed errors (``EvalHarnessError``) for bad
input and leaves turning them into exit codes to ``evalharness.cli.main``. Handlers import heavy modules
inside their bodies so that ``evalharness --help`` stays instant.

A new command is one new module here plus its name in ``COMMANDS`` below.
"""

from __future__ import annotations

COMMANDS: tuple[str, ...] = ("corpus", "testsets", "config", "run", "demo", "score", "metrics", "compare", "check",
                             "report", "cache", "baseline", "history", "export", "imports")
"""Modules under ``evalharness.commands`` whose ``register`` the CLI calls, in ``--help`` order."""

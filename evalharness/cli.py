"""Command-line interface: the parser frame, ``main``, and the mapping of errors to exit codes.

The commands live in :mod:`evalharness.commands`, one module each; this module only builds the parser around
them and turns what they raise into one-line messages and exit codes.

Exit codes: 0 success; 1 problems found (corpus check) or a regression (gate); 2 usage or input error; 3 an
internal error (a worker process died or broke its protocol, or a bug): never 1, which CI reads as a verdict.
Heavy modules (torch, transformers, pydantic, sacrebleu) are imported inside the commands that use them
so that ``evalharness --help`` stays instant.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

from evalharness import __version__
from evalharness.commands.options import EXIT_INPUT, EXIT_INTERNAL, EXIT_OK, EXIT_PROBLEMS
from evalharness.errors import EvalHarnessError, EvalHarnessWarning, InternalError

__all__ = ["EXIT_INPUT", "EXIT_INTERNAL", "EXIT_OK", "EXIT_PROBLEMS", "build_parser", "main"]

EXIT_TERMINATED = 128 + 15  # what a shell reports for a process ended by SIGTERM
DEBUG_ENV = "EVALHARNESS_DEBUG"
"""Environment variable: set to 1 to have an internal error print its traceback (still exit 3)."""


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that every ``finally`` runs and temporary files are removed
    (the default action ends the process on the spot). A BaseException, like KeyboardInterrupt, so that no
    ``except Exception`` takes it for an error to handle."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def _install_sigterm() -> Any:
    """Turn SIGTERM into :class:`_Terminated` while a command runs; returns the handler to put back (None when
    this is not the main thread, where Python allows no handler)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    return signal.SIG_DFL if previous is None else previous  # None: a handler not set from Python


class _Parser(argparse.ArgumentParser):
    """argparse with our conventions: a usage error is one line and exit 2; options are never abbreviated
    (``--sample 100`` must not quietly mean ``--samples``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        print(f"evalharness: error: {_one_line(message)} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(EXIT_INPUT)


def _one_line(message: str) -> str:
    """A message that stays on one line whatever a path or value in it holds."""
    return message.replace("\r", "\\r").replace("\n", "\\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; kept importable so the docs and tests see exactly what users see."""
    import importlib

    from evalharness.commands import COMMANDS

    parser = _Parser(
        prog="evalharness",
        description="Translate a Malay/English reference corpus with MT systems and score it with sacrebleu.",
        epilog="Exit codes: 0 ok; 1 problems found / regression; 2 usage or input error; 3 internal error.",
    )
    parser.add_argument("--version", action="version", version=f"evalharness {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:  # each command's module adds its parser, in --help order
        importlib.import_module(f"evalharness.commands.{name}").register(sub)
    return parser


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """Warnings of ours as one line on stderr; others as Python prints them."""
    if issubclass(category, EvalHarnessWarning):
        print(f"evalharness: warning: {message}", file=sys.stderr)
    else:
        print(warnings.formatwarning(message, category, filename, lineno, line), end="", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``evalharness`` console script."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # argparse would point at the top-level help; the command's own help is the one that helps
        where = f"evalharness {args.command}" if args.command else "evalharness"
        print(f"evalharness: error: unrecognized arguments: {_one_line(' '.join(extra))} (see '{where} --help')",
              file=sys.stderr)
        return EXIT_INPUT
    if args.command is None:
        print("evalharness: error: name a command (see 'evalharness --help')", file=sys.stderr)
        return EXIT_INPUT
    warnings.showwarning = _show_warning
    previous = _install_sigterm()
    try:
        return int(args.func(args))
    except InternalError as err:
        print(f"evalharness: error: {_one_line(str(err))}", file=sys.stderr)
        return EXIT_INTERNAL
    except EvalHarnessError as err:
        print(f"evalharness: error: {_one_line(str(err))}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:  # `evalharness compare A B | head`: the reader has had enough; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit-time flush stays quiet
        return EXIT_OK
    except OSError as err:  # an output path that cannot be written (read errors are typed errors already)
        where = f"{err.filename}: " if err.filename else ""
        print(f"evalharness: error: {_one_line(f'{where}{err.strerror or err}')}; check the path and its "
              "permissions", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("evalharness: interrupted", file=sys.stderr)
        return 130
    except _Terminated:
        print("evalharness: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except Exception as err:  # a bug: still one line and exit 3, so CI never reads a crash as a regression (1)
        if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            import traceback

            traceback.print_exc()
        print(f"evalharness: internal error: {_one_line(f'{type(err).__name__}: {err}')}; this is a bug in "
              f"evalharness: rerun with {DEBUG_ENV}=1 for the traceback and report it", file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        if previous is not None:
            import signal

            signal.signal(signal.SIGTERM, previous)

"""Typed errors raised by library code; only the CLI turns them into messages and exit codes."""

from __future__ import annotations


class EvalHarnessError(Exception):
    """Base class: a problem the user can fix. ``str(err)`` is the one line the CLI prints."""


class InputError(EvalHarnessError):
    """A file the user gave us is unreadable or malformed (exit code 2)."""


class CorpusError(InputError):
    """A corpus (JSONL or plain-text pair) cannot be read as one."""


class DownloadError(CorpusError):
    """A named test set cannot be fetched, or what was fetched is not the pinned file; nothing was cached."""


class ConfigError(InputError):
    """A configuration file or override is invalid."""


class HypothesisError(InputError):
    """Hypotheses do not match the references (count, encoding, emptiness)."""


class OutputError(EvalHarnessError):
    """An output cannot be written (full disk, no permission, a directory in the way); nothing was written."""


class ModelLoadError(EvalHarnessError):
    """A model cannot be found or loaded (missing directory, hub unreachable, bad files)."""


class TranslationError(EvalHarnessError):
    """A system could not translate (exit code 2): an HTTP endpoint kept failing, a command died, hung or printed
    the wrong number of lines. The message names the system, the segment or command, and what came back."""


class MissingDependencyError(EvalHarnessError):
    """An optional dependency is not installed; the message names the extra to install."""


class UnknownNameError(EvalHarnessError):
    """A registry lookup failed; the message lists what exists and the closest match."""


class InternalError(EvalHarnessError):
    """Something broke that is not the user's input (exit code 3): a worker process died or broke its protocol.
    The message names what broke and what to try; exit 1 stays reserved for a regression or problems found."""


class WorkerError(InternalError):
    """A helper process (a scoring worker, the COMET worker) died, stopped answering, or answered nonsense."""


class EvalHarnessWarning(UserWarning):
    """Something went wrong that does not invalidate the results (a cache that cannot be written); the CLI
    prints it as one line and goes on."""


class ClusterError(EvalHarnessError):
    """A Ray cluster cannot be reached, or lost a shard more often than ``executor.max_retries`` allows."""

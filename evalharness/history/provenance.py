"""Where a run came from (commit, branch, dirty tree, CI run) and what it measured (the config hash).

Git is asked in the current directory; on GitHub Actions a pull request is checked out at a detached merge
commit, so the branch falls back to ``GITHUB_HEAD_REF`` / ``GITHUB_REF_NAME``, and the CI run's address is built
from ``GITHUB_SERVER_URL``, ``GITHUB_REPOSITORY`` and ``GITHUB_RUN_ID``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MEASURED_KEYS = ("level", "directions", "metrics", "scoring", "statistics", "flags", "where", "limit")
"""The config keys that decide what a run measures (with the systems' names and directions). The test sets are
matched by name and content hash, the systems' models and decoding are their identity: a change of either is
what a check is for, so neither starts a new series."""


@dataclass(frozen=True)
class Provenance:
    """Where a run came from; any part may be unknown (None)."""

    commit: str | None
    branch: str | None
    dirty: bool | None
    ci_url: str | None


def _git(args: list[str], cwd: Path | None) -> str | None:
    """The output of ``git ARGS`` (stripped), or None where git or the repository is missing."""
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def ci_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The GitHub Actions run's page, from ``GITHUB_*`` variables; None outside Actions."""
    env = os.environ if environ is None else environ
    parts = [env.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    return f"{parts[0]}/{parts[1]}/actions/runs/{parts[2]}" if all(parts) else None


def detect(cwd: Path | None = None, environ: Mapping[str, str] | None = None) -> Provenance:
    """Commit, branch, dirty flag and CI run URL of the working tree at ``cwd`` (default: the current folder)."""
    env = os.environ if environ is None else environ
    commit = _git(["rev-parse", "HEAD"], cwd) or env.get("GITHUB_SHA") or None
    branch = _git(["symbolic-ref", "--short", "-q", "HEAD"], cwd) or env.get("GITHUB_HEAD_REF") or \
        env.get("GITHUB_REF_NAME") or None
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    return Provenance(commit, branch, None if status is None else bool(status), ci_url(env))


def commits_behind(commit: str, cwd: Path | None = None) -> int | None:
    """How many commits HEAD has that ``commit`` lacks; None where git cannot tell (not a repository, a shallow
    clone without that commit)."""
    count = _git(["rev-list", "--count", f"{commit}..HEAD"], cwd)
    return int(count) if count is not None and count.isdigit() else None


def config_hash(config: Mapping[str, Any]) -> str:
    """sha256 over what a resolved config measures (:data:`MEASURED_KEYS` and each system's name and directions)."""
    measured = {key: config.get(key) for key in MEASURED_KEYS}
    measured["systems"] = [{"name": s.get("name"), "directions": s.get("directions")}
                           for s in config.get("systems") or []]
    text = json.dumps(measured, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()

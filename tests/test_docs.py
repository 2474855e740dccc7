"""The README's figures are what the documented commands print today."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_readme_figures_are_regenerated_from_the_commands() -> None:
    # Runs `evalharness demo` (tiny model, demo config) and compares its summary.md with the README's block.
    done = subprocess.run([sys.executable, str(REPO / "docs" / "readme_figures.py"), "--check"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]

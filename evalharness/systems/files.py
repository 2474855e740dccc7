"""Systems without a model: hypotheses read from files, and the copy-the-source baseline."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evalharness.errors import HypothesisError
from evalharness.systems.base import BatchFn, System, Translation
from evalharness.systems.settings import CopySettings, FilesSettings
from evalharness.textio import read_lines


def _all_at_once(texts: Sequence[str], on_batch: BatchFn | None) -> list[Translation]:
    out = [Translation(t) for t in texts]
    if on_batch:
        on_batch(range(len(out)), out)
    return out


class FilesSystem(System):
    """Outputs produced elsewhere: one text file per direction, one line per corpus segment."""

    Settings = FilesSettings
    settings: FilesSettings
    whole_corpus = True

    def preflight(self, segments: int) -> None:
        """Every hypothesis file has one line per corpus segment, before any other system translates."""
        for direction, name in self.settings.hypotheses.items():
            path = Path(name).expanduser()
            lines = read_lines(path, "hypothesis file")
            if len(lines) != segments:
                raise HypothesisError(
                    f"{path}: {len(lines)} lines for {segments} source segments ({direction}, system "
                    f"{self.name!r}); give exactly one hypothesis per segment")

    def translate(self, texts: Sequence[str], src: str, tgt: str, *,
                  on_batch: BatchFn | None = None) -> list[Translation]:
        direction = f"{src}-{tgt}"
        name = self.settings.hypotheses.get(direction)  # type: ignore[call-overload]
        if name is None:
            raise HypothesisError(f"system {self.name!r}: no hypotheses file for {direction}")
        path = Path(name).expanduser()
        lines = read_lines(path, "hypothesis file")
        if len(lines) != len(texts):
            raise HypothesisError(
                f"{path}: {len(lines)} lines for {len(texts)} source segments ({direction}, system "
                f"{self.name!r}); give exactly one hypothesis per segment"
            )
        return _all_at_once(lines, on_batch)

    def manifest(self) -> dict[str, Any]:
        """Backend and the files with their hashes."""
        import hashlib

        files = {}
        for direction, name in sorted(self.settings.hypotheses.items()):
            path = Path(name).expanduser()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
            files[direction] = {"path": str(path), "sha256": digest}
        return {"backend": "files", "hypotheses": files}


class CopySystem(System):
    """Returns the source unchanged: the floor any real system must beat, and a test double."""

    Settings = CopySettings

    def translate(self, texts: Sequence[str], src: str, tgt: str, *,
                  on_batch: BatchFn | None = None) -> list[Translation]:
        return _all_at_once(texts, on_batch)

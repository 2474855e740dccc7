"""The manifest of a run: what was run, on which text, with which software, when — enough to reproduce it."""

from __future__ import annotations

import platform
import sys
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from evalharness import __version__
from evalharness.corpus import Corpus
from evalharness.runs.config import RunConfig
from evalharness.runs.schema import CorpusInfo, Manifest, MetricInfo, StatisticsInfo
from evalharness.scoring.flags import language_id_info
from evalharness.scoring.metrics import Metric

RECORDED_PACKAGES = ("sacrebleu", "torch", "transformers", "sentencepiece", "ctranslate2", "lingua-language-detector",
                     "sentencex")


def package_versions(*names: str) -> dict[str, str | None]:
    """Installed versions, read from package metadata (no import: torch stays unloaded for a files run)."""
    out: dict[str, str | None] = {"python": platform.python_version(), "evalharness": __version__}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def build_manifest(config: RunConfig, config_path: Path | None, corpus: Corpus, segments: int,
                   systems: dict[str, dict[str, Any]], metrics: list[Metric], store: str | None,
                   started: datetime, finished: datetime, references: dict[str, str] | None = None) -> Manifest:
    """The manifest of a finished run; ``systems`` holds each system's own description."""
    return Manifest(
        tool="evalharness",
        config_path=str(config_path) if config_path else None,
        config=config.model_dump(mode="json"),
        corpus=CorpusInfo(name=corpus.name, version=corpus.version, content_hash=corpus.content_hash,
                          origin=corpus.origin, level=config.level, segments=segments,
                          references=references or {}),
        systems=systems,
        metrics={m.name: MetricInfo(signature=m.signature, segment_signature=m.segment_signature,
                                    higher_is_better=m.higher_is_better, options=dict(m.options)) for m in metrics},
        versions=package_versions(*RECORDED_PACKAGES),
        platform={"system": platform.platform(), "machine": platform.machine(), "argv": list(sys.argv)},
        seed=config.seed,
        where=list(config.where),
        flags={**config.flags.model_dump(mode="json"), "language_id": language_id_info(*config.directions)},
        cache=store,
        statistics=StatisticsInfo(bootstrap_resamples=config.statistics.resamples,
                                  bootstrap_seed=config.statistics.seed, confidence=config.statistics.confidence),
        started_at=started.isoformat(timespec="seconds"),
        finished_at=finished.isoformat(timespec="seconds"),
        duration_s=round((finished - started).total_seconds(), 3),
    )

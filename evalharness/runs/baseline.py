"""Baseline files: a run's scores, manifest and hypotheses, committed so CI can gate against them.

The hypotheses are kept (not only the scores) so that a paired significance test can run against the
baseline system without translating with it again. The references are not stored: the corpus hash in
the manifest pins them, and the check refuses a run on any other corpus.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evalharness.errors import InputError
from evalharness.runs.schema import SCHEMA_VERSION, RunData, SegmentRecord
from evalharness.textio import atomic_write_text, read_text

BASELINE_KIND = "evalharness-baseline"


def baseline_document(run: RunData) -> dict[str, Any]:
    """The JSON document of a baseline made from ``run``."""
    segments: dict[str, dict[str, dict[str, list[str]]]] = {}
    for (system, direction), records in run.segments.items():
        segments.setdefault(system, {})[direction] = {
            "ids": [r["id"] for r in records], "hypotheses": [r["hypothesis"] for r in records]}
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": BASELINE_KIND,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source_run": str(run.origin),
        "gate": run.manifest.get("config", {}).get("gate"),
        "manifest": run.manifest,
        "results": run.results["results"],
        "segments": segments,
    }


def write_baseline(run: RunData, out: Path) -> None:
    """Write the baseline of ``run`` to ``out`` atomically."""
    atomic_write_text(out, json.dumps(baseline_document(run), ensure_ascii=False, indent=1) + "\n")


def read_baseline(path: Path) -> RunData:
    """Load a baseline file as :class:`RunData`; references come back empty (the corpus pins them)."""
    try:
        doc = json.loads(read_text(path, "baseline file"))
    except json.JSONDecodeError as err:
        raise InputError(f"{path}:{err.lineno}: invalid JSON in baseline file: {err.msg}") from None
    if not isinstance(doc, dict) or doc.get("kind") != BASELINE_KIND:
        raise InputError(f"{path}: not an evalharness baseline or run (write one with 'evalharness baseline update')")
    if doc.get("schema_version") != SCHEMA_VERSION:
        raise InputError(f"{path}: baseline schema version {doc.get('schema_version')}, this evalharness reads "
                         f"{SCHEMA_VERSION}; regenerate it with 'evalharness baseline update'")
    try:
        records: list[SegmentRecord] = []
        for system, by_dir in doc["segments"].items():
            for direction, seg in by_dir.items():
                if len(seg["ids"]) != len(seg["hypotheses"]):
                    raise InputError(f"{path}: segments.{system}.{direction}: {len(seg['ids'])} ids but "
                                     f"{len(seg['hypotheses'])} hypotheses")
                for sid, hyp in zip(seg["ids"], seg["hypotheses"], strict=True):
                    records.append({"system": system, "direction": direction, "id": sid, "source": "",
                                    "reference": "", "hypothesis": hyp, "scores": {},
                                    "output_tokens": 0, "hit_limit": False, "flags": {}, "tags": {}})
        results = {"schema_version": doc["schema_version"], "manifest": doc["manifest"], "results": doc["results"]}
        for by_dir in doc["results"].values():
            for res in by_dir.values():
                for score in res["scores"].values():
                    float(score["score"]), str(score["signature"]), bool(score["higher_is_better"])
        str(doc["manifest"]["corpus"]["content_hash"])
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        raise InputError(f"{path}: baseline file is damaged or incomplete ({type(err).__name__}: {err}); "
                         "regenerate it with 'evalharness baseline update RUN_DIR -o FILE'") from None
    run = RunData(path, results, records)  # type: ignore[arg-type]
    run.gate = doc.get("gate")
    return run

"""The translate stage's pieces, shared by every executor: what a system is asked, and what comes back.

A system translates *units*: whole segments, or their sentences (rejoined afterwards). :func:`translate_direction`
does one system × direction in this process; the Ray executor cuts the same units into shards instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from evalharness.corpus import Segment
from evalharness.corpus.sentences import split_sentences
from evalharness.errors import HypothesisError
from evalharness.systems import System, Translation
from evalharness.systems.cached import CachedSystem

ProgressFactory = Callable[[str, int], Any]
"""Makes a progress bar: (description, total) → object with ``update(n)`` and ``close()``."""


@dataclass
class Translated:
    """What the translate stage hands the evaluate stage for one system × direction."""

    system: str
    direction: str
    segments: list[Segment]  # the segments chosen by ``where``, in corpus order
    translations: list[Translation]  # one per chosen segment
    translate_s: float
    cache: dict[str, int]


def translation_units(segments: list[Segment], src: str, segmentation: str) -> tuple[list[str], list[int]]:
    """What the system is asked to translate: whole segments, or their sentences (and how many per segment).

    Sentence mode uses the corpus's own sentence alignment where it has one, else sentencex.
    """
    if segmentation == "paragraph":
        return [seg.texts[src] for seg in segments], [1] * len(segments)
    units: list[str] = []
    counts: list[int] = []
    for seg in segments:
        sentences = list(seg.sentences.get(src, ())) or split_sentences(seg.texts[src], src) or [seg.texts[src]]
        units.extend(sentences)
        counts.append(len(sentences))
    return units, counts


def rejoin(outputs: list[Translation], counts: list[int]) -> list[Translation]:
    """One output per segment: its sentences' translations joined by a space."""
    out: list[Translation] = []
    pos = 0
    for n in counts:
        part = outputs[pos : pos + n]
        pos += n
        out.append(Translation(" ".join(t.text for t in part if t.text), sum(t.tokens for t in part),
                               any(t.hit_limit for t in part), tuple(n for t in part for n in t.notes)))
    return out


def translate_direction(system: System, direction: str, segments: list[Segment], keep: list[int],
                        progress: ProgressFactory | None) -> Translated:
    """One system in one direction: the chosen segments translated (or split, translated and rejoined)."""
    src, tgt = direction.split("-")
    chosen = [segments[i] for i in keep]
    asked = segments if system.whole_corpus else chosen
    units, per_segment = translation_units(asked, src, system.segmentation)
    bar = progress(f"{system.name} {direction}", len(units)) if progress else None
    load_before, t0 = system.load_s, time.perf_counter()
    unit_out = system.translate(units, src, tgt, on_batch=(lambda idx, _: bar.update(len(idx))) if bar else None)
    elapsed = time.perf_counter() - t0 - (system.load_s - load_before)
    if bar:
        bar.close()
    if len(unit_out) != len(units):
        raise HypothesisError(f"system {system.name!r} returned {len(unit_out)} outputs for {len(units)} inputs")
    cache = ({"hits": system.hits, "misses": system.misses} if isinstance(system, CachedSystem)
             else {"hits": 0, "misses": len(units)})
    translations = rejoin(unit_out, per_segment)
    if system.whole_corpus:
        translations = [translations[i] for i in keep]
    return Translated(system.name, direction, chosen, translations, elapsed, cache)

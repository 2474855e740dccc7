"""Per-segment warning flags: outputs that can earn a score without being a translation.

- ``length_ratio``: the output/source length ratio, divided by the references' median ratio for the
  direction, is outside a band (gross truncation, hallucinated repetition);
- ``dropped_sentences``: the output has fewer sentences than the source (sentence-split by sentencex);
- ``copy``: the output is (nearly) the source itself (difflib similarity of lower-cased text);
- ``wrong_language``: a language identifier (lingua) is confident the output is in another language
  (Indonesian instead of Malay, English left untranslated);
- ``max_tokens``: generation stopped at ``max_new_tokens``.
"""

from __future__ import annotations

import difflib
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from evalharness.corpus.sentences import split_sentences

FLAG_NAMES = ("length_ratio", "dropped_sentences", "copy", "wrong_language", "max_tokens")
# Languages the identifier chooses between: the harness's two plus the one most often confused with Malay.
LID_LANGUAGES = {"ms": "MALAY", "en": "ENGLISH", "id": "INDONESIAN"}


@dataclass(frozen=True)
class FlagSettings:
    """Thresholds (the config's ``flags:`` section)."""

    length_ratio: tuple[float, float] = (0.5, 2.0)
    copy_similarity: float = 0.9
    language_confidence: float = 0.75
    enabled: bool = True


@lru_cache(maxsize=1)
def _detector() -> Any:
    from lingua import Language, LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_languages(*(getattr(Language, n) for n in LID_LANGUAGES.values())).build()


def language_id_info() -> dict[str, str]:
    """Which library identifies languages, and its version (for the manifest)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("lingua-language-detector")
    except PackageNotFoundError:
        v = "not installed"
    return {"library": "lingua-language-detector", "version": v, "languages": ",".join(LID_LANGUAGES)}


def detect_language(text: str) -> tuple[str, float]:
    """(code, confidence) of the most likely of ms / id / en."""
    values = _detector().compute_language_confidence_values(text)
    names = {v: k for k, v in LID_LANGUAGES.items()}
    best = values[0]
    return names[best.language.name], float(best.value)


def detect_languages(texts: Sequence[str], memo: Any = None) -> list[tuple[str, float]]:
    """:func:`detect_language` of every text; ``memo`` (the translation cache) keeps results across runs.

    The key covers the library version and language set, so an upgrade of lingua re-identifies.
    """
    import hashlib

    info = language_id_info()
    prefix = f"{info['library']}\0{info['version']}\0{info['languages']}\0"
    keys = [hashlib.sha256((prefix + t).encode()).hexdigest() for t in texts]
    known = memo.get_languages(keys) if memo is not None else {}
    new = {k: detect_language(t) for k, t in zip(keys, texts, strict=True) if k not in known and t.strip()}
    if memo is not None and new:
        memo.put_languages(new.items())
    known.update(new)
    return [known.get(k, ("", 0.0)) for k in keys]


def reference_ratio(sources: Sequence[str], references: Sequence[str]) -> float:
    """Median target/source length ratio of the references: what a faithful output's ratio looks like."""
    ratios = [len(r) / len(s) for s, r in zip(sources, references, strict=True) if s and r]
    return statistics.median(ratios) if ratios else 1.0


def flag_segment(source: str, hypothesis: str, src: str, tgt: str, *, expected_ratio: float, hit_limit: bool,
                 settings: FlagSettings, language: tuple[str, float] | None = None) -> dict[str, Any]:
    """The flags raised by one output, each with the value that raised it.

    ``language`` is the output's (code, confidence) when already identified (see :func:`detect_languages`).
    """
    flags: dict[str, Any] = {}
    if not settings.enabled:
        return flags
    ratio = (len(hypothesis) / len(source) / expected_ratio) if source else 1.0
    low, high = settings.length_ratio
    if not low <= ratio <= high:
        flags["length_ratio"] = round(ratio, 3)
    if hypothesis.strip():
        src_sents, hyp_sents = len(split_sentences(source, src)), len(split_sentences(hypothesis, tgt))
        if hyp_sents < src_sents:
            flags["dropped_sentences"] = {"source": src_sents, "output": hyp_sents}
        similarity = difflib.SequenceMatcher(None, source.lower(), hypothesis.lower(), autojunk=False).ratio()
        if similarity >= settings.copy_similarity:
            flags["copy"] = round(similarity, 3)
        if tgt in LID_LANGUAGES:
            lang, confidence = language or detect_language(hypothesis)
            if lang != tgt and confidence >= settings.language_confidence:
                flags["wrong_language"] = {"detected": lang, "confidence": round(confidence, 3)}
    if hit_limit:
        flags["max_tokens"] = True
    return flags


def count_flags(per_segment: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many segments raised each flag (every flag listed, zeros included), and how many raised any."""
    counts = {name: sum(1 for f in per_segment if name in f) for name in FLAG_NAMES}
    counts["any"] = sum(1 for f in per_segment if f)
    return counts

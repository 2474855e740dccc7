"""Per-segment warning flags: outputs that can earn a score without being a translation.

Each flag is judged against the segment's reference as well as its source, so that what the human
translation itself does (merge two sentences, lean towards Indonesian, keep a name untranslated) never
raises one:

- ``length_ratio``: the output/source length ratio, divided by the references' median ratio for the
  direction, is outside a band (gross truncation, hallucinated repetition);
- ``dropped_sentences``: the output has fewer sentences than the source (sentence-split by sentencex) *and* lost
  content: it is shorter than the reference by at least half the share of the source's shortest sentence. Two
  sentences merged into one keep their content and their length, and raise nothing;
- ``truncated``: the output is under 15 % of the reference's length (emptied, a heading replaced by a word),
  or stops mid-sentence (no final punctuation) under 60 % of the reference's words;
- ``copy``: the output is (nearly) the source itself (difflib similarity of lower-cased text), where the
  reference is not;
- ``wrong_language``: a language identifier (lingua) is confident the output is in another language, clearly
  more than it is of the reference (Indonesian instead of Malay, English left untranslated). Malay and Indonesian
  are close: on a sentence the identifier often cannot tell them apart (FLORES-200's human Indonesian reads as
  Indonesian at ≥ 0.75 on about half of its lines), so the flag is counted, and it fails a gate on one segment
  only on a long, confidently identified output (``gate.segments.close_language_*``);
- ``max_tokens``: generation stopped at ``max_new_tokens``.

:data:`BREAKAGE_FLAGS` are the flags that good systems do not raise (measured on real systems' outputs by
``benchmarks/gate_calibration.py``): the gate fails a check on one segment that newly raises one. The others
move with a system's style and are counted, not gated segment by segment.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
import statistics
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol

from pydantic import Field, field_validator

from evalharness.corpus.sentences import split_sentences
from evalharness.languages import DEFAULT_PAIR, LANGUAGES, directions_of
from evalharness.systems.settings import Strict

FLAG_NAMES = ("length_ratio", "dropped_sentences", "truncated", "copy", "wrong_language", "max_tokens")
BREAKAGE_FLAGS = ("truncated", "copy", "wrong_language", "max_tokens")
"""Flags that mark an output broken rather than worse: stable between equal-quality outputs of real systems."""
LID_LANGUAGES = {lang.code: lang.lingua for lang in LANGUAGES.values()}
"""Every language the identifier knows (the table's, evalharness/languages.py); a direction chooses among some
(:func:`identifier_languages`)."""
CLOSE_LANGUAGES = tuple(dict.fromkeys(frozenset({lang.code, other}) for lang in LANGUAGES.values()
                                      for other in lang.close))
"""Pairs the identifier confuses on short texts (FLORES-200's human Indonesian sentences: called Indonesian at
≥ 0.75 on about half of them): the table's ``close`` languages."""
# A sentence ends here: final punctuation, then closing quotes or brackets.
_SENTENCE_END = re.compile(r"[.!?…。！？:;][\"'”’»)\]]*\s*$")

Languages = dict[str, float]
"""Confidence of each language code (``ms``, ``id``, ``en``) that a text is in it; empty for an empty text."""


class LanguageStore(Protocol):
    """Where identified languages are kept across runs (the translation store)."""

    def get_languages(self, keys: Sequence[str]) -> dict[str, tuple[str, float]]:
        """Known results among ``keys``: key -> (language, confidence)."""

    def put_languages(self, items: Any) -> None:
        """Keep results: (key, (language, confidence)) pairs."""


class FlagSettings(Strict):
    """Thresholds of the per-segment flags: the config's ``flags:`` section, validated, as the flagging code uses it."""

    enabled: bool = True
    length_ratio: tuple[float, float] = (0.5, 2.0)
    copy_similarity: float = Field(default=0.9, gt=0.0, le=1.0, allow_inf_nan=False)
    language_confidence: float = Field(default=0.75, gt=0.0, le=1.0, allow_inf_nan=False)
    # the output's confidence must exceed the reference's in that language by this
    language_margin: float = Field(default=0.5, ge=0.0, le=1.0, allow_inf_nan=False)
    # output/reference length below which an output counts as emptied
    truncated_ratio: float = Field(default=0.15, ge=0.0, le=1.0, allow_inf_nan=False)

    @field_validator("length_ratio")
    @classmethod
    def _band(cls, band: tuple[float, float]) -> tuple[float, float]:
        low, high = band
        if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high):
            raise ValueError(f"expected [low, high] with 0 < low < high, got [{low}, {high}]")
        return band


def identifier_languages(*directions: str) -> tuple[str, ...]:
    """The languages the identifier chooses between for ``directions`` (``ms-en``): theirs and those the table
    marks close to them (Indonesian for Malay), in table order: ``('ms', 'en', 'id')``. A row added to the table
    for another pair leaves a Malay run's identifier, and so its flags, as they were."""
    wanted = {code for d in directions for code in d.split("-")}
    wanted |= {other for code in list(wanted) if code in LANGUAGES for other in LANGUAGES[code].close}
    return tuple(code for code in LID_LANGUAGES if code in wanted)


@lru_cache(maxsize=4)
def _detector(languages: tuple[str, ...]) -> Any:
    from lingua import Language, LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_languages(*(getattr(Language, LID_LANGUAGES[c]) for c in languages)).build()


def language_id_info(*directions: str) -> dict[str, str]:
    """Which library identifies languages, its version and the languages it chooses between for ``directions``
    (for the manifest; the run's default directions when none are given)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("lingua-language-detector")
    except PackageNotFoundError:
        v = "not installed"
    languages = identifier_languages(*(directions or directions_of(DEFAULT_PAIR)))
    return {"library": "lingua-language-detector", "version": v, "languages": ",".join(languages)}


def detect_language(text: str, languages: tuple[str, ...] | None = None) -> Languages:
    """Confidence of each of ``languages`` (default: ms / en / id), summing to 1, that ``text`` is in it; empty
    for a blank text."""
    if not text.strip():
        return {}
    names = {v: k for k, v in LID_LANGUAGES.items()}
    detector = _detector(languages or identifier_languages(*directions_of(DEFAULT_PAIR)))
    return {names[v.language.name]: float(v.value) for v in detector.compute_language_confidence_values(text)}


def detect_languages(texts: Sequence[str], store: LanguageStore | None = None,
                     languages: tuple[str, ...] | None = None) -> list[Languages]:
    """:func:`detect_language` of every text; ``store`` (the translation store) keeps results across runs.

    The key covers the library version and language set, so an upgrade of lingua re-identifies; each language's
    confidence is one entry (``key`` = text and language).
    """
    codes = list(languages or identifier_languages(*directions_of(DEFAULT_PAIR)))
    info = language_id_info()
    prefix = f"{info['library']}\0{info['version']}\0{','.join(codes)}\0"
    keys = [[hashlib.sha256(f"{prefix}{code}\0{t}".encode()).hexdigest() for code in codes] for t in texts]
    known = store.get_languages([k for row in keys for k in row]) if store is not None else {}
    out: list[Languages] = []
    new: list[tuple[str, tuple[str, float]]] = []
    for text, row in zip(texts, keys, strict=True):
        if not text.strip():
            out.append({})
        elif all(k in known for k in row):
            out.append({code: known[k][1] for code, k in zip(codes, row, strict=True)})
        else:
            found = detect_language(text, tuple(codes))
            out.append(found)
            new += [(k, (code, found.get(code, 0.0))) for code, k in zip(codes, row, strict=True)]
    if store is not None and new:
        store.put_languages(new)
    return out


def reference_ratio(sources: Sequence[str], references: Sequence[str]) -> float:
    """Median target/source length ratio of the references: what a faithful output's ratio looks like."""
    ratios = [len(r) / len(s) for s, r in zip(sources, references, strict=True) if s and r]
    return statistics.median(ratios) if ratios else 1.0


def wrong_language(hypothesis: str, tgt: str, language: Languages, reference_language: Languages,
                   settings: FlagSettings) -> dict[str, Any] | None:
    """The ``wrong_language`` flag's value, or None: the output is confidently in another language than ``tgt``,
    by ``language_margin`` more than the reference is. Between close languages the value keeps the output's
    length in words: the gate fails a check on one such segment only when it is long enough to tell."""
    if not language:
        return None
    lang, confidence = max(language.items(), key=lambda item: item[1])
    if lang == tgt or confidence < settings.language_confidence:
        return None
    in_reference = reference_language.get(lang, 0.0)
    if confidence - in_reference < settings.language_margin:
        return None  # the reference reads as that language too: a name, a quotation, Malay close to Indonesian
    value: dict[str, Any] = {"detected": lang, "confidence": round(confidence, 3), "reference": round(in_reference, 3)}
    if is_close(lang, tgt):
        value["words"] = len(hypothesis.split())  # how much text the identifier had to tell them apart
    return value


def is_close(a: str, b: str) -> bool:
    """Whether languages ``a`` and ``b`` are a pair the identifier confuses on short texts (Malay, Indonesian)."""
    return frozenset({a, b}) in CLOSE_LANGUAGES


def truncated(hypothesis: str, reference: str, settings: FlagSettings) -> dict[str, Any] | None:
    """The ``truncated`` flag's value, or None: emptied (under ``truncated_ratio`` of the reference's length) or
    stopped mid-sentence (no final punctuation) under :data:`CUT_RATIO` of the reference's words (a heading cut
    short too)."""
    if not reference.strip():
        return None
    ratio = len(hypothesis.strip()) / len(reference.strip())
    if ratio < settings.truncated_ratio:
        return {"ratio": round(ratio, 3)}
    words = len(hypothesis.split()) / len(reference.split())
    if words < CUT_RATIO and not _SENTENCE_END.search(hypothesis):
        return {"ratio": round(ratio, 3), "words": round(words, 3), "ends": "mid-sentence"}
    return None


CUT_RATIO = 0.6
"""An output under this share of the reference's words that does not end a sentence was cut off (a real system that
drops a sentence still ends the one it kept; real outputs that lose their final stop stay above it)."""


def dropped_sentences(source: str, hypothesis: str, reference: str, src: str, tgt: str) -> dict[str, Any] | None:
    """The ``dropped_sentences`` flag's value, or None: fewer sentences than the source, and content lost — shorter
    than the reference by at least half the share of the source's shortest sentence (a merge keeps the length)."""
    src_sents = split_sentences(source, src)
    hyp_sents = split_sentences(hypothesis, tgt)
    if len(hyp_sents) >= len(src_sents) or not reference.strip():
        return None
    shortest = min(len(s) for s in src_sents) / max(1, len(source))
    ratio = len(hypothesis.strip()) / len(reference.strip())
    if ratio >= 1 - shortest / 2:
        return None
    return {"source": len(src_sents), "output": len(hyp_sents), "length": round(ratio, 3)}


def flag_segment(source: str, hypothesis: str, src: str, tgt: str, *, expected_ratio: float, hit_limit: bool,
                 settings: FlagSettings, reference: str = "", language: Languages | None = None,
                 reference_language: Languages | None = None, only: Sequence[str] = FLAG_NAMES) -> dict[str, Any]:
    """The flags raised by one output, each with the value that raised it.

    ``language`` / ``reference_language``: the output's and the reference's identified languages when already
    known (see :func:`detect_languages`). ``only``: the flags to judge (the gate judges its breakage flags).
    ``hit_limit``: generation stopped at ``max_new_tokens``.
    """
    flags: dict[str, Any] = {}
    if not settings.enabled:
        return flags
    if "length_ratio" in only:
        ratio = (len(hypothesis) / len(source) / expected_ratio) if source else 1.0
        low, high = settings.length_ratio
        if not low <= ratio <= high:
            flags["length_ratio"] = round(ratio, 3)
    if "truncated" in only and (value := truncated(hypothesis, reference, settings)) is not None:
        flags["truncated"] = value
    if hypothesis.strip():
        if "dropped_sentences" in only and \
                (value := dropped_sentences(source, hypothesis, reference, src, tgt)) is not None:
            flags["dropped_sentences"] = value
        if "copy" in only:
            similarity = _similarity(source, hypothesis)
            if similarity >= settings.copy_similarity and _similarity(source, reference) < settings.copy_similarity:
                flags["copy"] = round(similarity, 3)
        if "wrong_language" in only and tgt in LID_LANGUAGES:
            languages = identifier_languages(f"{src}-{tgt}")
            found = language if language is not None else detect_language(hypothesis, languages)
            in_reference = reference_language if reference_language is not None else \
                detect_language(reference, languages)
            if (value := wrong_language(hypothesis, tgt, found, in_reference, settings)) is not None:
                flags["wrong_language"] = value
    if "max_tokens" in only and hit_limit:
        flags["max_tokens"] = True
    return flags


def flag_outputs(sources: Sequence[str], references: Sequence[str], hypotheses: Sequence[str], src: str, tgt: str, *,
                 settings: FlagSettings, hit_limits: Sequence[bool] | None = None, store: LanguageStore | None = None,
                 only: Sequence[str] = FLAG_NAMES, expected_ratio: float | None = None) -> list[dict[str, Any]]:
    """:func:`flag_segment` of every output of one direction; languages identified once for all (kept in ``store``).

    ``expected_ratio``: the references' median target/source length ratio (:func:`reference_ratio`) when known.
    """
    if not settings.enabled:
        return [{} for _ in hypotheses]
    identify = tgt in LID_LANGUAGES and "wrong_language" in only
    among = identifier_languages(f"{src}-{tgt}")
    languages = detect_languages(hypotheses, store, among) if identify else None
    reference_languages = detect_languages(references, store, among) if identify else None
    ratio = reference_ratio(sources, references) if expected_ratio is None else expected_ratio
    limits = hit_limits if hit_limits is not None else [False] * len(hypotheses)
    return [flag_segment(s, h, src, tgt, expected_ratio=ratio, hit_limit=limits[i], settings=settings, reference=r,
                         language=languages[i] if languages is not None else None,
                         reference_language=reference_languages[i] if reference_languages is not None else None,
                         only=only)
            for i, (s, r, h) in enumerate(zip(sources, references, hypotheses, strict=True))]


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.lower(), b.lower(), autojunk=False).ratio()


def count_flags(per_segment: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many segments raised each flag (every flag listed, zeros included), and how many raised any."""
    counts = {name: sum(1 for f in per_segment if name in f) for name in FLAG_NAMES}
    counts["any"] = sum(1 for f in per_segment if f)
    return counts

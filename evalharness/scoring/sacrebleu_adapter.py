"""The one place that calls sacrebleu's private functions.

sacrebleu's public API scores text; evalharness extracts each segment's statistics once and re-aggregates
them for corpus scores, slices and resamples, which needs the hooks sacrebleu keeps private (its own
significance tests use them the same way). Keeping every such call here means a sacrebleu upgrade that
renames one breaks this module alone, and its tests say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sacrebleu.metrics.base import Metric as SacreMetric


def extract_stats(metric: SacreMetric, hypotheses: Sequence[str],
                  reference_sets: Sequence[Sequence[str | None]], *, warn: bool = True) -> list[list[float]]:
    """Sufficient statistics of each segment against one or more reference sets, in sacrebleu's layout: one
    sequence per set, each one reference per hypothesis (``[refs]`` for a single reference per segment).

    ``warn=False`` silences BLEU's "100 lines end in a tokenized period" warning, which counts per call: scoring
    in chunks would warn once per chunk, or never; :func:`warn_tokenized` warns once for the whole input.
    """
    if isinstance(reference_sets, str) or any(isinstance(refs, str) for refs in reference_sets):
        # sacrebleu would take each string as a reference set of characters and score about 0, silently
        raise TypeError("extract_stats takes a sequence of reference sets, e.g. [references], not the references")
    forced = getattr(metric, "_force", True)
    if not warn:
        metric._force = True
    try:
        # None: a missing reference (a segment with fewer references), as sacrebleu documents
        stats: list[list[float]] = metric._extract_corpus_statistics(
            list(hypotheses), [list(r) for r in reference_sets])  # type: ignore[arg-type]
    finally:
        if not warn:
            metric._force = forced
    return stats


def tokenized_periods(metric: SacreMetric, hypotheses: Sequence[str]) -> int:
    """How many hypotheses sacrebleu would count towards its "tokenized period" warning (0 where it never warns)."""
    if getattr(metric, "_force", True):
        return 0
    return sum(h.endswith(" .") for h in hypotheses)


def warn_tokenized(count: int) -> None:
    """sacrebleu's warning for ``count`` (≥ 100) hypotheses that end in a tokenized period, once."""
    if count >= 100:
        import logging

        log = logging.getLogger("sacrebleu")
        log.warning("That's 100 lines that end in a tokenized period ('.')")
        log.warning("It looks like you forgot to detokenize your test data, which may hurt your score.")
        log.warning("If you insist your data is detokenized, or don't care, you can suppress this message with "
                    "the `force` parameter.")


def reference_counts(reference_sets: Sequence[Sequence[str | None]]) -> set[int]:
    """The numbers of references the segments have (``None`` is a missing one), as sacrebleu counts them."""
    return {sum(r is not None for r in refs) for refs in zip(*reference_sets, strict=True)}


def record_reference_count(metrics: Sequence[SacreMetric], counts: set[int]) -> None:
    """Give ``metrics`` the reference count sacrebleu writes into a signature once it has scored (``nrefs:2``, or
    ``nrefs:var`` when segments have different numbers: :func:`reference_counts`), set as its ``_cache_references``
    sets it: their statistics may have been extracted elsewhere (worker processes, chunk by chunk), and segment
    scores come from sums alone."""
    value = next(iter(counts)) if len(counts) == 1 else -1
    for metric in metrics:
        metric.num_refs = value  # type: ignore[attr-defined]


def score_from_sum(metric: SacreMetric, summed: Any) -> float:
    """Score of one row of already summed statistics (a list or a numpy array, passed on unchanged)."""
    return float(metric._compute_score_from_stats(summed).score)


def breakdown(metric: SacreMetric, summed: Any) -> dict[str, Any] | None:
    """What sacrebleu prints after a score from one row of summed statistics, where it prints anything (BLEU:
    n-gram precisions, brevity penalty, length ratio, lengths), with ``verbose_score``, its own text of it
    (``100.0/76.6/63.0/52.1 (BP = 0.861 ratio = 0.870 hyp_len = 836 ref_len = 961)``); None for a metric
    whose score sacrebleu prints bare."""
    score = metric._compute_score_from_stats(summed)
    verbose = getattr(score, "_verbose", "")
    if not verbose:
        return None
    return {"precisions": [float(p) for p in score.precisions], "bp": float(score.bp),
            "ratio": float(score.ratio), "hyp_len": int(score.sys_len), "ref_len": int(score.ref_len),
            "verbose_score": str(verbose)}


def p_value(samples: Any, real_difference: float) -> float:
    """sacrebleu's p-value of ``real_difference`` among the resampled differences ``samples`` (a numpy array)."""
    from sacrebleu.significance import _compute_p_value

    return float(_compute_p_value(samples, real_difference))


def signature(metric: SacreMetric, *, resamples: int | None = None, seed: int | None = None) -> str:
    """The metric's sacrebleu signature (``nrefs:1|case:mixed|…``); complete once it has scored something.

    ``resamples`` and ``seed``: a bootstrap interval goes with the score, written in as sacrebleu's own
    ``--confidence`` writes it (``nrefs:1|bs:1000|seed:12345|case:mixed|…``).
    """
    sig = metric.get_signature()
    if resamples is not None:
        sig.update("bs", resamples)
    if seed is not None:
        sig.update("seed", seed)
    return str(sig)


def spm_model(tokenize: str) -> tuple[Path, str] | None:
    """Where sacrebleu looks for the SentencePiece model of ``tokenize``, and the URL it would fetch it from;
    None for a tokenizer that needs no model file.

    sacrebleu downloads a missing model on first use; evalharness checks first, so an offline machine gets a
    clear error instead of a hung download.
    """
    from sacrebleu.tokenizers.tokenizer_spm import SPM_MODELS
    from sacrebleu.utils import SACREBLEU_DIR

    entry = SPM_MODELS.get(tokenize)
    if entry is None:
        return None
    url = str(entry["url"])
    return Path(SACREBLEU_DIR) / "models" / url.rsplit("/", 1)[-1], url

"""Metrics: one class per metric, each owning everything evalharness knows about it, in a registry.

A metric is its name, its display ``label``, its direction (``higher_is_better``), its default gate
tolerance, its sacrebleu signatures, the extraction of per-segment sufficient statistics and the formula
that turns summed statistics into a score — one row at a time through sacrebleu, or many rows at once
with numpy for bootstrap resampling. Statistics are extracted once; corpus scores, slices and resamples
re-aggregate them. Segment scores use sacrebleu's sentence-level settings (BLEU with effective order, as
sacrebleu recommends for single sentences). sacrebleu itself does not check its inputs: a bare reference
list scores 0.0 and extra hypotheses are dropped, so :func:`check_aligned` runs first.

References come one per segment (a sequence of strings), or as several reference sets in sacrebleu's layout
(a sequence of such sequences, each aligned with the hypotheses): see :func:`reference_sets`.

sacrebleu's private hooks are reached only through :mod:`evalharness.scoring.sacrebleu_adapter`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

from evalharness.errors import HypothesisError, MissingDependencyError
from evalharness.registry import Registry
from evalharness.scoring import sacrebleu_adapter as sb
from evalharness.scoring.defaults import DEFAULT_TOKENIZE, TOKENIZERS

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike
    from sacrebleu.metrics.base import Metric as SacreMetric

    from evalharness.scoring.parallel import PoolSettings, Scored

References: TypeAlias = Sequence[str] | Sequence[Sequence[str | None]]
"""One reference per segment (``["ref 1", "ref 2"]``), or sacrebleu's layout for several references per segment:
one sequence per reference set, each aligned with the hypotheses (``[["A 1", "A 2"], ["B 1", "B 2"]]``). In
every set but the first, ``None`` marks a segment with fewer references (sacrebleu's ``nrefs:var``)."""


class Metric(ABC):
    """A scorer: identity and direction as class attributes, sacrebleu objects built per instance.

    The class attributes can be read without building anything (``METRICS.get("ter").higher_is_better``).
    A subclass sets them and builds its sacrebleu objects in :meth:`build_sacrebleu`; it may override
    :meth:`scores_of_sums` with a vectorised formula, falling back to this class's row-by-row one for
    configurations the formula does not cover.
    """

    name: ClassVar[str]  # the registered name: bleu, chrf, chrf++, ter
    label: ClassVar[str]  # as people write it: BLEU, chrF, chrF++, TER
    higher_is_better: ClassVar[bool]
    default_tolerance: ClassVar[float] = 1.0  # score points a drop may reach and pass the gate, unless configured
    max_words: ClassVar[int | None] = None  # longest segment (words, either side) the metric accepts; None: any
    max_chars: ClassVar[int | None] = None  # longest segment (characters, either side) it accepts; None: any
    needs_sources: ClassVar[bool] = False  # True: scoring reads the sources too (COMET); callers pass sources=

    def __init__(self, **options: Any) -> None:
        """Build the sacrebleu objects; ``options`` go to the sacrebleu class (none: sacrebleu's defaults)."""
        self.options = options
        self.check_options()
        self.corpus_metric: SacreMetric = self.build_sacrebleu(segment=False)
        self.segment_metric: SacreMetric = self.build_sacrebleu(segment=True)

    @abstractmethod
    def build_sacrebleu(self, *, segment: bool) -> SacreMetric:
        """The sacrebleu object for corpus scores, or with ``segment`` for per-segment scores."""

    @classmethod
    def options_for(cls, *, tokenize: str = DEFAULT_TOKENIZE, lowercase: bool = False,
                    chrf_lowercase: bool = False) -> dict[str, Any]:
        """The sacrebleu options this metric takes from a run's ``scoring`` settings, only those that differ from
        sacrebleu's defaults: a run with default settings records ``{}``, as runs made before the settings did.

        The names and meanings are sacrebleu's CLI's: ``lowercase`` (``-lc``) is BLEU's, ``chrf_lowercase``
        (``--chrf-lowercase``) chrF's and chrF++'s; TER ignores case unless told otherwise, and takes neither."""
        return {}

    def check_options(self) -> None:
        """Refuse options sacrebleu would act on badly (a model download, a silently ignored value); none here."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.options.items())})"

    @property
    def signature(self) -> str:
        """sacrebleu signature of the corpus score."""
        return sb.signature(self.corpus_metric)

    @property
    def segment_signature(self) -> str:
        """sacrebleu signature of the segment scores (BLEU: effective order on)."""
        return sb.signature(self.segment_metric)

    def segment_stats(self, hypotheses: Sequence[str], references: References, *,
                      sources: Sequence[str] | None = None) -> np.ndarray:
        """Sufficient statistics of each segment (segments × statistics, float64), the input of
        :meth:`score_from_stats`.

        ``sources`` are read only by a metric that :attr:`needs_sources`; string metrics ignore them.

        ``references``: one per segment, or several reference sets (see :data:`References`); with several, each
        segment's statistics are sacrebleu's multi-reference ones (BLEU: n-gram counts clipped by the most in any
        reference, the closest reference length; chrF: the best reference; TER: the fewest edits over the average
        reference length). Large inputs are scored on every core (:mod:`evalharness.scoring.parallel`).
        """
        return score_metrics([self], hypotheses, references, sources=sources)[0].stats

    def check_lengths(self, hypotheses: Sequence[str], sets: Sequence[Sequence[str | None]], *,
                      offset: int = 0) -> None:
        """Raise :class:`HypothesisError` for a segment longer than :attr:`max_chars` or :attr:`max_words`
        (``offset``: how many segments came before these, so that the message counts from the start of the input)."""
        limit, chars = self.max_words, self.max_chars
        if limit is None and chars is None:
            return
        named = [("reference" if len(sets) == 1 else f"reference (set {k})", refs) for k, refs in enumerate(sets, 1)]
        for what, texts in (("hypothesis", hypotheses), *named):
            for i, text in enumerate(texts):
                if chars is not None and text is not None and len(text) > chars:
                    raise HypothesisError(
                        f"segment {offset + i + 1}: the {what} has {len(text):,} characters; {self.label} takes at "
                        f"most {chars:,} characters a segment (a line that long is no sentence or paragraph: "
                        "missing line breaks?); split the segment")
                if limit is None:
                    continue
                words = len(text.split()) if text is not None else 0
                if words > limit:
                    raise HypothesisError(
                        f"segment {offset + i + 1}: the {what} has {words:,} words; {self.label} takes at most "
                        f"{limit:,} words a segment (its cost grows faster than the square of the length): split "
                        f"the segment, or leave {self.name} out of the metrics")

    def score_from_stats(self, stats: ArrayLike) -> float:
        """Corpus score aggregated from segment statistics (any subset or resample of them), as sacrebleu's
        ``corpus_score`` computes it: the statistics summed in order, then sacrebleu's formula."""
        return self.score_of_sum(exact_sum(stats))

    def score_of_sum(self, summed: Any) -> float:
        """Corpus score of one row of summed statistics (a list or numpy array), computed by sacrebleu."""
        return sb.score_from_sum(self.corpus_metric, summed)

    def scores_of_sums(self, sums: ArrayLike) -> np.ndarray:
        """Corpus scores of many rows of summed statistics; here sacrebleu's formula, one row at a time."""
        import numpy as np

        return np.array([self.score_of_sum(row) for row in np.asarray(sums, dtype="float64")])

    def corpus_score(self, hypotheses: Sequence[str], references: References) -> float:
        """Corpus score of aligned hypotheses and references (one per segment, or several reference sets)."""
        return self.score_from_stats(self.segment_stats(hypotheses, references))

    def segment_scores(self, hypotheses: Sequence[str], references: References) -> list[float]:
        """One score per segment, each as sacrebleu's ``sentence_score`` gives it."""
        return self.evaluate(hypotheses, references)[1]

    def evaluate(self, hypotheses: Sequence[str], references: References, *,
                 sources: Sequence[str] | None = None) -> tuple[np.ndarray, list[float]]:
        """Segment statistics and segment scores, the statistics extracted once for both.

        ``sentence_score`` would extract them again per segment; the score it computes from them is the same.
        """
        scored = score_metrics([self], hypotheses, references, segment_scores=True, sources=sources)[0]
        return scored.stats, [] if scored.scores is None else scored.scores.tolist()

    def breakdown(self, stats: ArrayLike) -> dict[str, Any] | None:
        """What sacrebleu prints beside the corpus score of these statistics, where it prints anything (BLEU's
        precisions, brevity penalty and lengths, with its ``verbose_score`` line); None here."""
        return None

    def raw_scores(self, stats: ArrayLike) -> list[float] | None:
        """The metric's own per-segment values where its reported score rescales them (COMET: 0–1), else None."""
        return None

    def check_ready(self) -> None:
        """Raise a typed error now if scoring would fail for want of something outside the text (an environment,
        a model), so that a run fails before it translates. String metrics need nothing."""
        return None

    def close(self) -> None:
        """Release what scoring held open (a cache connection); string metrics hold nothing."""
        return None


def exact_sum(stats: ArrayLike) -> list[float]:
    """Column sums of segment statistics, added row after row as sacrebleu's ``sum_of_lists`` adds them.

    The counts are whole numbers, exact in any order; TER's average reference length over several references is
    not, and a pairwise sum (numpy's) could differ from sacrebleu's in the last bit. ``numpy.cumsum`` adds in
    order; blocks of rows bound its copy.
    """
    import numpy as np

    arr = np.asarray(stats, dtype="float64")
    if arr.ndim != 2 or len(arr) == 0:
        raise ValueError(f"expected segments × statistics with at least one segment, got shape {arr.shape}")
    total = np.zeros(arr.shape[1])
    for lo in range(0, len(arr), 65536):
        block = arr[lo : lo + 65536].copy()
        block[0] += total
        total = np.cumsum(block, axis=0)[-1]
    return [float(x) for x in total]


def score_metrics(metrics: Sequence[Metric], hypotheses: Sequence[str], references: References, *,
                  segment_scores: bool = False, sources: Sequence[str] | None = None,
                  settings: PoolSettings | None = None) -> list[Scored]:
    """Every metric's segment statistics (and, with ``segment_scores``, sacrebleu's segment scores) at once.

    Inputs are checked first (:func:`check_aligned`, each metric's length limit); the text is then read once per
    chunk for all sacrebleu metrics, on every core for large inputs (:mod:`evalharness.scoring.parallel`). The
    results do not depend on how the work was split. A metric that :attr:`~Metric.needs_sources` (COMET) scores
    through its own :meth:`~Metric.evaluate`, with ``sources``.
    """
    import numpy as np

    from evalharness.scoring import parallel

    sets = reference_sets(references)
    check_aligned(hypotheses, sets)
    plain = [m for m in metrics if not m.needs_sources]
    for metric in plain:
        metric.check_lengths(hypotheses, sets)
    scored = parallel.score_segments(plain, hypotheses, sets, segment_scores=segment_scores,
                                     settings=settings) if plain else []
    counts = sb.reference_counts(sets)
    for metric in plain:  # after scoring: sacrebleu sets it per chunk when a chunk is scored in this process
        sb.record_reference_count([metric.corpus_metric, metric.segment_metric], counts)
    results = dict(zip(map(id, plain), scored, strict=True))
    out = []
    for metric in metrics:
        if metric.needs_sources:
            stats, scores = metric.evaluate(hypotheses, references, sources=sources)
            result = parallel.Scored(np.asarray(stats, dtype="float64"),
                                     np.asarray(scores, dtype="float64") if segment_scores else None)
            check_finite(metric, result)
            out.append(result)
        else:
            out.append(results[id(metric)])
    return out


def check_finite(metric: Metric, scored: Scored) -> None:
    """Raise :class:`~evalharness.errors.InternalError` when a statistic or segment score is not a finite number.

    sacrebleu's statistics are counts; a metric scored elsewhere (COMET, a plug-in) is checked here, so that a NaN
    or an infinity never becomes a row, a cached value or a gate verdict (a NaN compares false with everything).
    """
    import numpy as np

    from evalharness.errors import InternalError

    for what, values in (("statistic", scored.stats), ("segment score", scored.scores)):
        if values is None or values.size == 0:
            continue
        rows = values.reshape(len(values), -1)
        bad = np.flatnonzero(~np.isfinite(rows).all(axis=1))
        if bad.size:
            raise InternalError(f"{metric.label} gave {rows[bad[0]].tolist()} as the {what} of segment {bad[0] + 1} "
                                f"({bad.size} segment(s) in all): not finite, so not a score; nothing was written")


def stack_references(primary: Sequence[str], others: Sequence[Sequence[str]]) -> References:
    """sacrebleu's layout of segments with a first reference each (``primary``) and maybe more (``others``, one
    sequence per segment): ``primary`` itself when no segment has more, else one set per reference, ``None`` where
    a segment has fewer."""
    most = max((len(o) for o in others), default=0)
    if most == 0:
        return primary
    return [primary, *([o[k] if k < len(o) else None for o in others] for k in range(most))]


def reference_sets(references: References) -> list[Sequence[str | None]]:
    """``references`` as sacrebleu takes them: a list of reference sets, each one reference per segment.

    A sequence of strings is one set; a sequence of sequences of strings is several (sacrebleu's layout). Anything
    else, a bare string included (it would be scored character by character), raises :class:`HypothesisError`.
    Lengths are :func:`check_aligned`'s business.
    """
    if not isinstance(references, str) and isinstance(references, Sequence):
        if all(isinstance(r, str) for r in references):  # also an empty sequence: one set of no segments
            return [references]  # type: ignore[list-item]  # all strings: a Sequence[str]
        sets = list(references)
        if all(isinstance(r, Sequence) and not isinstance(r, str) for r in sets) and \
                all(isinstance(s, str) for s in sets[0]) and \
                all(isinstance(s, str) or s is None for r in sets[1:] for s in r):  # type: ignore[union-attr]
            return sets  # type: ignore[return-value]  # checked: sequences of str (| None after the first)
    raise HypothesisError("references must be a sequence of strings, one per segment, or a sequence of such "
                          "sequences, one per reference set")


def check_aligned(hypotheses: Sequence[str], references: References) -> None:
    """Raise :class:`HypothesisError` unless hypotheses and every reference set are equally long sequences of
    strings (``references`` as :meth:`Metric.segment_stats` takes them)."""
    if isinstance(hypotheses, str) or not all(isinstance(s, str) for s in hypotheses):
        raise HypothesisError("hypotheses must be a sequence of strings, one per segment")
    sets = reference_sets(references)
    for k, refs in enumerate(sets, 1):
        if len(hypotheses) != len(refs):
            where = "" if len(sets) == 1 else f" in reference set {k} of {len(sets)}"
            raise HypothesisError(f"{len(hypotheses)} hypotheses for {len(refs)} references{where}")


# The numpy formulas below follow sacrebleu's ``_compute_score_from_stats`` line by line, in float64;
# tests hold each equal to sacrebleu's own per-row result. Zero denominators are masked with np.where,
# so the divisions they would cause are silenced, not propagated.


class BleuMetric(Metric):
    """BLEU; segment scores with effective order."""

    name = "bleu"
    label = "BLEU"
    higher_is_better = True
    max_chars = 100_000  # 1.2 s and 190 MB for a 1,000,000-character segment, growing linearly: a 50 MB line took 6 GB

    @classmethod
    def options_for(cls, *, tokenize: str = DEFAULT_TOKENIZE, lowercase: bool = False,
                    chrf_lowercase: bool = False) -> dict[str, Any]:
        """BLEU takes the tokenizer (``tok:`` in its signature) and ``lowercase`` (``case:lc``), as sacrebleu -lc."""
        options: dict[str, Any] = {}
        if tokenize != DEFAULT_TOKENIZE:
            options["tokenize"] = tokenize
        if lowercase:
            options["lowercase"] = True
        return options

    def check_options(self) -> None:
        """A known tokenizer, and for a SentencePiece one its model already on disk (sacrebleu would download it)."""
        tokenize = self.options.get("tokenize", DEFAULT_TOKENIZE)
        if tokenize not in TOKENIZERS:
            raise HypothesisError(f"unknown BLEU tokenizer {tokenize!r}; known: {', '.join(TOKENIZERS)}")
        model = sb.spm_model(tokenize)
        if model is not None and not model[0].is_file():
            path, url = model
            raise MissingDependencyError(
                f"BLEU tokenizer {tokenize} needs its SentencePiece model at {path}, which is not there: download "
                f"{url} to that path (or set SACREBLEU to a folder holding models/{path.name}); evalharness does "
                "not download it during a run")

    def build_sacrebleu(self, *, segment: bool) -> SacreMetric:
        """sacrebleu's BLEU; the segment one with effective order (plain BLEU is 0 for most short sentences)."""
        from sacrebleu.metrics.bleu import BLEU

        return BLEU(**self.options, effective_order=True) if segment else BLEU(**self.options)

    def breakdown(self, stats: ArrayLike) -> dict[str, Any] | None:
        """n-gram precisions, brevity penalty, length ratio, hypothesis and reference lengths, and sacrebleu's own
        line of them (``verbose_score``): how a truncated output shows."""
        return sb.breakdown(self.corpus_metric, exact_sum(stats))

    def scores_of_sums(self, sums: ArrayLike) -> np.ndarray:
        """Vectorised for exp smoothing without effective order (sacrebleu's corpus default)."""
        import numpy as np

        m: Any = self.corpus_metric  # sacrebleu's BLEU, read by its own attributes
        if m.smooth_method != "exp" or m.effective_order:
            return super().scores_of_sums(sums)
        n = m.max_ngram_order
        sums = np.asarray(sums, dtype="float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            sys_len, ref_len = sums[:, 0], sums[:, 1]
            correct, total = sums[:, 2 : 2 + n], sums[:, 2 + n : 2 + 2 * n]
            bp = np.where(sys_len < ref_len, np.where(sys_len > 0, np.exp(1 - ref_len / np.where(sys_len > 0,
                                                                                             sys_len, 1)), 0.0), 1.0)
            # exp smoothing: the k-th order with zero matches gets 100 / (2^k * total)
            zero = correct == 0
            halvings = np.cumsum(zero, axis=1)
            safe_total = np.where(total > 0, total, 1)
            prec = np.where(zero, 100.0 / (2.0**halvings * safe_total), 100.0 * correct / safe_total)
            # orders after the first with no n-grams at all are not reached (sacrebleu breaks the loop)
            reached = np.cumprod(total > 0, axis=1).astype(bool)
            logs = np.where(reached & (prec > 0), np.log(np.where(prec > 0, prec, 1)), -9999999999.0)  # my_log
            score = bp * np.exp(logs.sum(axis=1) / n)
            return np.where(correct.any(axis=1), score, 0.0)


class ChrfMetric(Metric):
    """chrF (character n-grams only)."""

    name = "chrf"
    label = "chrF"
    higher_is_better = True
    max_chars = 100_000  # 0.3 s a 100,000-character segment, 4.6 s and 300 MB at 1,000,000 (chrF++ alike)
    word_order: ClassVar[int] = 0  # word n-gram order: 0 is chrF, 2 is chrF++

    @classmethod
    def options_for(cls, *, tokenize: str = DEFAULT_TOKENIZE, lowercase: bool = False,
                    chrf_lowercase: bool = False) -> dict[str, Any]:
        """chrF takes ``chrf_lowercase`` (``case:lc``), as sacrebleu --chrf-lowercase; sacrebleu's -lc (BLEU's
        ``lowercase``) leaves chrF's case alone. It works on characters, so no tokenizer."""
        return {"lowercase": True} if chrf_lowercase else {}

    def build_sacrebleu(self, *, segment: bool) -> SacreMetric:
        """sacrebleu's CHRF with this class's word order; corpus and segment scores alike."""
        from sacrebleu.metrics.chrf import CHRF

        return CHRF(**self.options, word_order=self.word_order)

    def scores_of_sums(self, sums: ArrayLike) -> np.ndarray:
        """Vectorised without eps smoothing (sacrebleu's default)."""
        import numpy as np

        m: Any = self.corpus_metric  # sacrebleu's CHRF, read by its own attributes
        if m.eps_smoothing:
            return super().scores_of_sums(sums)
        sums = np.asarray(sums, dtype="float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            eps, factor = 1e-16, m.beta**2
            hyp, ref, match = sums[:, 0::3], sums[:, 1::3], sums[:, 2::3]
            prec = np.where(hyp > 0, match / np.where(hyp > 0, hyp, 1), eps)
            rec = np.where(ref > 0, match / np.where(ref > 0, ref, 1), eps)
            both = (hyp > 0) & (ref > 0)
            order = both.sum(axis=1)
            avg_prec = np.where(order > 0, (prec * both).sum(axis=1) / np.maximum(order, 1), 0.0)
            avg_rec = np.where(order > 0, (rec * both).sum(axis=1) / np.maximum(order, 1), 0.0)
            total = avg_prec + avg_rec
            score = (1 + factor) * avg_prec * avg_rec / np.where(total > 0, factor * avg_prec + avg_rec, 1)
            return np.where(total > 0, 100 * score, 0.0)


class ChrfPlusPlusMetric(ChrfMetric):
    """chrF++ (character n-grams and word bigrams)."""

    name = "chrf++"
    label = "chrF++"
    word_order = 2


class TerMetric(Metric):
    """TER (lower is better). sacrebleu's TER ignores case by default (``case:lc`` in its signature) and has its
    own tokenization, so neither ``scoring`` setting changes it."""

    name = "ter"
    label = "TER"
    higher_is_better = False
    max_words = 1000  # one shuffled 1,000-word segment takes ~30 s; 3,000 words ~3 min (sacrebleu 2.6, one core)

    def build_sacrebleu(self, *, segment: bool) -> SacreMetric:
        """sacrebleu's TER; corpus and segment scores alike."""
        from sacrebleu.metrics.ter import TER

        return TER(**self.options)

    def scores_of_sums(self, sums: ArrayLike) -> np.ndarray:
        """Vectorised for every configuration: TER's options change the edit counts, not the formula."""
        import numpy as np

        sums = np.asarray(sums, dtype="float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            edits, ref = sums[:, 0], sums[:, 1]
            return 100 * np.where(ref > 0, edits / np.where(ref > 0, ref, 1), np.where(edits > 0, 1.0, 0.0))


BUILTIN_METRICS: dict[str, str] = {
    "bleu": "evalharness.scoring.metrics:BleuMetric",
    "chrf": "evalharness.scoring.metrics:ChrfMetric",
    "chrf++": "evalharness.scoring.metrics:ChrfPlusPlusMetric",
    "ter": "evalharness.scoring.metrics:TerMetric",
    "comet": "evalharness.scoring.comet.metric:CometMetric",  # optional: its own environment (metrics setup comet)
}

METRICS: Registry[Metric] = Registry("metric", Metric, group="evalharness.metrics")
for _name, _target in BUILTIN_METRICS.items():
    METRICS.register(_name, _target)


def get_metric(name: str, **options: Any) -> Metric:
    """A fresh metric object for ``name`` (``bleu``, ``chrf``, ``chrf++``, ``ter``, ``comet``, or a plug-in's), built
    with ``options`` (sacrebleu's, as a run recorded them; COMET its settings; none: the defaults)."""
    return METRICS.get(name)(**options)


def get_metrics(names: Sequence[str], options: Mapping[str, Mapping[str, Any]] | None = None, *,
                tokenize: str = DEFAULT_TOKENIZE, lowercase: bool = False,
                chrf_lowercase: bool = False) -> list[Metric]:
    """Metric objects for ``names``, in order; unknown names and unusable settings fail before any work is done.

    Each metric takes the run's scoring settings that apply to it (:meth:`Metric.options_for`) and, from
    ``options`` (per metric name), the keyword arguments of its constructor (``{"comet": {"model": …}}``).
    """
    classes = [METRICS.get(n) for n in names]
    return [cls(**cls.options_for(tokenize=tokenize, lowercase=lowercase, chrf_lowercase=chrf_lowercase),
                **dict((options or {}).get(n, {})))
            for n, cls in zip(names, classes, strict=True)]


def metric_label(name: str) -> str:
    """How people write the metric registered as ``name`` (``chrF++``); ``name`` itself if none is registered.

    Reads the class attribute only: no sacrebleu object is built.
    """
    return METRICS.get(name).label if name in METRICS else name


def default_tolerances() -> dict[str, float]:
    """The built-in metrics' default gate tolerances, in score points."""
    return {name: METRICS.get(name).default_tolerance for name in BUILTIN_METRICS}


def score_files(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """:func:`evalharness.scoring.plain.score_files`, where plain-text scoring lives now; kept for existing imports."""
    from evalharness.scoring.plain import score_files as score_plain

    return score_plain(*args, **kwargs)

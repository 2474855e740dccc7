"""sacrebleu's metrics as one family: BLEU, chrF, chrF++ and TER, scored together on every core.

Each class owns what evalharness knows about one of them: its sacrebleu class and settings (that class's own
keyword arguments, with the sacrebleu CLI's meanings for the run-wide ``scoring`` section), its signature, and a
numpy formula for many rows of summed statistics at once (bootstrap resampling), held equal to sacrebleu's own
per-row result by the tests. Segment scores use sacrebleu's sentence-level settings (BLEU with effective order,
as sacrebleu recommends for single sentences). sacrebleu itself does not check its inputs: a bare reference list
scores 0.0 and extra hypotheses are dropped, so :func:`~evalharness.scoring.metrics.check_aligned` runs first.

sacrebleu's private hooks are reached only through :mod:`evalharness.scoring.sacrebleu_adapter`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr, field_validator

from evalharness.errors import ConfigError, MissingDependencyError
from evalharness.scoring import sacrebleu_adapter as sb
from evalharness.scoring.defaults import DEFAULT_TOKENIZE, TOKENIZERS
from evalharness.scoring.metrics import Metric, References, check_aligned, exact_sum, reference_sets
from evalharness.systems.settings import Strict

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike
    from sacrebleu.metrics.base import Metric as SacreMetric

    from evalharness.scoring.parallel import PoolSettings, Scored



class BleuSettings(Strict):
    """sacrebleu BLEU's keyword arguments, typed (sacrebleu itself checks few of them)."""

    lowercase: StrictBool = False
    force: StrictBool = False
    tokenize: str | None = None
    smooth_method: Literal["floor", "add-k", "exp", "none"] = "exp"
    smooth_value: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    max_ngram_order: StrictInt = Field(default=4, ge=1, le=10)
    trg_lang: StrictStr = ""

    @field_validator("tokenize")
    @classmethod
    def _known_tokenizer(cls, value: str | None) -> str | None:
        if value is not None and value not in TOKENIZERS:
            raise ValueError(f"unknown BLEU tokenizer {value!r}; known: {', '.join(TOKENIZERS)}")
        return value


class ChrfSettings(Strict):
    """sacrebleu CHRF's keyword arguments, typed (the word order is the class's own: chrF 0, chrF++ 2)."""

    char_order: StrictInt = Field(default=6, ge=1, le=20)
    beta: StrictInt = Field(default=2, ge=1)
    lowercase: StrictBool = False
    whitespace: StrictBool = False
    eps_smoothing: StrictBool = False


class TerSettings(Strict):
    """sacrebleu TER's keyword arguments, typed."""

    normalized: StrictBool = False
    no_punct: StrictBool = False
    asian_support: StrictBool = False
    case_sensitive: StrictBool = False


class SacrebleuMetric(Metric):
    """A metric computed by sacrebleu: its settings are its sacrebleu class's keyword arguments, beyond the
    defaults (``{"tokenize": "intl"}``), and its statistics come from sacrebleu's own extraction."""

    fixed: ClassVar[dict[str, Any]] = {}  # keyword arguments this class sets itself (chrF++: word_order=2)
    reserved: ClassVar[tuple[str, ...]] = ()  # keyword arguments it sets for segment scores only (BLEU's)

    def __init__(self, *, store: Any = None, **settings: Any) -> None:
        """Build the sacrebleu objects (corpus and segment) with ``settings`` (none: sacrebleu's defaults)."""
        super().__init__(store=store, **settings)
        self.check_options()
        self.corpus_metric: SacreMetric = self.build_sacrebleu(segment=False)
        self.segment_metric: SacreMetric = self.build_sacrebleu(segment=True)

    @classmethod
    def sacrebleu_class(cls) -> type[SacreMetric]:
        """The sacrebleu class behind this metric."""
        raise NotImplementedError

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Keyword arguments of the sacrebleu class, checked by this class's typed model and recorded as given (only
        those set: a run with sacrebleu's defaults records ``{}``)."""
        known = list(cls.Settings.model_fields) if cls.Settings is not None else []
        unknown = [key for key in settings if key not in known]
        if unknown:
            raise ConfigError(f"{cls.settings_key()}.{unknown[0]}: not a setting of sacrebleu's {cls.label} (it takes "
                              f"{', '.join(known)})")
        return cls.validated(settings, exclude_unset=True)

    def check_options(self) -> None:
        """Refuse settings sacrebleu would act on badly (a model download, a silently ignored value); none here."""
        return None

    def build_sacrebleu(self, *, segment: bool) -> SacreMetric:
        """The sacrebleu object for corpus scores, or with ``segment`` for per-segment scores."""
        return self.sacrebleu_class()(**self.options, **self.fixed)

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
        """Sufficient statistics of each segment; ``sources`` are ignored.

        ``references``: one per segment, or several reference sets; with several, each segment's statistics are
        sacrebleu's multi-reference ones (BLEU: n-gram counts clipped by the most in any reference, the closest
        reference length; chrF: the best reference; TER: the fewest edits over the average reference length).
        Large inputs are scored on every core (:mod:`evalharness.scoring.parallel`).
        """
        return self.evaluate(hypotheses, references, segments=False)[0]

    def evaluate(self, hypotheses: Sequence[str], references: References, *,
                 sources: Sequence[str] | None = None, segments: bool = True) -> tuple[np.ndarray, list[float]]:
        """Segment statistics and sacrebleu's segment scores, the statistics extracted once for both.

        ``sentence_score`` would extract them again per segment; the score it computes from them is the same.
        """
        sets = reference_sets(references)
        check_aligned(hypotheses, sets)
        self.check_lengths(hypotheses, sets)
        scored = score_family([self], hypotheses, sets, segment_scores=segments)[0]
        return scored.stats, [] if scored.scores is None else scored.scores.tolist()

    def score_of_sum(self, summed: Any) -> float:
        """Corpus score of one row of summed statistics, computed by sacrebleu."""
        return sb.score_from_sum(self.corpus_metric, summed)


def score_family(metrics: Sequence[SacrebleuMetric], hypotheses: Sequence[str],
                 sets: Sequence[Sequence[str | None]], *, segment_scores: bool = False,
                 settings: PoolSettings | None = None) -> list[Scored]:
    """Statistics (and segment scores) of several sacrebleu metrics at once, the text read once per chunk, on every
    core for large inputs; inputs already checked."""
    from evalharness.scoring import parallel

    if not metrics:
        return []
    scored = parallel.score_segments(metrics, hypotheses, sets, segment_scores=segment_scores, settings=settings)
    counts = sb.reference_counts(sets)
    for metric in metrics:  # after scoring: sacrebleu sets it per chunk when a chunk is scored in this process
        sb.record_reference_count([metric.corpus_metric, metric.segment_metric], counts)
    return scored


# The numpy formulas below follow sacrebleu's ``_compute_score_from_stats`` line by line, in float64;
# tests hold each equal to sacrebleu's own per-row result. Zero denominators are masked with np.where,
# so the divisions they would cause are silenced, not propagated.


class BleuMetric(SacrebleuMetric):
    """BLEU; segment scores with effective order."""

    Settings = BleuSettings

    name = "bleu"
    label = "BLEU"
    higher_is_better = True
    reserved = ("effective_order",)
    max_chars = 100_000  # 1.2 s and 190 MB for a 1,000,000-character segment, growing linearly: a 50 MB line took 6 GB

    @classmethod
    def settings_from_scoring(cls, *, tokenize: str = DEFAULT_TOKENIZE, lowercase: bool = False,
                              chrf_lowercase: bool = False) -> dict[str, Any]:
        """BLEU takes the tokenizer (``tok:`` in its signature) and ``lowercase`` (``case:lc``), as sacrebleu -lc."""
        options: dict[str, Any] = {}
        if tokenize != DEFAULT_TOKENIZE:
            options["tokenize"] = tokenize
        if lowercase:
            options["lowercase"] = True
        return options

    def check_options(self) -> None:
        """A SentencePiece tokenizer's model already on disk (sacrebleu would download it); the name itself is
        :class:`BleuSettings`' to check."""
        tokenize = self.options.get("tokenize") or DEFAULT_TOKENIZE
        model = sb.spm_model(tokenize)
        if model is not None and not model[0].is_file():
            path, url = model
            raise MissingDependencyError(
                f"BLEU tokenizer {tokenize} needs its SentencePiece model at {path}, which is not there: download "
                f"{url} to that path (or set SACREBLEU to a folder holding models/{path.name}); evalharness does "
                "not download it during a run")

    @classmethod
    def sacrebleu_class(cls) -> type[SacreMetric]:
        """sacrebleu's BLEU."""
        from sacrebleu.metrics.bleu import BLEU

        return BLEU

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


class ChrfMetric(SacrebleuMetric):
    """chrF (character n-grams only)."""

    Settings = ChrfSettings

    name = "chrf"
    label = "chrF"
    higher_is_better = True
    max_chars = 100_000  # 0.3 s a 100,000-character segment, 4.6 s and 300 MB at 1,000,000 (chrF++ alike)
    fixed: ClassVar[dict[str, Any]] = {"word_order": 0}  # word n-gram order: 0 is chrF, 2 is chrF++

    @classmethod
    def settings_from_scoring(cls, *, tokenize: str = DEFAULT_TOKENIZE, lowercase: bool = False,
                              chrf_lowercase: bool = False) -> dict[str, Any]:
        """chrF takes ``chrf_lowercase`` (``case:lc``), as sacrebleu --chrf-lowercase; sacrebleu's -lc (BLEU's
        ``lowercase``) leaves chrF's case alone. It works on characters, so no tokenizer."""
        return {"lowercase": True} if chrf_lowercase else {}

    @classmethod
    def sacrebleu_class(cls) -> type[SacreMetric]:
        """sacrebleu's CHRF, with this class's word order; corpus and segment scores alike."""
        from sacrebleu.metrics.chrf import CHRF

        return CHRF

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
    fixed: ClassVar[dict[str, Any]] = {"word_order": 2}


class TerMetric(SacrebleuMetric):
    """TER (lower is better). sacrebleu's TER ignores case by default (``case:lc`` in its signature) and has its
    own tokenization, so neither ``scoring`` setting changes it."""

    Settings = TerSettings
    name = "ter"
    label = "TER"
    higher_is_better = False
    max_words = 1000  # one shuffled 1,000-word segment takes ~30 s; 3,000 words ~3 min (sacrebleu 2.6, one core)

    @classmethod
    def sacrebleu_class(cls) -> type[SacreMetric]:
        """sacrebleu's TER; corpus and segment scores alike."""
        from sacrebleu.metrics.ter import TER

        return TER

    def scores_of_sums(self, sums: ArrayLike) -> np.ndarray:
        """Vectorised for every configuration: TER's options change the edit counts, not the formula."""
        import numpy as np

        sums = np.asarray(sums, dtype="float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            edits, ref = sums[:, 0], sums[:, 1]
            return 100 * np.where(ref > 0, edits / np.where(ref > 0, ref, 1), np.where(edits > 0, 1.0, 0.0))



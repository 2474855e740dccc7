"""Metrics: the :class:`Metric` protocol every scorer follows, whatever library computes it, and their registry.

A metric is its name, its display ``label``, its direction (``higher_is_better``), its default gate tolerance,
its settings (validated by the metric itself, recorded in the manifest, enough to build it again), its
signature, what it reads (:attr:`Metric.reads`), and two halves of scoring: the extraction of per-segment
sufficient statistics, and the formula that turns summed statistics into a score. Statistics are extracted
once; corpus scores, slices, bootstrap resamples and paired tests re-aggregate them, so every metric gets exact,
fast intervals and tests without the statistics code knowing what it is.

Two families are built in: sacrebleu's metrics (:mod:`evalharness.scoring.sacrebleu_metrics`: BLEU, chrF, chrF++,
TER, scored together on every core) and COMET (:mod:`evalharness.scoring.comet`, a mean of model scores). A
plug-in is a :class:`Metric` subclass registered under the entry-point group ``evalharness.metrics``.

References come one per segment (a sequence of strings), or as several reference sets in sacrebleu's layout
(a sequence of such sequences, each aligned with the hypotheses): see :func:`reference_sets`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeAlias

from evalharness.errors import ConfigError, HypothesisError
from evalharness.registry import Registry
from evalharness.scoring.defaults import DEFAULT_TOKENIZE

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike
    from pydantic import BaseModel

    from evalharness.scoring.parallel import Scored

References: TypeAlias = Sequence[str] | Sequence[Sequence[str | None]]
"""One reference per segment (``["ref 1", "ref 2"]``), or sacrebleu's layout for several references per segment:
one sequence per reference set, each aligned with the hypotheses (``[["A 1", "A 2"], ["B 1", "B 2"]]``). In
every set but the first, ``None`` marks a segment with fewer references (sacrebleu's ``nrefs:var``)."""

HYPOTHESES, REFERENCES, SOURCES = "hypotheses", "references", "sources"
"""What a metric may read (:attr:`Metric.reads`)."""


class ScoreStore(Protocol):
    """Where a metric that is slow to score (a model) keeps segment scores between runs: the translation store."""

    def get_scores(self, keys: Sequence[str]) -> dict[str, float]: ...

    def put_scores(self, metric: str, scores: Any) -> None: ...

    def get_spans(self, keys: Sequence[str]) -> dict[str, list[dict[str, Any]]]: ...

    def put_spans(self, metric: str, spans: Any) -> None: ...


class Metric(ABC):
    """A scorer: identity, direction and needs as class attributes; settings, signature and statistics per instance.

    The class attributes can be read without building anything (``METRICS.get("ter").higher_is_better``). A
    subclass validates its settings (:meth:`check_settings`, usually through a pydantic model of its own), gives
    its signature, extracts segment statistics (:meth:`segment_stats`) and aggregates summed statistics into a
    score (:meth:`score_of_sum`); it may override :meth:`scores_of_sums` with a vectorised formula.
    """

    name: ClassVar[str]  # the registered name: bleu, chrf, chrf++, ter, comet, or a plug-in's
    label: ClassVar[str]  # as people write it: BLEU, chrF, chrF++, TER, COMET
    higher_is_better: ClassVar[bool]
    default_tolerance: ClassVar[float] = 1.0  # score points a drop may reach and pass the gate, unless configured
    max_words: ClassVar[int | None] = None  # longest segment (words, either side) the metric accepts; None: any
    max_chars: ClassVar[int | None] = None  # longest segment (characters, either side) it accepts; None: any
    reads: ClassVar[frozenset[str]] = frozenset({HYPOTHESES, REFERENCES})  # COMET reads SOURCES too
    Settings: ClassVar[type[BaseModel] | None] = None  # the model of its settings; None: it takes none
    section: ClassVar[str | None] = None  # a top-level config section that held its settings before metric entries

    def __init__(self, *, store: ScoreStore | None = None, **settings: Any) -> None:
        """A metric with ``settings`` (validated by :meth:`check_settings`); ``store`` keeps segment scores of a
        metric slow to compute (None: score everything afresh; string metrics never use it)."""
        self.options: dict[str, Any] = self.check_settings(settings)
        self.store = store

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any]) -> dict[str, Any]:
        """``settings`` validated, as the manifest records them (and :func:`get_metric` takes them back).

        Through :attr:`Settings` where the metric has one; :class:`ConfigError` naming the key otherwise."""
        return cls.validated(settings)

    @classmethod
    def validated(cls, settings: Mapping[str, Any], *, exclude_unset: bool = False) -> dict[str, Any]:
        """``settings`` through :attr:`Settings`, dumped as JSON values (only those given, with ``exclude_unset``);
        :class:`ConfigError` naming the key otherwise."""
        from pydantic import ValidationError

        if cls.Settings is None:
            if settings:
                raise ConfigError(f"{cls.settings_key()}: {cls.label} takes no settings (given: "
                                  f"{', '.join(map(str, settings))})")
            return {}
        try:
            return cls.Settings.model_validate(dict(settings)).model_dump(mode="json", exclude_unset=exclude_unset)
        except ValidationError as err:
            first = err.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"{cls.settings_key()}.{key}: {first['msg']}") from None

    @classmethod
    def same_scores(cls, mine: Mapping[str, Any], theirs: Mapping[str, Any]) -> bool:
        """Whether two recorded settings give the same scores (so two runs' scores compare); here equal settings."""
        return dict(mine) == dict(theirs)

    @classmethod
    def settings_key(cls) -> str:
        """Where its settings sit in a config, for messages: ``metrics.NAME`` (or its legacy section)."""
        return cls.section or f"metrics.{cls.name}"

    @classmethod
    def settings_from_scoring(cls, *, tokenize: str = DEFAULT_TOKENIZE, lowercase: bool = False,
                              chrf_lowercase: bool = False) -> dict[str, Any]:
        """The settings this metric takes from a run's ``scoring`` section (sacrebleu's family-wide options); none
        for a metric outside that family."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.options.items())})"

    @property
    @abstractmethod
    def signature(self) -> str:
        """The signature of the corpus score: every setting and version that changes the number."""

    @property
    def segment_signature(self) -> str:
        """The signature of the segment scores; the corpus one unless they are computed otherwise."""
        return self.signature

    @abstractmethod
    def segment_stats(self, hypotheses: Sequence[str], references: References, *,
                      sources: Sequence[str] | None = None) -> np.ndarray:
        """Sufficient statistics of each segment (segments × statistics, float64): summed over any subset or
        resample of segments, :meth:`score_of_sum` turns them into that subset's corpus score.

        ``sources`` are read only by a metric whose :attr:`reads` has them."""

    @abstractmethod
    def score_of_sum(self, summed: Any) -> float:
        """Corpus score of one row of summed statistics (a list or numpy array)."""

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
        """Corpus score aggregated from segment statistics (any subset or resample of them): the statistics
        summed in order (:func:`exact_sum`), then :meth:`score_of_sum`."""
        return self.score_of_sum(exact_sum(stats))

    def scores_of_sums(self, sums: ArrayLike) -> np.ndarray:
        """Corpus scores of many rows of summed statistics; here :meth:`score_of_sum`, one row at a time."""
        import numpy as np

        return np.array([self.score_of_sum(row) for row in np.asarray(sums, dtype="float64")])

    def corpus_score(self, hypotheses: Sequence[str], references: References, *,
                     sources: Sequence[str] | None = None) -> float:
        """Corpus score of aligned hypotheses and references (one per segment, or several reference sets)."""
        return self.score_from_stats(self.segment_stats(hypotheses, references, sources=sources))

    def segment_scores(self, hypotheses: Sequence[str], references: References, *,
                       sources: Sequence[str] | None = None) -> list[float]:
        """One score per segment."""
        return self.evaluate(hypotheses, references, sources=sources)[1]

    def evaluate(self, hypotheses: Sequence[str], references: References, *,
                 sources: Sequence[str] | None = None) -> tuple[np.ndarray, list[float]]:
        """Segment statistics and segment scores, the statistics extracted once for both; here each segment's
        score is its own statistics' :meth:`score_of_sum`."""
        stats = self.segment_stats(hypotheses, references, sources=sources)
        return stats, [self.score_of_sum(row) for row in stats]

    def breakdown(self, stats: ArrayLike) -> dict[str, Any] | None:
        """What is worth printing beside the corpus score of these statistics (BLEU's precisions, brevity penalty
        and lengths); None here."""
        return None

    def raw_scores(self, stats: ArrayLike) -> list[float] | None:
        """The metric's own per-segment values where its reported score rescales them (COMET: 0–1), else None."""
        return None

    def error_spans(self, hypotheses: Sequence[str], references: References, *,
                    sources: Sequence[str] | None = None) -> list[list[dict[str, Any]]] | None:
        """Each segment's error spans in its hypothesis (``{start, end, severity, …}``) where the metric finds them
        (xCOMET), after :meth:`evaluate` scored these segments; None for a metric that gives none."""
        return None

    def check_ready(self) -> None:
        """Raise a typed error now if scoring would fail for want of something outside the text (an environment,
        a model), so that a run fails before it translates. String metrics need nothing."""
        return None

    def close(self) -> None:
        """Release what scoring held open; string metrics hold nothing."""
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


BUILTIN_METRICS: dict[str, str] = {
    "bleu": "evalharness.scoring.sacrebleu_metrics:BleuMetric",
    "chrf": "evalharness.scoring.sacrebleu_metrics:ChrfMetric",
    "chrf++": "evalharness.scoring.sacrebleu_metrics:ChrfPlusPlusMetric",
    "ter": "evalharness.scoring.sacrebleu_metrics:TerMetric",
    "comet": "evalharness.scoring.comet.metric:CometMetric",  # optional: its own environment (metrics setup comet)
    "cometkiwi": "evalharness.scoring.comet.cometkiwi:CometKiwiMetric",  # reference-free, in the same environment
    "xcomet": "evalharness.scoring.comet.xcomet:XcometMetric",  # a score and error spans, in the same environment
    "mqm": "evalharness.scoring.mqm:MqmMetric",  # human MQM penalties, imported (evalharness import mqm)
}

METRICS: Registry[Metric] = Registry("metric", Metric, group="evalharness.metrics")
for _name, _target in BUILTIN_METRICS.items():
    METRICS.register(_name, _target)


def get_metric(name: str, *, store: ScoreStore | None = None, **settings: Any) -> Metric:
    """A fresh metric object for ``name`` (``bleu``, ``chrf``, ``chrf++``, ``ter``, ``comet``, or a plug-in's), built
    with ``settings`` (as a run's manifest records them; none: the defaults) and ``store`` for its segment scores."""
    return METRICS.get(name)(store=store, **settings)


def get_metrics(names: Sequence[str], settings: Mapping[str, Mapping[str, Any]] | None = None, *,
                scoring: Mapping[str, Any] | None = None, store: ScoreStore | None = None) -> list[Metric]:
    """Metric objects for ``names``, in order; unknown names and unusable settings fail before any work is done.

    Each metric takes the run's ``scoring`` settings that apply to it (:meth:`Metric.settings_from_scoring`), then
    its own from ``settings`` (per metric name: ``{"comet": {"model": …}}``), which win.
    """
    classes = [METRICS.get(n) for n in names]
    return [cls(store=store, **{**cls.settings_from_scoring(**(scoring or {})), **dict((settings or {}).get(n, {}))})
            for n, cls in zip(names, classes, strict=True)]


def metric_label(name: str) -> str:
    """How people write the metric registered as ``name`` (``chrF++``); ``name`` itself if none is registered.

    Reads the class attribute only: no scorer is built.
    """
    return METRICS.get(name).label if name in METRICS else name


TOLERANCES_WRITTEN = ("bleu", "chrf", "chrf++", "ter", "comet")
"""The metrics whose default tolerance a resolved config spells out (gate.tolerance in every run's manifest): those
built in when run files first recorded them. A later metric's default is read where the gate needs it
(:func:`default_tolerance`), so that adding one leaves existing run files byte for byte as they were."""


def default_tolerances() -> dict[str, float]:
    """The default gate tolerances a resolved config writes out, in score points (:data:`TOLERANCES_WRITTEN`)."""
    return {name: METRICS.get(name).default_tolerance for name in TOLERANCES_WRITTEN}


def default_tolerance(name: str) -> float:
    """Metric ``name``'s default gate tolerance (0.0 for a name nothing registers)."""
    return METRICS.get(name).default_tolerance if name in METRICS else 0.0

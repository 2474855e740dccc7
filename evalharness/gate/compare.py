"""Paired comparison of two runs (or a baseline and a run) on the same segments.

Runs are compared only when they are comparable: same corpus (version and content hash), same level,
same segment ids, same metric signatures. Anything else is an :class:`InputError` naming what differs,
never a silent comparison.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalharness.corpus.tags import matches, parse_where
from evalharness.errors import EvalHarnessWarning, InputError
from evalharness.runs.schema import Baseline, Run
from evalharness.scoring.defaults import DEFAULT_SEED
from evalharness.scoring.metrics import METRICS, Metric, ScoreStore, get_metric, metric_label, stack_references
from evalharness.scoring.scorer import score_metrics
from evalharness.scoring.signature import Signature
from evalharness.scoring.significance import Aggregate, Test, paired_mdd, paired_test
from evalharness.store import StoreAt

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Comparison:
    """One system × direction × metric: A, B, the difference and whether it is significant."""

    system: str
    direction: str
    metric: str
    higher_is_better: bool
    a: float
    b: float
    delta: float  # b - a
    ci_low: float
    ci_high: float
    p_value: float
    verdict: str  # "better", "worse", "no significant difference"
    mdd: float  # ≈ minimum detectable difference on these segments (paired, 80 % power)
    segments: int
    differing: int = -1  # segments whose outputs differ between A and B (-1: not counted)
    test: str = ""  # the test behind p, as a signature: "test:maxt|n:10000|seed:12345"

    def to_json(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def format_p(p: float, test: str) -> str:
    """p to the resolution its samples allow: ``≤0.0001`` at the floor 1/(n+1), else four significant digits
    (``0.04995``, not ``0.0500``, which would read as not below 0.05). Every report prints p through this."""
    fields = dict(part.split(":", 1) for part in test.split("|") if ":" in part)
    n = int(fields["n"]) if fields.get("n", "").isdigit() else 0
    if n and p <= 1.0 / (n + 1) * (1 + 1e-9):
        return f"≤{1.0 / (n + 1):.2g}"
    return f"{p:.4g}"


def verdict(delta: float, higher_is_better: bool, p_value: float, alpha: float) -> str:
    """``better`` / ``worse`` for B relative to A when significant at ``alpha``, honouring the metric's direction."""
    if p_value >= alpha or delta == 0:
        return "no significant difference"
    return "better" if (delta > 0) == higher_is_better else "worse"


def check_comparable(a: Run | Baseline, b: Run) -> None:
    """Raise :class:`InputError` naming the first thing that makes ``a`` and ``b`` incomparable."""
    ca, cb = a.manifest.corpus, b.manifest.corpus
    for key in ("name", "version", "content_hash", "level"):
        if getattr(ca, key) != getattr(cb, key):
            raise InputError(f"{a.origin} and {b.origin} are on different corpora: corpus {key} "
                             f"{getattr(ca, key)!r} vs {getattr(cb, key)!r}; compare runs on the same corpus version")
    for direction in sorted(set(ca.references) & set(cb.references)):
        if ca.references[direction] != cb.references[direction]:
            raise InputError(f"{a.origin} and {b.origin} were scored against different {direction} segments (another "
                             "--where or --limit, or edited references); compare runs of the same selection")


def recorded_options(run: Run | Baseline, name: str) -> dict[str, Any]:
    """The settings ``run`` scored metric ``name`` with, as its manifest records them; for a metric it did not
    compute (or a file from before settings were recorded), the ones its config gives."""
    cls = METRICS.get(name)
    info = run.manifest.metrics.get(name)
    if info is not None and (info.options or cls.section is None):
        return info.options
    config = run.manifest.config
    section = (config.get(cls.section) if cls.section else None) or {}
    return cls.check_settings({**cls.settings_from_scoring(**(config.get("scoring") or {})), **section})


def scored_metric(a: Run | Baseline, b: Run, name: str, *, store: ScoreStore | None = None) -> Metric:
    """Metric ``name`` built as both runs were scored with it, from the settings their manifests record (a metric
    neither computed: with ``b``'s config). Settings that give other scores raise :class:`InputError`.

    ``store``: where a metric slow to score (COMET) reads and fills segment scores, ``b``'s own store, so that
    re-testing the run's own outputs scores nothing again.
    """
    options = [recorded_options(run, name) for run in (a, b)]
    if not METRICS.get(name).same_scores(*options):
        raise InputError(f"{metric_label(name)} was scored with other settings in {a.origin} ({options[0]}) "
                         f"than in {b.origin} ({options[1]}); scores are not comparable: score both with the same "
                         "settings")
    return get_metric(name, store=store, **options[1])


def compare_runs(a: Run | Baseline, b: Run, *, metrics: Sequence[str] | None = None, test: Test = "bs",
                 samples: int | None = None, seed: int = DEFAULT_SEED, alpha: float = 0.05,
                 require_all_of_a: bool = False, where: Sequence[str] = (),
                 systems: tuple[str, str] | None = None) -> list[Comparison]:
    """Compare every system × direction × metric that ``a`` and ``b`` share (systems matched by name).

    ``b`` must be a run: its references (which the corpus hash guarantees are ``a``'s too) score both sides.
    ``systems`` = (name in A, name in B) compares those two instead, in every direction both have (``a`` and
    ``b`` may be the same run). ``where`` keeps only segments whose tags in ``b`` match (``kind=body`` …);
    corpus-level scores are then recomputed from the kept segments' statistics.
    """
    out = []
    for row in paired_rows(a, b, metrics=metrics, require_all_of_a=require_all_of_a, where=where, systems=systems):
        result = paired_test(row.metric, row.stats_a, row.stats_b, test=test, samples=samples, seed=seed,
                             confidence=1 - alpha)
        out.append(row.comparison(result.a, result.b, result.delta, result.ci_low, result.ci_high, result.p_value,
                                  alpha=alpha, seed=seed, test=f"test:{test}|n:{result.samples}|seed:{seed}"))
    return out


def _matched(a: Run | Baseline, b: Run, *, require_all_of_a: bool,
             systems: tuple[str, str] | None) -> list[tuple[str, str, str]]:
    """(system in A, system in B, direction) to compare: by name, or the two ``systems`` named."""
    pairs_b = set(b.pairs())
    if systems is not None:
        name_a, name_b = systems
        for name, run in ((name_a, a), (name_b, b)):
            if name not in {s for s, _ in run.pairs()}:
                known = ", ".join(sorted({s for s, _ in run.pairs()}))
                raise InputError(f"{run.origin} has no system {name!r} (its systems: {known})")
        matched = [(name_a, name_b, d) for s, d in a.pairs() if s == name_a and (name_b, d) in pairs_b]
        if not matched:
            raise InputError(f"systems {name_a!r} ({a.origin}) and {name_b!r} ({b.origin}) share no direction")
    else:
        matched = [(s, s, d) for s, d in a.pairs() if (s, d) in pairs_b]
        missing = [(s, d) for s, d in a.pairs() if (s, d) not in pairs_b]
        if require_all_of_a and missing:
            listed = ", ".join(f"{s} {d}" for s, d in missing)
            raise InputError(f"{b.origin} has no results for {listed} (present in {a.origin}); "
                             "run the same systems and directions, or update the baseline")
        if not matched:
            raise InputError(f"{a.origin} and {b.origin} share no system × direction (systems are matched by name; "
                             "--system-a/--system-b compare two systems of other names)")
        if missing:
            listed = ", ".join(f"{s} {d}" for s, d in missing)
            warnings.warn(f"not compared: {listed} (in {a.origin}, not in {b.origin})", EvalHarnessWarning,
                          stacklevel=2)
    return matched


@dataclass(frozen=True)
class PairedRow:
    """One system × direction × metric of a comparison, with both sides' segment statistics."""

    system: str
    direction: str
    metric: Aggregate  # a metric, or a gate's flag rate
    stats_a: np.ndarray  # segments × statistics
    stats_b: np.ndarray
    differing: int  # segments whose outputs differ

    def comparison(self, a: float, b: float, delta: float, ci_low: float, ci_high: float, p_value: float, *,
                   alpha: float, seed: int, test: str, margin: float | None = None,
                   one_sided: bool = False, tolerance: float = 0.0) -> Comparison:
        """The row's comparison, with its paired minimum detectable difference (``margin``: the test's own
        critical value in score points, where it is not a single row's z, as for the family-wise ``maxt``;
        ``one_sided``: the test looks for a worsening by more than ``tolerance`` points only, as the gate's do)."""
        m = self.metric
        # identical outputs have no paired spread to estimate from: not estimable, not "0 points"
        mdd = (tolerance + paired_mdd(m, self.stats_a, self.stats_b, alpha=alpha, seed=seed, margin=margin,
                                      one_sided=one_sided) if self.differing else math.nan)
        return Comparison(self.system, self.direction, m.name, m.higher_is_better, a, b, delta, ci_low, ci_high,
                          p_value, verdict(delta, m.higher_is_better, p_value, alpha), mdd, len(self.stats_a),
                          self.differing, test)


def paired_rows(a: Run | Baseline, b: Run, *, metrics: Sequence[str] | None = None, require_all_of_a: bool = False,
                where: Sequence[str] = (), systems: tuple[str, str] | None = None) -> list[PairedRow]:
    """The rows :func:`compare_runs` tests, with their statistics (the gate tests them as one family)."""
    check_comparable(a, b)
    filters = parse_where(where)
    return [row for name_a, name_b, direction in _matched(a, b, require_all_of_a=require_all_of_a, systems=systems)
            for row in _rows(a, b, name_a, name_b, direction, metrics, filters, where)]


def _rows(a: Run | Baseline, b: Run, name_a: str, name_b: str, direction: str, metrics: Sequence[str] | None,
          filters: dict[str, set[str]], where: Sequence[str]) -> list[PairedRow]:
    system = name_a if name_a == name_b else f"{name_a} → {name_b}"
    ids_a, hyps_a = a.hypotheses(name_a, direction)
    seg_b = b.segments.get((name_b, direction), [])
    ids_b = [r.id for r in seg_b]
    if ids_a != ids_b:
        raise InputError(f"{system} {direction}: segment ids differ between {a.origin} ({len(ids_a)} segments) "
                         f"and {b.origin} ({len(ids_b)})")
    keep = [i for i, r in enumerate(seg_b) if matches(r.tags, filters)]
    if filters and not keep:
        raise InputError(f"--where {' '.join(where)} selects no segment of {system} {direction}")
    given = [seg_b[i].reference for i in keep]
    refs = None if None in given else stack_references([r or "" for r in given],  # None: a corpus of sources only
                                                       [seg_b[i].other_references for i in keep])
    chosen_a, chosen_b = [hyps_a[i] for i in keep], [seg_b[i].hypothesis for i in keep]
    differing = sum(x != y for x, y in zip(chosen_a, chosen_b, strict=True))
    scores_a, scores_b = a.scores[name_a][direction].scores, b.scores[name_b][direction].scores
    unknown = [m for m in metrics or () if m not in scores_a]
    if unknown:
        raise InputError(f"{a.origin} has no {', '.join(unknown)} score for {system} {direction} "
                         f"(it has {', '.join(scores_a)})")
    chosen: list[Metric] = []
    store = StoreAt(Path(b.manifest.cache)) if b.manifest.cache else None
    for name in list(metrics or scores_a):
        if name not in scores_b:
            raise InputError(f"{b.origin}: no {name} score for {system} {direction}, which {a.origin} has")
        sig_a, sig_b = scores_a[name].signature, scores_b[name].signature
        if sig_a != sig_b:
            differ = "; ".join(Signature.parse(sig_a).differences(Signature.parse(sig_b)))
            raise InputError(f"{metric_label(name)} signatures differ for {system} {direction} ({differ}): {sig_a} "
                             f"({a.origin}) vs {sig_b} ({b.origin}); scores are not comparable")
        chosen.append(scored_metric(a, b, name, store=store))
    # every metric's statistics from one pass over each side's text (on every core for large sets); the same
    # segments of the same corpus: B's sources are A's (for the metrics that read them)
    sources = [seg_b[i].source for i in keep]
    try:
        stats_a = score_metrics(chosen, chosen_a, refs, sources=sources)
        stats_b = score_metrics(chosen, chosen_b, refs, sources=sources)
    finally:
        for metric in chosen:
            metric.close()
        if store is not None:
            store.close()  # opened only if a metric used it (COMET's scores); the statistics are all it is needed for
    if not filters:  # the scores on file must be the scores of the outputs on file
        for metric, x, y in zip(chosen, stats_a, stats_b, strict=True):
            for run, name, stats in ((a, name_a, x.stats), (b, name_b, y.stats)):
                stored = run.scores[name][direction].scores[metric.name].score
                recomputed = metric.score_from_stats(stats)
                if not math.isclose(stored, recomputed, rel_tol=1e-6, abs_tol=1e-6):
                    raise InputError(f"{run.origin}: {name} {direction} {metric.label} is {stored:.4f} in its results "
                                     f"but {recomputed:.4f} from its segments' outputs: the files do not belong "
                                     "together; use the run directory (or baseline) as evalharness wrote it")
    return [PairedRow(system, direction, metric, x.stats, y.stats, differing)
            for metric, x, y in zip(chosen, stats_a, stats_b, strict=True)]

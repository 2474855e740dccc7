"""The ``comet`` metric: per-segment COMET scores from the worker, cached, aggregated as a mean.

COMET is a mean of segment scores, so a segment's sufficient statistics are (its COMET value, 1): summed over
any subset or resample they give (Σ score, n), and the corpus score is 100 · Σ / n. Bootstrap intervals, paired
tests, slices and the gate then treat it like BLEU or chrF without knowing what it is. Scores are reported on
the 0–100 scale the field uses (COMET's own value × 100); the raw values are kept beside them.

A segment's score is cached in the translation store under a key over the model, comet's version, precision,
batch size, device and the three texts, so a rerun or a re-gate does not score it again.
"""

from __future__ import annotations

import atexit
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from evalharness.errors import HypothesisError, ModelLoadError
from evalharness.scoring.comet.settings import CometSettings
from evalharness.scoring.metrics import (
    HYPOTHESES,
    REFERENCES,
    SOURCES,
    Metric,
    References,
    ScoreStore,
    check_aligned,
    reference_sets,
)
from evalharness.scoring.signature import Signature

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike

    from evalharness.scoring.comet.client import CometWorker
    from evalharness.scoring.comet.env import EnvInfo

_WORKERS: dict[Path, CometWorker] = {}
"""One worker per environment for the whole process (a run and the check after it share it and its models)."""


def _close_workers() -> None:
    for worker in _WORKERS.values():
        worker.close()
    _WORKERS.clear()


atexit.register(_close_workers)


def worker_for(python: Path) -> CometWorker:
    """The process's worker for the environment of ``python``."""
    from evalharness.scoring.comet.client import CometWorker

    if python not in _WORKERS:
        _WORKERS[python] = CometWorker(python)
    return _WORKERS[python]


def _model_identity(model: str) -> str:
    """What names the model in cache keys: a hub id as given; a local checkpoint by path, size and mtime."""
    from evalharness.systems.settings import looks_like_path

    if not looks_like_path(model):
        return model
    path = Path(model).expanduser()
    ckpt = path / "checkpoints" / "model.ckpt" if path.is_dir() else path
    files = [ckpt, ckpt.parent.parent / "hparams.yaml"]
    stamp = [(str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.is_file()]
    return json.dumps(stamp)


class CometMetric(Metric):
    """COMET (``Unbabel/wmt22-comet-da`` unless configured), scored by unbabel-comet in its own environment.

    The base of the family: CometKiwi (:mod:`~evalharness.scoring.comet.cometkiwi`, reference-free) and xCOMET
    (:mod:`~evalharness.scoring.comet.xcomet`, with error spans) differ in name, what they read, their default
    model and licence; they share the worker, the cache and the arithmetic here."""

    name = "comet"
    label = "COMET"
    higher_is_better = True
    # One COMET point (×100 scale) may be lost before the gate can call it a regression. COMET-22 scores of
    # usable systems crowd into a narrow band near the top of the scale, so one of its points is a larger step
    # than one BLEU point; and the gate also needs the drop to be significant. Kocmi et al. (2024, "Navigating
    # the Metrics Maze") map COMET deltas to agreement with human judgement: tighten or loosen it from there.
    default_tolerance = 1.0
    reads: ClassVar[frozenset[str]] = frozenset({HYPOTHESES, REFERENCES, SOURCES})
    Settings: ClassVar[type[CometSettings]] = CometSettings
    # configs written before metric entries keep its settings in a ``comet:`` section
    section: ClassVar[str | None] = "comet"
    licence: ClassVar[str] = "Apache-2.0"  # of the default model, as its hub card gives it
    gated: ClassVar[bool] = False  # the default model's hub repository asks users to accept its terms first

    def __init__(self, *, store: ScoreStore | None = None, **settings: Any) -> None:
        """``settings``: :class:`CometSettings` (a config's ``comet`` entry); ``store``: where segment scores are kept
        between runs, or None to score everything afresh."""
        super().__init__(store=store, **settings)
        self.settings = self.Settings.model_validate(self.options)
        self._info: EnvInfo | None = None
        self.scored = 0  # segments the worker scored (not found in the cache), for tests and reports

    # ------------------------------------------------------------------ environment

    @classmethod
    def same_scores(cls, mine: Mapping[str, Any], theirs: Mapping[str, Any]) -> bool:
        """Equal settings but ``python``: where the environment lives does not change a score (its versions are in
        the signature, compared too)."""
        return {k: v for k, v in mine.items() if k != "python"} == {k: v for k, v in theirs.items() if k != "python"}

    def env(self) -> EnvInfo:
        """The COMET environment's versions; :class:`MissingDependencyError` naming the setup command if absent."""
        if self._info is None:
            from evalharness.scoring.comet.env import comet_python, probe

            self._info = probe(comet_python(self.settings.python))
        return self._info

    def check_ready(self) -> None:
        """Fail now, before any translation, if the environment or a local model is missing; warn when a hub model
        of a non-commercial, gated licence is picked."""
        from evalharness.scoring.comet.env import check_model_reachable
        from evalharness.systems.settings import looks_like_path

        model = self.settings.model
        if self.gated and not looks_like_path(model):
            import warnings

            from evalharness.errors import EvalHarnessWarning

            warnings.warn(f"{self.settings_key()}: {model} is licensed {self.licence} (non-commercial use only) and "
                          "gated on the Hugging Face hub: accept its terms on the model's page and log in (hf auth "
                          "login) before the first download", EvalHarnessWarning, stacklevel=2)
        self.env()
        if not looks_like_path(model):
            check_model_reachable(model)  # offline and not cached: now, before the worker starts and loads
        if looks_like_path(model):
            path = Path(model).expanduser()
            where = f"{self.settings_key()}.model"
            if not path.exists():
                raise ModelLoadError(f"{where}: no {self.label} model at {path}; give a hub id "
                                     f"({self.Settings.model_fields['model'].default}) or a folder holding "
                                     "hparams.yaml and checkpoints/model.ckpt")
            if path.is_dir() and not (path / "checkpoints" / "model.ckpt").is_file():
                raise ModelLoadError(f"{where}: {path} holds no checkpoints/model.ckpt; give a COMET model "
                                     "folder (hparams.yaml and checkpoints/model.ckpt)")

    # ------------------------------------------------------------------ signature

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.settings!r})"

    @property
    def signature(self) -> str:
        """``nrefs:1|model:…|comet:2.2.7|precision:fp32|batch:8|device:cpu|scale:100`` (``nrefs:0`` for a
        reference-free model); the segment scores' too (a corpus score is their mean)."""
        s = self.settings
        return str(Signature([("nrefs", 1 if REFERENCES in self.reads else 0), ("model", s.model),
                              ("comet", self.env().comet), ("precision", s.precision),
                              ("batch", s.batch_size), ("device", s.device), ("scale", 100)]))

    # ------------------------------------------------------------------ statistics

    def segment_stats(self, hypotheses: Sequence[str], references: References, *,
                      sources: Sequence[str] | None = None) -> np.ndarray:
        """(raw COMET score, 1) per segment (segments × 2); ``sources`` are required (COMET reads the source too).

        COMET-22 takes one reference: with several reference sets it scores against the first (its signature
        says ``nrefs:1``). A reference-free model (CometKiwi) never looks at ``references``."""
        if sources is None:
            raise HypothesisError(f"{self.label} needs the source of every segment (score: --src FILE)")
        if isinstance(sources, str) or len(sources) != len(hypotheses):
            raise HypothesisError(f"{len(sources)} sources for {len(hypotheses)} hypotheses")
        import numpy as np

        raw = self.raw_segment_scores(sources, hypotheses, self._references(hypotheses, references))
        return np.column_stack([np.asarray(raw, dtype="float64"), np.ones(len(raw))]) if raw else np.zeros((0, 2))

    def _references(self, hypotheses: Sequence[str], references: References) -> Sequence[str | None]:
        """The one reference of each segment the model reads (the first set's), or None each for a QE model."""
        if REFERENCES not in self.reads:
            return [None] * len(hypotheses)
        sets = reference_sets(references)
        check_aligned(hypotheses, sets)
        return [r for r in sets[0] if r is not None]  # the first set has every segment's reference

    def evaluate(self, hypotheses: Sequence[str], references: References, *,
                 sources: Sequence[str] | None = None) -> tuple[np.ndarray, list[float]]:
        """Statistics and segment scores (0–100)."""
        stats = self.segment_stats(hypotheses, references, sources=sources)
        return stats, [100.0 * float(s[0]) for s in stats]

    def raw_scores(self, stats: ArrayLike) -> list[float] | None:
        """COMET's own values (about 0–1) of the segments: the first statistic."""
        import numpy as np

        return [float(x) for x in np.asarray(stats, dtype="float64").reshape(-1, 2)[:, 0]]

    def score_from_stats(self, stats: ArrayLike) -> float:
        """100 × the mean segment score (0.0 for no segments)."""
        import numpy as np

        arr = np.asarray(stats, dtype="float64").reshape(-1, 2)
        return self.score_of_sum([float(sum(arr[:, 0].tolist())), float(len(arr))])

    def score_of_sum(self, summed: Any) -> float:
        """100 × Σ / n of one row of summed statistics."""
        total, count = float(summed[0]), float(summed[1])
        return 100.0 * total / count if count > 0 else 0.0

    def scores_of_sums(self, sums: ArrayLike) -> np.ndarray:
        """Vectorised :meth:`score_of_sum`."""
        import numpy as np

        arr = np.asarray(sums, dtype="float64")
        count = arr[:, 1]
        return np.where(count > 0, 100.0 * arr[:, 0] / np.where(count > 0, count, 1.0), 0.0)

    # ------------------------------------------------------------------ scoring, through the cache

    def _key(self, source: str, hypothesis: str, reference: str | None) -> str:
        s = self.settings
        parts = [self.name, _model_identity(s.model), self.env().comet, s.precision, s.batch_size, s.device,
                 source, hypothesis, reference]
        return f"{self.name}:" + hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode(
            "utf-8", "surrogatepass")).hexdigest()

    def _cached(self, keys: Sequence[str]) -> dict[str, float]:
        """The scores among ``keys`` the store holds (a subclass may ask for more than the score: xCOMET's spans)."""
        return self.store.get_scores(keys) if self.store is not None else {}

    def _keep(self, keys: Sequence[str], scores: Sequence[float], spans: list[list[dict[str, Any]]] | None) -> None:
        """Store fresh scores (the worker's ``spans`` are xCOMET's business)."""
        if self.store is not None:
            self.store.put_scores(self.name, zip(keys, scores, strict=True))

    def raw_segment_scores(self, sources: Sequence[str], hypotheses: Sequence[str],
                           references: Sequence[str | None]) -> list[float]:
        """The model's own value of each (source, hypothesis, reference), from the cache or the worker."""
        from evalharness.scoring.comet.env import comet_python

        keys = [self._key(s, h, r) for s, h, r in zip(sources, hypotheses, references, strict=True)]
        found = self._cached(keys)
        todo: dict[str, tuple[str, str, str | None]] = {}
        for key, triple in zip(keys, zip(sources, hypotheses, references, strict=True), strict=True):
            if key not in found and key not in todo:
                todo[key] = triple
        if todo:
            worker = worker_for(comet_python(self.settings.python))
            s = self.settings
            scores, spans = worker.score(s.model, list(todo.values()), batch_size=s.batch_size, device=s.device,
                                         precision=s.precision)
            self._keep(list(todo), scores, spans)
            found = {**found, **dict(zip(todo, scores, strict=True))}
            self.scored += len(todo)
        return [found[key] for key in keys]

"""Scoring line-aligned plain-text files, no model: what ``evalharness score`` does, with sacrebleu's CLI habits.

One or more reference files (several: sacrebleu's multi-reference scoring), hypothesis files or standard input,
corpus scores with an optional bootstrap interval, or one score per segment. sacrebleu checks none of the shapes
(a short reference file silently drops lines or scores 0), so every file is read and its line count checked,
naming the files, before anything is scored.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal, TypeAlias

from evalharness.errors import HypothesisError
from evalharness.scoring import sacrebleu_adapter as sb
from evalharness.scoring.defaults import CONFIDENCE, DEFAULT_RESAMPLES, DEFAULT_SEED, DEFAULT_TOKENIZE
from evalharness.scoring.metrics import Metric, get_metrics

STDIN: Literal["-"] = "-"
"""A hypothesis source that is standard input (``--hyp -``, or no ``--hyp``, as in ``sacrebleu REF < HYP``)."""

STDIN_NAME = "<stdin>"
"""What messages and reports call standard input."""

Source: TypeAlias = Path | Literal["-"]


@dataclass(frozen=True)
class Bootstrap:
    """Settings of a bootstrap confidence interval: resamples, seed (written into the signature), level."""

    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    confidence: float = CONFIDENCE


@dataclass(frozen=True)
class PlainSet:
    """Files read and checked: reference sets and hypotheses, restricted to the lines ``--where`` kept."""

    references: list[Path]
    reference_sets: list[list[str]]  # one list per reference file, the kept lines only
    lines: list[int]  # 1-based line numbers of the kept lines
    systems: list[tuple[str, list[str]]]  # (file name or <stdin>, kept hypotheses)
    where: list[str]
    sources: list[str] | None = None  # the kept lines of --src, for metrics that read sources (COMET)

    def report_head(self) -> dict[str, Any]:
        """The keys every report starts with; one reference file is a string, as it was before several were."""
        refs: str | list[str] = str(self.references[0]) if len(self.references) == 1 else [
            str(r) for r in self.references]
        return {"references": refs, "segments": len(self.lines), "where": list(self.where)}

    def against(self, name: str) -> str:
        """``HYP against REF`` (``REF1 + REF2`` for several) for messages."""
        return f"{name} against {' + '.join(str(r) for r in self.references)}"


def _decode_stdin(raw: bytes) -> list[str]:
    """Standard input's lines, read as :func:`evalharness.textio.read_lines` reads a file (BOM, CRLF, U+2028)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise HypothesisError(f"{STDIN_NAME}:{line}: hypotheses are not valid UTF-8 (byte offset {err.start}); "
                              "re-encode them as UTF-8") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.endswith("\n"):
        text = text[:-1]
    return text.split("\n") if text else []


def _read_stdin(stdin: BinaryIO | None) -> list[str]:
    stream = stdin if stdin is not None else sys.stdin.buffer
    if stream.isatty():  # sacrebleu would wait for input; a forgotten --hyp is the likelier story
        raise HypothesisError("no --hyp file given and standard input is a terminal: pipe the hypotheses in "
                              "(evalharness score --ref REF < HYP) or name the file with --hyp HYP")
    hyps = _decode_stdin(stream.read())
    if not hyps:
        raise HypothesisError(f"{STDIN_NAME}: standard input is empty: pipe the hypotheses in, one segment a line "
                              "(evalharness score --ref REF < HYP), or name the file with --hyp HYP")
    return hyps


def read_plain(references: Sequence[Path], hypotheses: Sequence[Source], where: Sequence[str] = (), *,
               stdin: BinaryIO | None = None, sources: Path | None = None) -> PlainSet:
    """Read and check the files: each non-empty, every reference file, hypothesis and ``sources`` file as long as
    the first reference.

    ``--where length=…`` measures the first reference file's lines. ``STDIN`` among ``hypotheses`` reads
    ``stdin`` (default: the process's standard input), once. BOM and CRLF are normalised.
    """
    from evalharness.corpus.tags import length_bucket, matches, parse_where
    from evalharness.textio import read_lines

    if not references:
        raise HypothesisError("name a reference file with --ref REF")
    if any(r == Path(STDIN) for r in references):
        raise HypothesisError("--ref -: references are read from files; standard input is for the hypotheses")
    if sum(h == STDIN for h in hypotheses) > 1:
        raise HypothesisError("--hyp - is given more than once: standard input can be read only once")
    filters = parse_where(where)
    if set(filters) - {"length"}:
        raise HypothesisError("plain-text files carry no kind or fidelity tags: score --where takes length= only")
    first, *others = references
    refs = read_lines(first, "reference file")
    if not refs:
        raise HypothesisError(f"{first}: reference file is empty")
    sets = [refs]
    for path in others:
        more = read_lines(path, "reference file")
        if len(more) != len(refs):
            raise HypothesisError(f"{path} has {len(more)} lines but {first} has {len(refs)}: every reference file "
                                  "must be line-aligned with the first, one segment a line")
        sets.append(more)
    keep = [i for i, r in enumerate(refs) if matches({"length": length_bucket(r)}, filters)]
    if not keep:
        raise HypothesisError(f"--where {' '.join(where)} selects no line of {first}")
    systems = []
    for source in hypotheses:
        if source == STDIN:
            name, hyps = STDIN_NAME, _read_stdin(stdin)
        else:
            name, hyps = str(source), read_lines(source, "hypothesis file")
        if len(hyps) != len(refs):
            raise HypothesisError(
                f"{name} has {len(hyps)} lines but {first} has {len(refs)}: "
                "hypotheses and references must be line-aligned, one segment a line"
            )
        systems.append((name, [hyps[i] for i in keep]))
    kept_sources = None
    if sources is not None:
        src = read_lines(sources, "source file")
        if len(src) != len(refs):
            raise HypothesisError(f"{sources} has {len(src)} lines but {first} has {len(refs)}: sources and "
                                  "references must be line-aligned, one segment a line")
        kept_sources = [src[i] for i in keep]
    return PlainSet(list(references), [[s[i] for i in keep] for s in sets], [i + 1 for i in keep], systems,
                    list(where), kept_sources)


def _named_errors(plain: PlainSet, name: str, err: HypothesisError) -> HypothesisError:
    """Name the files: "segment N" alone does not say where."""
    kept = " (counting the lines --where kept)" if plain.where else ""
    return HypothesisError(f"{plain.against(name)}: {err}{kept}")


def _references(plain: PlainSet) -> list[str] | list[list[str]]:
    """One reference set as a plain list (exactly what was scored before several were possible), else all sets."""
    return plain.reference_sets[0] if len(plain.reference_sets) == 1 else plain.reference_sets


def _ready_metrics(metric_names: Sequence[str], options: Mapping[str, Mapping[str, Any]] | None,
                   sources: Path | None, *, tokenize: str, lowercase: bool) -> list[Metric]:
    """The metrics, each ready to score (COMET: its environment found), before any file is read."""
    metrics = get_metrics(metric_names, options, tokenize=tokenize, lowercase=lowercase)
    for m in metrics:
        if m.needs_sources and sources is None:
            raise HypothesisError(f"{m.label} reads the source of every segment: give the source file with --src FILE")
        m.check_ready()
    return metrics


def _evaluate(m: Metric, plain: PlainSet, hyps: list[str]) -> tuple[list[list[float]], list[float]]:
    """Statistics and segment scores; the sources go only to a metric that reads them."""
    return (m.evaluate(hyps, _references(plain), sources=plain.sources) if m.needs_sources
            else m.evaluate(hyps, _references(plain)))


def _with_bootstrap(m: Metric, bootstrap: Bootstrap) -> str:
    """The signature with the bootstrap's resamples and seed, as sacrebleu's --confidence writes them."""
    corpus_metric = getattr(m, "corpus_metric", None)
    if corpus_metric is not None:
        return sb.signature(corpus_metric, resamples=bootstrap.resamples, seed=bootstrap.seed)
    return f"{m.signature}|bs:{bootstrap.resamples}|seed:{bootstrap.seed}"


def score_files(references: Path | Sequence[Path], hypotheses: Sequence[Source], metric_names: Sequence[str],
                where: Sequence[str] = (), *, bootstrap: Bootstrap | None = None,
                stdin: BinaryIO | None = None, sources: Path | None = None,
                metric_options: Mapping[str, Mapping[str, Any]] | None = None, tokenize: str = DEFAULT_TOKENIZE,
                lowercase: bool = False) -> dict[str, Any]:
    """Corpus scores of line-aligned plain-text hypotheses against one or more reference files.

    ``sources`` (``--src``) is read by metrics that need it (COMET); ``metric_options`` are their settings.
    Several reference files are sacrebleu's multi-reference scoring (``nrefs:2`` in the signature). With
    ``bootstrap``, each score also gets ``ci``, its percentile bootstrap interval ``[low, high]``, and its signature
    the resamples and seed (``bs:1000|seed:12345``, as sacrebleu writes them). ``tokenize`` and ``lowercase`` are
    sacrebleu's options (each metric takes those that apply to it). Input problems raise
    :class:`HypothesisError` naming the files (see :func:`read_plain`).
    """
    from evalharness.scoring.significance import confidence_interval

    metrics = _ready_metrics(metric_names, metric_options, sources, tokenize=tokenize, lowercase=lowercase)
    plain = read_plain([references] if isinstance(references, Path) else references, hypotheses, where,
                       stdin=stdin, sources=sources)
    systems = []
    for name, hyps in plain.systems:
        scores: dict[str, Any] = {}
        for m in metrics:
            try:
                stats = (m.segment_stats(hyps, _references(plain), sources=plain.sources) if m.needs_sources
                         else m.segment_stats(hyps, _references(plain)))
            except HypothesisError as err:
                raise _named_errors(plain, name, err) from None
            entry: dict[str, Any] = {"score": m.score_from_stats(stats), "signature": m.signature,
                                     "higher_is_better": m.higher_is_better}
            if bootstrap is not None:
                low, high = confidence_interval(m, stats, resamples=bootstrap.resamples, seed=bootstrap.seed,
                                                confidence=bootstrap.confidence)
                entry["ci"] = [low, high]
                entry["signature"] = _with_bootstrap(m, bootstrap)
            scores[m.name] = entry
        systems.append({"hypotheses": name, "scores": scores})
    report = plain.report_head()
    if bootstrap is not None:
        report["bootstrap"] = {"resamples": bootstrap.resamples, "seed": bootstrap.seed,
                               "confidence": bootstrap.confidence}
    report["systems"] = systems
    return report


def sentence_scores(references: Path | Sequence[Path], hypotheses: Sequence[Source], metric_names: Sequence[str],
                    where: Sequence[str] = (), *, stdin: BinaryIO | None = None, sources: Path | None = None,
                    metric_options: Mapping[str, Mapping[str, Any]] | None = None, tokenize: str = DEFAULT_TOKENIZE,
                    lowercase: bool = False) -> dict[str, Any]:
    """One score per segment and metric, as sacrebleu's ``sentence_score`` (and ``--sentence-level``) gives it:
    BLEU with effective order. Each system lists ``lines`` (1-based line numbers in the files) and ``scores``
    (metric name → one score per line) with the segment ``signatures``.
    """
    metrics = _ready_metrics(metric_names, metric_options, sources, tokenize=tokenize, lowercase=lowercase)
    plain = read_plain([references] if isinstance(references, Path) else references, hypotheses, where,
                       stdin=stdin, sources=sources)
    systems = []
    for name, hyps in plain.systems:
        scores: dict[str, list[float]] = {}
        for m in metrics:
            try:
                scores[m.name] = _evaluate(m, plain, hyps)[1]
            except HypothesisError as err:
                raise _named_errors(plain, name, err) from None
        systems.append({"hypotheses": name, "lines": plain.lines, "scores": scores,
                        "signatures": {m.name: m.segment_signature for m in metrics}})
    return {**plain.report_head(), "systems": systems}

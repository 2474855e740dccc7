"""Scoring line-aligned plain-text files, no model: what ``evalharness score`` does, with sacrebleu's CLI habits.

One or more reference files (several: sacrebleu's multi-reference scoring), hypothesis files or standard input,
corpus scores with an optional bootstrap interval, or one score per segment. sacrebleu checks none of the shapes
(a short reference file silently drops lines or scores 0), so every file is read and its line count checked,
naming the files, before anything is scored.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, TypeAlias

from evalharness.errors import HypothesisError
from evalharness.scoring import sacrebleu_adapter as sb
from evalharness.scoring.defaults import DEFAULT_TOKENIZE
from evalharness.scoring.metrics import REFERENCES, SOURCES, Metric, ScoreStore, get_metrics
from evalharness.scoring.sacrebleu_metrics import SacrebleuMetric
from evalharness.scoring.significance import Bootstrap

if TYPE_CHECKING:
    from evalharness.scoring.parallel import PoolSettings, Scored

STDIN: Literal["-"] = "-"
"""A hypothesis source that is standard input (``--hyp -``, or no ``--hyp``, as in ``sacrebleu REF < HYP``)."""

STDIN_NAME = "<stdin>"
"""What messages and reports call standard input."""

Source: TypeAlias = Path | Literal["-"]


@dataclass(frozen=True)
class PlainSet:
    """Files checked (readable, UTF-8, line-aligned) and the lines ``--where`` kept; the text itself is read again,
    chunk by chunk, when it is scored (:meth:`chunks`), so a large test set is never held whole."""

    references: list[Path]
    lines: list[int]  # 1-based line numbers of the kept lines
    systems: list[tuple[str, Path | list[str]]]  # (file name or <stdin>, the file, or standard input's lines)
    where: list[str]
    total: int  # lines in each file
    sources: Path | None = None  # --src, line-aligned with the references, for metrics that read sources (COMET)
    reference_free: bool = False  # no --ref: ``references`` is [sources], counted and filtered, never scored against

    def report_head(self) -> dict[str, Any]:
        """The keys every report starts with; one reference file is a string, as it was before several were."""
        refs: str | list[str] | None = str(self.references[0]) if len(self.references) == 1 else [
            str(r) for r in self.references]
        if self.reference_free:
            refs = None
        return {"references": refs, "segments": len(self.lines), "where": list(self.where)}

    def against(self, name: str) -> str:
        """``HYP against REF`` (``REF1 + REF2`` for several) for messages."""
        return f"{name} against {' + '.join(str(r) for r in self.references)}"

    def chunks(self, system: int, size: int = 2000) -> Iterator[tuple[list[str], list[list[str]]]]:
        """The kept lines of hypotheses ``system`` and of every reference file, ``size`` lines at a time."""
        from evalharness.textio import iter_lines

        source = self.systems[system][1]
        hyps_in: Iterable[str] = iter(source) if isinstance(source, list) else iter_lines(source, "hypothesis file")
        refs_in = [iter_lines(path, "reference file") for path in self.references]
        kept = set(self.lines) if len(self.lines) < self.total else None
        hyps: list[str] = []
        refs: list[list[str]] = [[] for _ in self.references]
        for number, (hyp, *ref) in enumerate(_same_length(zip(hyps_in, *refs_in, strict=True),
                                                          self.against(self.systems[system][0])), 1):
            if kept is not None and number not in kept:
                continue
            hyps.append(hyp)
            for acc, line in zip(refs, ref, strict=True):
                acc.append(line)
            if len(hyps) >= size:
                yield hyps, refs
                hyps, refs = [], [[] for _ in self.references]
        if hyps:
            yield hyps, refs


def _same_length(rows: Iterator[tuple[str, ...]], what: str) -> Iterator[tuple[str, ...]]:
    """``rows`` of a strict zip, a file that changed length since it was counted as one line naming ``what``."""
    try:
        yield from rows
    except ValueError:  # zip(strict=True): one file ended before the others
        raise HypothesisError(f"{what}: the files no longer have the same number of lines (one changed while it "
                              "was read); score them again once they are complete") from None


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


def _count(path: Path, what: str, keep: Callable[[str], bool] | None = None,
           warn: Callable[[str], None] | None = None) -> tuple[int, list[int], bool]:
    """Lines of the file, the 1-based numbers of those ``keep`` accepts (none asked: an empty list), and whether
    any line holds more than white space; ``warn`` hears of what sacrebleu scores silently (:func:`_suspicious`)."""
    from evalharness.textio import iter_lines

    total, kept, text = 0, [], False
    nul: list[int] = []
    blank: list[int] = []
    for total, line in enumerate(iter_lines(path, what), 1):  # total: the last line's number
        text = text or bool(line.strip())
        if "\0" in line:
            nul.append(total)
        if not line.strip():
            blank.append(total)
        if keep is not None and keep(line):
            kept.append(total)
    if warn is not None:
        # blank reference lines are worth a warning beside text only: a file of nothing but blanks is an error
        for message in _suspicious(str(path), what, nul, blank if what == "reference file" and text else []):
            warn(message)
    return total, kept, text


def _warn_stdin(lines: list[str], warn: Callable[[str], None] | None) -> None:
    """:func:`_suspicious` for hypotheses read from standard input."""
    for message in _suspicious(STDIN_NAME, "hypothesis file", [i for i, h in enumerate(lines, 1) if "\0" in h], []):
        if warn is not None:
            warn(message)


def _suspicious(name: str, what: str, nul: list[int], blank: list[int]) -> list[str]:
    """One warning line per kind, naming the file and the first line: a NUL byte (a binary or damaged file) and a
    blank reference (almost always a file out of line with the hypotheses). Scores are sacrebleu's either way."""
    out = []
    if nul:
        more = f" (and {len(nul) - 1} more lines)" if len(nul) > 1 else ""
        out.append(f"warning: {name}:{nul[0]}: {what} has a NUL byte{more}; scored as it is, as sacrebleu does — "
                   "a binary or damaged file?")
    if blank:
        more = f" (and {len(blank) - 1} more)" if len(blank) > 1 else ""
        out.append(f"warning: {name}:{blank[0]}: blank reference line{more}; scored against nothing, as sacrebleu "
                   "does — a blank reference almost always means the files are out of line")
    return out


def read_plain(references: Sequence[Path], hypotheses: Sequence[Source], where: Sequence[str] = (), *,
               stdin: BinaryIO | None = None, sources: Path | None = None,
               warn: Callable[[str], None] | None = None) -> PlainSet:
    """Check the files: each non-empty, every reference file, hypothesis and ``sources`` file as long as the first
    reference.

    ``--where length=…`` measures the first reference file's lines. ``STDIN`` among ``hypotheses`` reads
    ``stdin`` (default: the process's standard input), once. BOM and CRLF are normalised. The files are read
    line by line here and again when scored: memory does not grow with their length.
    """
    from evalharness.corpus.tags import length_bucket, matches, parse_where

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
    total, kept, text = _count(first, "reference file",
                               (lambda r: matches({"length": length_bucket(r)}, filters)) if filters else None, warn)
    if not total:
        raise HypothesisError(f"{first}: reference file is empty")
    if not text:  # every metric would score against nothing: TER 0.00, "perfect", for empty hypotheses
        raise HypothesisError(f"{first}: every one of its {total:,} lines is empty: no reference text to score "
                              "against (a wrong or truncated file?)")
    for path in others:
        more, _, _ = _count(path, "reference file", warn=warn)
        if more != total:
            raise HypothesisError(f"{path} has {more} lines but {first} has {total}: every reference file "
                                  "must be line-aligned with the first, one segment a line")
    lines = kept if filters else list(range(1, total + 1))
    if not lines:
        raise HypothesisError(f"--where {' '.join(where)} selects no line of {first}")
    systems: list[tuple[str, Path | list[str]]] = []
    for source in hypotheses:
        kept_source: Path | list[str]
        if source == STDIN:
            kept_source = _read_stdin(stdin)
            name, count = STDIN_NAME, len(kept_source)
            _warn_stdin(kept_source, warn)
        else:
            name, count, kept_source = str(source), _count(source, "hypothesis file", warn=warn)[0], source
        if count != total:
            raise HypothesisError(
                f"{name} has {count} lines but {first} has {total}: "
                "hypotheses and references must be line-aligned, one segment a line"
            )
        systems.append((name, kept_source))
    if sources is not None:
        count = _count(sources, "source file")[0]
        if count != total:
            raise HypothesisError(f"{sources} has {count} lines but {first} has {total}: sources and references "
                                  "must be line-aligned, one segment a line")
    return PlainSet(list(references), lines, systems, list(where), total, sources)


def testset_files(name: str, language_pair: str, *,
                  notify: Callable[[str], None] | None = None) -> tuple[Path, Path]:
    """The source and reference files of the named test set ``name`` in the direction ``language_pair``
    (``ms-en``: Malay sources, English references), fetched and verified on first use: sacrebleu's ``-t NAME -l
    ms-en``. An unknown name or direction raises a typed error listing what there is."""
    from evalharness.corpus import load_testset
    from evalharness.errors import InputError
    from evalharness.testsets import find

    entry = find(name)
    source, _, target = language_pair.partition("-")
    pairs = [f"{a}-{b}" for a in entry.languages for b in entry.languages if a != b]
    if language_pair not in pairs:
        raise InputError(f"-l {language_pair}: {name} has the directions {', '.join(pairs)}; give one of them "
                         "(SOURCE-TARGET: the references are the TARGET side)")
    corpus = load_testset(entry.name, notify=notify)
    return corpus.side_files[source], corpus.side_files[target]


def _named_errors(plain: PlainSet, name: str, err: HypothesisError) -> HypothesisError:
    """Name the files: "segment N" alone does not say where."""
    kept = " (counting the lines --where kept)" if plain.where else ""
    return HypothesisError(f"{plain.against(name)}: {err}{kept}")


def _score_system(plain: PlainSet, index: int, metrics: Sequence[Metric], *, segment_scores: bool,
                  settings: PoolSettings | None = None) -> list[Scored]:
    """Every metric's statistics (and segment scores) of one hypothesis source, read and scored in chunks.

    Each chunk is checked (each metric's length limit, counting segments from the first kept line) before it is
    handed to the workers; errors name the files.
    """
    from evalharness.scoring.parallel import Scored, score_stream

    name = plain.systems[index][0]
    streamed = [m for m in metrics if isinstance(m, SacrebleuMetric)]  # sacrebleu's family streams; others whole
    done = 0
    counts: set[int] = set()

    def checked() -> Iterator[tuple[list[str], list[list[str]]]]:
        nonlocal done
        for hyps, sets in plain.chunks(index):
            for metric in streamed:
                metric.check_lengths(hyps, sets, offset=done)
            counts.update(sb.reference_counts(sets))
            done += len(hyps)
            yield hyps, sets

    import numpy as np

    total = len(plain.lines)
    # filled in place as chunks come back: collecting the chunks and concatenating them would hold both
    out: list[Scored] = []
    at = 0
    try:
        if streamed:
            for part in score_stream(streamed, checked(), segment_scores=segment_scores, settings=settings):
                if not out:
                    out = [Scored(np.empty((total, p.stats.shape[1])), np.empty(total) if segment_scores else None)
                           for p in part]
                rows = len(part[0].stats)
                for whole, piece in zip(out, part, strict=True):
                    whole.stats[at : at + rows] = piece.stats
                    if whole.scores is not None and piece.scores is not None:
                        whole.scores[at : at + rows] = piece.scores
                at += rows
            if at != total:  # a file changed between the line count and the scoring pass
                raise HypothesisError(f"{plain.against(name)}: {at} lines scored of {total} counted: a file changed "
                                      "while it was read; score it again once it is complete")
            for metric in streamed:
                sb.record_reference_count([metric.corpus_metric, metric.segment_metric], counts)
        whole_text = _whole(plain, index, [m for m in metrics if m not in streamed], segment_scores)
    except HypothesisError as err:
        raise _named_errors(plain, name, err) from None
    by_metric = {**dict(zip(map(id, streamed), out, strict=True)), **whole_text}
    return [by_metric[id(m)] for m in metrics]


def _whole(plain: PlainSet, index: int, metrics: Sequence[Metric], segment_scores: bool) -> dict[int, Scored]:
    """Results of the metrics outside sacrebleu's family (COMET, plug-ins), keyed by ``id(metric)``: the kept lines
    read whole (such a metric batches on its own; its test sets are small), with the sources' kept lines beside
    them for a metric that reads them."""
    from evalharness.scoring.scorer import score_metrics
    from evalharness.textio import iter_lines

    if not metrics:
        return {}
    reading = [m for m in metrics if SOURCES in m.reads]
    if reading and plain.sources is None:
        raise HypothesisError(f"{reading[0].label} reads the source of every segment: give the source file with "
                              "--src FILE")
    hyps: list[str] = []
    sets: list[list[str]] = [[] for _ in plain.references]
    for chunk_hyps, chunk_sets in plain.chunks(index):
        hyps += chunk_hyps
        for acc, more in zip(sets, chunk_sets, strict=True):
            acc += more
    kept = set(plain.lines)
    sources = None if plain.sources is None else [
        line for number, line in enumerate(iter_lines(plain.sources, "source file"), 1) if number in kept]
    references = None if plain.reference_free else sets if len(sets) > 1 else sets[0]
    scored = score_metrics(metrics, hyps, references, segment_scores=segment_scores, sources=sources)
    return {id(m): x for m, x in zip(metrics, scored, strict=True)}


def _ready_metrics(metric_names: Sequence[str], options: Mapping[str, Mapping[str, Any]] | None,
                   sources: Path | None, *, tokenize: str, lowercase: bool, chrf_lowercase: bool,
                   store: ScoreStore | None = None, references: bool = True) -> list[Metric]:
    """The metrics, each ready to score (COMET: its environment found), before any file is read; without
    ``references``, only metrics that read none (CometKiwi)."""
    metrics = get_metrics(metric_names, options, store=store,
                          scoring={"tokenize": tokenize, "lowercase": lowercase, "chrf_lowercase": chrf_lowercase})
    for m in metrics:
        if SOURCES in m.reads and sources is None:
            raise HypothesisError(f"{m.label} reads the source of every segment: give the source file with --src FILE")
        if REFERENCES in m.reads and not references:
            raise HypothesisError(f"{m.label} reads the references, and none are given: add --ref REF, or score with "
                                  "reference-free metrics alone (--metrics cometkiwi)")
        m.check_ready()
    return metrics


def _read_inputs(references: Path | Sequence[Path], hypotheses: Sequence[Source], where: Sequence[str], *,
                 stdin: BinaryIO | None, sources: Path | None,
                 warn: Callable[[str], None] | None = None) -> PlainSet:
    """:func:`read_plain` of the files; no references (reference-free metrics): the source file is counted and
    filtered in their place (``warn`` hears of suspicious lines in reference and hypothesis files)."""
    refs = [references] if isinstance(references, Path) else list(references)
    if refs or sources is None:
        return read_plain(refs, hypotheses, where, stdin=stdin, sources=sources, warn=warn)
    import dataclasses

    return dataclasses.replace(read_plain([sources], hypotheses, where, stdin=stdin, sources=sources),
                               reference_free=True)


def _with_bootstrap(m: Metric, bootstrap: Bootstrap) -> str:
    """The signature with the bootstrap's resamples and seed, as sacrebleu's --confidence writes them."""
    if isinstance(m, SacrebleuMetric):
        return sb.signature(m.corpus_metric, resamples=bootstrap.resamples, seed=bootstrap.seed)
    return f"{m.signature}|bs:{bootstrap.resamples}|seed:{bootstrap.seed}"


def score_files(references: Path | Sequence[Path], hypotheses: Sequence[Source], metric_names: Sequence[str],
                where: Sequence[str] = (), *, bootstrap: Bootstrap | None = None,
                stdin: BinaryIO | None = None, sources: Path | None = None,
                metric_options: Mapping[str, Mapping[str, Any]] | None = None, tokenize: str = DEFAULT_TOKENIZE,
                lowercase: bool = False, chrf_lowercase: bool = False,
                settings: PoolSettings | None = None, store: ScoreStore | None = None,
                warn: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Corpus scores of line-aligned plain-text hypotheses against one or more reference files.

    ``sources`` (``--src``) is read by metrics that need it (COMET); ``metric_options`` are per-metric settings;
    ``store`` keeps the segment scores of a metric slow to compute (COMET's) between calls.
    Several reference files are sacrebleu's multi-reference scoring (``nrefs:2`` in the signature). With
    ``bootstrap``, each score also gets ``ci``, its percentile bootstrap interval ``[low, high]``, and its signature
    the resamples and seed (``bs:1000|seed:12345``, as sacrebleu writes them). ``tokenize``, ``lowercase`` (BLEU's,
    as ``-lc``) and ``chrf_lowercase`` are sacrebleu's options (each metric takes those that apply to it). Input
    problems raise :class:`HypothesisError` naming the files (see :func:`read_plain`). ``settings``: how many
    processes score (default: every core, for inputs large enough to be worth it; the scores are the same either
    way).
    """
    from evalharness.scoring.significance import confidence_interval

    metrics = _ready_metrics(metric_names, metric_options, sources, tokenize=tokenize, lowercase=lowercase,
                             chrf_lowercase=chrf_lowercase, store=store,
                             references=isinstance(references, Path) or bool(references))
    plain = _read_inputs(references, hypotheses, where, stdin=stdin, sources=sources, warn=warn)
    systems = []
    for index, (name, _) in enumerate(plain.systems):
        scores: dict[str, Any] = {}
        for m, scored in zip(metrics, _score_system(plain, index, metrics, segment_scores=False,
                                                    settings=settings), strict=True):
            stats = scored.stats
            entry: dict[str, Any] = {"score": m.score_from_stats(stats), "signature": m.signature,
                                     "higher_is_better": m.higher_is_better}
            details = m.breakdown(stats)
            if details is not None:  # BLEU: what sacrebleu prints after the score
                entry["breakdown"] = details
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
                    lowercase: bool = False, chrf_lowercase: bool = False,
                    settings: PoolSettings | None = None, store: ScoreStore | None = None,
                    warn: Callable[[str], None] | None = None) -> dict[str, Any]:
    """One score per segment and metric, as sacrebleu's ``sentence_score`` (and ``--sentence-level``) gives it:
    BLEU with effective order. Each system lists ``lines`` (1-based line numbers in the files) and ``scores``
    (metric name → one score per line) with the segment ``signatures``.
    """
    metrics = _ready_metrics(metric_names, metric_options, sources, tokenize=tokenize, lowercase=lowercase,
                             chrf_lowercase=chrf_lowercase, store=store,
                             references=isinstance(references, Path) or bool(references))
    plain = _read_inputs(references, hypotheses, where, stdin=stdin, sources=sources, warn=warn)
    systems = []
    for index, (name, _) in enumerate(plain.systems):
        scored = _score_system(plain, index, metrics, segment_scores=True, settings=settings)
        scores: dict[str, list[float]] = {m.name: [] if x.scores is None else x.scores.tolist()
                                          for m, x in zip(metrics, scored, strict=True)}
        systems.append({"hypotheses": name, "lines": plain.lines, "scores": scores,
                        "signatures": {m.name: m.segment_signature for m in metrics}})
    return {**plain.report_head(), "systems": systems}

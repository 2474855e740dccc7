"""The human-readable summary: score table and the lowest-scoring segments, as Markdown."""

from __future__ import annotations

from collections.abc import Sequence

from evalharness.render.tables import markdown_table
from evalharness.runs.schema import MetricScore, Results, SegmentRecord
from evalharness.scoring.metrics import metric_label

WORST_N = 5


def label(metric: str, higher_is_better: bool) -> str:
    """Column header with the direction of goodness: ``BLEU ↑``, ``TER ↓``."""
    return f"{metric_label(metric)} {'↑' if higher_is_better else '↓'}"


def score_rows(results: Results) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the score table: systems × directions × metrics, each score with its interval."""
    metrics: dict[str, bool] = {}
    for by_dir in results.results.values():
        for res in by_dir.values():
            for name, score in res.scores.items():
                metrics.setdefault(name, score.higher_is_better)
    head = ["system", "direction", "segments", *(label(m, hib) for m, hib in metrics.items())]
    rows = []
    for system, by_dir in results.results.items():
        for direction, res in by_dir.items():
            cells = [score_cell(res.scores[m]) if m in res.scores else "—" for m in metrics]
            rows.append([system, direction, str(res.segments), *cells])
    return head, rows


def score_table(results: Results) -> str:
    """The score table as Markdown (``summary.md``)."""
    return markdown_table(*score_rows(results))


def score_cell(score: MetricScore) -> str:
    """``8.58 [7.47, 9.62]``: the score and its interval (:func:`interval_text`)."""
    return f"{score.score:.2f} {interval_text(score.ci)}"


def interval_text(ci: tuple[float, float]) -> str:
    """``[7.47, 9.62]``: both ends rounded to the nearest, at the score's two decimals — the one rule the terminal,
    summary.md and the report share (rounding is monotone, so the printed interval still holds the printed score)."""
    return f"[{ci[0]:.2f}, {ci[1]:.2f}]"


def flag_lines(results: Results) -> list[str]:
    """One line per system × direction that raised flags: ``tiny ms-en: 29/29 segments flagged: max_tokens 29``."""
    from evalharness.scoring.flags import FLAG_NAMES

    lines = []
    for system, by_dir in results.results.items():
        for direction, res in by_dir.items():
            raised = [f"{name} {res.flags[name]}" for name in FLAG_NAMES if res.flags.get(name)]
            if raised:
                lines.append(f"{system} {direction}: {res.flags.get('any', 0)}/{res.segments} segments flagged: "
                             f"{', '.join(raised)}")
    return lines


def signatures(results: Results) -> list[str]:
    """One line per metric: its corpus and segment signatures (identical across systems)."""
    seen: dict[str, tuple[str, str]] = {}
    for by_dir in results.results.values():
        for res in by_dir.values():
            for name, score in res.scores.items():
                seen.setdefault(name, (score.signature, score.segment_signature))
    out = []
    for name, (corpus_sig, seg_sig) in seen.items():
        seg = "" if seg_sig == corpus_sig else f"; segments: `{seg_sig}`"
        out.append(f"- {metric_label(name)}: `{corpus_sig}`{seg}")
    return out


def breakdowns(results: Results) -> list[str]:
    """One line per system × direction × metric with a breakdown (BLEU), in sacrebleu's words: n-gram precisions,
    brevity penalty, length ratio and lengths."""
    lines = []
    for system, by_dir in results.results.items():
        for direction, res in by_dir.items():
            for name, score in res.scores.items():
                if score.breakdown is not None:
                    lines.append(f"- {system} {direction} {metric_label(name)}: `{score.breakdown['verbose_score']}`")
    return lines


def worst_segments(results: Results, segments: Sequence[SegmentRecord], n: int = WORST_N) -> str:
    """The ``n`` lowest-scoring segments per system and direction, by the run's first metric."""
    blocks: list[str] = []
    for system, by_dir in results.results.items():
        for direction, res in by_dir.items():
            metric = next(iter(res.scores))
            hib = res.scores[metric].higher_is_better
            mine = [s for s in segments if s.system == system and s.direction == direction]
            mine.sort(key=lambda s: (s.scores[metric] if hib else -s.scores[metric], s.id))
            blocks.append(f"### {system}, {direction}: {min(n, len(mine))} lowest by {metric_label(metric)}\n")
            blocks.append(markdown_table(["id", metric_label(metric), "hypothesis", "reference"],
                                         [[s.id, f"{s.scores[metric]:.2f}", _cell(s.hypothesis),
                                           _cell(s.reference or "")] for s in mine[:n]]))
            blocks.append("")
    return "\n".join(blocks)


def _cell(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def flags_table(results: Results) -> str:
    """Segments raising each flag, per system and direction."""
    from evalharness.scoring.flags import FLAG_NAMES

    head = ["system", "direction", "segments", *FLAG_NAMES, "any"]
    rows = []
    for system, by_dir in results.results.items():
        for direction, res in by_dir.items():
            cells = [str(res.flags.get(n, 0)) for n in (*FLAG_NAMES, "any")]
            rows.append([system, direction, str(res.segments), *cells])
    return markdown_table(head, rows)


def slices_table(results: Results) -> str:
    """Each slice's corpus scores (segments in brackets), per system and direction."""
    blocks = []
    for system, by_dir in results.results.items():
        for direction, res in by_dir.items():
            if not res.slices:
                continue
            metrics = list(res.scores)
            head = ["slice", "segments", *(label(m, res.scores[m].higher_is_better) for m in metrics)]
            rows = [[name, str(sl.segments), *(f"{sl.scores[m]:.2f}" for m in metrics)]
                    for name, sl in res.slices.items()]
            blocks.append(f"### {system}, {direction}\n\n" + markdown_table(head, rows))
    return "\n\n".join(blocks)


def _where_note(results: Results) -> str:
    """``; --where kind=body keeps 27 (ms-en), 27 (en-ms)``: the tables count only the kept segments."""
    limit = results.manifest.config.get("limit")
    if not results.manifest.where and not limit:
        return ""
    kept: dict[str, int] = {}
    for by_dir in results.results.values():
        for direction, res in by_dir.items():
            kept.setdefault(direction, res.segments)
    counts = ", ".join(f"{n} ({d})" for d, n in kept.items())
    chosen = " and ".join([*([f"--where {' '.join(results.manifest.where)}"] if results.manifest.where else []),
                           *([f"--limit {limit}"] if limit else [])])
    return f"; {chosen} keeps {counts}"


def render_summary(results: Results, segments: Sequence[SegmentRecord]) -> str:
    """The whole ``summary.md``."""
    corpus = results.manifest.corpus
    parts = [
        "# evalharness run summary\n",
        f"Corpus `{corpus.name}` v{corpus.version} ({corpus.level} level, {corpus.segments} segments, "
        f"`{corpus.content_hash[:19]}…`){_where_note(results)}.\n",
        score_table(results),
        "\nScores with their 95% bootstrap confidence interval in brackets. Signatures:\n",
        *signatures(results),
        *(["\nAs sacrebleu details them (n-gram precisions, brevity penalty, length ratio, lengths):\n",
           *breakdowns(results)] if breakdowns(results) else []),
        "\n## Flags\n",
        "Segments whose output looks wrong whatever its score: length ratio out of band, fewer sentences than the "
        "source, a copy of the source, another language, cut at max_new_tokens (see the README).\n",
        flags_table(results),
        "\n## Slices\n",
        slices_table(results),
        "\n## Lowest-scoring segments\n",
        worst_segments(results, segments),
    ]
    return "\n".join(parts)

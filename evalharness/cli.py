"""Command-line interface: a thin layer that parses arguments, calls the library, and maps errors to exit codes.

Exit codes: 0 success; 1 problems found (corpus check) or a regression (gate); 2 usage or input error.
Heavy modules (torch, transformers, pydantic, sacrebleu) are imported inside the commands that use them
so that ``evalharness --help`` stays instant.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalharness import __version__
from evalharness.errors import EvalHarnessError

if TYPE_CHECKING:
    from evalharness.corpus import Corpus

EXIT_OK, EXIT_PROBLEMS, EXIT_INPUT = 0, 1, 2


def _add_corpus_source(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument("corpus", nargs="?" if not required else None,
                        help="corpus name (see 'corpus list'), corpus folder, or pairs.jsonl path")
    parser.add_argument("--ms", metavar="FILE", help="Malay side of a line-aligned plain-text test set")
    parser.add_argument("--en", metavar="FILE", help="English side of a line-aligned plain-text test set")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; kept importable so the docs and tests see exactly what users see."""
    parser = argparse.ArgumentParser(
        prog="evalharness",
        description="Translate a Malay/English reference corpus with MT systems and score it with sacrebleu.",
        epilog="Exit codes: 0 ok; 1 problems found / regression; 2 usage or input error.",
    )
    parser.add_argument("--version", action="version", version=f"evalharness {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    corpus = sub.add_parser("corpus", help="list, show, export and check reference corpora")
    csub = corpus.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)
    csub.add_parser("list", help="list the named corpora: $EVALHARNESS_CORPORA, ./corpora, then the shipped ones",
                    description="One line per named corpus: name, version, pairs, folder, description. Searched in "
                                "order (the first of a name wins): the folders in $EVALHARNESS_CORPORA, ./corpora "
                                "in the current directory, the corpora shipped with evalharness.")
    show = csub.add_parser("show", help="print a corpus's metadata, or one pair with --id")
    _add_corpus_source(show, required=False)
    show.add_argument("--id", help="pair id, e.g. p07")
    export = csub.add_parser("export", help="write one side as plain text, one segment a line")
    _add_corpus_source(export, required=False)
    export.add_argument("--lang", required=True, choices=["ms", "en"])
    export.add_argument("--level", default="paragraph", choices=["paragraph", "sentence"])
    export.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    check = csub.add_parser(
        "check", help="check a corpus for defects (exit 0 clean, 1 problems found, 2 unreadable)")
    _add_corpus_source(check, required=False)

    config = sub.add_parser("config", help="list or print the shipped configs (each usable as 'run -c NAME')")
    cfsub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    cfsub.add_parser("list", help="the shipped configs: name, file, first comment line")
    cshow = cfsub.add_parser("show", help="print a config's YAML, e.g. 'config show default > my.yaml' to start one")
    cshow.add_argument("name", type=Path, help="a shipped config's name (see 'config list') or a YAML file")

    run = sub.add_parser(
        "run", help="translate the corpus with the configured systems and score it",
        description="Translate the corpus in every configured direction, score every segment and the corpus, "
                    "and write results.json, segments.jsonl and summary.md to a run directory. "
                    "Settings: built-in defaults < the YAML file < --set overrides.",
    )
    run.add_argument("--config", "-c", type=Path, required=True, help="YAML config (see configs/)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config key, dotted, list items by index (repeatable): "
                          "--set systems.0.model=/path/to/model --set systems.0.generation.num_beams=4")
    run.add_argument("--run-dir", type=Path, help="write here instead of <output_dir>/<timestamp>-<config>/")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress bars or table (for CI logs)")
    run.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                     help="only segments with these tags (repeatable, ANDed): kind=body|heading, "
                          "fidelity=faithful|loose, length=short|medium|long (source words: <15, 15-39, 40+)")
    run.add_argument("--html", action="store_true", help="also write report.html (see 'report') in the run directory")
    run.add_argument("--no-cache", action="store_true",
                     help="translate everything afresh, neither reading nor writing the translation cache")

    score = sub.add_parser(
        "score", help="score line-aligned plain-text hypothesis files against a reference file (no model)")
    score.add_argument("--ref", type=Path, required=True, help="reference file, one segment a line")
    score.add_argument("--hyp", type=Path, action="append", required=True,
                       help="hypothesis file, line-aligned with --ref (repeatable)")
    score.add_argument("--metrics", default="bleu,chrf,chrf++,ter",
                       help="comma-separated metric names (default: %(default)s)")
    score.add_argument("--format", choices=["text", "json"], default="text")
    score.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                       help="only lines whose reference is of this length: length=short|medium|long")

    compare = sub.add_parser(
        "compare", help="paired comparison of two runs: deltas, confidence intervals, p-values, verdicts",
        description="Compare run B with run A on the same segments, per system × direction × metric "
                    "(systems matched by name). The verdict honours each metric's direction (TER: lower is better).")
    compare.add_argument("run_a", type=Path, help="run directory, results.json or baseline file (A, the reference)")
    compare.add_argument("run_b", type=Path, help="run directory or results.json (B)")
    _add_test_options(compare)
    compare.add_argument("--metrics", help="comma-separated subset of metrics (default: all in A)")
    compare.add_argument("--format", choices=["text", "json", "md"], default="text")
    compare.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                         help="only segments with these tags (repeatable, ANDed): kind=body|heading, "
                          "fidelity=faithful|loose, length=short|medium|long (source words: <15, 15-39, 40+)")

    check = sub.add_parser(
        "check", help="gate a run against a committed baseline (exit 0 pass, 1 regression, 2 input error)",
        description="Compare a run (a run directory, or --config to run one first) with a baseline file. "
                    "A regression is a move in the bad direction larger than the metric's tolerance AND "
                    "significant at level alpha (config 'gate:' section, else the baseline's, else defaults: "
                    "tolerance 1.0 point for every metric, alpha 0.05, paired bootstrap).",
        epilog="Exit codes: 0 pass; 1 regression found; 2 usage or input error (including a baseline from another "
               "corpus version or with other metric signatures).")
    check.add_argument("--baseline", type=Path, required=True, help="baseline file (evalharness baseline update)")
    check.add_argument("run_dir", nargs="?", type=Path, help="run directory to check")
    check.add_argument("--config", "-c", type=Path, help="run this config first, then check its run")
    check.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="config override for --config (repeatable)")
    check.add_argument("--run-dir", dest="new_run_dir", type=Path, help="where --config writes its run")
    check.add_argument("--junit", type=Path, help="write a JUnit XML report here")
    check.add_argument("--summary-md", type=Path,
                       help="write a Markdown report here (also appended to $GITHUB_STEP_SUMMARY when set)")
    check.add_argument("--quiet", "-q", action="store_true", help="no progress bars while --config runs")
    check.add_argument("--no-cache", action="store_true", help="with --config: bypass the translation cache")

    report = sub.add_parser(
        "report", help="write a self-contained HTML report of one or more runs",
        description="One HTML file (no network, opens from disk): score table with confidence intervals and, for "
                    "several runs, deltas and significance against the first; charts; a sortable, filterable, "
                    "paged table of every segment with word differences; the run manifests.")
    report.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR", help="run directories (the first is A)")
    report.add_argument("-o", "--output", type=Path, required=True, help="HTML file to write")

    cache = sub.add_parser("cache", help="inspect or empty the translation cache")
    cache_sub = cache.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    for name, text in (("info", "where the cache is, its size, and entries per model"),
                       ("clear", "delete every cached translation")):
        action = cache_sub.add_parser(name, help=text)
        action.add_argument("--path", type=Path,
                            help="cache file (default: $EVALHARNESS_CACHE_DIR, $XDG_CACHE_HOME/evalharness or "
                                 "~/.cache/evalharness, file translations.sqlite3)")

    baseline = sub.add_parser("baseline", help="write baseline files for 'check'")
    bsub = baseline.add_subparsers(dest="baseline_command", metavar="ACTION", required=True)
    update = bsub.add_parser("update", help="write (or replace) a baseline from a run directory, atomically")
    update.add_argument("run_dir", type=Path, help="run directory")
    update.add_argument("-o", "--output", type=Path, required=True, help="baseline file to write")
    return parser


def _add_test_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--test", choices=["bs", "ar"], default="bs",
                        help="paired bootstrap (bs, default) or approximate randomization (ar)")
    parser.add_argument("--samples", type=int, help="resamples (bs, default 1000) or trials (ar, default 10000)")
    parser.add_argument("--seed", type=int, default=12345, help="random seed (default %(default)s)")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level (default %(default)s)")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``evalharness`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_INPUT
    try:
        return int(_dispatch(args))
    except EvalHarnessError as err:
        print(f"evalharness: error: {err}", file=sys.stderr)
        return EXIT_INPUT
    except OSError as err:  # an output path that cannot be written (read errors are typed errors already)
        where = f"{err.filename}: " if err.filename else ""
        print(f"evalharness: error: {where}{err.strerror or err}; check the path and its permissions",
              file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("evalharness: interrupted", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    handlers = {"corpus": _corpus_command, "config": _config_command, "run": _run_command, "score": _score_command,
                "compare": _compare_command, "check": _check_command, "baseline": _baseline_command,
                "cache": _cache_command, "report": _report_command}
    return handlers[args.command](args)  # argparse lets only these commands through


def _report_command(args: argparse.Namespace) -> int:
    from evalharness.render.html import write_report

    write_report(args.run_dirs, args.output)
    print(f"wrote {args.output}")
    return EXIT_OK


def _open_corpus(args: argparse.Namespace, *, strict: bool = True) -> Corpus:
    from evalharness.corpus import load_corpus, load_plain_pair
    from evalharness.errors import InputError

    plain = args.ms is not None or args.en is not None
    if plain and args.corpus:
        raise InputError("give either a corpus name/path or --ms/--en files, not both")
    if plain:
        if args.ms is None or args.en is None:
            raise InputError("a plain-text test set needs both --ms FILE and --en FILE")
        return load_plain_pair({"ms": args.ms, "en": args.en})
    if not args.corpus:
        raise InputError("name a corpus (see 'evalharness corpus list') or give --ms FILE --en FILE")
    return load_corpus(args.corpus, strict=strict)


def _corpus_command(args: argparse.Namespace) -> int:
    from evalharness.corpus import available_corpora, check_corpus, load_corpus

    action = args.corpus_command
    if action == "list":
        found = available_corpora()
        if not found:
            from evalharness.corpus import corpora_dirs
            from evalharness.errors import CorpusError

            # The shipped corpus is always there in a sound install; without it, say where we looked.
            looked = ", ".join(str(d) for d in corpora_dirs())
            raise CorpusError(f"no named corpora found; looked in {looked} (reinstall evalharness for the shipped one)")
        for name, folder in found.items():
            corpus = load_corpus(folder)
            print(f"{name}\tv{corpus.version}\t{len(corpus.pairs)} pairs\t{folder}\t{corpus.description}")
        return EXIT_OK
    if action == "check":
        corpus = _open_corpus(args, strict=False)
        findings = check_corpus(corpus)
        for finding in findings:
            print(finding)
        errors = sum(f.severity == "error" for f in findings)
        warnings = len(findings) - errors
        print(f"{corpus.name}: {len(corpus.pairs)} pairs, {errors} problems, {warnings} warnings")
        return EXIT_PROBLEMS if errors else EXIT_OK
    corpus = _open_corpus(args)
    if action == "show":
        if args.id:
            from evalharness.corpus import canonical_pair

            print(json.dumps(canonical_pair(corpus.get(args.id)), ensure_ascii=False, indent=2))
        else:
            kinds: dict[str, int] = {}
            for p in corpus.pairs:
                kinds[p.kind] = kinds.get(p.kind, 0) + 1
            info = {
                "name": corpus.name, "version": corpus.version, "origin": corpus.origin,
                "pairs": len(corpus.pairs), "kinds": kinds, "content_hash": corpus.content_hash,
                "sentence_alignment": corpus.has_sentence_alignment,
                "sentence_segments": len(corpus.segments("sentence")) if corpus.has_sentence_alignment else None,
            }
            print(json.dumps(info, ensure_ascii=False, indent=2))
        return EXIT_OK
    if action == "export":
        lines = [seg.texts[args.lang] for seg in corpus.segments(args.level)]
        if args.output:
            from evalharness.textio import atomic_write_lines

            atomic_write_lines(args.output, lines)
        else:
            sys.stdout.write("".join(f"{line}\n" for line in lines))
        return EXIT_OK
    raise AssertionError(f"unhandled corpus action {action}")


def _config_command(args: argparse.Namespace) -> int:
    from evalharness.paths import bundled_configs, resolve_config_path
    from evalharness.textio import read_text

    if args.config_command == "list":
        for name, path in bundled_configs().items():
            comments = [line.lstrip("# ").strip() for line in read_text(path, "config").splitlines()
                        if line.startswith("#")]
            print(f"{name}\t{path}\t{comments[0].rstrip(':') if comments else ''}")
        return EXIT_OK
    sys.stdout.write(read_text(resolve_config_path(args.name), "config file"))
    return EXIT_OK


def _run_command(args: argparse.Namespace) -> int:
    from evalharness.render.summary import score_table
    from evalharness.runs.config import load_config
    from evalharness.runs.pipeline import run

    extra = [*(["cache.enabled=false"] if args.no_cache else []), *([f"where={args.where!r}"] if args.where else [])]
    config = load_config(args.config, [*args.overrides, *extra])
    from evalharness.render.summary import render_summary

    output = run(config, summarize=render_summary, config_path=args.config, run_dir=args.run_dir,
                 progress=_progress(args.quiet))
    if args.html:
        from evalharness.render.html import write_report

        write_report([output.run_dir], output.run_dir / "report.html")
    if not args.quiet:
        print(score_table(output.results))
    print(f"wrote {output.run_dir}")
    return EXIT_OK


def _progress(quiet: bool) -> Any:
    """A tqdm factory for the runner, or None when quiet."""
    if quiet:
        return None
    from tqdm import tqdm

    def progress(desc: str, total: int) -> tqdm:  # type: ignore[type-arg]
        return tqdm(total=total, desc=desc, unit="seg", file=sys.stderr, dynamic_ncols=True)

    return progress


def _score_command(args: argparse.Namespace) -> int:
    from evalharness.scoring.metrics import metric_label, score_files

    names = [m.strip() for m in args.metrics.split(",") if m.strip()]
    report = score_files(args.ref, args.hyp, names, where=args.where)
    if args.format == "json":
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return EXIT_OK
    for system in report["systems"]:
        print(f"{system['hypotheses']} ({report['segments']} segments)")
        for name, score in system["scores"].items():
            print(f"  {metric_label(name):7} {score['score']:6.2f}  {score['signature']}")
    return EXIT_OK


def _compare_command(args: argparse.Namespace) -> int:
    from evalharness.gate.compare import compare_runs
    from evalharness.render.comparison import mdd_note, render_table
    from evalharness.runs.files import read, read_run

    a, b = read(args.run_a), read_run(args.run_b, role="B (the second argument of compare)")
    metrics = [m.strip() for m in args.metrics.split(",")] if args.metrics else None
    rows = compare_runs(a, b, metrics=metrics, test=args.test, samples=args.samples, seed=args.seed,
                        alpha=args.alpha, where=args.where)
    if args.format == "json":
        print(json.dumps({"a": str(args.run_a), "b": str(args.run_b), "test": args.test, "seed": args.seed,
                          "alpha": args.alpha, "comparisons": [r.to_json() for r in rows]}, indent=2))
    else:
        print(render_table(rows, markdown=args.format == "md"))
        print()
        print(mdd_note(rows, args.alpha))
    return EXIT_OK


def _check_command(args: argparse.Namespace) -> int:
    from evalharness.errors import InputError
    from evalharness.gate.check import check
    from evalharness.render.comparison import render_text, write_reports
    from evalharness.runs.files import read, read_run

    if (args.run_dir is None) == (args.config is None):
        raise InputError("check needs either a RUN_DIR or --config CONFIG (not both)")
    baseline = read(args.baseline)  # read it first: a bad baseline should not cost a translation run
    if args.config is not None:
        from evalharness.runs.config import load_config
        from evalharness.runs.pipeline import run

        config = load_config(args.config, [*args.overrides, *(["cache.enabled=false"] if args.no_cache else [])])
        from evalharness.render.summary import render_summary

        run_dir = run(config, summarize=render_summary, config_path=args.config, run_dir=args.new_run_dir,
                      progress=_progress(args.quiet)).run_dir
    else:
        run_dir = args.run_dir
    report = check(baseline, read_run(run_dir, role="the checked run"))
    write_reports(report, junit=args.junit, summary_md=args.summary_md)
    print(render_text(report), end="")
    return EXIT_OK if report.passed else EXIT_PROBLEMS


def _baseline_command(args: argparse.Namespace) -> int:
    from evalharness.runs.files import read_run, write_baseline

    write_baseline(read_run(args.run_dir, role="baseline update's input"), args.output)
    print(f"wrote baseline {args.output} from {args.run_dir}")
    return EXIT_OK


def _cache_command(args: argparse.Namespace) -> int:
    from evalharness.store.sqlite import TranslationCache, default_cache_path

    path = args.path or default_cache_path()
    if not path.exists() and args.path is None:  # the default location, never used yet: nothing to show or clear
        print(f"{path}: no cache yet (0 entries)")
        return EXIT_OK
    # Neither action creates a file or folder; info only reads; a file that is not our cache is refused.
    with TranslationCache(path, create=False, readonly=args.cache_command == "info") as cache:
        if args.cache_command == "clear":
            print(f"{path}: removed {cache.clear()} entries")
            return EXIT_OK
        info = cache.info()
    print(f"{info['path']}: {info['entries']} entries, {info['bytes'] / 1e6:.1f} MB")
    for system in info["systems"]:
        print(f"  {system['entries']:7d}  {system['backend']}  {system['model']}  {system['revision']}")
    return EXIT_OK

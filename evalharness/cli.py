"""Command-line interface: a thin layer that parses arguments, calls the library, and maps errors to exit codes.

Exit codes: 0 success; 1 problems found (corpus check) or a regression (gate); 2 usage or input error.
Heavy modules (torch, transformers, pydantic, sacrebleu) are imported inside the commands that use them
so that ``evalharness --help`` stays instant.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalharness import __version__
from evalharness.errors import EvalHarnessError, EvalHarnessWarning
from evalharness.scoring.defaults import DEFAULT_AR_TRIALS, DEFAULT_METRICS, DEFAULT_RESAMPLES, DEFAULT_SEED

if TYPE_CHECKING:
    from evalharness.corpus import Corpus
    from evalharness.runs.pipeline import RunOutput

EXIT_OK, EXIT_PROBLEMS, EXIT_INPUT = 0, 1, 2


def _add_corpus_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("corpus", nargs="?", help="corpus name (see 'corpus list'), corpus folder, or pairs.jsonl path")
    parser.add_argument("--ms", metavar="FILE", help="Malay side of a line-aligned plain-text test set")
    parser.add_argument("--en", metavar="FILE", help="English side of a line-aligned plain-text test set")


WHERE_HELP = ("only segments with these tags (repeatable, ANDed): kind=body|heading, fidelity=faithful|loose, "
              "length=short|medium|long (source words: <15, 15-39, 40+)")


def _add_where(parser: argparse.ArgumentParser, text: str = WHERE_HELP) -> None:
    parser.add_argument("--where", action="append", default=[], metavar="KEY=VALUE", help=text)


def _add_run_options(parser: argparse.ArgumentParser, *, dest: str, what: str) -> None:
    """The options of a command that runs a config: overrides, run directory, progress, cache."""
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, dotted, list items by index (repeatable): "
                             "--set systems.0.model=/path/to/model --set systems.0.generation.num_beams=4")
    parser.add_argument("--run-dir", dest=dest, type=Path, help=f"{what} (default: <output_dir>/<timestamp>-<config>/)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing run directory as a whole (otherwise a non-empty one is refused)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars or tables (for CI logs)")
    parser.add_argument("--no-cache", action="store_true",
                        help="translate everything afresh, neither reading nor writing the translation cache")


CONFIG_HELP = "YAML config file, or the name of a shipped config (see 'config list')"


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
                                "in the current directory, the corpora shipped with evalharness."
                    ).set_defaults(func=_corpus_list)
    show = csub.add_parser("show", help="print a corpus's metadata, or one pair with --id")
    _add_corpus_source(show)
    show.add_argument("--id", help="pair id, e.g. p07")
    show.set_defaults(func=_corpus_show)
    export = csub.add_parser("export", help="write one side as plain text, one segment a line")
    _add_corpus_source(export)
    export.add_argument("--lang", required=True, choices=["ms", "en"])
    export.add_argument("--level", default="paragraph", choices=["paragraph", "sentence"])
    export.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    export.set_defaults(func=_corpus_export)
    check = csub.add_parser(
        "check", help="check a corpus for defects (exit 0 clean, 1 problems found, 2 unreadable)")
    _add_corpus_source(check)
    check.set_defaults(func=_corpus_check)

    config = sub.add_parser("config", help="list or print the shipped configs (each usable as 'run -c NAME')")
    cfsub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    cfsub.add_parser("list", help="the shipped configs: name, file, first comment line").set_defaults(
        func=_config_list)
    cshow = cfsub.add_parser("show", help="print a config's YAML, e.g. 'config show default > my.yaml' to start one")
    cshow.add_argument("name", type=Path, help="a shipped config's name (see 'config list') or a YAML file")
    cshow.set_defaults(func=_config_show)

    run = sub.add_parser(
        "run", help="translate the corpus with the configured systems and score it",
        description="Translate the corpus in every configured direction, score every segment and the corpus, "
                    "and write results.json, segments.jsonl and summary.md to a new run directory. "
                    "Settings: built-in defaults < the YAML file < --set overrides.",
    )
    run.add_argument("--config", "-c", type=Path, required=True, help=CONFIG_HELP)
    _add_run_options(run, dest="run_dir", what="write the run here")
    _add_where(run)
    run.add_argument("--html", action="store_true", help="also write report.html (see 'report') in the run directory")
    run.set_defaults(func=_run_command)

    demo = sub.add_parser(
        "demo", help="a random-weight tiny model through the whole pipeline and its HTML report, in seconds",
        description="Build a random-weight Marian model (once), run the shipped 'demo' config on it (beam 1, 48 "
                    "tokens, and a copy-the-source floor) and write the HTML report. The scores are noise; the "
                    "point is to see the pipeline, the flags and the report without downloading a model.")
    demo.add_argument("--dir", type=Path, default=Path("evalharness-demo"),
                      help="folder for the model and the run (default: %(default)s, in the current directory)")
    demo.add_argument("--quiet", "-q", action="store_true", help="print only the report's path")
    demo.set_defaults(func=_demo_command)

    score = sub.add_parser(
        "score", help="score line-aligned plain-text hypothesis files against a reference file (no model)")
    score.add_argument("--ref", type=Path, required=True, help="reference file, one segment a line")
    score.add_argument("--hyp", type=Path, action="append", required=True,
                       help="hypothesis file, line-aligned with --ref (repeatable)")
    score.add_argument("--metrics", default=",".join(DEFAULT_METRICS),
                       help="comma-separated metric names (default: %(default)s)")
    score.add_argument("--format", choices=["text", "json"], default="text")
    _add_where(score, "only lines whose reference is of this length: length=short|medium|long")
    score.set_defaults(func=_score_command)

    compare = sub.add_parser(
        "compare", help="paired comparison of two runs: deltas, confidence intervals, p-values, verdicts",
        description="Compare run B with run A on the same segments, per system × direction × metric "
                    "(systems matched by name). The verdict honours each metric's direction (TER: lower is better).")
    compare.add_argument("run_a", type=Path, help="run directory, results.json or baseline file (A, the reference)")
    compare.add_argument("run_b", type=Path, help="run directory or results.json (B); not a baseline")
    _add_test_options(compare)
    compare.add_argument("--metrics", help="comma-separated subset of metrics (default: all in A)")
    compare.add_argument("--format", choices=["text", "json", "md"], default="text")
    _add_where(compare)
    compare.set_defaults(func=_compare_command)

    check = sub.add_parser(
        "check", help="gate a run against a committed baseline (exit 0 pass, 1 regression, 2 input error)",
        description="Compare a run (a run directory, or --config to run one first) with a baseline file. "
                    "A regression is a move in the bad direction larger than the metric's tolerance AND "
                    "significant at level alpha (config 'gate:' section, else the baseline's, else defaults: "
                    "each metric's default tolerance, 1.0 point, alpha 0.05, paired bootstrap).",
        epilog="Exit codes: 0 pass; 1 regression found; 2 usage or input error (including a baseline from another "
               "corpus version or with other metric signatures).")
    check.add_argument("--baseline", type=Path, required=True, help="baseline file (evalharness baseline update)")
    check.add_argument("run_dir", nargs="?", type=Path, help="run directory to check")
    check.add_argument("--config", "-c", type=Path, help=f"run this config first, then check its run ({CONFIG_HELP})")
    _add_run_options(check, dest="new_run_dir", what="where --config writes its run")
    check.add_argument("--junit", type=Path, help="write a JUnit XML report here")
    check.add_argument("--summary-md", type=Path,
                       help="write a Markdown report here (also appended to $GITHUB_STEP_SUMMARY when set)")
    check.set_defaults(func=_check_command)

    report = sub.add_parser(
        "report", help="write a self-contained HTML report of one or more runs",
        description="One HTML file (no network, opens from disk): score table with confidence intervals and, for "
                    "several runs, deltas and significance against the first; charts; a sortable, filterable, "
                    "paged table of every segment with word differences; the run manifests.")
    report.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR", help="run directories (the first is A)")
    report.add_argument("-o", "--output", type=Path, required=True, help="HTML file to write")
    report.set_defaults(func=_report_command)

    cache = sub.add_parser("cache", help="inspect or empty the translation cache")
    cache_sub = cache.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    for name, text in (("info", "where the cache is, its size, and entries per model (reads only)"),
                       ("clear", "delete every cached translation")):
        action = cache_sub.add_parser(name, help=text)
        action.add_argument("--path", type=Path,
                            help="cache file (default: $EVALHARNESS_CACHE_DIR, $XDG_CACHE_HOME/evalharness or "
                                 "~/.cache/evalharness, file translations.sqlite3); never created by this command")
        action.set_defaults(func=_cache_command)

    baseline = sub.add_parser("baseline", help="write baseline files for 'check'")
    bsub = baseline.add_subparsers(dest="baseline_command", metavar="ACTION", required=True)
    update = bsub.add_parser("update", help="write (or replace) a baseline from a run directory, atomically")
    update.add_argument("run_dir", type=Path, help="run directory")
    update.add_argument("-o", "--output", type=Path, required=True,
                        help="baseline file to write (a symbolic link is written through)")
    update.set_defaults(func=_baseline_command)
    return parser


def _add_test_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--test", choices=["bs", "ar"], default="bs",
                        help="paired bootstrap (bs, default) or approximate randomization (ar)")
    parser.add_argument("--samples", type=int,
                        help=f"resamples (bs, default {DEFAULT_RESAMPLES}) or trials (ar, default {DEFAULT_AR_TRIALS})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default %(default)s)")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level (default %(default)s)")


def _check_test_options(args: argparse.Namespace) -> None:
    """Refuse settings that would silently change or disable the test: the same bounds as a config's gate."""
    from evalharness.errors import InputError
    from evalharness.runs.config import MAX_SAMPLES, MAX_SEED

    if not 0 < args.alpha < 1:  # NaN fails this too
        raise InputError(f"--alpha {args.alpha}: the significance level must be between 0 and 1, e.g. 0.05")
    if args.samples is not None and not 100 <= args.samples <= MAX_SAMPLES:
        raise InputError(f"--samples {args.samples}: give between 100 and {MAX_SAMPLES}")
    if not 0 <= args.seed <= MAX_SEED:
        raise InputError(f"--seed {args.seed}: give a seed between 0 and {MAX_SEED}")


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """Warnings of ours as one line on stderr; others as Python prints them."""
    if issubclass(category, EvalHarnessWarning):
        print(f"evalharness: warning: {message}", file=sys.stderr)
    else:
        print(warnings.formatwarning(message, category, filename, lineno, line), end="", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``evalharness`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_INPUT
    warnings.showwarning = _show_warning
    try:
        return int(args.func(args))
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


def _run_files(run: Path) -> list[Path]:
    """The files that make up a run directory (or a baseline file): what an output must not replace."""
    from evalharness.runs.schema import RESULTS_FILE, SEGMENTS_FILE, SUMMARY_FILE

    folder = run.parent if run.name == RESULTS_FILE else run
    return [folder / name for name in (RESULTS_FILE, SEGMENTS_FILE, SUMMARY_FILE)] if folder.is_dir() else [run]


def _report_command(args: argparse.Namespace) -> int:
    from evalharness.render.html import write_report
    from evalharness.textio import check_outputs

    check_outputs({"the report": args.output}, [f for run in args.run_dirs for f in _run_files(run)])
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


def _corpus_list(args: argparse.Namespace) -> int:
    from evalharness.corpus import available_corpora, corpora_dirs, load_corpus
    from evalharness.errors import CorpusError

    found = available_corpora()
    if not found:  # the shipped corpus is always there in a sound install; without it, say where we looked
        looked = ", ".join(str(d) for d in corpora_dirs())
        raise CorpusError(f"no named corpora found; looked in {looked} (reinstall evalharness for the shipped one)")
    for name, folder in found.items():
        corpus = load_corpus(folder)
        print(f"{name}\tv{corpus.version}\t{len(corpus.pairs)} pairs\t{folder}\t{corpus.description}")
    return EXIT_OK


def _corpus_check(args: argparse.Namespace) -> int:
    from evalharness.corpus import check_corpus

    corpus = _open_corpus(args, strict=False)
    findings = check_corpus(corpus)
    for finding in findings:
        print(finding)
    errors = sum(f.severity == "error" for f in findings)
    print(f"{corpus.name}: {len(corpus.pairs)} pairs, {errors} problems, {len(findings) - errors} warnings")
    return EXIT_PROBLEMS if errors else EXIT_OK


def _corpus_show(args: argparse.Namespace) -> int:
    from evalharness.corpus import canonical_pair

    corpus = _open_corpus(args)
    if args.id:
        print(json.dumps(canonical_pair(corpus.get(args.id)), ensure_ascii=False, indent=2))
        return EXIT_OK
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


def _corpus_export(args: argparse.Namespace) -> int:
    from evalharness.textio import check_outputs, write_outputs

    corpus = _open_corpus(args)
    lines = [seg.texts[args.lang] for seg in corpus.segments(args.level)]
    text = "".join(f"{line}\n" for line in lines)
    if args.output:
        check_outputs({"the export": args.output}, corpus.files)
        write_outputs({args.output: text})
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _config_list(args: argparse.Namespace) -> int:
    from evalharness.paths import bundled_configs
    from evalharness.textio import read_text

    for name, path in bundled_configs().items():
        comments = [line.lstrip("# ").strip() for line in read_text(path, "config").splitlines()
                    if line.startswith("#")]
        print(f"{name}\t{path}\t{comments[0].rstrip(':') if comments else ''}")
    return EXIT_OK


def _config_show(args: argparse.Namespace) -> int:
    from evalharness.paths import resolve_config_path
    from evalharness.textio import read_text

    sys.stdout.write(read_text(resolve_config_path(args.name), "config file"))
    return EXIT_OK


def _load_and_run(args: argparse.Namespace, extra: Sequence[str], run_dir: Path | None) -> RunOutput:
    """Read ``--config`` with its overrides, run it, write its run directory (shared by run and check)."""
    from evalharness.paths import resolve_config_path
    from evalharness.render.summary import render_summary
    from evalharness.runs.config import load_config
    from evalharness.runs.pipeline import run

    config_path = resolve_config_path(args.config)  # the file a shipped name stands for, in the manifest too
    config = load_config(config_path, [*args.overrides, *(["cache.enabled=false"] if args.no_cache else []), *extra])
    return run(config, summarize=render_summary, config_path=config_path, run_dir=run_dir,
               overwrite=args.overwrite, progress=_progress(args.quiet), notify=_notify(args.quiet))


def _run_command(args: argparse.Namespace) -> int:
    from evalharness.render.summary import score_table

    output = _load_and_run(args, [f"where={args.where!r}"] if args.where else [], args.run_dir)
    if args.html:
        from evalharness.render.html import write_report

        write_report([output.run_dir], output.run_dir / "report.html")
    if not args.quiet:
        print(score_table(output.results))
    print(f"wrote {output.run_dir}")
    return EXIT_OK


def _demo_command(args: argparse.Namespace) -> int:
    from evalharness.paths import resolve_config_path
    from evalharness.render.html import write_report
    from evalharness.render.summary import render_summary, score_table
    from evalharness.runs.config import load_config
    from evalharness.runs.pipeline import run
    from evalharness.tiny_model import build_marian

    model = args.dir / "tiny-marian"
    if not (model / "config.json").is_file():
        if not args.quiet:
            print(f"building a random-weight tiny Marian model in {model} (once) …", file=sys.stderr)
        build_marian(model)
    config_path = resolve_config_path(Path("demo"))
    config = load_config(config_path, [f"systems.0.model={model.resolve()}"])
    output = run(config, summarize=render_summary, config_path=config_path, run_dir=args.dir / "run",
                 overwrite=True, progress=_progress(args.quiet), notify=_notify(args.quiet))
    report = output.run_dir / "report.html"
    write_report([output.run_dir], report)
    if args.quiet:
        print(report)
        return EXIT_OK
    print(score_table(output.results))
    print(f"\nwrote {output.run_dir} and the report {report} (open it in a browser)")
    return EXIT_OK


def _notify(quiet: bool) -> Any:
    """A one-line status printer for the runner (model loading), or None when quiet."""
    if quiet:
        return None
    from tqdm import tqdm

    return lambda message: tqdm.write(message, file=sys.stderr)  # above an active progress bar, not inside it


def _progress(quiet: bool) -> Any:
    """A tqdm factory for the runner, or None when quiet."""
    if quiet:
        return None
    from tqdm import tqdm

    def progress(desc: str, total: int) -> tqdm:  # type: ignore[type-arg]
        return tqdm(total=total, desc=desc, unit="seg", file=sys.stderr, dynamic_ncols=True)

    return progress


def _metric_names(text: str, option: str) -> list[str]:
    """``bleu,chrf`` → names, each known and given once; an empty list is an error."""
    from evalharness.errors import InputError
    from evalharness.registry import did_you_mean
    from evalharness.scoring.metrics import METRICS

    names = [m.strip() for m in text.split(",") if m.strip()]
    if not names:
        raise InputError(f"{option} {text!r}: name at least one metric ({', '.join(METRICS.names())})")
    for name in names:
        if name not in METRICS:
            raise InputError(f"{option}: unknown metric {name!r}{did_you_mean(name, METRICS.names())} "
                             f"(known: {', '.join(METRICS.names())})")
    if len(set(names)) != len(names):
        raise InputError(f"{option} {text!r}: each metric once")
    return names


def _score_command(args: argparse.Namespace) -> int:
    from evalharness.scoring.metrics import metric_label, score_files

    report = score_files(args.ref, args.hyp, _metric_names(args.metrics, "--metrics"), where=args.where)
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

    _check_test_options(args)
    metrics = _metric_names(args.metrics, "--metrics") if args.metrics is not None else None
    a, b = read(args.run_a), read_run(args.run_b, role="B (the second argument of compare)")
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
    from evalharness.gate.check import check, gate_settings, resolve_gate
    from evalharness.render.comparison import render_text, write_reports
    from evalharness.runs.files import read, read_run
    from evalharness.textio import check_outputs

    if (args.run_dir is None) == (args.config is None):
        raise InputError("check needs either a RUN_DIR or --config CONFIG (not both)")
    for option in ("new_run_dir", "overwrite", "no_cache"):
        if args.config is None and getattr(args, option) not in (None, False):
            raise InputError(f"--{option.replace('_', '-').replace('new-', '')} goes with --config (check runs a "
                             "config first), not with a RUN_DIR")
    outputs = {"--junit": args.junit, "--summary-md": args.summary_md}
    inputs = [args.baseline, *(_run_files(args.run_dir) if args.run_dir else []),
              *([args.config] if args.config else [])]
    check_outputs(outputs, inputs)  # before anything runs or is written
    baseline = read(args.baseline)  # read it first: a bad baseline should not cost a translation run
    if baseline.gate is not None:
        gate_settings(str(args.baseline), baseline.gate)  # a hand-edited NaN tolerance fails now, not after the run
    if args.config is not None:
        output = _load_and_run(args, [], args.new_run_dir)
        run = read_run(output.run_dir, role="the checked run")
    else:
        run = read_run(args.run_dir, role="the checked run")
    report = check(baseline, run, resolve_gate(run, baseline))
    write_reports(report, junit=args.junit, summary_md=args.summary_md)
    print(render_text(report), end="")
    return EXIT_OK if report.passed else EXIT_PROBLEMS


def _baseline_command(args: argparse.Namespace) -> int:
    from evalharness.runs.files import read_run, write_baseline
    from evalharness.textio import check_outputs

    check_outputs({"the baseline": args.output}, _run_files(args.run_dir))
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

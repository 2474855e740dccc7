"""Command-line interface: a thin layer that parses arguments, calls the library, and maps errors to exit codes.

Exit codes: 0 success; 1 problems found (corpus check) or a regression (gate); 2 usage or input error; 3 an
internal error (a worker process died or broke its protocol, or a bug): never 1, which CI reads as a verdict.
Heavy modules (torch, transformers, pydantic, sacrebleu) are imported inside the commands that use them
so that ``evalharness --help`` stays instant.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from evalharness import __version__
from evalharness.errors import EvalHarnessError, EvalHarnessWarning, InternalError
from evalharness.languages import LANGUAGES
from evalharness.scoring.defaults import (
    DEFAULT_AR_TRIALS,
    DEFAULT_METRICS,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    DEFAULT_TOKENIZE,
    TOKENIZERS,
)

if TYPE_CHECKING:
    from evalharness.corpus import Corpus
    from evalharness.runs.config import RunConfig
    from evalharness.runs.pipeline import RunOutput

EXIT_OK, EXIT_PROBLEMS, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_TERMINATED = 128 + 15  # what a shell reports for a process ended by SIGTERM
DEBUG_ENV = "EVALHARNESS_DEBUG"
"""Environment variable: set to 1 to have an internal error print its traceback (still exit 3)."""


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that every ``finally`` runs and temporary files are removed
    (the default action ends the process on the spot). A BaseException, like KeyboardInterrupt, so that no
    ``except Exception`` takes it for an error to handle."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def _install_sigterm() -> Any:
    """Turn SIGTERM into :class:`_Terminated` while a command runs; returns the handler to put back (None when
    this is not the main thread, where Python allows no handler)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    return signal.SIG_DFL if previous is None else previous  # None: a handler not set from Python


def _add_corpus_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("corpus", nargs="?", help="corpus name (see 'corpus list'), corpus folder, or pairs.jsonl path")
    parser.add_argument("--ms", metavar="FILE", help="Malay side of a line-aligned plain-text test set")
    parser.add_argument("--en", metavar="FILE", help="English side of a line-aligned plain-text test set")


WHERE_HELP = ("only segments with these tags (repeatable, ANDed): kind=body|heading, fidelity=faithful|loose, "
              "length=short|medium|long (source words: <15, 15-39, 40+)")


def _add_where(parser: argparse.ArgumentParser, text: str = WHERE_HELP) -> None:
    parser.add_argument("--where", action="append", default=[], metavar="KEY=VALUE", help=text)


QUIET_HELP = "no progress bars, tables or notes (for CI logs): {what}"


def _add_run_options(parser: argparse.ArgumentParser, *, dest: str, what: str, quiet: str) -> None:
    """The options of a command that runs a config: overrides, run directory, progress, cache; ``quiet``: what
    the command still prints with -q."""
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, dotted, list items by index (repeatable): "
                             "--set systems.0.model=/path/to/model --set systems.0.generation.num_beams=4")
    parser.add_argument("--run-dir", dest=dest, type=Path, help=f"{what} (default: <output_dir>/<timestamp>-<config>/)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing run directory as a whole (otherwise a non-empty one is refused)")
    parser.add_argument("--quiet", "-q", action="store_true", help=QUIET_HELP.format(what=quiet))
    parser.add_argument("--no-cache", action="store_true",
                        help="translate everything afresh, neither reading nor writing the translation cache")
    sugar = parser.add_argument_group(
        "shortcuts", "each is sugar for --set on every model system (transformers, ct2) of the config")
    sugar.add_argument("--model", metavar="ID_OR_DIR", help="hub id or local directory: --set systems.N.model=…")
    sugar.add_argument("--device", choices=["auto", "cpu", "cuda"], help="--set systems.N.generation.device=…")
    sugar.add_argument("--batch-size", type=int, metavar="N", help="--set systems.N.generation.batch_size=…")
    parser.add_argument("--limit", type=int, metavar="N",
                        help="only the first N segments (after --where): a quick smoke test (--set limit=N)")
    cluster = parser.add_argument_group("executor", "where translating runs (see the README, 'Running on a Ray "
                                                    "cluster'); the rest of executor.* is set with --set")
    cluster.add_argument("--executor", choices=["local", "ray"],
                         help="local: in this process (default); ray: on a Ray cluster (--set executor.kind=…)")
    cluster.add_argument("--ray-address", metavar="ADDRESS",
                         help="auto, local, HOST:PORT or ray://HOST:PORT; implies --executor ray "
                              "(--set executor.address=…)")
    parser.add_argument("--format", choices=["text", "json"], default="text",
                        help="json: one JSON document on standard output, for scripts (progress stays on stderr)")


CONFIG_HELP = "YAML config file, or the name of a shipped config (see 'config list')"


class _Parser(argparse.ArgumentParser):
    """argparse with our conventions: a usage error is one line and exit 2; options are never abbreviated
    (``--sample 100`` must not quietly mean ``--samples``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        print(f"evalharness: error: {_one_line(message)} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(EXIT_INPUT)


def _one_line(message: str) -> str:
    """A message that stays on one line whatever a path or value in it holds."""
    return message.replace("\r", "\\r").replace("\n", "\\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; kept importable so the docs and tests see exactly what users see."""
    parser = _Parser(
        prog="evalharness",
        description="Translate a Malay/English reference corpus with MT systems and score it with sacrebleu.",
        epilog="Exit codes: 0 ok; 1 problems found / regression; 2 usage or input error; 3 internal error.",
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
    export.add_argument("--lang", required=True, choices=list(LANGUAGES), help="the side to write: a language of "
                        "the corpus")
    export.add_argument("--level", default="paragraph", choices=["paragraph", "sentence"])
    export.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    export.set_defaults(func=_corpus_export)
    check = csub.add_parser(
        "check", help="check a corpus for defects (exit 0 clean, 1 problems found, 2 unreadable)")
    _add_corpus_source(check)
    check.set_defaults(func=_corpus_check)

    _add_testsets_parser(sub)

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
    _add_run_options(run, dest="run_dir", what="write the run here", quiet="only the run directory")
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
    demo.add_argument("--quiet", "-q", action="store_true", help=QUIET_HELP.format(what="only the report's path"))
    demo.set_defaults(func=_demo_command)

    from evalharness.scoring.defaults import CONFIDENCE  # import-free module: --help stays instant

    score = sub.add_parser(
        "score", help="score line-aligned plain-text hypothesis files against a reference file (no model)",
        description="Score line-aligned plain-text files (UTF-8, one segment a line; BOM and CRLF are fine) with\n"
                    "sacrebleu, no model: corpus scores with their sacrebleu signatures, optionally with bootstrap\n"
                    "confidence intervals, or one score per segment. Line counts are checked (sacrebleu checks\n"
                    "none): a mismatch is an error naming the files.",
        epilog="sacrebleu's own forms work as they are:\n"
               "  evalharness score REF -i HYP -m bleu chrf ter          (positional references, -i, -m A B)\n"
               "  evalharness score REF < HYP                            (hypotheses from standard input)\n"
               "  evalharness score REF1 REF2 -i HYP                     (several references per segment)\n"
               "  evalharness score -t flores200-devtest -l ms-en -i HYP (a named test set: 'testsets list')\n"
               "  evalharness score REF -i HYP -tok intl -lc             (-lc: BLEU only; chrF: --chrf-lowercase)\n"
               "  evalharness score REF -i HYP --sentence-level -m bleu\n"
               "  evalharness score REF -i HYP --confidence --confidence-n N [--seed S]\n"
               "--ref REF and --hyp HYP are the same as REF and -i HYP; -m takes names space- or comma-separated.\n"
               "Differences: each -i file is scored on its own (paired tests: see 'compare'); all four\n"
               "metrics by default (sacrebleu: BLEU); chrF++ is -m chrf++ (sacrebleu: -m chrf --chrf-word-order 2);\n"
               "text output by default (sacrebleu: JSON); --sentence-level takes several metrics and files;\n"
               "intervals print as [low, high], not μ ± CI.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    score.add_argument("refs", nargs="*", type=Path, metavar="REF",
                       help="reference file(s), one segment a line, before -i, as sacrebleu takes them; several give "
                            "each segment several references (signature: nrefs:2)")
    score.add_argument("--ref", type=Path, action="extend", nargs="+", default=[], metavar="REF",
                       help="the same as a positional REF (--ref A --ref B, or --ref A B)")
    score.add_argument("--hyp", "-i", "--input", type=_hyp_source, action="extend", nargs="+", metavar="HYP",
                       help="hypothesis file, line-aligned with the references (several: each scored on its own); "
                            "'-' or none at all: standard input, as 'sacrebleu REF < HYP'")
    score.add_argument("--metrics", "-m", action="extend", nargs="+", metavar="NAME",
                       help=f"metric names, space- or comma-separated: -m bleu chrf ter, --metrics bleu,chrf (default: "
                            f"{' '.join(DEFAULT_METRICS)}; sacrebleu's default is bleu)")
    testset = score.add_argument_group(
        "named test sets", "as sacrebleu -t NAME -l SRC-TGT: the references are the set's target side, fetched and "
                           "verified on first use (see 'evalharness testsets list')")
    testset.add_argument("--test-set", "-t", metavar="NAME",
                         help="score against this test set's references instead of reference files")
    testset.add_argument("--language-pair", "-l", metavar="SRC-TGT",
                         help="the direction, e.g. ms-en: Malay sources, English references (with -t)")
    testset.add_argument("--echo", choices=["src", "ref"],
                         help="print the test set's source or reference side, one segment a line, and stop (with -t "
                              "and -l), as sacrebleu --echo")
    score.add_argument("--format", choices=["text", "json"], default="text",
                       help="text (default), or json: one JSON object; with --sentence-level JSON Lines, "
                            "one object per segment")
    score.add_argument("--tokenize", "-tok", choices=TOKENIZERS, default=DEFAULT_TOKENIZE,
                       help="BLEU's tokenizer, as sacrebleu -tok (default: %(default)s; flores200/flores101 need "
                            "their SentencePiece model already in $SACREBLEU/models, ~/.sacrebleu by default)")
    score.add_argument("--lowercase", "-lc", action="store_true",
                       help="case-insensitive BLEU, as sacrebleu -lc: chrF and chrF++ keep case (--chrf-lowercase), "
                            "TER ignores case already")
    score.add_argument("--chrf-lowercase", action="store_true",
                       help="case-insensitive chrF and chrF++, as sacrebleu --chrf-lowercase")
    _add_where(score, "only lines whose reference is of this length: length=short|medium|long "
                      "(the first --ref's words: <15, 15-39, 40+)")
    score.add_argument("--sentence-level", "-sl", action="store_true",
                       help="one score per segment and metric, as sacrebleu --sentence-level (BLEU with effective "
                            "order): text is a tab-separated table 'line<TAB>BLEU<TAB>chrF…' (line: the line "
                            "number in the files) after the signatures; --format json gives JSON Lines")
    score.add_argument("--confidence", "-ci", action="store_true",
                       help=f"add a {CONFIDENCE * 100:.0f}%% bootstrap confidence interval to each corpus "
                            "score, as sacrebleu --confidence does, printed as [low, high]: the 2.5th and 97.5th "
                            "percentiles of the resampled scores, as 'run' reports them (sacrebleu prints "
                            "μ ± half that width); the signature gains bs:N|seed:S")
    score.add_argument("--confidence-n", "-cin", type=int, metavar="N",
                       help=f"bootstrap resamples for --confidence (default {DEFAULT_RESAMPLES}, 100 to 100000; "
                            "sacrebleu --confidence-n)")
    score.add_argument("--seed", type=int, metavar="N",
                       help=f"resampling seed for --confidence (default {DEFAULT_SEED}, sacrebleu's SACREBLEU_SEED "
                            "default)")
    comet = score.add_argument_group(
        "COMET", "with --metrics comet (its own environment: 'evalharness metrics setup comet'); segment scores "
                 "are cached in the translation cache")
    comet.add_argument("--src", type=Path, metavar="FILE",
                       help="source file, line-aligned with --ref: COMET reads the source of every segment")
    comet.add_argument("--comet-model", metavar="ID_OR_DIR",
                       help="hub id or local COMET model folder (default: Unbabel/wmt22-comet-da)")
    comet.add_argument("--comet-batch-size", type=int, metavar="N", help="segments per batch (default 8)")
    comet.add_argument("--comet-device", metavar="DEVICE", help="cpu (default), cuda or cuda:N")
    comet.add_argument("--comet-precision", choices=["fp32", "fp16", "bf16"], help="default fp32")
    score.set_defaults(func=_score_command)

    metrics = sub.add_parser("metrics", help="set up metrics that need more than evalharness's own environment")
    msub = metrics.add_subparsers(dest="metrics_command", metavar="ACTION", required=True)
    setup = msub.add_parser(
        "setup", help="create the environment a metric runs in (comet: a virtualenv with unbabel-comet)",
        description="COMET (unbabel-comet 2.2.7) needs transformers<5 and numpy<2, so it cannot share evalharness's "
                    "environment: this creates a virtualenv of its own, installs torch, then unbabel-comet with "
                    "pinned versions, and checks it. Runs and 'score' find it there (or wherever "
                    "$EVALHARNESS_COMET_PYTHON or the config's comet.python points).")
    setup.add_argument("metric", choices=["comet"], help="the metric to set up")
    setup.add_argument("--venv", type=Path, metavar="DIR",
                       help="where to create it (default: <user cache dir>/comet-env, e.g. ~/.cache/evalharness/"
                            "comet-env); point $EVALHARNESS_COMET_PYTHON at DIR to use another place")
    setup.add_argument("--python", metavar="PY", help="the Python that makes the virtualenv (default: this one; "
                                                      "3.10-3.12: numpy<2 has no wheels for 3.13)")
    setup.add_argument("--torch", default="torch==2.13.0", metavar="SPEC",
                       help="torch to install (default %(default)s)")
    setup.add_argument("--torch-index", metavar="URL",
                       help="where pip takes torch from, e.g. https://download.pytorch.org/whl/cpu for CPU torch "
                            "(~200 MB instead of ~3 GB of CUDA wheels); default: pip's own index")
    setup.set_defaults(func=_metrics_setup_command)

    compare = sub.add_parser(
        "compare", help="paired comparison of two runs: deltas, confidence intervals, p-values, verdicts",
        description="Compare run B with run A on the same segments, per system × direction × metric "
                    "(systems matched by name). The verdict honours each metric's direction (TER: lower is better).")
    compare.add_argument("run_a", type=Path, help="run directory, results.json or baseline file (A, the reference)")
    compare.add_argument("run_b", type=Path, nargs="?",
                         help="run directory or results.json (B); not a baseline. Leave it out to compare two "
                              "systems of RUN_A (--system-a, --system-b)")
    compare.add_argument("--system-a", metavar="NAME", help="compare this system of A …")
    compare.add_argument("--system-b", metavar="NAME", help="… with this system of B (default: names must match)")
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
                    "each metric's default tolerance, 1.0 point, alpha 0.05, test maxt: one permutation test over "
                    "all rows of the check, family-wise).",
        epilog="Exit codes: 0 pass; 1 regression found; 2 usage or input error (including a baseline from another "
               "corpus version or with other metric signatures); 3 internal error (a worker died or broke its "
               "protocol), never read as a regression.")
    check.add_argument("--baseline", type=Path, required=True, help="baseline file (evalharness baseline update)")
    check.add_argument("run_dir", nargs="?", type=Path, help="run directory to check")
    check.add_argument("--config", "-c", type=Path, help=f"run this config first, then check its run ({CONFIG_HELP})")
    _add_run_options(check, dest="new_run_dir", what="where --config writes its run",
                     quiet="only the failures and the verdict line")
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
        if name == "clear":
            action.add_argument("--yes", "-y", action="store_true", help="do not ask first (asked only on a terminal)")
        action.set_defaults(func=_cache_command)

    baseline = sub.add_parser("baseline", help="write baseline files for 'check'")
    bsub = baseline.add_subparsers(dest="baseline_command", metavar="ACTION", required=True)
    update = bsub.add_parser("update", help="write (or replace) a baseline from a run directory, atomically")
    update.add_argument("run_dir", type=Path, help="run directory")
    update.add_argument("-o", "--output", type=Path, required=True,
                        help="baseline file to write (a symbolic link is written through)")
    update.set_defaults(func=_baseline_command)
    _register_commands(sub)
    return parser


def _register_commands(sub: Any) -> None:
    """Add the commands that live in their own module under ``evalharness.commands``."""
    import importlib

    from evalharness.commands import COMMANDS

    for name in COMMANDS:
        importlib.import_module(f"evalharness.commands.{name}").register(sub)


def _add_testsets_parser(sub: Any) -> None:
    """``testsets list | info NAME | get NAME``: the named standard test sets (FLORES-200, NTREX-128, TICO-19)."""
    testsets = sub.add_parser(
        "testsets", help="standard test sets by name (flores200-devtest, ntrex128, tico19-test): list, info, get",
        description="Named test sets, pinned to a commit and verified by sha256, fetched into the user cache on "
                    "first use and never again. Use one as 'corpus: NAME' in a config. Without a network, set "
                    "$EVALHARNESS_TESTSETS_MIRROR to a folder (or URL prefix) holding <set>/<file name>.")
    tsub = testsets.add_subparsers(dest="testsets_command", metavar="ACTION", required=True)
    tsub.add_parser("list", help="name, languages, lines, licence, and whether it is cached").set_defaults(
        func=_testsets_command)
    for action, text in (("info", "everything the registry records about a set (JSON), and where it is cached"),
                         ("get", "fetch a set and verify it against its pinned sha256 (nothing cached on a "
                                 "mismatch); a cached set is only verified")):
        parser = tsub.add_parser(action, help=text)
        parser.add_argument("name", help="test set name (see 'testsets list')")
        parser.set_defaults(func=_testsets_command)


def _testsets_command(args: argparse.Namespace) -> int:
    from evalharness.testsets import cached_paths, find, registered_sets, testsets_dir

    if args.testsets_command == "list":
        for name, entry in registered_sets().items():
            state = "cached" if cached_paths(entry) else "not cached"
            print(f"{name}\t{'-'.join(entry.languages.values())}\t{entry.lines} lines\t{entry.licence}"
                  f"\toriginal: {entry.original}\t{state}\t{entry.description}")
        print(f"cache: {testsets_dir()}")
        return EXIT_OK
    entry = find(args.name)
    if args.testsets_command == "info":
        cached = cached_paths(entry)
        print(json.dumps({**entry.as_json(), "cached": {k: str(v) for k, v in cached.items()} if cached else None},
                         ensure_ascii=False, indent=2))
        return EXIT_OK
    from evalharness.corpus import load_testset

    corpus = load_testset(entry.name, notify=lambda message: print(message, file=sys.stderr))  # fetch, verify, read
    for lang, path in corpus.side_files.items():
        print(f"{lang}\t{path}\tsha256:{entry.files[lang].sha256}")
    print(f"{entry.name}: verified, {len(corpus.pairs)} lines per language")
    return EXIT_OK


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
    from evalharness.runs.config import MAX_SAMPLES, MAX_SEED, default_samples, smallest_p

    if not 0 < args.alpha < 1:  # NaN fails this too
        raise InputError(f"--alpha {args.alpha}: the significance level must be between 0 and 1, e.g. 0.05")
    if args.samples is not None and not 100 <= args.samples <= MAX_SAMPLES:
        raise InputError(f"--samples {args.samples}: give between 100 and {MAX_SAMPLES}")
    floor = smallest_p(args.test, args.samples)
    if args.alpha <= floor:
        raise InputError(f"--alpha {args.alpha} is at or below the smallest p-value {floor:.2g} that "
                         f"{args.samples or default_samples(args.test)} samples give: nothing could be significant; "
                         "raise --samples or --alpha")
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
    args, extra = parser.parse_known_args(argv)
    if extra:  # argparse would point at the top-level help; the command's own help is the one that helps
        where = f"evalharness {args.command}" if args.command else "evalharness"
        print(f"evalharness: error: unrecognized arguments: {_one_line(' '.join(extra))} (see '{where} --help')",
              file=sys.stderr)
        return EXIT_INPUT
    if args.command is None:
        print("evalharness: error: name a command (see 'evalharness --help')", file=sys.stderr)
        return EXIT_INPUT
    warnings.showwarning = _show_warning
    previous = _install_sigterm()
    try:
        return int(args.func(args))
    except InternalError as err:
        print(f"evalharness: error: {_one_line(str(err))}", file=sys.stderr)
        return EXIT_INTERNAL
    except EvalHarnessError as err:
        print(f"evalharness: error: {_one_line(str(err))}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:  # `evalharness compare A B | head`: the reader has had enough; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit-time flush stays quiet
        return EXIT_OK
    except OSError as err:  # an output path that cannot be written (read errors are typed errors already)
        where = f"{err.filename}: " if err.filename else ""
        print(f"evalharness: error: {_one_line(f'{where}{err.strerror or err}')}; check the path and its "
              "permissions", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("evalharness: interrupted", file=sys.stderr)
        return 130
    except _Terminated:
        print("evalharness: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except Exception as err:  # a bug: still one line and exit 3, so CI never reads a crash as a regression (1)
        if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            import traceback

            traceback.print_exc()
        print(f"evalharness: internal error: {_one_line(f'{type(err).__name__}: {err}')}; this is a bug in "
              f"evalharness: rerun with {DEBUG_ENV}=1 for the traceback and report it", file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        if previous is not None:
            import signal

            signal.signal(signal.SIGTERM, previous)


def _run_files(run: Path) -> list[Path]:
    """The files that make up a run directory (or a baseline file): what an output must not replace."""
    from evalharness.runs.schema import RESULTS_FILE, SEGMENTS_FILE, SUMMARY_FILE

    folder = run.parent if run.name == RESULTS_FILE else run
    return [folder / name for name in (RESULTS_FILE, SEGMENTS_FILE, SUMMARY_FILE)] if folder.is_dir() else [run]


def _report_command(args: argparse.Namespace) -> int:
    from evalharness.render.html import write_report
    from evalharness.textio import check_outputs

    check_outputs({"the report": args.output}, [f for run in args.run_dirs for f in _run_files(run)],
                  kinds={"the report": b"<!doctype html"})
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
    if args.id is not None and not args.id.strip():
        from evalharness.errors import InputError

        raise InputError("--id '': give a pair id, e.g. p07 (see 'corpus show NAME' for the ids)")
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
    from evalharness.errors import InputError
    from evalharness.textio import check_outputs, write_outputs

    corpus = _open_corpus(args)
    if args.lang not in corpus.languages:
        raise InputError(f"--lang {args.lang}: corpus {corpus.name!r} is in {' and '.join(corpus.languages)}")
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


def _load(args: argparse.Namespace, extra: Sequence[str] = ()) -> tuple[Path, RunConfig]:
    """``--config`` read with its shortcuts and overrides (shared by run, check and demo)."""
    from evalharness.paths import resolve_config_path
    from evalharness.runs.config import load_config

    config_path = resolve_config_path(args.config)  # the file a shipped name stands for, in the manifest too
    sugar = _shortcut_overrides(config_path, args)
    config = load_config(config_path, [*sugar, *args.overrides, *(["cache.enabled=false"] if args.no_cache else []),
                                       *extra])
    return config_path, config


def _run(args: argparse.Namespace, config_path: Path, config: RunConfig, run_dir: Path | None,
         protect: Sequence[Path] = ()) -> RunOutput:
    """Run a loaded config and write its run directory; ``protect``: more files it must never replace."""
    from evalharness.render.summary import render_summary
    from evalharness.runs.pipeline import run

    return run(config, summarize=render_summary, config_path=config_path, run_dir=run_dir, overwrite=args.overwrite,
               progress=_progress(args.quiet), notify=_notify(args.quiet), protect=protect)


def _shortcut_overrides(config_path: Path, args: argparse.Namespace) -> list[str]:
    """--model/--device/--batch-size/--limit as the --set items they stand for (applied before explicit --set)."""
    from evalharness.errors import InputError
    from evalharness.runs.config import read_yaml_mapping

    out = [f"limit={args.limit}"] if args.limit is not None else []
    if args.executor == "local" and args.ray_address is not None:
        raise InputError("--ray-address goes with --executor ray, not --executor local")
    if args.executor == "local":  # the whole mapping: a config's Ray keys mean nothing to the local executor
        out.append("executor={kind: local}")
    elif args.executor == "ray" or args.ray_address is not None:
        out.append("executor.kind=ray")
    if args.ray_address is not None:
        out.append(f"executor.address={json.dumps(args.ray_address)}")
    wanted = {"model": args.model, "generation.device": args.device, "generation.batch_size": args.batch_size}
    if all(v is None for v in wanted.values()):
        return out
    systems = read_yaml_mapping(config_path).get("systems")
    models = [i for i, s in enumerate(systems if isinstance(systems, list) else [])
              if isinstance(s, dict) and s.get("backend", "transformers") in ("transformers", "ct2")]
    if not models:
        raise InputError(f"{config_path}: --model/--device/--batch-size set model systems, and this config has none")
    for key, value in wanted.items():
        if value is not None:
            out += [f"systems.{i}.{key}={value}" for i in models]
    return out


def _run_command(args: argparse.Namespace) -> int:
    from evalharness.render.terminal import print_results

    config_path, config = _load(args, [f"where={json.dumps(args.where)}"] if args.where else [])
    if config.corpora is not None:
        return _run_set_command(args, config_path, config)
    output = _run(args, config_path, config, args.run_dir)
    if args.html:
        from evalharness.render.html import write_report

        write_report([output.run_dir], output.run_dir / "report.html")
    if args.format == "json":
        print(json.dumps({"run_dir": str(output.run_dir), **output.results.model_dump(mode="json")},
                         ensure_ascii=False, indent=2))
        return EXIT_OK
    if args.quiet:
        print(output.run_dir)  # for CI logs and scripts: the run directory alone
        return EXIT_OK
    print_results(output.results)
    report = f" and the report {output.run_dir / 'report.html'} (open it in a browser)" if args.html else ""
    print(f"wrote {output.run_dir}{report}")
    return EXIT_OK


def _demo_command(args: argparse.Namespace) -> int:
    from evalharness.paths import resolve_config_path
    from evalharness.render.html import write_report
    from evalharness.render.summary import render_summary
    from evalharness.render.terminal import print_results
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
                 overwrite=True, progress=_progress(args.quiet), notify=_notify(args.quiet), protect=[model])
    report = output.run_dir / "report.html"
    write_report([output.run_dir], report)
    if args.quiet:
        print(report)
        return EXIT_OK
    print_results(output.results)
    print(f"wrote {output.run_dir} and the report {report} (open it in a browser)")
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
    from evalharness.errors import InputError, UnknownNameError
    from evalharness.scoring.metrics import METRICS

    names = [m.strip() for m in text.split(",") if m.strip()]
    if not names:
        raise InputError(f"{option} {text!r}: name at least one metric ({', '.join(METRICS.names())})")
    try:
        names = [METRICS.require(name) for name in names]
    except UnknownNameError as err:
        stray = next((n for n in names if n not in METRICS and Path(n).is_file()), None)
        hint = (f"; {stray} is a file: name reference files first, as in 'score REF -i HYP -m bleu chrf'"
                if stray else "")
        raise InputError(f"{option}: {err}{hint}") from None
    if len(set(names)) != len(names):
        raise InputError(f"{option} {text!r}: each metric once")
    return names


def _hyp_source(text: str) -> Path | str:
    """``--hyp`` value: ``-`` is standard input (a file named ``-`` is ``./-``), anything else a path."""
    return text if text == "-" else Path(text)


def _score_bootstrap(args: argparse.Namespace) -> Any:
    """``--confidence`` settings as a :class:`Bootstrap`, bounded like a config's ``statistics``; None without it."""
    from evalharness.errors import InputError
    from evalharness.scoring.plain import Bootstrap

    if not args.confidence:
        for option, value in (("--confidence-n", args.confidence_n), ("--seed", args.seed)):
            if value is not None:
                raise InputError(f"{option} goes with --confidence (the bootstrap interval it sets up)")
        return None
    if args.sentence_level:
        raise InputError("--confidence is an interval of a corpus score; --sentence-level prints segment scores: "
                         "give one of the two (sacrebleu refuses the pair too)")
    from evalharness.runs.config import MAX_SAMPLES, MAX_SEED

    resamples = DEFAULT_RESAMPLES if args.confidence_n is None else args.confidence_n
    seed = DEFAULT_SEED if args.seed is None else args.seed
    if not 100 <= resamples <= MAX_SAMPLES:
        raise InputError(f"--confidence-n {resamples}: give between 100 and {MAX_SAMPLES}")
    if not 0 <= seed <= MAX_SEED:
        raise InputError(f"--seed {seed}: give a seed between 0 and {MAX_SEED}")
    return Bootstrap(resamples=resamples, seed=seed)


def _comet_options(args: argparse.Namespace, metrics: list[str]) -> dict[str, dict[str, Any]]:
    """``score``'s --comet-* options as the metric's settings, with the translation cache for its scores."""
    from evalharness.errors import InputError

    given = {"model": args.comet_model, "batch_size": args.comet_batch_size, "device": args.comet_device,
             "precision": args.comet_precision}
    if "comet" not in metrics:
        extra = [f"--comet-{k.replace('_', '-')}" for k, v in given.items() if v is not None]
        if extra:
            raise InputError(f"{extra[0]} goes with --metrics comet")
        return {}
    from evalharness.store import default_cache_path

    return {"comet": {**{k: v for k, v in given.items() if v is not None}, "cache": str(default_cache_path())}}


def _metrics_setup_command(args: argparse.Namespace) -> int:
    from evalharness.scoring.comet.env import setup

    result = setup(args.venv, python=args.python, torch=args.torch, torch_index=args.torch_index,
                   notify=lambda msg: print(f"evalharness: {msg}", file=sys.stderr))
    info = result.info
    print(f"COMET environment ready in {result.seconds['total']:.1f} s: {result.venv} (unbabel-comet {info.comet}, "
          f"torch {info.torch}, transformers {info.transformers}, numpy {info.numpy})")
    print(f"its Python: {info.python}")
    return EXIT_OK


def _score_references(args: argparse.Namespace, metrics: list[str]) -> tuple[list[Path] | None, Path | None]:
    """``score``'s reference files (positional REF and --ref, or -t NAME -l SRC-TGT) and its source file (--src, or
    the test set's source side for COMET); with --echo, print that side and return no references."""
    from evalharness.errors import InputError

    refs: list[Path] = [*args.refs, *args.ref]
    if args.test_set is None:
        for flag, value in (("-l/--language-pair", args.language_pair), ("--echo", args.echo)):
            if value is not None:
                raise InputError(f"{flag} goes with -t NAME (a named test set, see 'evalharness testsets list')")
        if not refs:
            raise InputError("name the reference file(s): score REF -i HYP (or --ref REF), or a named test set: "
                             "score -t NAME -l SRC-TGT -i HYP")
        return refs, args.src
    if refs:
        raise InputError(f"-t {args.test_set} brings its own references: leave out the reference file "
                         f"{refs[0]}, or leave out -t")
    if args.language_pair is None:
        raise InputError(f"-t {args.test_set} needs the direction: add -l SRC-TGT, e.g. -l ms-en")
    from evalharness.scoring.plain import testset_files

    source, reference = testset_files(args.test_set, args.language_pair,
                                      notify=lambda message: print(message, file=sys.stderr))
    if args.echo is not None:
        from evalharness.textio import iter_lines

        for line in iter_lines(source if args.echo == "src" else reference, f"test set {args.test_set}"):
            print(line)
        return None, None
    return [reference], args.src if args.src is not None or "comet" not in metrics else source


def _score_command(args: argparse.Namespace) -> int:
    from evalharness.scoring.metrics import metric_label
    from evalharness.scoring.plain import STDIN, score_files, sentence_scores

    metrics = _metric_names(",".join(args.metrics or DEFAULT_METRICS), "--metrics")
    bootstrap = _score_bootstrap(args)
    references, sources = _score_references(args, metrics)
    if references is None:  # --echo: the test set's side is printed
        return EXIT_OK
    hypotheses = args.hyp or [STDIN]  # no --hyp: standard input, as 'sacrebleu REF < HYP'
    refs = references[0] if len(references) == 1 else references
    comet: dict[str, Any] = {"sources": sources, "metric_options": _comet_options(args, metrics)}
    case: dict[str, Any] = {"tokenize": args.tokenize, "lowercase": args.lowercase,
                            "chrf_lowercase": args.chrf_lowercase}
    if args.sentence_level:
        report = sentence_scores(refs, hypotheses, metrics, where=args.where, **case, **comet)
        for system in report["systems"]:
            if args.format == "json":  # JSON Lines: one object per segment
                for i, line in enumerate(system["lines"]):
                    print(json.dumps({"hypotheses": system["hypotheses"], "line": line,
                                      "scores": {m: s[i] for m, s in system["scores"].items()},
                                      "signatures": system["signatures"]}, ensure_ascii=False))
                continue
            print(f"{system['hypotheses']} ({report['segments']} segments, one score each)")
            for name, signature in system["signatures"].items():
                print(f"  {metric_label(name):7} {signature}")
            print("\t".join(["line", *(metric_label(m) for m in system["scores"])]))
            for i, line in enumerate(system["lines"]):
                print("\t".join([str(line), *(f"{s[i]:.2f}" for s in system["scores"].values())]))
        return EXIT_OK
    report = score_files(refs, hypotheses, metrics, where=args.where, bootstrap=bootstrap, **case, **comet)
    if args.format == "json":
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return EXIT_OK
    for system in report["systems"]:
        print(f"{system['hypotheses']} ({report['segments']} segments)")
        for name, score in system["scores"].items():
            low, high = score.get("ci", (None, None))
            ci = "" if low is None else "  " + f"[{low:.2f}, {high:.2f}]".ljust(16)
            print(f"  {metric_label(name):7} {score['score']:6.2f}{ci}  {score['signature']}")
            if "breakdown" in score:  # as sacrebleu prints it after BLEU's score
                print(f"  {'':7} {score['breakdown']['verbose_score']}")
    return EXIT_OK


def _compare_command(args: argparse.Namespace) -> int:
    from evalharness.errors import InputError
    from evalharness.gate.compare import compare_runs
    from evalharness.render.comparison import mdd_note, render_table
    from evalharness.runs.files import read, read_run

    _check_test_options(args)
    metrics = _metric_names(args.metrics, "--metrics") if args.metrics is not None else None
    if (args.system_a is None) != (args.system_b is None):
        raise InputError("give both --system-a NAME and --system-b NAME, or neither")
    if args.run_b is None and args.system_a is None:
        raise InputError("compare needs RUN_B, or --system-a and --system-b to compare two systems of RUN_A")
    b_path = args.run_b if args.run_b is not None else args.run_a
    a, b = read(args.run_a), read_run(b_path, role="B (the second argument of compare)")
    systems = (args.system_a, args.system_b) if args.system_a is not None else None
    rows = compare_runs(a, b, metrics=metrics, test=args.test, samples=args.samples, seed=args.seed,
                        alpha=args.alpha, where=args.where, systems=systems)
    if args.format == "json":
        print(json.dumps({"a": str(args.run_a), "b": str(b_path), "test": args.test, "seed": args.seed,
                          "alpha": args.alpha, "comparisons": [r.to_json() for r in rows]}, indent=2))
    else:
        print(render_table(rows, markdown=args.format == "md"))
        print()
        print(mdd_note(rows, args.alpha))
    return EXIT_OK


def _check_command(args: argparse.Namespace) -> int:
    from evalharness.errors import InputError
    from evalharness.gate.check import check, gate_settings, precheck, resolve_gate
    from evalharness.render.comparison import render_quiet, render_text, report_json, write_reports
    from evalharness.runs.files import read, read_run
    from evalharness.textio import check_outputs

    if (args.run_dir is None) == (args.config is None):
        raise InputError("check needs either a RUN_DIR or --config CONFIG (not both)")
    for option in ("new_run_dir", "overwrite", "no_cache", "model", "device", "batch_size", "limit", "overrides",
                   "executor", "ray_address"):
        if args.config is None and getattr(args, option) not in (None, False, []):
            flag = {"new_run_dir": "run-dir", "overrides": "set"}.get(option, option.replace("_", "-"))
            raise InputError(f"--{flag} goes with --config (check runs a config first), not with a RUN_DIR")
    if _is_set_check(args):
        return _check_set_command(args)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    outputs = {"--junit": args.junit, "--summary-md": args.summary_md,
               "$GITHUB_STEP_SUMMARY": Path(step_summary) if step_summary else None}
    inputs = [args.baseline, *(_run_files(args.run_dir) if args.run_dir else [])]
    loaded = None
    if args.config is not None:  # everything the run will read, and the folder it will write, are inputs too
        from evalharness.runs.pipeline import open_corpus, run_inputs

        loaded = _load(args)
        corpus = open_corpus(loaded[1])
        inputs += [*run_inputs(loaded[1], loaded[0], corpus), *([args.new_run_dir] if args.new_run_dir else [])]
    check_outputs(outputs, inputs, kinds={"--junit": b"evalharness.check", "--summary-md": b"## evalharness check"})
    if step_summary and not Path(step_summary).parent.is_dir():
        raise InputError(f"$GITHUB_STEP_SUMMARY {step_summary}: its folder does not exist")
    baseline = read(args.baseline)  # read it first: a bad baseline should not cost a translation run
    if baseline.gate is not None:
        gate_settings(str(args.baseline), baseline.gate)  # a hand-edited NaN tolerance fails now, not after the run
    if loaded is not None:
        precheck(baseline, loaded[1], corpus, loaded[0])  # a baseline this run cannot match fails before it runs
        output = _run(args, *loaded, args.new_run_dir, protect=[args.baseline])
        run = read_run(output.run_dir, role="the checked run")
    else:
        run = read_run(args.run_dir, role="the checked run")
    report = check(baseline, run, resolve_gate(run, baseline))
    write_reports(report, junit=args.junit, summary_md=args.summary_md)
    if args.format == "json":
        print(json.dumps(report_json(report), ensure_ascii=False, indent=2))
    else:
        print(render_quiet(report) if args.quiet else render_text(report), end="")
    return EXIT_OK if report.passed else EXIT_PROBLEMS


def _baseline_command(args: argparse.Namespace) -> int:
    from evalharness.runs.files import read_run, write_baseline
    from evalharness.runs.multi import is_run_set
    from evalharness.textio import check_outputs

    if is_run_set(args.run_dir):
        return _baseline_set_command(args)

    check_outputs({"the baseline": args.output}, _run_files(args.run_dir),
                  kinds={"the baseline": b'"kind": "evalharness-baseline"'})
    run = read_run(args.run_dir, role="baseline update's input")
    if run.gate is not None:  # the baseline carries the run's gate settings: they must be sound
        from evalharness.gate.check import gate_settings

        gate_settings(str(args.run_dir), run.gate)
    write_baseline(run, args.output)
    print(f"wrote baseline {args.output} from {args.run_dir}")
    return EXIT_OK


# --------------------------------------------------------------------------- several test sets in one run


def _set_files(run_dir: Path) -> list[Path]:
    """Every file of a run set (its index, summary and members): what an output must not replace."""
    return [p for p in run_dir.rglob("*") if p.is_file()]


def _run_set_command(args: argparse.Namespace, config_path: Path, config: RunConfig) -> int:
    """``run`` of a config with ``corpora``: one run directory per test set, in one run set."""
    from evalharness.render.summary import render_summary
    from evalharness.render.terminal import print_results
    from evalharness.runs.multi import run_set

    output = run_set(config, summarize=render_summary, config_path=config_path, run_dir=args.run_dir,
                     overwrite=args.overwrite, progress=_progress(args.quiet), notify=_notify(args.quiet))
    if args.html:
        from evalharness.render.html import write_report

        for _, member in output.members:
            write_report([member.run_dir], member.run_dir / "report.html")
    if args.format == "json":
        print(json.dumps({"run_dir": str(output.run_dir), "test_sets": {
            name: {"run_dir": str(m.run_dir), **m.results.model_dump(mode="json")} for name, m in output.members}},
            ensure_ascii=False, indent=2))
        return EXIT_OK
    if args.quiet:
        print(output.run_dir)
        return EXIT_OK
    for name, member in output.members:
        print(f"== test set {name} ({member.run_dir}) ==")
        print_results(member.results)
    print(f"wrote {output.run_dir}" + (" and report.html in each test set's folder" if args.html else ""))
    return EXIT_OK


def _is_set_check(args: argparse.Namespace) -> bool:
    """True when ``check`` is given a baseline, run or config of several test sets."""
    from evalharness.runs.multi import is_baseline_set, is_run_set

    if is_baseline_set(args.baseline) or (args.run_dir is not None and is_run_set(args.run_dir)):
        return True
    return args.config is not None and _load(args)[1].corpora is not None


def _check_set_command(args: argparse.Namespace) -> int:
    """``check`` of a run over several test sets: each against its own baseline; the failures name the set."""
    from evalharness.errors import InputError
    from evalharness.gate.check import gate_settings
    from evalharness.gate.sets import check_set, precheck_set
    from evalharness.render.sets import render_set_quiet, render_set_text, set_report_json, write_set_reports
    from evalharness.runs.multi import is_baseline_set, is_run_set, load_baseline_set, members, read_run_set
    from evalharness.runs.pipeline import run_inputs
    from evalharness.textio import check_outputs

    if not is_baseline_set(args.baseline):
        raise InputError(f"{args.baseline}: not a baseline of several test sets, and the run covers several: write "
                         "one from a run set with 'evalharness baseline update RUN_SET -o FILE'")
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    outputs = {"--junit": args.junit, "--summary-md": args.summary_md,
               "$GITHUB_STEP_SUMMARY": Path(step_summary) if step_summary else None}
    inputs = [args.baseline, *(_set_files(args.run_dir) if args.run_dir else [])]
    loaded, parts = None, None
    if args.config is not None:
        loaded = _load(args)
        if loaded[1].corpora is None:
            raise InputError(f"{args.baseline} gates several test sets, and {loaded[0]} runs one corpus: give the "
                             "config its 'corpora' list, or check against a baseline of one corpus")
        parts = members(loaded[1])
        inputs += [p for m in parts for p in run_inputs(m.config, loaded[0], m.corpus)]
        inputs += [args.new_run_dir] if args.new_run_dir else []
    check_outputs(outputs, inputs, kinds={"--junit": b"evalharness.check", "--summary-md": b"## evalharness check"})
    if step_summary and not Path(step_summary).parent.is_dir():
        raise InputError(f"$GITHUB_STEP_SUMMARY {step_summary}: its folder does not exist")
    baselines = load_baseline_set(args.baseline)
    for name, baseline in baselines:
        if baseline.gate is not None:
            gate_settings(f"{args.baseline}[{name}]", baseline.gate)
    if loaded is not None and parts is not None:
        precheck_set(baselines, parts, loaded[0])
        from evalharness.render.summary import render_summary
        from evalharness.runs.multi import run_set

        run_path = run_set(loaded[1], summarize=render_summary, config_path=loaded[0], run_dir=args.new_run_dir,
                           overwrite=args.overwrite, progress=_progress(args.quiet), notify=_notify(args.quiet),
                           protect=[args.baseline]).run_dir
    else:
        run_path = args.run_dir
        if not is_run_set(run_path):
            raise InputError(f"{run_path}: not a run over several test sets (no runset.json), and {args.baseline} "
                             "gates several")
    report = check_set(baselines, read_run_set(run_path), baseline_path=args.baseline, run_path=run_path)
    write_set_reports(report, junit=args.junit, summary_md=args.summary_md)
    if args.format == "json":
        print(json.dumps(set_report_json(report), ensure_ascii=False, indent=2))
    else:
        print(render_set_quiet(report) if args.quiet else render_set_text(report), end="")
    return EXIT_OK if report.passed else EXIT_PROBLEMS


def _baseline_set_command(args: argparse.Namespace) -> int:
    """``baseline update`` of a run set: one file holding every test set's baseline."""
    from evalharness.gate.check import gate_settings
    from evalharness.runs.multi import read_run_set, write_baseline_set
    from evalharness.textio import check_outputs

    check_outputs({"the baseline": args.output}, _set_files(args.run_dir),
                  kinds={"the baseline": b'"kind": "evalharness-baseline'})
    runs = read_run_set(args.run_dir)
    for name, run in runs:
        if run.gate is not None:
            gate_settings(f"{args.run_dir / name}", run.gate)
    write_baseline_set(runs, args.run_dir, args.output)
    print(f"wrote baseline {args.output} from {args.run_dir} ({len(runs)} test sets: {', '.join(n for n, _ in runs)})")
    return EXIT_OK


def _cache_command(args: argparse.Namespace) -> int:
    from evalharness.store.sqlite import TranslationCache, default_cache_path

    path = args.path or default_cache_path()
    if not path.exists() and args.path is None:  # the default location, never used yet: nothing to show or clear
        print(f"{path}: no cache yet (0 entries)")
        return EXIT_OK
    # Neither action creates a file or folder; info only reads; a file that is not our cache is refused.
    with TranslationCache(path, create=False, readonly=args.cache_command == "info") as cache:
        info = cache.info()  # a damaged file raises here; leaving the with-block still removes what we created
        if args.cache_command == "clear":
            if not args.yes and sys.stdin.isatty():
                answer = input(f"{path}: remove all {info['entries']} cached translations? [y/N] ")
                if answer.strip().lower() not in ("y", "yes"):
                    print("nothing removed")
                    return EXIT_OK
            print(f"{path}: removed {cache.clear()} entries")
            return EXIT_OK
    print(f"{info['path']}: {info['entries']} entries, {info['bytes'] / 1e6:.1f} MB")
    differing = _differing_settings([s["identity"] for s in info["systems"]])
    for system, settings in zip(info["systems"], differing, strict=True):
        revision = str(system["revision"] or "")
        revision = revision if len(revision) <= 19 else revision[:19] + "…"
        print(f"  {system['entries']:7d}  {system['backend']}  {system['model']}  {revision}  {settings}".rstrip())
    return EXIT_OK


def _differing_settings(identities: list[dict[str, Any]]) -> list[str]:
    """Per cached system, the settings that tell it apart from the others (beams, max tokens, prefix …)."""
    def flat(node: Any, prefix: str = "") -> dict[str, str]:
        if isinstance(node, dict):
            return {k: v for key, value in node.items() for k, v in flat(value, f"{prefix}{key}.").items()}
        return {prefix.rstrip("."): json.dumps(node, ensure_ascii=False)}

    flats = [flat({k: v for k, v in ident.items() if k not in ("backend", "model", "resolved_revision")})
             for ident in identities]
    keys = sorted({k for f in flats for k in f})
    varying = [k for k in keys if len({f.get(k) for f in flats}) > 1]
    return [" ".join(f"{k.removeprefix('generation.')}={f.get(k, '-')}" for k in varying) for f in flats]

"""``score``: line-aligned plain-text hypothesis files against references, no model (sacrebleu's forms)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from evalharness.commands.options import EXIT_OK, add_where, metric_names
from evalharness.scoring.defaults import DEFAULT_METRICS, DEFAULT_RESAMPLES, DEFAULT_SEED, DEFAULT_TOKENIZE, TOKENIZERS


def register(sub: Any) -> None:
    """Add the command's parser to the CLI's sub-parsers."""
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
    add_where(score, "only lines whose reference is of this length: length=short|medium|long "
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
    score.set_defaults(func=score_command)


def _hyp_source(text: str) -> Path | str:
    """``--hyp`` value: ``-`` is standard input (a file named ``-`` is ``./-``), anything else a path."""
    return text if text == "-" else Path(text)


def _score_bootstrap(args: argparse.Namespace) -> Any:
    """``--confidence`` settings as a :class:`Bootstrap`, bounded like a config's ``statistics``; None without it."""
    from evalharness.errors import InputError
    from evalharness.scoring.significance import Bootstrap

    if not args.confidence:
        for option, value in (("--confidence-n", args.confidence_n), ("--seed", args.seed)):
            if value is not None:
                raise InputError(f"{option} goes with --confidence (the bootstrap interval it sets up)")
        return None
    if args.sentence_level:
        raise InputError("--confidence is an interval of a corpus score; --sentence-level prints segment scores: "
                         "give one of the two (sacrebleu refuses the pair too)")
    from evalharness.scoring.defaults import MAX_SAMPLES, MAX_SEED

    resamples = DEFAULT_RESAMPLES if args.confidence_n is None else args.confidence_n
    seed = DEFAULT_SEED if args.seed is None else args.seed
    if not 100 <= resamples <= MAX_SAMPLES:
        raise InputError(f"--confidence-n {resamples}: give between 100 and {MAX_SAMPLES}")
    if not 0 <= seed <= MAX_SEED:
        raise InputError(f"--seed {seed}: give a seed between 0 and {MAX_SEED}")
    return Bootstrap(resamples=resamples, seed=seed)


def _comet_family(metrics: list[str]) -> list[str]:
    """The metrics among ``metrics`` scored by the COMET worker (comet, cometkiwi, xcomet): --comet-* set them."""
    from evalharness.scoring.comet.settings import CometSettings
    from evalharness.scoring.metrics import METRICS

    return [m for m in metrics if isinstance(settings := METRICS.get(m).Settings, type)
            and issubclass(settings, CometSettings)]


def _reference_free(metrics: list[str]) -> bool:
    """Whether none of ``metrics`` reads references (CometKiwi), so that --src and -i are all they need."""
    from evalharness.scoring.metrics import METRICS, REFERENCES

    return all(REFERENCES not in METRICS.get(m).reads for m in metrics)


def _comet_options(args: argparse.Namespace, metrics: list[str]) -> dict[str, dict[str, Any]]:
    """``score``'s --comet-* options as the settings of each COMET-family metric."""
    from evalharness.errors import InputError

    given = {"model": args.comet_model, "batch_size": args.comet_batch_size, "device": args.comet_device,
             "precision": args.comet_precision}
    family = _comet_family(metrics)
    if not family:
        extra = [f"--comet-{k.replace('_', '-')}" for k, v in given.items() if v is not None]
        if extra:
            raise InputError(f"{extra[0]} goes with --metrics comet (or cometkiwi, xcomet)")
        return {}
    return {name: {k: v for k, v in given.items() if v is not None} for name in family}


def _score_references(args: argparse.Namespace, metrics: list[str]) -> tuple[list[Path] | None, Path | None]:
    """``score``'s reference files (positional REF and --ref, or -t NAME -l SRC-TGT) and its source file (--src, or
    the test set's source side for COMET); with --echo, print that side and return no references."""
    from evalharness.errors import InputError

    refs: list[Path] = [*args.refs, *args.ref]
    if args.test_set is None:
        for flag, value in (("-l/--language-pair", args.language_pair), ("--echo", args.echo)):
            if value is not None:
                raise InputError(f"{flag} goes with -t NAME (a named test set, see 'evalharness testsets list')")
        if not refs and not (args.src is not None and _reference_free(metrics)):
            raise InputError("name the reference file(s): score REF -i HYP (or --ref REF), or a named test set: "
                             "score -t NAME -l SRC-TGT -i HYP (without references: --src SRC -i HYP --metrics "
                             "cometkiwi)")
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
    return [reference], args.src if args.src is not None or not _comet_family(metrics) else source


def score_command(args: argparse.Namespace) -> int:
    from evalharness.scoring.metrics import metric_label
    from evalharness.scoring.plain import STDIN, score_files, sentence_scores

    metrics = metric_names(",".join(args.metrics or DEFAULT_METRICS), "--metrics")
    bootstrap = _score_bootstrap(args)
    references, sources = _score_references(args, metrics)
    if references is None:  # --echo: the test set's side is printed
        return EXIT_OK
    hypotheses = args.hyp or [STDIN]  # no --hyp: standard input, as 'sacrebleu REF < HYP'
    refs = references[0] if len(references) == 1 else references  # none: reference-free metrics on --src
    from evalharness.store import StoreAt, default_cache_path

    comet: dict[str, Any] = {"sources": sources, "metric_options": _comet_options(args, metrics),
                             "store": StoreAt(default_cache_path()),  # COMET's segment scores, opened if needed
                             "warn": lambda message: print(message, file=sys.stderr)}
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

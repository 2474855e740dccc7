"""``corpus list | show | export | check``: the reference corpora."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalharness.commands.options import EXIT_OK, EXIT_PROBLEMS
from evalharness.languages import LANGUAGES

if TYPE_CHECKING:
    from evalharness.corpus import Corpus



def register(sub: Any) -> None:
    """Add the command's parser to the CLI's sub-parsers."""
    corpus = sub.add_parser("corpus", help="list, show, export and check reference corpora")
    csub = corpus.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)
    csub.add_parser("list", help="list the named corpora: $EVALHARNESS_CORPORA, ./corpora, then the shipped ones",
                    description="One line per named corpus: name, version, pairs, folder, description. Searched in "
                                "order (the first of a name wins): the folders in $EVALHARNESS_CORPORA, ./corpora "
                                "in the current directory, the corpora shipped with evalharness."
                    ).set_defaults(func=corpus_list)
    show = csub.add_parser("show", help="print a corpus's metadata, or one pair with --id")
    _add_corpus_source(show)
    show.add_argument("--id", help="pair id, e.g. p07")
    show.set_defaults(func=corpus_show)
    export = csub.add_parser("export", help="write one side as plain text, one segment a line")
    _add_corpus_source(export)
    export.add_argument("--lang", required=True, choices=list(LANGUAGES), help="the side to write: a language of "
                        "the corpus")
    export.add_argument("--level", default="paragraph", choices=["paragraph", "sentence"])
    export.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    export.set_defaults(func=corpus_export)
    check = csub.add_parser(
        "check", help="check a corpus for defects (exit 0 clean, 1 problems found, 2 unreadable)")
    _add_corpus_source(check)
    check.set_defaults(func=corpus_check)


def _add_corpus_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("corpus", nargs="?", help="corpus name (see 'corpus list'), corpus folder, or pairs.jsonl path")
    parser.add_argument("--ms", metavar="FILE", help="Malay side of a line-aligned plain-text test set")
    parser.add_argument("--en", metavar="FILE", help="English side of a line-aligned plain-text test set")


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


def corpus_list(args: argparse.Namespace) -> int:
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


def corpus_check(args: argparse.Namespace) -> int:
    from evalharness.corpus import check_corpus

    corpus = _open_corpus(args, strict=False)
    findings = check_corpus(corpus)
    for finding in findings:
        print(finding)
    errors = sum(f.severity == "error" for f in findings)
    print(f"{corpus.name}: {len(corpus.pairs)} pairs, {errors} problems, {len(findings) - errors} warnings")
    return EXIT_PROBLEMS if errors else EXIT_OK


def corpus_show(args: argparse.Namespace) -> int:
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


def corpus_export(args: argparse.Namespace) -> int:
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

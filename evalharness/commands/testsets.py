"""``testsets list | info NAME | get NAME``: the named standard test sets (FLORES-200, NTREX-128, TICO-19)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from evalharness.commands.options import EXIT_OK


def register(sub: Any) -> None:
    """Add the command's parser to the CLI's sub-parsers."""
    testsets = sub.add_parser(
        "testsets", help="standard test sets by name (flores200-devtest, ntrex128, tico19-test): list, info, get",
        description="Named test sets, pinned to a commit and verified by sha256, fetched into the user cache on "
                    "first use and never again. Use one as 'corpus: NAME' in a config. Without a network, set "
                    "$EVALHARNESS_TESTSETS_MIRROR to a folder (or URL prefix) holding <set>/<file name>.")
    tsub = testsets.add_subparsers(dest="testsets_command", metavar="ACTION", required=True)
    tsub.add_parser("list", help="name, languages, lines, licence, and whether it is cached").set_defaults(
        func=testsets_command)
    for action, text in (("info", "everything the registry records about a set (JSON), and where it is cached"),
                         ("get", "fetch a set and verify it against its pinned sha256 (nothing cached on a "
                                 "mismatch); a cached set is only verified")):
        parser = tsub.add_parser(action, help=text)
        parser.add_argument("name", help="test set name (see 'testsets list')")
        parser.set_defaults(func=testsets_command)


def testsets_command(args: argparse.Namespace) -> int:
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

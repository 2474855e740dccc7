"""``cache info | clear``: the translation cache."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from evalharness.commands.options import EXIT_OK


def register(sub: Any) -> None:
    """Add the command's parser to the CLI's sub-parsers."""
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
        action.set_defaults(func=cache_command)


def cache_command(args: argparse.Namespace) -> int:
    from evalharness.store.sqlite import TranslationStore, default_cache_path

    path = args.path or default_cache_path()
    if not path.exists() and args.path is None:  # the default location, never used yet: nothing to show or clear
        print(f"{path}: no cache yet (0 entries)")
        return EXIT_OK
    # Neither action creates a file or folder; info only reads; a file that is not our cache is refused.
    with TranslationStore(path, create=False, readonly=args.cache_command == "info") as cache:
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

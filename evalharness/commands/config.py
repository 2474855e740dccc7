"""``config list | show NAME``: the shipped configs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from evalharness.commands.options import EXIT_OK


def register(sub: Any) -> None:
    """Add the command's parser to the CLI's sub-parsers."""
    config = sub.add_parser("config", help="list or print the shipped configs (each usable as 'run -c NAME')")
    cfsub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    cfsub.add_parser("list", help="the shipped configs: name, file, first comment line").set_defaults(
        func=config_list)
    cshow = cfsub.add_parser("show", help="print a config's YAML, e.g. 'config show default > my.yaml' to start one")
    cshow.add_argument("name", type=Path, help="a shipped config's name (see 'config list') or a YAML file")
    cshow.set_defaults(func=config_show)


def config_list(args: argparse.Namespace) -> int:
    from evalharness.paths import bundled_configs
    from evalharness.textio import read_text

    for name, path in bundled_configs().items():
        comments = [line.lstrip("# ").strip() for line in read_text(path, "config").splitlines()
                    if line.startswith("#")]
        print(f"{name}\t{path}\t{comments[0].rstrip(':') if comments else ''}")
    return EXIT_OK


def config_show(args: argparse.Namespace) -> int:
    from evalharness.paths import resolve_config_path
    from evalharness.textio import read_text

    sys.stdout.write(read_text(resolve_config_path(args.name), "config file"))
    return EXIT_OK

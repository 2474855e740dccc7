"""What several commands share: exit codes, option groups, reading ``--config`` with its shortcuts, running it,
progress on stderr, and the files a run or run set is made of (what an output must not replace).

Import-light on purpose (the heavy modules are imported inside the functions), so that ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalharness.runs.config import RunConfig
    from evalharness.runs.pipeline import RunSetOutput

EXIT_OK, EXIT_PROBLEMS, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3

CONFIG_HELP = "YAML config file, or the name of a shipped config (see 'config list')"
QUIET_HELP = "no progress bars, tables or notes (for CI logs): {what}"
WHERE_HELP = ("only segments with these tags (repeatable, ANDed): kind=body|heading, fidelity=faithful|loose, "
              "length=short|medium|long (source words: <15, 15-39, 40+)")


def add_where(parser: argparse.ArgumentParser, text: str = WHERE_HELP) -> None:
    """``--where KEY=VALUE`` (run, compare, score)."""
    parser.add_argument("--where", action="append", default=[], metavar="KEY=VALUE", help=text)


def add_run_options(parser: argparse.ArgumentParser, *, dest: str, what: str, quiet: str) -> None:
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
    sugar.add_argument("--model", metavar="[SYSTEM=]ID_OR_DIR", action="append",
                       help="hub id or local directory: --set systems.N.model=…; with several model systems, "
                            "one --model SYSTEM=ID_OR_DIR per system")
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


def load_run_config(args: argparse.Namespace, extra: Sequence[str] = ()) -> tuple[Path, RunConfig]:
    """``--config`` read with its shortcuts and overrides (shared by run and check)."""
    from evalharness.paths import resolve_config_path
    from evalharness.runs.config import load_config

    config_path = resolve_config_path(args.config)  # the file a shipped name stands for, in the manifest too
    sugar = shortcut_overrides(config_path, args)
    config = load_config(config_path, [*sugar, *args.overrides, *(["cache.enabled=false"] if args.no_cache else []),
                                       *extra])
    return config_path, config


def shortcut_overrides(config_path: Path, args: argparse.Namespace) -> list[str]:
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
    wanted = {"generation.device": args.device, "generation.batch_size": args.batch_size}
    if all(v is None for v in wanted.values()) and not args.model:
        return out
    systems = read_yaml_mapping(config_path).get("systems")
    models = {i: str(s.get("name", "")) for i, s in enumerate(systems if isinstance(systems, list) else [])
              if isinstance(s, dict) and s.get("backend", "transformers") in ("transformers", "ct2")}
    if not models:
        raise InputError(f"{config_path}: --model/--device/--batch-size set model systems, and this config has none")
    out += model_overrides(config_path, models, args.model or [])
    for key, value in wanted.items():
        if value is not None:
            out += [f"systems.{i}.{key}={value}" for i in models]
    return out


def model_overrides(config_path: Path, models: dict[int, str], given: Sequence[str]) -> list[str]:
    """``--model`` as ``systems.N.model=…`` items: a bare ID_OR_DIR for a config of one model system, else one
    ``SYSTEM=ID_OR_DIR`` per system to change — one model for every system is wrong for a config with a model
    per direction (the default's opus-mt-mul-en and opus-mt-en-mul)."""
    from evalharness.errors import InputError

    by_name = {name: i for i, name in models.items()}
    out = []
    for value in given:
        name, sep, model = value.partition("=")
        if sep and name in by_name:
            out.append(f"systems.{by_name[name]}.model={model}")
        elif len(models) == 1:
            out.append(f"systems.{next(iter(models))}.model={value}")
        else:
            raise InputError(f"{config_path}: --model {value}: this config has {len(models)} model systems "
                             f"({', '.join(models.values())}); give --model SYSTEM=ID_OR_DIR for each, or "
                             "--set systems.N.model=ID_OR_DIR")
    return out


def run_config(args: argparse.Namespace, config_path: Path, config: RunConfig, run_dir: Path | None,
               protect: Sequence[Path] = ()) -> RunSetOutput:
    """Run a loaded config (one test set or several) and write its run; ``protect``: more files it must never
    replace."""
    from evalharness.render.summary import render_summary
    from evalharness.runs.pipeline import run

    return run(config, summarize=render_summary, config_path=config_path, run_dir=run_dir, overwrite=args.overwrite,
               progress=progress_bars(args.quiet), notify=notifier(args.quiet), protect=protect)


def notifier(quiet: bool) -> Any:
    """A one-line status printer for the runner (model loading), or None when quiet."""
    if quiet:
        return None
    from tqdm import tqdm

    return lambda message: tqdm.write(message, file=sys.stderr)  # above an active progress bar, not inside it


class LineProgress:
    """Progress for a log (standard error not a terminal): nothing while it runs, one line when it ends.

    tqdm redraws with carriage returns, which a CI log keeps as one long line mixed with the "loading …" lines.
    """

    def __init__(self, desc: str, total: int) -> None:
        self.desc, self.total, self.n, self.closed = desc, total, 0, False
        self.start = time.monotonic()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more done."""
        self.n += n

    def close(self) -> None:
        """The one line: what, how many of how many, how long."""
        if not self.closed:
            self.closed = True
            print(f"{self.desc}: {self.n}/{self.total} seg in {time.monotonic() - self.start:.1f} s", file=sys.stderr,
                  flush=True)


def progress_bars(quiet: bool) -> Any:
    """A progress factory for the runner: tqdm bars on a terminal, one line per finished bar in a log, None when
    quiet."""
    if quiet:
        return None
    if not sys.stderr.isatty():
        return LineProgress
    from tqdm import tqdm

    def progress(desc: str, total: int) -> tqdm:  # type: ignore[type-arg]
        return tqdm(total=total, desc=desc, unit="seg", file=sys.stderr, dynamic_ncols=True)

    return progress


def run_files(run: Path) -> list[Path]:
    """The files that make up a run directory (or a baseline file): what an output must not replace."""
    from evalharness.runs.schema import RESULTS_FILE, SEGMENTS_FILE, SUMMARY_FILE

    folder = run.parent if run.name == RESULTS_FILE else run
    return [folder / name for name in (RESULTS_FILE, SEGMENTS_FILE, SUMMARY_FILE)] if folder.is_dir() else [run]


def set_files(run_dir: Path) -> list[Path]:
    """Every file of a run set (its index, summary and members): what an output must not replace."""
    return [p for p in run_dir.rglob("*") if p.is_file()]


def metric_names(text: str, option: str) -> list[str]:
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

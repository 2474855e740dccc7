"""The run configuration: one validated object built from built-in defaults < YAML file < ``--set`` overrides.

Every error names the file and the dotted key (``configs/x.yaml: systems.0.generation.num_beams: ...``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    SerializeAsAny,
    SerializerFunctionWrapHandler,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from evalharness.errors import ConfigError, UnknownNameError
from evalharness.languages import DEFAULT_PAIR, LANGUAGES, directions_of
from evalharness.registry import did_you_mean
from evalharness.runs.executor import ExecutorSettings, LocalSettings
from evalharness.scoring.defaults import (
    DEFAULT_AR_TRIALS,
    DEFAULT_METRICS,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    DEFAULT_TOKENIZE,
    MAX_SAMPLES,
    MAX_SEED,
    TOKENIZERS,
)
from evalharness.scoring.flags import BREAKAGE_FLAGS, FLAG_NAMES, FlagSettings
from evalharness.scoring.metrics import METRICS, SOURCES, default_tolerance, default_tolerances
from evalharness.scoring.significance import Bootstrap
from evalharness.systems import parse_system
from evalharness.systems.settings import (
    Direction,
    FilesSettings,
    ModelSettings,
    Strict,
    SystemSettings,
    looks_like_path,
)


def _all_directions() -> list[Direction]:
    return directions_of(DEFAULT_PAIR)


def _known_metrics(names: list[str]) -> list[str]:
    """``names``, each a registered metric; the registry's own message (closest name, known ones) otherwise."""
    try:
        return [METRICS.require(name) for name in names]
    except UnknownNameError as err:
        raise ValueError(str(err)) from None  # pydantic reports a ValueError with the key it came from


MAX_TOLERANCE = 100.0
"""Score points: every metric's scale (BLEU, chrF, TER, COMET × 100) is about 0–100; a larger tolerance disables it."""


def _check_tolerances(tolerance: dict[str, float]) -> dict[str, float]:
    """Known metric names, finite values ≥ 0 (a NaN tolerance would switch the gate off)."""
    _known_metrics(list(tolerance))
    for name, value in tolerance.items():
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"tolerance of {name} must be a finite number >= 0, got {value}")
        if value > MAX_TOLERANCE:
            raise ValueError(f"tolerance of {name} is {value:g} points, beyond any score's range: it would switch "
                             f"the gate off for {name} (at most {MAX_TOLERANCE:g}; leave {name} out of metrics "
                             "instead)")
    return tolerance


class CacheConfig(Strict):
    """The translation cache: on by default, in the user cache directory unless ``path`` is given."""

    enabled: bool = True
    path: str | None = None


class Scoring(Strict):
    """sacrebleu's options that change the numbers, with its CLI's names and meanings; each metric takes those that
    apply to it (BLEU ``tokenize`` and ``lowercase``, as ``-tok`` and ``-lc``; chrF and chrF++ ``chrf_lowercase``, as
    ``--chrf-lowercase``; TER none). Recorded in every signature and in the manifest; runs scored with other
    settings are refused by ``compare`` and ``check``."""

    tokenize: str = DEFAULT_TOKENIZE
    lowercase: StrictBool = False
    chrf_lowercase: StrictBool = False

    @field_validator("tokenize")
    @classmethod
    def _known_tokenizer(cls, value: str) -> str:
        if value not in TOKENIZERS:
            raise ValueError(f"unknown BLEU tokenizer {value!r}; known: {', '.join(TOKENIZERS)}")
        return value


class GateRule(Strict):
    """Tolerance (score points, per metric) and significance level; any field may be left unset."""

    tolerance: dict[str, float] = Field(default_factory=dict)
    alpha: float | None = Field(default=None, gt=0.0, lt=1.0, allow_inf_nan=False)

    _tolerances = field_validator("tolerance")(_check_tolerances)




def default_samples(test: str) -> int:
    """Resamples (``bs``) or trials (``ar``, ``maxt``) when none are set."""
    return DEFAULT_RESAMPLES if test == "bs" else DEFAULT_AR_TRIALS


def smallest_p(test: str, samples: int | None) -> float:
    """The smallest p-value a paired test with this many samples reports: 1 / (samples + 1)."""
    return 1.0 / ((samples or default_samples(test)) + 1)


class SegmentRule(Strict):
    """When one segment fails the gate on its own: it newly earns a breakage flag, or its score collapses.

    A small reference set is a set of golden examples: one broken paragraph matters even when the corpus score
    hardly moves. The rule aims at breakage, not quality shifts: per-segment scores of two real systems of equal
    quality differ by tens of points, and each real system drops content or mixes languages on a few segments
    in a thousand that another gets right. Defaults measured on real systems' outputs by
    ``benchmarks/gate_calibration.py --systems`` (README, *Calibration*): the breakage flags
    (:data:`~evalharness.scoring.flags.BREAKAGE_FLAGS`) and a chrF fall of more than 50 points to below 35 (on
    references of 8 words or more) are what real systems of equal quality almost never differ in; a fall of 25 to
    below 35, the earlier default, tripped between them on 4–19 segments in 1,012. Above ``max_segments`` the whole
    rule is off: on a large set those few segments turn up in nearly every check.
    """

    enabled: bool = True
    metric: str = "chrf"
    drop: float = Field(default=50.0, gt=0, allow_inf_nan=False)  # points the segment score must fall by …
    below: float = Field(default=35.0, ge=0, allow_inf_nan=False)  # … to end below this
    min_words: StrictInt = Field(default=8, ge=0)  # shorter references move tens of points per word: exempt
    max_segments: StrictInt = Field(default=200, ge=0)  # larger sets: the rule is off (0: always on)
    flags: list[str] = Field(default_factory=lambda: list(BREAKAGE_FLAGS))
    allowed: StrictInt = Field(default=0, ge=0)  # failing segments a check tolerates
    # a breakage flag the baseline raises on more segments than this is the system's habit (Malay that reads as
    # Indonesian): its rate is tested, a row of the paired test, instead of each segment
    habit: StrictInt = Field(default=0, ge=0)
    # Malay vs Indonesian (close languages): one segment fails only on an output this long, identified this surely
    close_language_words: StrictInt = Field(default=30, ge=0)
    close_language_confidence: float = Field(default=0.9, gt=0.0, le=1.0, allow_inf_nan=False)

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, metric: str) -> str:
        name = _known_metrics([metric])[0]
        if SOURCES in METRICS.get(name).reads:
            raise ValueError(f"{name} reads the sources, which the segment rule does not keep: use a string "
                             "metric (chrf, chrf++, bleu, ter)")
        return name

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, flags: list[str]) -> list[str]:
        for flag in flags:
            if flag not in FLAG_NAMES:
                raise ValueError(f"unknown flag {flag!r}{did_you_mean(flag, FLAG_NAMES)} "
                                 f"(known: {', '.join(FLAG_NAMES)})")
        return flags


class Gate(Strict):
    """When a move of a score counts as a regression: larger than its tolerance *and* significant.

    ``tolerance`` is merged over the defaults (setting one metric leaves the others at theirs);
    ``per_direction`` overrides ``tolerance``/``alpha`` for one direction (e.g. ``en-ms``).
    """

    tolerance: dict[str, float] = Field(default_factory=default_tolerances)
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0, allow_inf_nan=False)
    # maxt: one permutation test over every row of a check (family-wise; see the README's calibration table);
    # bs / ar: each row tested alone, as compare does (more false alarms over a whole check).
    test: Literal["maxt", "bs", "ar"] = "maxt"
    samples: StrictInt | None = Field(default=None, ge=100, le=MAX_SAMPLES)
    seed: StrictInt = Field(default=DEFAULT_SEED, ge=0, le=MAX_SEED)
    per_direction: dict[Direction, GateRule] = Field(default_factory=dict)
    segments: SegmentRule = Field(default_factory=SegmentRule)

    @field_validator("tolerance")
    @classmethod
    def _merged(cls, tolerance: dict[str, float]) -> dict[str, float]:
        return {**default_tolerances(), **_check_tolerances(tolerance)}

    @model_validator(mode="after")
    def _alpha_reachable(self) -> Gate:
        floor = smallest_p(self.test, self.samples)
        for where, alpha in [("alpha", self.alpha), *((f"per_direction.{d}.alpha", r.alpha)
                                                       for d, r in self.per_direction.items())]:
            if alpha is not None and alpha <= floor:
                raise ValueError(f"{where} {alpha} is at or below the smallest p-value {floor:.2g} that "
                                 f"{self.samples or default_samples(self.test)} samples can give, so the gate "
                                 "could never fail: raise gate.samples or alpha")
        return self

    def rule(self, direction: str, metric: str) -> tuple[float, float]:
        """(tolerance, alpha) for ``metric`` in ``direction``."""
        tolerance = self.tolerance.get(metric, default_tolerance(metric))
        alpha = self.alpha
        override = self.per_direction.get(direction)  # type: ignore[call-overload]
        if override is not None:
            tolerance = override.tolerance.get(metric, tolerance)
            alpha = override.alpha if override.alpha is not None else alpha
        return tolerance, alpha


CORPUS_PLACEHOLDER = "{corpus}"
"""In a files system's hypotheses path of a run over several ``corpora``: the test set's name (its folder)."""


class CorpusFiles(Strict):
    """An external test set as two line-aligned plain-text files, keyed by language: ``{ms: FILE, en: FILE}``
    (``{id: FILE, en: FILE}`` for Indonesian; any two codes of evalharness/languages.py); ``{ms: FILE, en: null}``:
    sources only, for reference-free metrics."""

    model_config = ConfigDict(extra="allow", frozen=True)  # the keys are the languages: data, not fields

    @model_validator(mode="after")
    def _two_languages(self) -> CorpusFiles:
        files = self.model_extra or {}
        if len(files) != 2 or not all(k in LANGUAGES and (v is None or isinstance(v, str)) for k, v in files.items()) \
                or all(v is None for v in files.values()):
            raise ValueError(f"expected one file for each of two languages, e.g. {{ms: FILE, en: FILE}}, or null for "
                             f"the side a corpus of sources only lacks (languages: {', '.join(LANGUAGES)}); got keys "
                             f"{', '.join(map(str, files)) or 'none'}")
        return self

    @property
    def files(self) -> dict[str, str | None]:
        """The file of each language, in the order given (None: the side a corpus of sources only lacks)."""
        return {str(k): None if v is None else str(v) for k, v in (self.model_extra or {}).items()}


METRIC_SETTINGS_ERROR = "metric_settings"
"""The pydantic error type of a metric's own settings model refusing a setting (its message names the key)."""

LEGACY_SECTIONS = ("comet",)
"""Top-level config sections that held a metric's settings before ``metrics`` took entries; still read, and written
where run files have always had them."""


def split_metric_entries(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with ``metrics`` as names and ``metric_settings`` as each named metric's checked settings."""
    data = dict(data)
    if "metric_settings" in data:
        raise PydanticCustomError(METRIC_SETTINGS_ERROR, "{message}",
                                  {"key": "metric_settings", "message": "metric_settings: unknown key; give a "
                                   "metric's settings in its entry: metrics: [{name: comet, model: …}]"})
    settings: dict[str, tuple[str, Any]] = {}
    entries = data.get("metrics")
    if isinstance(entries, list):
        names: list[Any] = []
        for i, entry in enumerate(entries):
            if isinstance(entry, dict) and not isinstance(entry.get("name"), str):
                raise PydanticCustomError(METRIC_SETTINGS_ERROR, "{message}", {
                    "key": f"metrics.{i}", "message": f"metrics.{i}: an entry with settings names its metric: "
                                                      "{name: bleu, tokenize: intl}"})
            if isinstance(entry, dict):
                settings[entry["name"]] = (f"metrics.{i}", {k: v for k, v in entry.items() if k != "name"})
                entry = entry["name"]
            names.append(entry)
        data["metrics"] = names
    for section in LEGACY_SECTIONS:
        given = data.pop(section, None)
        if given is not None:
            if section in settings:
                raise PydanticCustomError(METRIC_SETTINGS_ERROR, "{message}", {
                    "key": section, "message": f"{section}: its settings are also in its metrics entry; "
                    "give them once"})
            settings[section] = (section, given)
    checked: dict[str, dict[str, Any]] = {}
    for name, (key, given) in settings.items():
        if name not in METRICS:
            continue  # the metrics field's own check names an unknown metric
        if not isinstance(given, dict):
            raise PydanticCustomError(METRIC_SETTINGS_ERROR, "{message}", {
                "key": key, "message": f"{key}: expected a mapping of {name}'s settings (got {type(given).__name__})"})
        cls = METRICS.get(name)
        try:
            checked[name] = cls.check_settings(given)
        except ConfigError as err:  # named by where the settings sit in this file (metrics.1.…, comet.…)
            message = str(err)
            if message.startswith(cls.settings_key()):
                message = key + message[len(cls.settings_key()):]
            raise PydanticCustomError(METRIC_SETTINGS_ERROR, "{message}", {"key": key, "message": message}) from None
    data["metric_settings"] = checked
    return data


class RunConfig(Strict):
    """The whole run: corpus, directions, systems, metrics, where to write."""

    corpus: CorpusFiles | str = "rt-2013-russia-japan-2plus2"
    # several corpora or test sets in one run, each scored, gated and reported on its own (runs/multi.py)
    corpora: list[CorpusFiles | str] | None = Field(default=None, min_length=1)
    level: Literal["paragraph", "sentence"] = "paragraph"
    directions: list[Direction] = Field(default_factory=lambda: _all_directions(), min_length=1)
    systems: list[SerializeAsAny[SystemSettings]] = Field(min_length=1)
    metrics: list[str] = Field(default_factory=lambda: list(DEFAULT_METRICS), min_length=1)
    scoring: Scoring = Field(default_factory=Scoring)
    output_dir: str = "runs"
    seed: StrictInt = Field(default=0, ge=0, le=MAX_SEED)
    statistics: Bootstrap = Field(default_factory=Bootstrap)
    gate: Gate | None = None
    cache: CacheConfig = Field(default_factory=CacheConfig)
    flags: FlagSettings = Field(default_factory=FlagSettings)
    where: list[str] = Field(default_factory=list)
    limit: StrictInt | None = Field(default=None, ge=1)  # only the first N segments (after where): a smoke test
    # each metric's own settings (from ``metrics: [{name: comet, model: …}]`` entries, or a legacy section such as
    # ``comet:``), validated by the metric; filled by the parser, never a key of the file
    metric_settings: dict[str, dict[str, Any]] = Field(default_factory=dict, exclude=True)
    executor: ExecutorSettings = Field(default_factory=LocalSettings)  # where translating runs: here, or Ray
    # where 'run --record' and 'check --baseline history:…' find the results history (a file or postgresql://…);
    # not part of what a run measures, so it is left out of the manifest
    history: str | None = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _metric_entries(cls, data: Any) -> Any:
        """``metrics`` entries with settings, and legacy sections (``comet:``), as names plus each metric's settings,
        each checked by the metric's own model."""
        return split_metric_entries(data) if isinstance(data, dict) else data

    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The layout run files have always had: names in ``metrics`` (an entry ``{name, …settings}`` for a metric with
        settings of its own), a legacy section (``comet``) in its place before ``executor``."""
        data: dict[str, Any] = handler(self)
        settings = self.metric_settings
        data["metrics"] = [{"name": n, **settings[n]} if n in settings and n not in LEGACY_SECTIONS else n
                           for n in self.metrics]
        executor = data.pop("executor", None)
        for section in LEGACY_SECTIONS:
            data[section] = settings.get(section)
        data["executor"] = executor
        return data

    @field_validator("metrics")
    @classmethod
    def _known_metrics_once(cls, metrics: list[str]) -> list[str]:
        if len(set(_known_metrics(metrics))) != len(metrics):
            raise ValueError(f"each metric once: {metrics}")
        return metrics

    @field_validator("directions")
    @classmethod
    def _each_direction_once(cls, directions: list[Direction]) -> list[Direction]:
        if len(set(directions)) != len(directions):
            raise ValueError(f"each direction once (a repeat would score its segments twice): {directions}")
        return directions

    @field_validator("systems", mode="before")
    @classmethod
    def _each_backend_its_settings(cls, systems: Any) -> Any:
        return [parse_system(s) for s in systems] if isinstance(systems, list) else systems

    @field_validator("systems")
    @classmethod
    def _unique_names(cls, systems: list[SystemSettings]) -> list[SystemSettings]:
        names = [s.name for s in systems]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"system names must be unique; repeated: {', '.join(dupes)}")
        return systems

    @model_validator(mode="after")
    def _corpus_or_corpora(self) -> RunConfig:
        if self.corpora is not None and "corpus" in self.model_fields_set:
            raise ValueError("give either corpus (one) or corpora (a list), not both")
        return self

    @model_validator(mode="after")
    def _every_system_runs(self) -> RunConfig:
        for i, system in enumerate(self.systems):
            if not self.system_directions(system):
                raise ValueError(f"systems.{i} ({system.name}) runs in no direction of the run "
                                 f"(its directions {system.directions}, the run's {self.directions})")
        return self

    def metric_options(self, name: str) -> dict[str, Any]:
        """The settings metric ``name`` is built with in this run, as its manifest records them: the ``scoring``
        section's that apply to it, then its own."""
        cls = METRICS.get(name)
        return cls.check_settings({**cls.settings_from_scoring(**self.scoring.model_dump()),
                                   **self.metric_settings.get(name, {})})

    def system_directions(self, system: SystemSettings) -> list[str]:
        """The directions ``system`` runs in: its own list, limited to the run's directions."""
        wanted = system.directions if system.directions is not None else self.directions
        return [d for d in self.directions if d in wanted]


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``systems.0.model=/path`` into its key path and a YAML-typed value."""
    import yaml

    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. systems.0.model=/path/to/model")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_override(data: dict[str, Any], path: list[str], value: Any, *, label: str) -> None:
    """Set ``data[path] = value``, creating mappings as needed; list items are addressed by index."""
    node: Any = data
    for depth, part in enumerate(path):
        last = depth == len(path) - 1
        where = ".".join(path[: depth + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"--set {label}: {where}: no list item {part} (the list has {len(node)})")
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
        else:
            raise ConfigError(f"--set {label}: {'.'.join(path[:depth])} is a value, not a mapping or list")


MAX_CONFIG_BYTES = 1_000_000
"""A config is a short YAML file; anything larger is a mistake (a wrong path, a device file)."""


def read_yaml_mapping(path: Path, what: str = "config") -> dict[str, Any]:
    """The YAML mapping in ``path``; size-limited, and a key given twice in one mapping is an error."""
    import yaml

    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} file not found") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read {what}: {err.strerror or err}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES // 1_000_000} MB; is this the {what} file?")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: {what} is not valid UTF-8 (byte offset {err.start})") from None
    try:
        loaded = yaml.load(text, Loader=_unique_key_loader())  # a SafeLoader subclass
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{path}{line}: invalid YAML: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{path}: {what} is nested too deeply to read; is this the {what} file?") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(loaded).__name__}")
    return loaded


@functools.lru_cache(maxsize=1)
def _unique_key_loader() -> Any:
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last one silently)."""

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if isinstance(key, (str, int, float, bool)) and key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} given twice in one mapping", key_node.start_mark)
                if isinstance(key, (str, int, float, bool)):
                    seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def load_config(path: Path | None, overrides: Sequence[str] = (), *,
                base: dict[str, Any] | None = None) -> RunConfig:
    """Read ``path`` (YAML), apply ``overrides`` (``KEY=VALUE``), validate; errors name the file and key.

    An error in a key that a ``--set`` override gave is blamed on that override, not on the file.
    """
    from evalharness.paths import resolve_config_path

    if path is not None:
        path = resolve_config_path(path)  # a file, or the name of a shipped config (``-c default``)
    data: dict[str, Any] = dict(base or {})
    label = str(path) if path is not None else "<command line>"
    if path is not None:
        data.update(read_yaml_mapping(path))
    for item in overrides:
        keys, value = parse_override(item)
        apply_override(data, keys, value, label=item)

    def blame(key: str) -> str:
        """The ``--set`` item that set ``key`` (or a mapping above it), else the file."""
        for item in reversed(overrides):
            given = item.partition("=")[0].strip()
            if key == given or key.startswith(given + ".") or given.startswith(key + "."):
                return f"--set {item}"
        return label

    systems = data.get("systems")
    if isinstance(systems, list):  # each backend validates its own settings, so errors name systems.N.key
        parsed: list[Any] = []
        for i, item in enumerate(systems):
            try:
                parsed.append(parse_system(item))
            except ValidationError as err:
                raise config_error(label, err, prefix=f"systems.{i}", blame=blame) from None
            except UnknownNameError as err:
                raise ConfigError(f"{blame(f'systems.{i}.backend')}: systems.{i}.backend: {err}") from None
        data = {**data, "systems": parsed}
    try:
        config = RunConfig.model_validate(data)
    except ValidationError as err:
        raise config_error(label, err, blame=blame) from None
    _check_files(config, label, blame)
    return config


_UNION_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "CorpusFiles", "local", "ray"})


def config_error(label: str, err: ValidationError, *, prefix: str = "",
                 blame: Callable[[str], str] | None = None) -> ConfigError:
    """One line for the first validation error: where it came from, dotted key, what is wrong, what was given.

    The given value is shown abbreviated: a YAML alias bomb expands to gigabytes when printed whole.
    """
    first = err.errors()[0]
    if first["type"] == METRIC_SETTINGS_ERROR:  # a metric's own settings model spoke: its key and message as they are
        ctx = first.get("ctx") or {}
        key, message = str(ctx.get("key", "metrics")), str(ctx.get("message", first["msg"]))
        return ConfigError(f"{blame(key) if blame is not None else label}: {message}")
    # a union's branch names (corpus: str | CorpusFiles) are no keys of the file: leave them out
    parts = [str(p) for p in first["loc"] if str(p) not in _UNION_TAGS and not str(p).startswith("function-")]
    key = ".".join([*([prefix] if prefix else []), *parts]) or "(top level)"
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    # a "secret" error (credentials in a URL) must not print the value back into a CI log
    got = f" (got {_short_repr(first['input'])})" if first["type"] not in ("missing", "extra_forbidden",
                                                                             "secret") else ""
    msg = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
    source = blame(key) if blame is not None else label
    return ConfigError(f"{source}: {key}: {msg}{got}{more}")


def _short_repr(value: Any) -> str:
    """``repr`` bounded in size and in depth, computed without expanding the whole value."""
    import reprlib

    short = reprlib.Repr()
    short.maxstring, short.maxother, short.maxlevel = 60, 60, 2
    short.maxlist = short.maxdict = short.maxtuple = short.maxset = 4
    text = short.repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_files(config: RunConfig, label: str, blame: Callable[[str], str] | None = None) -> None:
    """Missing local files are input errors now, not tracebacks halfway through a run."""
    def source(key: str) -> str:
        return blame(key) if blame is not None else label

    given = [("corpus", config.corpus)] if config.corpora is None else \
        [(f"corpora.{i}", c) for i, c in enumerate(config.corpora)]
    for key, corpus in given:
        if isinstance(corpus, CorpusFiles):
            for lang, name in corpus.files.items():
                if name is None:  # the side a corpus of sources only lacks
                    continue
                file = Path(name).expanduser()
                if not file.is_file():
                    what = "not a file" if file.exists() else "file not found"
                    raise ConfigError(f"{source(f'{key}.{lang}')}: {key}.{lang}: {what}: {file}")
    for i, system in enumerate(config.systems):
        if isinstance(system, ModelSettings) and looks_like_path(system.model):
            key = f"systems.{i}.model"
            model_dir = Path(system.model).expanduser()
            if model_dir.exists() and not model_dir.is_dir():
                raise ConfigError(f"{source(key)}: {key}: {model_dir} is a file; give the model's directory")
            if not model_dir.is_dir():
                raise ConfigError(f"{source(key)}: {key}: local model directory not found: {model_dir}")
        if isinstance(system, FilesSettings):
            for direction, name in system.hypotheses.items():
                if config.corpora is not None and CORPUS_PLACEHOLDER in name:
                    continue  # one file per test set: checked when the run set opens its corpora (runs/multi.py)
                key = f"systems.{i}.hypotheses.{direction}"
                if not Path(name).expanduser().is_file():
                    what = "not a file" if Path(name).expanduser().exists() else "file not found"
                    raise ConfigError(f"{source(key)}: {key}: {what}: {name}")

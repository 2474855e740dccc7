"""Config loading: validation errors name file and key; precedence defaults < YAML < --set."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalharness.cli import main
from evalharness.errors import ConfigError
from evalharness.runs.config import load_config

REPO = Path(__file__).resolve().parent.parent

MINIMAL = """\
systems:
  - name: copy
    backend: copy
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


HUB_SYSTEM = """\
systems:
  - name: mt
    model: org/model
"""


def test_defaults_then_yaml_then_cli(tmp_path: Path) -> None:
    path = _write(tmp_path, HUB_SYSTEM + "metrics: [bleu]\nlevel: sentence\n")
    config = load_config(path)
    assert config.metrics == ["bleu"]  # YAML over default
    assert config.directions == ["ms-en", "en-ms"]  # default
    assert config.systems[0].generation.num_beams == 1  # default
    config = load_config(path, ["metrics=[chrf, ter]", "systems.0.generation.num_beams=3", "level=paragraph"])
    assert config.metrics == ["chrf", "ter"]  # CLI over YAML
    assert config.systems[0].generation.num_beams == 3
    assert config.level == "paragraph"


@pytest.mark.parametrize("name", ["default.yaml", "nllb.yaml"])
def test_shipped_configs_validate(name: str) -> None:
    config = load_config(REPO / "configs" / name)
    assert config.corpus == "rt-2013-russia-japan-2plus2"
    assert {d for s in config.systems for d in config.system_directions(s)} == {"ms-en", "en-ms"}


def test_default_config_uses_the_hub_models_that_exist() -> None:
    config = load_config(REPO / "configs" / "default.yaml")
    by_dir = {config.system_directions(s)[0]: s for s in config.systems}
    assert by_dir["ms-en"].model == "Helsinki-NLP/opus-mt-mul-en"
    assert by_dir["en-ms"].model == "Helsinki-NLP/opus-mt-en-mul"
    assert by_dir["en-ms"].target_prefix == {"ms": ">>zsm_Latn<<"}


BAD = {
    "unknown key": (MINIMAL + "metricz: [bleu]\n", [], "c.yaml: metricz: unknown key"),
    "nested unknown key": (MINIMAL + "    beams: 4\n", [], "c.yaml: systems.0.beams: unknown key"),
    "wrong type": (HUB_SYSTEM + "    generation: {num_beams: many}\n", [],
                   "c.yaml: systems.0.generation.num_beams: Input should be a valid integer"),
    "bad direction": (MINIMAL + "directions: [ms-xx]\n", [],
                      "c.yaml: directions.0: Value error, direction 'ms-xx': unknown language 'xx'"),
    "no systems": ("metrics: [bleu]\n", [], "c.yaml: systems: Field required"),
    "missing model dir": (MINIMAL, ["systems.0.backend=transformers", "systems.0.model=/nonexistent/model"],
                          "systems.0.model: local model directory not found: /nonexistent/model"),
    "missing corpus file": (MINIMAL + "corpus: {ms: /no/such.ms, en: /no/such.en}\n", [],
                            "corpus.ms: file not found: /no/such.ms"),
    "bad yaml": (MINIMAL + "metrics: [bleu\n", [], "c.yaml:"),
    "override index": (MINIMAL, ["systems.3.model=x"], "systems.3: no list item 3 (the list has 1)"),
    "override syntax": (MINIMAL, ["systems.0.model"], "expected KEY=VALUE"),
    "transformers without model": (MINIMAL, ["systems.0.backend=transformers"], "systems.0.model: Field required"),
    "ct2 knob on transformers": (HUB_SYSTEM + "    generation: {compute_type: int8}\n", [],
                                 "c.yaml: systems.0.generation.compute_type: unknown key"),
    "generation on copy": (MINIMAL + "    generation: {num_beams: 4}\n", [],
                           "c.yaml: systems.0.generation: unknown key"),
    "hypotheses on transformers": (HUB_SYSTEM + "    hypotheses: {ms-en: x.txt}\n", [],
                                   "c.yaml: systems.0.hypotheses: unknown key"),
    "nan tolerance": (MINIMAL + "gate: {tolerance: {bleu: .nan}}\n", [], "c.yaml: gate.tolerance: Value error, "
                      "tolerance of bleu must be a finite number >= 0"),
    "negative tolerance": (MINIMAL + "gate: {tolerance: {ter: -1}}\n", [], "tolerance of ter must be a finite"),
    "typo metric in tolerance": (MINIMAL + "gate: {tolerance: {blue: 100}}\n", [], "unknown metric 'blue'"),
    "typo metric per direction": (MINIMAL + "gate: {per_direction: {en-ms: {tolerance: {blue: 1}}}}\n", [],
                                  "gate.per_direction.en-ms.tolerance: Value error, unknown metric 'blue'"),
    "alpha out of range": (MINIMAL + "gate: {alpha: 1.5}\n", [], "gate.alpha: Input should be less than 1"),
    "huge resamples": (MINIMAL + "statistics: {resamples: 1000000000}\n", [],
                       "statistics.resamples: Input should be less than or equal to 100000"),
    "negative seed": (MINIMAL + "seed: -1\n", [], "seed: Input should be greater than or equal to 0"),
    "duplicate names": (MINIMAL + "  - name: copy\n    backend: copy\n", [], "repeated: copy"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_config_is_one_line_naming_file_and_key(tmp_path: Path, case: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    text, overrides, expected = BAD[case]
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    assert expected in str(info.value)
    argv = ["run", "--config", str(path), "--run-dir", str(tmp_path / "out"), "-q"]
    for item in overrides:
        argv += ["--set", item]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err
    assert not (tmp_path / "out").exists()


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml: config file not found" in capsys.readouterr().err


def test_unknown_backend_and_metric_fail_before_writing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, MINIMAL)
    out = tmp_path / "out"
    assert main(["run", "-c", str(path), "--set", "systems.0.backend=copyy", "--run-dir", str(out), "-q"]) == 2
    assert "unknown system backend 'copyy'; did you mean 'copy'?" in capsys.readouterr().err
    assert main(["run", "-c", str(path), "--set", "metrics=[bleu, bertscore]", "--run-dir", str(out), "-q"]) == 2
    assert "unknown metric 'bertscore'" in capsys.readouterr().err
    assert not out.exists()


def test_one_tolerance_leaves_the_others_at_their_default(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, MINIMAL + "gate: {tolerance: {bleu: 2.5}}\n"))
    assert config.gate is not None
    assert config.gate.tolerance == {"bleu": 2.5, "chrf": 1.0, "chrf++": 1.0, "ter": 1.0, "comet": 1.0}
    assert config.gate.rule("en-ms", "ter") == (1.0, 0.05)


def test_each_backend_validates_its_own_settings(tmp_path: Path) -> None:
    from evalharness.systems.settings import CopySettings, CT2Settings, TransformersSettings

    text = HUB_SYSTEM + "  - name: fast\n    backend: ct2\n    model: org/model\n" \
                        "    generation: {compute_type: int8}\n  - name: floor\n    backend: copy\n"
    config = load_config(_write(tmp_path, text))
    assert [type(s) for s in config.systems] == [TransformersSettings, CT2Settings, CopySettings]
    dumped = config.model_dump(mode="json")["systems"]
    assert "compute_type" not in dumped[0]["generation"] and dumped[1]["generation"]["compute_type"] == "int8"
    assert "generation" not in dumped[2]


@pytest.mark.parametrize(("entry", "words"), [
    ("{name: chrf, char_order: x}", "metrics.0.char_order: Input should be a valid integer"),
    ("{name: bleu, smooth_method: bogus}", "metrics.0.smooth_method: Input should be 'floor', 'add-k', 'exp'"),
    ('{name: chrf, lowercase: "false"}', "metrics.0.lowercase: Input should be a valid boolean"),
    ("{name: bleu, max_ngram_order: -1}", "metrics.0.max_ngram_order: Input should be greater than or equal to 1"),
    ("{name: ter, normalized: 3}", "metrics.0.normalized: Input should be a valid boolean"),
    ("{name: bleu, tokenize: nonsense}", "metrics.0.tokenize: Value error, unknown BLEU tokenizer 'nonsense'"),
    ("{name: bleu, stem: 1}", "metrics.0.stem: not a setting of sacrebleu's BLEU"),
    ("{tokenize: intl}", "metrics.0: an entry with settings names its metric"),
])
def test_sacrebleu_settings_are_typed_and_named_by_their_key(tmp_path: Path, entry: str, words: str) -> None:
    """sacrebleu checks few of its own arguments (a text "false" lowercases; max_ngram_order -1 scores 0 with the
    default's signature; an unknown smoothing is an assert): each is refused here, naming where it is."""
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, MINIMAL), [f"metrics=[{entry}]"])
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_a_metric_entry_records_only_the_settings_given(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, MINIMAL), ["metrics=[{name: bleu, tokenize: intl}, chrf]"])
    assert config.metric_options("bleu") == {"tokenize": "intl"} and config.metric_options("chrf") == {}
    # an entry's setting wins over the scoring section's (README: Metrics)
    config = load_config(_write(tmp_path, MINIMAL), ["scoring.tokenize=char", "metrics=[{name: bleu, tokenize: intl}]"])
    assert config.metric_options("bleu") == {"tokenize": "intl"}

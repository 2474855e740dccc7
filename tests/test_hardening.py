"""Hostile and careless input, through the real CLI: one line on stderr, exit 2, nothing written, inputs intact.

One test per class of the hardening audit (outputs that overwrite inputs, settings that switch the gate off,
runs that cannot be read back, partial writes, tracebacks, silently accepted nonsense, unclear messages), and a
seeded fuzz test that feeds each command damaged copies of its valid inputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from evalharness.cli import main
from evalharness.corpus import load_corpus
from tests.conftest import CORPUS_DIR, CORPUS_NAME, REPO

CORPUS = load_corpus(CORPUS_NAME)
REFS = {"en": [p.text("en") for p in CORPUS.pairs], "ms": [p.text("ms") for p in CORPUS.pairs]}


def _tree(*roots: Path) -> dict[str, str]:
    """sha256 of every file under ``roots`` (symbolic links by their target path): what must not change."""
    out: dict[str, str] = {}
    for root in roots:
        files = [root] if root.is_file() or root.is_symlink() else sorted(root.rglob("*"))
        for path in files:
            if path.is_symlink():
                out[str(path)] = "link:" + os.readlink(path)
            elif path.is_file():
                out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str], expected: str, *roots: Path) -> str:
    """Run the CLI; assert exit 2, exactly one stderr line holding ``expected``, and ``roots`` unchanged."""
    before = _tree(*roots)
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, (argv, err)
    assert err.count("\n") == 1 and err.startswith("evalharness: error: "), err
    assert expected in err, err
    assert _tree(*roots) == before, f"{argv} changed its inputs"
    return err


def _files_run(base: Path, name: str, ms_en: list[str] | None = None, en_ms: list[str] | None = None,
               extra: str = "") -> Path:
    """A run of the ``files`` backend (no model): the fastest real run there is."""
    folder = base / name
    folder.mkdir(parents=True)
    (folder / "ms-en.txt").write_text("".join(f"{h}\n" for h in (ms_en or REFS["en"])), encoding="utf-8")
    (folder / "en-ms.txt").write_text("".join(f"{h}\n" for h in (en_ms or REFS["ms"])), encoding="utf-8")
    config = folder / "config.yaml"
    config.write_text("systems:\n  - name: mt\n    backend: files\n    hypotheses:\n"
                      f"      ms-en: {folder / 'ms-en.txt'}\n      en-ms: {folder / 'en-ms.txt'}\n"
                      "statistics: {resamples: 200}\n" + extra, encoding="utf-8")
    assert main(["run", "-c", str(config), "--run-dir", str(folder / "run"), "-q"]) == 0
    return folder / "run"


@pytest.fixture
def run_and_baseline(tmp_path: Path) -> tuple[Path, Path]:
    run = _files_run(tmp_path, "a")
    baseline = tmp_path / "baseline.json"
    assert main(["baseline", "update", str(run), "-o", str(baseline)]) == 0
    return run, baseline


# --------------------------------------------------------------------------- 1. outputs that overwrite inputs


def test_outputs_that_would_overwrite_inputs_are_refused(tmp_path: Path, run_and_baseline: tuple[Path, Path],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    run, baseline = run_and_baseline
    link = tmp_path / "link.json"
    link.symlink_to(run / "results.json")
    cases = [
        (["baseline", "update", str(run), "-o", str(run / "segments.jsonl")], "would overwrite the input"),
        (["report", str(run), "-o", str(run / "results.json")], "would overwrite the input"),
        (["report", str(run), "-o", str(link)], "would overwrite the input"),  # through a symbolic link
        (["report", str(run), "-o", str(run / ".." / "run" / "summary.md")], "would overwrite the input"),
        (["check", "--baseline", str(baseline), str(run), "--junit", str(baseline)], "would overwrite the input"),
        (["check", "--baseline", str(baseline), str(run), "--junit", str(tmp_path / "x.xml"),
          "--summary-md", str(tmp_path / "x.xml")], "are the same file"),
    ]
    for argv, expected in cases:
        _fails(argv, capsys, expected, tmp_path)
    ms, en = tmp_path / "a.ms", tmp_path / "b.en"
    ms.write_text("Satu.\nDua.\n", encoding="utf-8")
    en.write_text("One.\nTwo.\n", encoding="utf-8")
    _fails(["corpus", "export", "--ms", str(ms), "--en", str(en), "--lang", "ms", "-o", str(en)], capsys,
           f"{en}: the export would overwrite the input", tmp_path)


def test_an_existing_run_directory_needs_overwrite_and_is_replaced_whole(
        tmp_path: Path, run_and_baseline: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    run, _ = run_and_baseline
    config = run.parent / "config.yaml"
    (run / "report.html").write_text("an old report", encoding="utf-8")
    _fails(["run", "-c", str(config), "--run-dir", str(run), "-q"], capsys, "pass --overwrite", tmp_path)
    assert main(["run", "-c", str(config), "--run-dir", str(run), "-q", "--overwrite"]) == 0
    assert sorted(p.name for p in run.iterdir()) == ["results.json", "segments.jsonl", "summary.md"]
    # --overwrite never replaces a folder that is not a run, nor one that holds an input of the run.
    other = tmp_path / "notes"
    other.mkdir()
    (other / "mine.txt").write_text("keep me", encoding="utf-8")
    _fails(["run", "-c", str(config), "--run-dir", str(other), "-q", "--overwrite"], capsys, "not a run directory",
           tmp_path)
    _fails(["run", "-c", str(config), "--run-dir", str(run.parent), "-q", "--overwrite"], capsys,
           "an input of this run", tmp_path)
    assert not list(tmp_path.rglob(".*.tmp"))


def test_baseline_update_writes_through_a_symbolic_link(tmp_path: Path, run_and_baseline: tuple[Path, Path]) -> None:
    run, baseline = run_and_baseline
    link = tmp_path / "committed.json"
    link.symlink_to(baseline)
    before = baseline.read_bytes()
    assert main(["baseline", "update", str(run), "-o", str(link)]) == 0
    assert link.is_symlink() and os.readlink(link) == str(baseline)
    assert json.loads(baseline.read_bytes())["kind"] == "evalharness-baseline" and baseline.read_bytes() != b""
    assert json.loads(before)["results"] == json.loads(baseline.read_bytes())["results"]


# --------------------------------------------------------------------------- 2. settings that switch the gate off


@pytest.mark.parametrize(("gate", "expected"), [
    ("{tolerance: {bleu: .nan}}", "tolerance of bleu must be a finite number >= 0"),
    ("{tolerance: {bleu: .inf}}", "tolerance of bleu must be a finite number >= 0"),
    ("{tolerance: {blue: 100}}", "unknown metric 'blue'"),
    ("{alpha: .nan}", "gate.alpha: Input should be a finite number"),
    ("{alpha: 1}", "gate.alpha: Input should be less than 1"),
    ("{samples: 0}", "gate.samples: Input should be greater than or equal to 100"),
    ("{samples: 1000000000}", "gate.samples: Input should be less than or equal to 100000"),
    ("{seed: -3}", "gate.seed: Input should be greater than or equal to 0"),
])
def test_gate_settings_that_would_switch_the_gate_off_are_refused(
        tmp_path: Path, run_and_baseline: tuple[Path, Path], gate: str, expected: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    run, baseline = run_and_baseline
    config = run.parent / "config.yaml"
    # In a config: refused when the config is read, before any translation (no run directory appears).
    _fails(["check", "--baseline", str(baseline), "-c", str(config), "--set", f"gate={gate}",
            "--run-dir", str(tmp_path / "new")], capsys, expected, tmp_path)
    assert not (tmp_path / "new").exists()
    # In a hand-edited baseline: refused before the run is checked (or made).
    doc = json.loads(baseline.read_text(encoding="utf-8"))
    import yaml

    doc["gate"] = yaml.safe_load(gate)
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(doc), encoding="utf-8")
    _fails(["check", "--baseline", str(edited), str(run)], capsys, expected.replace("tolerance of", "tolerance of"),
           tmp_path)


def test_one_tolerance_keeps_the_other_defaults_in_the_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cut = [" ".join(t.split()[: len(t.split()) // 2]) for t in REFS["ms"]]
    good = _files_run(tmp_path, "good")
    baseline = tmp_path / "b.json"
    assert main(["baseline", "update", str(good), "-o", str(baseline)]) == 0
    # Only BLEU's tolerance is set; chrF/chrF++/TER keep 1.0 and still catch the truncation (they went to 0.00).
    bad = _files_run(tmp_path, "bad", en_ms=cut, extra="gate: {tolerance: {bleu: 90}}\n")
    capsys.readouterr()
    assert main(["check", "--baseline", str(baseline), str(bad)]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION mt en-ms chrF" in out and "tolerance 1.00" in out and "REGRESSION mt en-ms BLEU" not in out


# --------------------------------------------------------------------------- 3. runs that cannot be read back


def test_runs_read_back_whatever_their_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    odd = list(REFS["en"])
    odd[2] = "a\u2028b\u0085c\u2029d\x0be\x1cf|g"
    run = _files_run(tmp_path, "odd", ms_en=odd)
    for argv in (["compare", str(run), str(run)], ["report", str(run), "-o", str(tmp_path / "r.html")],
                 ["baseline", "update", str(run), "-o", str(tmp_path / "b.json")]):
        assert main(argv) == 0, argv
    assert main(["check", "--baseline", str(tmp_path / "b.json"), str(run), "-q"]) == 0


def test_repeated_directions_and_duplicate_yaml_keys_are_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _files_run(tmp_path, "a")
    config = run.parent / "config.yaml"
    _fails(["run", "-c", str(config), "--set", "directions=[ms-en, ms-en]", "--run-dir", str(tmp_path / "o")],
           capsys, "each direction once", tmp_path)
    dup = tmp_path / "dup.yaml"
    dup.write_text(config.read_text(encoding="utf-8") + "metrics: [bleu]\nmetrics: [ter]\n", encoding="utf-8")
    _fails(["run", "-c", str(dup), "--run-dir", str(tmp_path / "o")], capsys, "key 'metrics' given twice", tmp_path)
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------- 4. partial writes


def _limited(argv: list[str], tmp_path: Path, limit_bytes: int) -> subprocess.CompletedProcess[str]:
    """The CLI in a process whose files may not grow past ``limit_bytes``: a real write failure (EFBIG)."""
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit_bytes}, {limit_bytes})); "
            "from evalharness.cli import main; sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "EVALHARNESS_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def test_a_failed_write_leaves_nothing_and_names_the_path(tmp_path: Path,
                                                         run_and_baseline: tuple[Path, Path]) -> None:
    run, baseline = run_and_baseline
    config = run.parent / "config.yaml"
    before = _tree(tmp_path)
    done = _limited(["run", "-c", str(config), "--run-dir", str(tmp_path / "new"), "-q", "--no-cache"], tmp_path,
                    20_000)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert f"{tmp_path / 'new'}: cannot write the run: File too large" in done.stderr
    # Replacing a run that exists: the old one is untouched when the new one cannot be written.
    done = _limited(["run", "-c", str(config), "--run-dir", str(run), "-q", "--no-cache", "--overwrite"], tmp_path,
                    20_000)
    assert done.returncode == 2 and f"{run}: cannot write the run" in done.stderr
    # check writes its JUnit file and its Markdown file both or neither (the summary is the larger one).
    junit, md = tmp_path / "j.xml", tmp_path / "c.md"
    done = _limited(["check", "--baseline", str(baseline), str(run), "--junit", str(junit), "--summary-md", str(md)],
                    tmp_path, 1_500)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and str(md) in done.stderr, done.stderr
    assert ".tmp" not in done.stderr  # the user's path, never our temporary file
    assert _tree(tmp_path) == before  # no new run, no JUnit without its summary, no temporary left
    assert not list(tmp_path.rglob(".*.tmp"))


def test_leftovers_of_a_killed_writer_are_cleaned(tmp_path: Path, run_and_baseline: tuple[Path, Path]) -> None:
    run, _ = run_and_baseline
    stale = run.parent / f".{run.name}.abc123.tmp"
    stale.mkdir()
    (stale / "segments.jsonl").write_text("half", encoding="utf-8")
    os.utime(stale, (0, 0))
    fresh = run.parent / f".{run.name}.def456.tmp"  # might be another writer's, right now: left alone
    fresh.mkdir()
    assert main(["run", "-c", str(run.parent / "config.yaml"), "--run-dir", str(run), "-q", "--overwrite"]) == 0
    assert not stale.exists() and fresh.exists()


# --------------------------------------------------------------------------- 5. tracebacks instead of one line


def test_resource_bombs_and_huge_numbers_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _files_run(tmp_path, "a")
    config = run.parent / "config.yaml"
    bomb = tmp_path / "bomb.yaml"
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)]
    bomb.write_text("\n".join(lines) + "\nsystems: *i\n", encoding="utf-8")
    err = _fails(["run", "-c", str(bomb), "--run-dir", str(tmp_path / "o")], capsys, "systems.0:", tmp_path)
    assert len(err) < 400  # the expansion is never printed whole
    _fails(["run", "-c", "/dev/zero", "--run-dir", str(tmp_path / "o")], capsys, "/dev/zero: not a file", tmp_path)
    for override, expected in (("statistics.resamples=1e9", "statistics.resamples"),
                               ("seed=1e29", "seed: Input should be"),
                               ("statistics.seed=-1", "statistics.seed")):
        _fails(["run", "-c", str(config), "--set", override, "--run-dir", str(tmp_path / "o")], capsys, expected,
               tmp_path)
    hub = tmp_path / "hub.yaml"
    hub.write_text("systems:\n  - name: m\n    model: org/model\n", encoding="utf-8")
    _fails(["run", "-c", str(hub), "--set", "systems.0.generation.max_new_tokens=1000000000", "--run-dir",
            str(tmp_path / "o")], capsys,
           "max_new_tokens: Input should be less than or equal to 4096", tmp_path)
    _fails(["compare", str(run), str(run), "--samples", "1000000000"], capsys, "--samples 1000000000", tmp_path)
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated weights", "corrupt source.spm", "config.json a list"])
def test_damaged_model_directories_are_one_line(tiny_model_dir: Path, tmp_path: Path, damage: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    if damage == "truncated weights":
        weights = model / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:5000])
    elif damage == "corrupt source.spm":
        (model / "source.spm").write_bytes(b"not a sentencepiece model" * 10)
    else:
        (model / "config.json").write_text("[1, 2]", encoding="utf-8")
    config = tmp_path / "c.yaml"
    config.write_text(f"systems:\n  - name: m\n    model: {model}\n    generation: {{max_new_tokens: 8}}\n"
                      "directions: [en-ms]\nmetrics: [bleu]\n", encoding="utf-8")
    _fails(["run", "-c", str(config), "--run-dir", str(tmp_path / "o"), "-q", "--no-cache"], capsys,
           f"systems.0.model: {model}" if damage == "config.json a list" else f"from {model} (", tmp_path)


@pytest.mark.parametrize(("damage", "expected"), [
    ("surrogate", "holds a lone surrogate U+D800"),
    ("alignment", "alignment must use each of the"),
    ("kind list", "field 'kind' is ['body']"),
    ("meta types", "field 'version' must be a string"),
])
def test_damaged_corpora_are_one_line_for_run_and_check(tmp_path: Path, damage: str, expected: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    folder = tmp_path / "corpus"
    shutil.copytree(CORPUS_DIR, folder)
    lines = (folder / "pairs.jsonl").read_text(encoding="utf-8").split("\n")
    first = json.loads(lines[0])
    if damage == "surrogate":
        lines[0] = lines[0].replace('"text": "', '"text": "\\ud800', 1)
    elif damage == "alignment":
        first["alignment"] = [[[0], [7]]]
        lines[0] = json.dumps(first, ensure_ascii=False)
    elif damage == "kind list":
        first["kind"] = ["body"]
        lines[0] = json.dumps(first, ensure_ascii=False)
    else:
        meta = json.loads((folder / "corpus.json").read_text(encoding="utf-8"))
        meta["version"] = [1]
        (folder / "corpus.json").write_text(json.dumps(meta), encoding="utf-8")
    (folder / "pairs.jsonl").write_text("\n".join(lines), encoding="utf-8")
    config = tmp_path / "c.yaml"
    config.write_text(f"corpus: {folder}\nlevel: sentence\nsystems:\n  - name: c\n    backend: copy\n",
                      encoding="utf-8")
    _fails(["run", "-c", str(config), "--run-dir", str(tmp_path / "o"), "-q"], capsys, expected, tmp_path)
    if damage != "alignment":  # corpus check lists alignment problems as findings (exit 1) instead
        _fails(["corpus", "check", str(folder)], capsys, expected, tmp_path)


def test_score_where_selecting_nothing_and_an_overlong_ter_segment(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    ref, hyp = tmp_path / "ref.txt", tmp_path / "hyp.txt"
    ref.write_text("one two three\nfour five six\n", encoding="utf-8")
    hyp.write_text("one two\nfour five six\n", encoding="utf-8")
    _fails(["score", "--ref", str(ref), "--hyp", str(hyp), "--where", "length=long"], capsys,
           "selects no line of", tmp_path)
    long = " ".join(f"w{i}" for i in range(1200))
    hyp.write_text(f"one two\n{long}\n", encoding="utf-8")
    _fails(["score", "--ref", str(ref), "--hyp", str(hyp), "--metrics", "ter"], capsys,
           f"{hyp} against {ref}: segment 2: the hypothesis has 1,200 words; TER takes at most 1,000", tmp_path)
    assert main(["score", "--ref", str(ref), "--hyp", str(hyp), "--metrics", "bleu,chrf"]) == 0


# --------------------------------------------------------------------------- 6. silently accepted nonsense


def test_nonsense_options_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _files_run(tmp_path, "a")
    config = run.parent / "config.yaml"
    for argv, expected in [
        (["compare", str(run), str(run), "--samples", "0"], "--samples 0: give between 100"),
        (["compare", str(run), str(run), "--alpha", "1.5"], "--alpha 1.5"),
        (["compare", str(run), str(run), "--alpha", "nan"], "--alpha nan"),
        (["compare", str(run), str(run), "--seed", "-1"], "--seed -1"),
        (["compare", str(run), str(run), "--metrics", "bleu,blue"], "unknown metric 'blue'; did you mean 'bleu'?"),
        (["score", "--ref", str(run.parent / "ms-en.txt"), "--hyp", str(run.parent / "ms-en.txt"), "--metrics", ""],
         "name at least one metric"),
        (["run", "-c", str(config), "--set", "flags.length_ratio=[2.0, 0.5]", "--run-dir", str(tmp_path / "o")],
         "0 < low < high"),
        (["run", "-c", str(config), "--set", "metrics=[bleu, bleu]", "--run-dir", str(tmp_path / "o")],
         "each metric once"),
        (["check", "--baseline", str(tmp_path / "nope.json"), str(run), "--run-dir", str(tmp_path / "x")],
         "goes with --config"),
    ]:
        _fails(argv, capsys, expected, tmp_path)


# --------------------------------------------------------------------------- 7. unclear messages


def test_messages_name_the_right_thing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ms, en = tmp_path / "x.ms", tmp_path / "y.en"
    ms.write_text("Satu  dua.\nBaik.\n", encoding="utf-8")  # the problem is in the Malay file
    en.write_text("One two.\nGood.\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["corpus", "check", "--ms", str(ms), "--en", str(en)]) == 1
    assert f"{ms}:1: L0001: ms: doubled space" in capsys.readouterr().out
    model_file = tmp_path / "model.bin"
    model_file.write_bytes(b"x")
    config = tmp_path / "c.yaml"
    config.write_text(f"systems:\n  - name: m\n    model: {model_file}\n", encoding="utf-8")
    _fails(["run", "-c", str(config), "--run-dir", str(tmp_path / "o")], capsys,
           f"{model_file} is a file; give the model's directory", tmp_path)
    config.write_text("systems:\n  - name: c\n    backend: copy\n", encoding="utf-8")
    _fails(["run", "-c", str(config), "--set", "systems.0.generation.num_beams=2", "--run-dir", str(tmp_path / "o")],
           capsys,
           "--set systems.0.generation.num_beams=2: systems.0.generation: unknown key", tmp_path)
    _fails(["run", "-c", str(config), "--set", 'systems.0.name="a\\nb"', "--run-dir", str(tmp_path / "o")], capsys,
           "systems.0.name: String should match pattern", tmp_path)


def test_a_pipe_in_a_system_name_does_not_break_the_summary_tables(tmp_path: Path) -> None:
    folder = tmp_path / "pipe"
    run = _files_run(tmp_path, "p")
    config = run.parent / "config.yaml"
    assert main(["run", "-c", str(config), "--set", "systems.0.name=a|b", "--run-dir", str(folder), "-q"]) == 0
    import re

    summary = (folder / "summary.md").read_text(encoding="utf-8")
    tables = re.findall(r"(?:^\|.*\n)+", summary, flags=re.MULTILINE)
    assert len(tables) >= 3
    for table in tables:  # every row of a table has as many cells as its header (escaped pipes do not count)
        cells = {len(re.findall(r"(?<!\\)\|", row)) for row in table.splitlines()}
        assert len(cells) == 1, table
    assert "| a\\|b | ms-en |" in summary


# --------------------------------------------------------------------------- fuzz


def _damaged(data: bytes, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    """Damaged copies of a file's bytes: truncated, bytes flipped, and (for JSON) fields deleted or retyped."""
    yield "truncated", data[: rng.randrange(len(data))]
    flipped = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        flipped[rng.randrange(len(flipped))] = rng.randrange(256)
    yield "flipped", bytes(flipped)
    try:
        doc = json.loads(data)
    except ValueError:
        return
    paths: list[list[str | int]] = []

    def walk(node: object, path: list[str | int]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                paths.append([*path, key])
                walk(value, [*path, key])
        elif isinstance(node, list) and node:
            paths.append([*path, 0])
            walk(node[0], [*path, 0])

    walk(doc, [])
    for action in ("delete", "retype"):
        target = rng.choice(paths)
        copy = json.loads(data)
        node = copy
        for part in target[:-1]:
            node = node[part]
        if action == "delete" and isinstance(node, dict):
            del node[target[-1]]
        else:
            node[target[-1]] = rng.choice([None, [], {}, "x", -1, 1e308, True])
        yield f"{action} {'.'.join(map(str, target))}", json.dumps(copy).encode()


@pytest.mark.slow
def test_fuzz_each_command_never_tracebacks_and_never_touches_its_inputs(tmp_path: Path) -> None:
    rng = random.Random(20261127)
    good = _files_run(tmp_path, "good")
    baseline = tmp_path / "good-baseline.json"
    assert main(["baseline", "update", str(good), "-o", str(baseline)]) == 0
    config_text = (good.parent / "config.yaml").read_text(encoding="utf-8")
    victims = {"results.json": good / "results.json", "segments.jsonl": good / "segments.jsonl",
               "baseline": baseline, "config": good.parent / "config.yaml", "hypotheses": good.parent / "ms-en.txt"}
    cases = 0
    for round_ in range(3):
        for name, source in victims.items():
            for label, data in _damaged(source.read_bytes(), rng):
                work = tmp_path / f"w{round_}-{name}-{label.split()[0]}"
                run = work / "run"
                run.mkdir(parents=True)
                for file in ("results.json", "segments.jsonl", "summary.md"):
                    (run / file).write_bytes((good / file).read_bytes())
                base, config, hyps = work / "b.json", work / "c.yaml", work / "h.txt"
                base.write_bytes(baseline.read_bytes())
                hyps.write_bytes((good.parent / "ms-en.txt").read_bytes())
                config.write_text(config_text.replace(str(good.parent / "ms-en.txt"), str(hyps)), encoding="utf-8")
                target = {"results.json": run / "results.json", "segments.jsonl": run / "segments.jsonl",
                          "baseline": base, "config": config, "hypotheses": hyps}[name]
                target.write_bytes(data)
                before = _tree(work)
                for argv in (["compare", str(run), str(run)], ["report", str(run), "-o", str(work / "r.html")],
                             ["check", "--baseline", str(base), str(run), "-q"],
                             ["baseline", "update", str(run), "-o", str(work / "nb.json")],
                             ["run", "-c", str(config), "--run-dir", str(work / "new"), "-q", "--no-cache"],
                             ["score", "--ref", str(good.parent / "ms-en.txt"), "--hyp", str(hyps)]):
                    code = main(argv)  # a traceback would raise here and fail the test
                    assert code in (0, 1, 2), (label, argv, code)
                    cases += 1
                after = _tree(work)
                assert {k: v for k, v in after.items() if k in before} == before, (name, label)
    assert cases >= 200

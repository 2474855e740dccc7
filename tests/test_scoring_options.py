"""sacrebleu's options that change the numbers, through a run: ``scoring.tokenize`` and ``scoring.lowercase`` in
the config, several references per segment in the corpus; each in the signatures, the manifest, and the
comparability checks of ``compare`` and ``check``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sacrebleu

from evalharness.cli import main
from evalharness.corpus import load_corpus
from tests.conftest import read_results, read_segments

CORPUS = "rt-2013-russia-japan-2plus2"


def _files_run(tmp_path: Path, name: str, scoring: str = "", corpus: str = CORPUS, damage: int | None = None,
               extra: str = "") -> Path:
    """A files-system run whose hypotheses are the references with the last word of every third segment cut
    (and segment ``damage`` emptied)."""
    segments = load_corpus(corpus).segments()
    folder = tmp_path / name
    folder.mkdir()
    hyps = {}
    for direction, lang in (("ms-en", "en"), ("en-ms", "ms")):
        lines = [s.texts[lang].rsplit(" ", 1)[0] if i % 3 == 0 else s.texts[lang] for i, s in enumerate(segments)]
        if damage is not None:
            lines[damage] = "x"
        hyps[direction] = folder / f"{direction}.txt"
        hyps[direction].write_text("".join(f"{h}\n" for h in lines), encoding="utf-8")
    config = folder / "config.yaml"
    config.write_text(f"corpus: {corpus}\nsystems:\n  - name: mt\n    backend: files\n    hypotheses:\n"
                      f"      ms-en: {hyps['ms-en']}\n      en-ms: {hyps['en-ms']}\n{scoring}{extra}",
                      encoding="utf-8")
    assert main(["run", "-c", str(config), "--run-dir", str(folder / "run"), "-q"]) == 0
    return folder / "run"


def test_tokenize_and_lowercase_reach_scores_signatures_and_manifest(tmp_path: Path) -> None:
    run = _files_run(tmp_path, "intl", "scoring: {tokenize: intl, lowercase: true, chrf_lowercase: true}\n")
    results = read_results(run)
    metrics = results["manifest"]["metrics"]
    assert metrics["bleu"]["options"] == {"tokenize": "intl", "lowercase": True}
    assert metrics["chrf"]["options"] == metrics["chrf++"]["options"] == {"lowercase": True}
    # sacrebleu's -lc alone (lowercase) leaves chrF's case alone
    lc = read_results(_files_run(tmp_path, "lc", "scoring: {lowercase: true}\n"))["manifest"]["metrics"]
    assert lc["bleu"]["options"] == {"lowercase": True} and lc["chrf"]["options"] == {}
    assert metrics["ter"]["options"] == {}
    bleu = results["results"]["mt"]["ms-en"]["scores"]["bleu"]
    assert "case:lc" in bleu["signature"] and "tok:intl" in bleu["signature"]
    records = [r for r in read_segments(run) if r["direction"] == "ms-en"]
    hyps, refs = [r["hypothesis"] for r in records], [r["reference"] for r in records]
    expected = sacrebleu.corpus_bleu(hyps, [refs], tokenize="intl", lowercase=True).score
    assert bleu["score"] == pytest.approx(expected, abs=1e-9)
    assert bleu["score"] != pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-6)


def test_runs_scored_with_other_settings_are_not_compared(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    default = _files_run(tmp_path, "default")
    intl = _files_run(tmp_path, "intl", "scoring: {tokenize: intl}\n")
    capsys.readouterr()
    assert main(["compare", str(default), str(intl)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "BLEU signatures differ" in err and "tok:intl" in err
    baseline = tmp_path / "baseline.json"
    assert main(["baseline", "update", str(intl), "-o", str(baseline)]) == 0
    assert main(["check", "--baseline", str(baseline), str(default), "-q"]) == 2
    assert "not comparable" in capsys.readouterr().err
    # the same settings on both sides: compared, and the gate re-scores with them (identical outputs pass)
    again = _files_run(tmp_path, "intl2", "scoring: {tokenize: intl}\n")
    assert main(["check", "--baseline", str(baseline), str(again), "-q"]) == 0
    # check --config with other settings is refused before anything runs
    capsys.readouterr()
    config = tmp_path / "default" / "config.yaml"
    assert main(["check", "--baseline", str(baseline), "--config", str(config), "--run-dir",
                 str(tmp_path / "never"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "scores BLEU with settings {}" in err and "'tokenize': 'intl'" in err
    assert not (tmp_path / "never").exists()


def test_a_metric_only_the_segment_rule_uses_takes_the_runs_settings(tmp_path: Path) -> None:
    """The segment rule's chrF is built with the run's settings even when the run did not compute chrF."""
    scoring = "metrics: [bleu]\nscoring: {lowercase: true}\n"
    good = _files_run(tmp_path, "good", scoring)
    baseline = tmp_path / "baseline.json"
    assert main(["baseline", "update", str(good), "-o", str(baseline)]) == 0
    assert main(["check", "--baseline", str(baseline), str(_files_run(tmp_path, "same", scoring)), "-q"]) == 0
    assert main(["check", "--baseline", str(baseline), str(_files_run(tmp_path, "bad", scoring, damage=4)),
                 "-q"]) == 1


def test_unknown_tokenizer_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("systems:\n  - {name: mt, backend: copy}\nscoring: {tokenize: 14a}\n", encoding="utf-8")
    assert main(["run", "-c", str(config), "--run-dir", str(tmp_path / "run"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "scoring.tokenize" in err and "'14a'" in err and "13a" in err
    assert not (tmp_path / "run").exists()


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evalharness", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_flores200_without_its_model_fails_before_any_work(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """sacrebleu would download the model mid-run; evalharness names the file and where it comes from."""
    env = {**cli_env, "SACREBLEU": str(tmp_path / "sacrebleu")}
    config = tmp_path / "c.yaml"
    config.write_text("systems:\n  - {name: mt, backend: copy}\nscoring: {tokenize: flores200}\n", encoding="utf-8")
    started = time.monotonic()
    done = _cli(["run", "-c", str(config), "--run-dir", str(tmp_path / "run"), "-q"], env)
    assert done.returncode == 2, done.stderr
    assert time.monotonic() - started < 30
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1
    assert str(tmp_path / "sacrebleu" / "models" / "flores200sacrebleuspm") in line and "https://" in line
    assert not (tmp_path / "run").exists() and not (tmp_path / "sacrebleu").exists()  # nothing downloaded


@pytest.mark.slow
def test_flores200_with_its_model_present_scores_as_sacrebleu(tmp_path: Path, tiny_model_dir: Path,
                                                              cli_env: dict[str, str]) -> None:
    """A SentencePiece model in sacrebleu's place is used (here the tiny model's, standing in for the real
    flores200 file, which cannot be downloaded on this machine): scores and signature are sacrebleu's."""
    models = tmp_path / "sacrebleu" / "models"
    models.mkdir(parents=True)
    shutil.copy(tiny_model_dir / "source.spm", models / "flores200sacrebleuspm")
    env = {**cli_env, "SACREBLEU": str(tmp_path / "sacrebleu")}
    ref, hyp = tmp_path / "ref", tmp_path / "hyp"
    segments = load_corpus(CORPUS).segments()
    ref.write_text("".join(s.texts["ms"] + "\n" for s in segments), encoding="utf-8")
    hyp.write_text("".join(s.texts["ms"].rsplit(" ", 2)[0] + "\n" for s in segments), encoding="utf-8")
    done = _cli(["score", "--ref", str(ref), "--hyp", str(hyp), "--metrics", "bleu", "-tok", "flores200",
                 "--format", "json"], env)
    assert done.returncode == 0, done.stderr
    bleu = json.loads(done.stdout)["systems"][0]["scores"]["bleu"]
    assert "tok:flores200" in bleu["signature"]
    check = ("import sacrebleu, sys; r = open(sys.argv[1]).read().splitlines(); h = open(sys.argv[2]).read()"
             ".splitlines(); print(repr(sacrebleu.corpus_bleu(h, [r], tokenize='flores200').score))")
    theirs = subprocess.run([sys.executable, "-c", check, str(ref), str(hyp)], capture_output=True, text=True,
                            env=env, check=True, timeout=120)
    assert bleu["score"] == pytest.approx(float(theirs.stdout), abs=1e-9)
    assert bleu["score"] != pytest.approx(sacrebleu.corpus_bleu(hyp.read_text().splitlines(),
                                                                [ref.read_text().splitlines()]).score, abs=1e-6)


# --------------------------------------------------------------------------- several references per segment


def _corpus_with_other_references(tmp_path: Path, others: dict[int, list[str]]) -> Path:
    """The shipped corpus's first 8 pairs, with ``others[i]`` as more English references of pair i."""
    folder = tmp_path / "multi"
    folder.mkdir()
    source = Path(load_corpus(CORPUS).origin)
    source = source if source.is_dir() else source.parent
    lines = (source / "pairs.jsonl").read_text(encoding="utf-8").splitlines()[:8]
    out = []
    for i, line in enumerate(lines):
        record = json.loads(line)
        if i in others:
            record["en"]["other_references"] = others[i]
        out.append(json.dumps(record, ensure_ascii=False))
    (folder / "pairs.jsonl").write_text("\n".join(out) + "\n", encoding="utf-8")
    (folder / "corpus.json").write_text(json.dumps({"name": "multi", "version": "0.1", "languages": ["ms", "en"]}),
                                        encoding="utf-8")
    return folder


def test_other_references_are_scored_as_sacrebleus_multi_reference(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    corpus = _corpus_with_other_references(tmp_path, {0: ["Russia and Japan met for the first time."],
                                                      3: ["First alternative.", "Second alternative."]})
    run = _files_run(tmp_path, "run1", corpus=str(corpus))
    results = read_results(run)
    bleu = results["results"]["mt"]["ms-en"]["scores"]["bleu"]
    assert "nrefs:var" in bleu["signature"]
    assert "nrefs:1" in results["results"]["mt"]["en-ms"]["scores"]["bleu"]["signature"]  # Malay: one each
    records = [r for r in read_segments(run) if r["direction"] == "ms-en"]
    assert records[3]["other_references"] == ["First alternative.", "Second alternative."]
    assert "other_references" not in records[1]  # written only where a segment has them
    hyps = [r["hypothesis"] for r in records]
    others = [r.get("other_references", []) for r in records]
    sets = [[r["reference"] for r in records], [o[0] if o else None for o in others],
            [o[1] if len(o) > 1 else None for o in others]]
    for name, fn in (("bleu", sacrebleu.corpus_bleu), ("chrf", sacrebleu.corpus_chrf), ("ter", sacrebleu.corpus_ter)):
        assert results["results"]["mt"]["ms-en"]["scores"][name]["score"] == pytest.approx(fn(hyps, sets).score,
                                                                                           abs=1e-9)
    # the gate: a baseline from this run passes an identical rerun; a damaged rerun fails
    baseline = tmp_path / "baseline.json"
    assert main(["baseline", "update", str(run), "-o", str(baseline)]) == 0
    assert main(["check", "--baseline", str(baseline), str(_files_run(tmp_path, "run2", corpus=str(corpus))),
                 "-q"]) == 0
    damaged = _files_run(tmp_path, "run3", corpus=str(corpus), damage=3)
    capsys.readouterr()
    assert main(["check", "--baseline", str(baseline), str(damaged)]) == 1
    assert "p04" in capsys.readouterr().out
    # an edited other reference in segments.jsonl is caught by the manifest's references hash
    segments_file = run / "segments.jsonl"
    text = segments_file.read_text(encoding="utf-8")
    segments_file.write_text(text.replace("Second alternative.", "Edited."), encoding="utf-8")
    assert main(["compare", str(run), str(run)]) == 2
    assert "not the ones the run was scored against" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [[""], "one string", [1]])
def test_malformed_other_references_are_one_line(tmp_path: Path, bad: object,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    corpus = _corpus_with_other_references(tmp_path, {2: bad})  # type: ignore[dict-item]
    assert main(["corpus", "check", str(corpus)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "other_references" in err and "pairs.jsonl" in err


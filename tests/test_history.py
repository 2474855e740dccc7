"""The results history through the real CLI: SQLite files and a real PostgreSQL server on 127.0.0.1, runs recorded
from the commits of a scratch git repository, concurrent writer processes, the trend, the charts in Chromium, the
baseline that follows main, the PR comment and export/import."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from evalharness.cli import main
from evalharness.corpus import load_corpus
from tests.conftest import CORPUS_NAME, REPO
from tests.test_report import _artifact, browser  # noqa: F401  (the real-Chromium fixture)

CORPUS = load_corpus(CORPUS_NAME)
REFS = {"en": [p.text("en") for p in CORPUS.pairs], "ms": [p.text("ms") for p in CORPUS.pairs]}
REQUIRE_POSTGRES = "EVALHARNESS_REQUIRE_POSTGRES"


def _drop(texts: list[str], every: int, words: int = 1) -> list[str]:
    return [" ".join(t.split()[:-words]) if i % every == 0 else t for i, t in enumerate(texts)]


# --------------------------------------------------------------------------- a real PostgreSQL server


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """initdb + pg_ctl in a temp folder, listening on 127.0.0.1 only; as root, the server runs as ``postgres``
    (PostgreSQL refuses root), which may then pass through (o+x, not read) the test's temp folders."""
    binaries = _postgres_bin()
    try:
        import psycopg  # noqa: F401
    except ImportError:
        binaries = None
    if binaries is None:
        if os.environ.get(REQUIRE_POSTGRES) == "1":
            pytest.fail(f"{REQUIRE_POSTGRES}=1 but initdb (apt-get install postgresql) or psycopg "
                        "(pip install 'evalharness[postgres]') is missing")
        pytest.skip("needs a PostgreSQL server binary (apt-get install postgresql) and psycopg "
                    "(pip install 'evalharness[postgres]')")
    base = tmp_path_factory.mktemp("postgres")
    data = base / "data"
    data.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:
        import pwd

        user = pwd.getpwnam("postgres")
        os.chown(data, user.pw_uid, user.pw_gid)
        for folder in [base, *base.parents][: len(base.relative_to(tmp_path_factory.getbasetemp().parent).parts) + 1]:
            os.chmod(folder, folder.stat().st_mode | 0o001)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run([*as_user, str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                    "--no-sync"], **run)  # type: ignore[call-overload]
    subprocess.run([*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"), "-w",
                    "-o", f"-h 127.0.0.1 -p {port} -k {data}", "start"], **run)  # type: ignore[call-overload]
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True, timeout=120, check=False)


def _new_database(server: str) -> str:
    import psycopg

    name = "h" + uuid.uuid4().hex[:12]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty history: a SQLite file, or a new database on the test PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "history.sqlite3")
    return _new_database(request.getfixturevalue("postgres_server"))


# --------------------------------------------------------------------------- a scratch repository and its runs


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty git repository on branch main, as the current folder; no GITHUB_* variables."""
    folder = tmp_path / "repo"
    folder.mkdir()
    _git(folder, "init", "-q", "-b", "main")
    _git(folder, "config", "user.email", "t@example.org")
    _git(folder, "config", "user.name", "t")
    for key in [k for k in os.environ if k.startswith("GITHUB_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(folder)
    return folder


def _commit(repo: Path, message: str) -> str:
    _git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


def _run(tmp_path: Path, name: str, ms_en: list[str], second: list[str] | None = None, *, scoring: str = "") -> Path:
    """A files run of two systems (mt, mt-b) on the article, both directions, BLEU and chrF."""
    folder = tmp_path / "runs" / name
    folder.mkdir(parents=True)
    other = second if second is not None else _drop(ms_en, 2)
    for file, lines in (("mt.en", ms_en), ("mt.ms", _drop(REFS["ms"], 3)), ("b.en", other),
                        ("b.ms", _drop(REFS["ms"], 2))):
        (folder / file).write_text("".join(f"{x}\n" for x in lines), encoding="utf-8")
    config = folder / "config.yaml"
    config.write_text(
        "metrics: [bleu, chrf]\n" + scoring + "systems:\n"
        f"  - {{name: mt, backend: files, hypotheses: {{ms-en: {folder / 'mt.en'}, en-ms: {folder / 'mt.ms'}}}}}\n"
        f"  - {{name: mt-b, backend: files, hypotheses: {{ms-en: {folder / 'b.en'}, en-ms: {folder / 'b.ms'}}}}}\n",
        encoding="utf-8")
    assert main(["run", "-c", str(config), "--run-dir", str(folder / "run"), "-q"]) == 0
    return folder / "run"


GOOD, WORSE = _drop(REFS["en"], 3), _drop(REFS["en"], 1, words=4)


@pytest.fixture
def three_runs(repo: Path, tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Three runs recorded from three commits of main: good, the same but one segment, then much worse."""
    commits = []
    for k, hyps in enumerate([GOOD, [*GOOD[:27], REFS["en"][27], GOOD[28]], WORSE]):
        commits.append(_commit(repo, f"change {k}"))
        run = _run(tmp_path, f"r{k}", hyps)
        assert main(["history", "record", str(run), "--history", store]) == 0
    capsys.readouterr()
    return commits


def test_three_commits_list_show_and_a_second_record_keeps_one(three_runs: list[str], store: str, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "record", str(tmp_path / "runs" / "r1" / "run"), "--history", store]) == 0
    assert "already recorded" in capsys.readouterr().out
    assert main(["history", "list", "--history", store, "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["commit"] for r in listed] == three_runs
    assert {r["branch"] for r in listed} == {"main"} and {r["dirty"] for r in listed} == {False}
    assert listed[0]["systems"] == ["mt", "mt-b"] and listed[0]["test_set"] == CORPUS_NAME
    assert main(["history", "list", "--history", store, "--branch", "other"]) == 0
    assert capsys.readouterr().out == "no recorded run matches\n"

    assert main(["history", "show", "--history", store, "--metric", "bleu", "--system", "mt",
                 "--direction", "ms-en"]) == 0
    out = capsys.readouterr().out
    print(out)
    lines = out.splitlines()
    assert lines[0].startswith(f"{CORPUS_NAME} ms-en BLEU — mt (nrefs:1|case:mixed|eff:no|tok:13a")
    rows = [line for line in lines if line.startswith(tuple(c[:10] for c in three_runs))]
    assert [r.split()[0] for r in rows] == [c[:10] for c in three_runs]
    first, second, third = rows
    assert first.rstrip().endswith("—")
    assert "no significant difference" in second and second.split()[7].startswith("+")
    assert third.rstrip().endswith("worse") and third.split()[7].startswith("-")


def test_plot_draws_a_line_per_system_in_chromium(three_runs: list[str], store: str, tmp_path: Path,
                                                  browser: Any) -> None:  # noqa: F811
    out = tmp_path / "history.html"
    assert main(["history", "plot", "--history", store, "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert "<script" not in html and "http" not in html.split("</style>")[1].split("<h2>Runs")[0].replace(
        "http://www.w3.org/2000/svg", "")
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(out.as_uri())
    blocks = page.locator("section.chart-block")
    assert blocks.count() == 4  # one test set × two directions × two metrics
    for i in range(4):
        block = blocks.nth(i)
        assert block.locator("g.series").count() == 2  # a line per system
        for j in range(2):
            box = block.locator("polyline.line").nth(j).bounding_box()
            assert box is not None and box["width"] > 300  # drawn across the three commits
            assert block.locator("g.series").nth(j).locator("circle").count() == 3
    assert page.locator("polygon.band").first.bounding_box() is not None
    hrefs = page.locator("a.point").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert hrefs[0] == f"#run-{page.locator('tbody tr').first.get_attribute('id').removeprefix('run-')}"
    _artifact(page, tmp_path, "history-plot.png")
    assert not errors


def test_export_import_round_trips_byte_identically(three_runs: list[str], store: str, tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert main(["history", "export", "--history", store, "-o", str(first)]) == 0
    empty = str(tmp_path / "empty.sqlite3")
    assert main(["history", "import", str(first), "--history", empty]) == 0
    assert main(["history", "export", "--history", empty, "-o", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()
    assert len(first.read_text(encoding="utf-8").splitlines()) == 3
    assert main(["history", "import", str(first), "--history", empty]) == 0  # again: nothing added
    assert main(["history", "export", "--history", empty, "-o", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()


def test_an_edited_export_is_refused_and_nothing_added(three_runs: list[str], store: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "a.jsonl"
    assert main(["history", "export", "--history", store, "-o", str(export)]) == 0
    lines = export.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace('"hypothesis":"', '"hypothesis":"X', 1)
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    target = tmp_path / "t.sqlite3"
    capsys.readouterr()
    assert main(["history", "import", str(export), "--history", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{export}:3" in err and "does not match its content" in err
    assert not target.exists()  # a refused import makes no store at all, so nothing can have been added


def test_concurrent_record_processes_both_land(repo: Path, tmp_path: Path, store: str, cli_env: dict[str, str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    _commit(repo, "one")
    runs = [_run(tmp_path, f"c{k}", _drop(REFS["en"], k + 2)) for k in range(4)]
    env = {**cli_env, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-m", "evalharness", "history", "record", str(run), "--history", store],
                              cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for run in runs]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * len(runs), results
    capsys.readouterr()
    assert main(["history", "list", "--history", store, "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == len(runs)


def test_run_record_and_the_config_history_key(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _commit(repo, "one")
    history = tmp_path / "h.sqlite3"
    run = _run(tmp_path, "x", GOOD)
    config = run.parent / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + f"history: {history}\n", encoding="utf-8")
    assert main(["run", "-c", str(config), "--run-dir", str(tmp_path / "rec"), "-q", "--record"]) == 0
    assert f"in {history}" in capsys.readouterr().err
    assert "history" not in json.loads((tmp_path / "rec" / "results.json").read_text())["manifest"]["config"]
    assert main(["history", "list", "--history", str(history), "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1


# --------------------------------------------------------------------------- the baseline that follows main


def _copy_source(texts: list[str], segments: tuple[int, ...]) -> list[str]:
    return [REFS["ms"][i] if i in segments else t for i, t in enumerate(texts)]


@pytest.fixture
def branches(repo: Path, tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """main: an old run, the expected baseline, then a run scored with another tokenizer; a feature branch with a
    later run of its own. HEAD is on feature, two commits after the expected baseline."""
    commits = {}
    for name, hyps, scoring in (("old", _drop(REFS["en"], 2), ""), ("base", GOOD, ""),
                                ("intl", GOOD, "scoring: {tokenize: intl}\n")):
        commits[name] = _commit(repo, name)
        run = _run(tmp_path, name, hyps, scoring=scoring)
        assert main(["history", "record", str(run), "--history", store]) == 0
    _git(repo, "checkout", "-q", "-b", "feature")
    commits["feature"] = _commit(repo, "feature")
    run = _run(tmp_path, "feature", REFS["en"])
    assert main(["history", "record", str(run), "--history", store]) == 0
    capsys.readouterr()
    return commits


def test_check_against_main_picks_the_matching_run_and_warns_when_stale(
        branches: dict[str, str], store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(tmp_path, "new", GOOD)
    capsys.readouterr()
    assert main(["check", "--baseline", "history:main", "--history", store, str(run), "--format", "json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["baseline"] == f"history:{branches['base'][:10]}"  # not intl (signature), not feature (branch)
    assert report["passed"] and "warning" not in captured.err
    assert main(["check", "--baseline", "history:main", "--history", store, str(run), "-q",
                 "--baseline-max-commits", "1"]) == 0
    err = capsys.readouterr().err
    assert err == (f"evalharness: warning: the baseline (main @ {branches['base'][:10]}) is 2 commits behind HEAD, "
                   "more than 1: record a fresh run on main\n")


def test_a_tokenizer_change_is_a_new_series(branches: dict[str, str], store: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "show", "--history", store, "--metric", "bleu", "--system", "mt", "--direction",
                 "ms-en", "--branch", "main"]) == 0
    out = capsys.readouterr().out
    titles = [line for line in out.splitlines() if line.startswith(CORPUS_NAME)]
    assert len(titles) == 2 and "tok:13a" in titles[0] and "tok:intl" in titles[1]
    intl_block = out.split(titles[1])[1]
    assert branches["intl"][:10] in intl_block and branches["base"][:10] not in intl_block


def test_staleness_by_age() -> None:
    from datetime import datetime

    from evalharness.history.store import RunRow
    from evalharness.history.trend import BranchBaseline, staleness

    row = RunRow("f" * 64, "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:01+00:00", None, "main", False, None,
                 "h", "t", "c", "paragraph", ("mt",), ("ms-en",), {}, {})
    baseline = BranchBaseline(row, None, "main")  # type: ignore[arg-type]
    start = datetime.fromisoformat(row.started_at)
    assert staleness(baseline, now=start + timedelta(days=2)) == []
    assert staleness(baseline, now=start + timedelta(days=4)) == [
        "the baseline (main @ ffffffffff) is 4.0 days old, more than 3.0 days: record a fresh run on main"]
    assert staleness(baseline, max_age_s=3600, now=start + timedelta(hours=5))[0].startswith(
        "the baseline (main @ ffffffffff) is 5 h old, more than 1 h")


def test_no_matching_run_is_one_line(branches: dict[str, str], store: str, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(tmp_path, "chrf-only", GOOD, scoring="scoring: {tokenize: char}\n")
    capsys.readouterr()
    assert main(["check", "--baseline", "history:main", "--history", store, str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no run on branch 'main' matches" in err
    assert "the latest, " in err and "BLEU signature nrefs:1|case:mixed|eff:no|tok:intl|" in err and "tok:char" in err
    assert main(["check", "--baseline", "history:release", "--history", store, str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no run recorded on branch 'release' (it has feature, main)" in err


def test_pr_comment(branches: dict[str, str], store: str, tmp_path: Path,
                    capsys: pytest.CaptureFixture[str]) -> None:
    damaged = _copy_source(_drop(REFS["en"], 1, words=3), (3, 7))
    run = _run(tmp_path, "pr", damaged, second=GOOD[:])
    comment = tmp_path / "comment.md"
    assert main(["check", "--baseline", "history:main", "--history", store, str(run), "-q",
                 "--pr-comment", str(comment), "--report-url", "https://example.org/report"]) == 1
    text = comment.read_text(encoding="utf-8")
    print(text)
    lines = text.splitlines()
    assert lines[0] == "<!-- evalharness-pr-comment -->"
    assert lines[1].startswith("## ❌ evalharness check: FAIL: ") and "regression(s)" in lines[1]
    assert f"`main` @ `{branches['base'][:10]}`" in text
    significant, folded = text.index("### Significant changes"), text.index("<details>")
    assert significant < folded
    table = text[significant:folded]
    assert "| mt | ms-en | BLEU ↑ |" in table and "**REGRESSION**" in table
    assert "| mt-b |" not in table  # mt-b is unchanged: folded
    assert "| mt-b | ms-en | BLEU ↑ |" in text[folded:text.index("</details>")]
    broken = text[text.index("### Broken segments"):]
    assert "**mt ms-en `p04`**: new flag: copy" in broken
    assert f"- before: {GOOD[3][:40]}" in broken and f"- after: {REFS['ms'][3][:40]}" in broken
    assert "Minimum detectable difference" in text
    assert lines[-1] == "[HTML report](https://example.org/report)"
    # a second check replaces the file (the marker says it is ours); any other file is refused
    assert main(["check", "--baseline", "history:main", "--history", store, str(run), "-q",
                 "--pr-comment", str(comment)]) == 1
    other = tmp_path / "notes.md"
    other.write_text("mine\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["check", "--baseline", "history:main", "--history", store, str(run), "-q",
                 "--pr-comment", str(other)]) == 2
    assert other.read_text(encoding="utf-8") == "mine\n"


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(("location", "expected"), [
    ("mysql://u@h/db", "mysql://…: not a history location"),
    ("{tmp}/missing.sqlite3", "no history there yet"),
    ("{tmp}/not-a-db.sqlite3", "file is not a database"),
    ("{tmp}", "a folder, not a history file"),
])
def test_bad_history_is_one_line_exit_2(location: str, expected: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "not-a-db.sqlite3").write_text("hello " * 200, encoding="utf-8")
    assert main(["history", "list", "--history", location.format(tmp=tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err
    assert (tmp_path / "not-a-db.sqlite3").read_text(encoding="utf-8") == "hello " * 200


def test_a_newer_schema_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import sqlite3

    from evalharness.history.store import HistoryStore

    path = tmp_path / "h.sqlite3"
    with HistoryStore(str(path)):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE evalharness_meta SET value = '2' WHERE key = 'schema_version'")
    assert main(["history", "list", "--history", str(path)]) == 2
    assert "has schema version 2; this evalharness reads version 1" in capsys.readouterr().err

"""Named test sets: the shipped registry, and the real download path against a real HTTP server on 127.0.0.1.

Each test makes its own small fixture set (a Malay and an English file), a registry of its own that pins their
sha256, and serves them from ``http.server`` in a thread; the server can corrupt a file, cut a download short,
or accept a connection and never answer.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from evalharness.cli import main
from evalharness.corpus import load_corpus
from evalharness.errors import CorpusError, DownloadError
from evalharness.testsets import find, registered_sets

MS = "Saya suka makan nasi lemak.\r\nDia pergi ke pasar pagi tadi.\r\nHujan turun dengan lebat semalam.\r\n"
EN = "I like to eat nasi lemak.\nShe went to the market this morning.\nIt rained heavily last night.\n"
SET = "tiny-set"


@dataclass
class Server:
    """A file server on 127.0.0.1: ``files`` by URL path; ``corrupt``/``truncate`` damage one path's answer;
    ``trickle`` sends a path's bytes one every 50 ms; ``flood`` sends zeros without end (``Content-Length`` only
    when ``announce`` says so); ``redirect`` answers 302 to another URL."""

    files: dict[str, bytes]
    corrupt: set[str] = field(default_factory=set)
    truncate: set[str] = field(default_factory=set)
    trickle: set[str] = field(default_factory=set)
    flood: set[str] = field(default_factory=set)
    announce: int | None = None
    redirect: dict[str, str] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    httpd: http.server.ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> None:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(self.path)
                if self.path in owner.redirect:
                    self.send_response(302)
                    self.send_header("Location", owner.redirect[self.path])
                    self.end_headers()
                    return
                if self.path in owner.flood:
                    self.send_response(200)
                    if owner.announce is not None:
                        self.send_header("Content-Length", str(owner.announce))
                    self.end_headers()
                    try:
                        while True:
                            self.wfile.write(bytes(1 << 16))
                    except OSError:  # the client hung up: what it must do
                        return
                body = owner.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                if self.path in owner.corrupt:
                    body = body.replace(b"a", b"4", 1)  # same length, other bytes
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path in owner.trickle:
                    try:
                        for i in range(len(body)):
                            self.wfile.write(body[i : i + 1])
                            self.wfile.flush()
                            time.sleep(0.05)
                    except OSError:
                        pass
                    return
                if self.path in owner.truncate:  # promise the whole file, send half, hang up
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # keep the test output clean
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _registry(path: Path, base: str, *, ms: bytes = MS.encode(), en: bytes = EN.encode(), lines: int = 3,
              name: str = SET, ms_path: str = "/files/tiny.ms", ms_bytes: int | None = None) -> Path:
    entry = {
        "description": "three sentences made in the test", "languages": {"ms": "zsm_Latn", "en": "eng_Latn"},
        "original": "en", "lines": lines, "licence": "CC0-1.0", "citation": "this test", "repository": "local/test",
        "commit": "0" * 40, "line_endings": "crlf",
        "files": {"ms": {"url": base + ms_path, "sha256": _sha(ms)},
                  "en": {"url": base + "/files/tiny.en", "sha256": _sha(en)}},
    }
    if ms_bytes is not None:
        entry["files"]["ms"]["bytes"] = ms_bytes  # type: ignore[index]
    path.write_text(json.dumps({"format": 1, "sets": {name: entry}}), encoding="utf-8")
    return path


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server({"/files/tiny.ms": MS.encode(), "/files/tiny.en": EN.encode()})
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "testsets-cache"
    monkeypatch.setenv("EVALHARNESS_TESTSETS_DIR", str(folder))
    monkeypatch.delenv("EVALHARNESS_TESTSETS_MIRROR", raising=False)
    return folder


@pytest.fixture
def registry(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch, cache: Path) -> Path:
    path = _registry(tmp_path / "registry.json", server.base)
    monkeypatch.setenv("EVALHARNESS_TESTSETS_REGISTRY", str(path))
    return path


def _cached(cache: Path) -> list[str]:
    """Every file under the cache folder, temporary files included."""
    return sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file()) if cache.exists() else []


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evalharness", *args], capture_output=True, text=True, env=env,
                          timeout=60)


# --------------------------------------------------------------------------- the shipped registry


def test_shipped_registry_pins_the_issue_files() -> None:
    sets = registered_sets()
    assert list(sets)[:3] == ["flores200-devtest", "ntrex128", "tico19-test"]
    flores, ntrex, tico = sets["flores200-devtest"], sets["ntrex128"], sets["tico19-test"]
    assert (flores.lines, ntrex.lines, tico.lines) == (1012, 1997, 2100)
    assert flores.files["ms"].name == "zsm_Latn.devtest" and flores.files["en"].name == "eng_Latn.devtest"
    assert flores.files["ms"].sha256 == "5097555fef5af8163c9e96d9a7f28c658a0825e7f7c7670e8ec9d03af3681eec"
    assert ntrex.line_endings == "crlf" and ntrex.original == "en"
    assert tico.files["ms"].url.endswith("/testsets/en-ms/tico19-test.ms") and tico.licence == "CC0-1.0"
    for entry in sets.values():  # every URL pinned to the entry's commit, on raw.githubusercontent.com
        for file in entry.files.values():
            assert file.url.startswith(f"https://raw.githubusercontent.com/{entry.repository}/{entry.commit}/")
            assert "/eng-msa/" not in file.url


def test_a_registry_entry_under_a_recorded_trap_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """eng-msa/tico19-test.msa is the Indonesian file: the shipped registry's 'avoid' list refuses it anywhere."""
    path = _registry(tmp_path / "r.json", "https://example.org", ms_path="/OPUS-MT-testsets/eng-msa/tico19-test.msa")
    monkeypatch.setenv("EVALHARNESS_TESTSETS_REGISTRY", str(path))
    with pytest.raises(CorpusError, match=r"files\.ms\.url: .*eng-msa.*Indonesian"):
        registered_sets()


@pytest.mark.parametrize("tail", ["/files/", "/files/%2E%2E", "/files/..%2Fescape"])
def test_a_url_that_is_no_plain_file_name_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     tail: str) -> None:
    """The file is cached and mirrored under the URL's last part: '..' or a slash there would leave the cache."""
    path = _registry(tmp_path / "r.json", "https://example.org", ms_path=tail)
    monkeypatch.setenv("EVALHARNESS_TESTSETS_REGISTRY", str(path))
    with pytest.raises(CorpusError, match=r"files\.ms\.url: .* does not end in a file name"):
        registered_sets()


def test_a_registry_cannot_replace_a_shipped_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _registry(tmp_path / "r.json", "https://example.org", name="flores200-devtest")
    monkeypatch.setenv("EVALHARNESS_TESTSETS_REGISTRY", str(path))
    with pytest.raises(CorpusError, match=r"sets\.flores200-devtest: already registered by .*registry\.json"):
        registered_sets()


def test_unknown_name_suggests_the_closest(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["testsets", "info", "flores200"]) == 2
    assert "did you mean 'flores200-devtest'?" in capsys.readouterr().err


# --------------------------------------------------------------------------- the download path


def test_first_get_downloads_and_verifies_second_is_a_cache_hit(
        registry: Path, server: Server, cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["testsets", "get", SET]) == 0
    out = capsys.readouterr().out
    assert f"{SET}: verified, 3 lines per language" in out
    assert sorted(server.requests) == ["/files/tiny.en", "/files/tiny.ms"]
    assert _cached(cache) == [f"{SET}/tiny.en", f"{SET}/tiny.ms"]
    assert (cache / SET / "tiny.ms").read_bytes() == MS.encode()  # kept as fetched, CRLF and all
    server.stop()  # no network from here on
    assert main(["testsets", "get", SET]) == 0
    assert len(server.requests) == 2
    corpus = load_corpus(SET)  # as a config's `corpus: tiny-set` resolves it
    assert [p.text("ms") for p in corpus.pairs] == MS.split("\r\n")[:3]  # CR LF read as one line break
    assert corpus.pairs[1].text("en") == "She went to the market this morning."
    assert corpus.version == "000000000000" and corpus.name == SET
    assert main(["testsets", "list"]) == 0
    assert any(line.startswith(f"{SET}\t") and "\tcached\t" in line for line in capsys.readouterr().out.splitlines())


def test_a_corrupted_file_is_refused_through_the_cli(registry: Path, server: Server, cache: Path,
                                                      cli_env: dict[str, str]) -> None:
    server.corrupt.add("/files/tiny.en")
    env = {**cli_env, "EVALHARNESS_TESTSETS_REGISTRY": str(registry), "EVALHARNESS_TESTSETS_DIR": str(cache)}
    done = _cli(["testsets", "get", SET], env)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("evalharness: error")]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    bad = _sha(EN.encode().replace(b"a", b"4", 1))
    assert f"{server.base}/files/tiny.en has sha256 {bad}, expected {_sha(EN.encode())}" in lines[0]
    assert _cached(cache) == []  # not even the good Malay file, and no temporary file


def test_a_download_cut_short_leaves_nothing(registry: Path, server: Server, cache: Path) -> None:
    server.truncate.add("/files/tiny.ms")
    with pytest.raises(DownloadError, match=r"tiny\.ms (was cut short: got \d+ of \d+ bytes|broke off)"):
        load_corpus(SET)
    assert _cached(cache) == []
    server.truncate.clear()  # the next attempt completes
    assert len(load_corpus(SET).pairs) == 3


def test_a_damaged_cache_file_is_fetched_again(registry: Path, server: Server, cache: Path) -> None:
    load_corpus(SET)
    (cache / SET / "tiny.en").write_text(EN.replace("rained", "snowed"), encoding="utf-8")
    corpus = load_corpus(SET)
    assert corpus.pairs[2].text("en") == "It rained heavily last night."
    assert server.requests.count("/files/tiny.en") == 2 and server.requests.count("/files/tiny.ms") == 1


def test_a_wrong_line_count_is_refused(tmp_path: Path, server: Server, cache: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = _registry(tmp_path / "r.json", server.base, lines=4)
    monkeypatch.setenv("EVALHARNESS_TESTSETS_REGISTRY", str(path))
    with pytest.raises(CorpusError, match="3 lines read, 4 registered"):
        load_corpus(SET)


def test_offline_with_nothing_cached_fails_fast_in_one_line(
        tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A server that accepts the connection and never answers: what a black-holed network looks like."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections complete in the backlog; nobody reads or answers
    try:
        base = f"http://127.0.0.1:{silent.getsockname()[1]}"
        monkeypatch.setenv("EVALHARNESS_TESTSETS_REGISTRY", str(_registry(tmp_path / "r.json", base)))
        start = time.perf_counter()
        assert main(["testsets", "get", SET]) == 2
        elapsed = time.perf_counter() - start
    finally:
        silent.close()
    err = capsys.readouterr().err
    assert elapsed < 2.0, elapsed
    assert err.count("\n") == 1 and err.startswith("evalharness: error: test set 'tiny-set' is not cached"), err
    assert "no answer within 1.5 s" in err
    assert "put tiny.ms and tiny.en (from local/test at 000000000000" in err
    assert "EVALHARNESS_TESTSETS_MIRROR=MIRROR" in err and str(cache / SET) in err
    assert _cached(cache) == []


def test_a_slow_link_sets_a_longer_deadline(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        base = f"http://127.0.0.1:{silent.getsockname()[1]}"
        monkeypatch.setenv("EVALHARNESS_TESTSETS_REGISTRY", str(_registry(tmp_path / "r.json", base)))
        monkeypatch.setenv("EVALHARNESS_TESTSETS_CONNECT_TIMEOUT", "0.3")
        start = time.perf_counter()
        assert main(["testsets", "get", SET]) == 2
        assert time.perf_counter() - start < 1.2
        assert "no answer within 0.3 s" in capsys.readouterr().err
        monkeypatch.setenv("EVALHARNESS_TESTSETS_CONNECT_TIMEOUT", "soon")
        assert main(["testsets", "get", SET]) == 2
        assert "EVALHARNESS_TESTSETS_CONNECT_TIMEOUT='soon': expected a number of seconds" in capsys.readouterr().err
    finally:
        silent.close()


def test_nothing_listening_fails_through_the_cli_in_one_line(tmp_path: Path, cli_env: dict[str, str]) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now: connection refused
    env = {**cli_env, "EVALHARNESS_TESTSETS_DIR": str(tmp_path / "c"),
           "EVALHARNESS_TESTSETS_REGISTRY": str(_registry(tmp_path / "r.json", f"http://127.0.0.1:{port}"))}
    start = time.perf_counter()
    done = _cli(["run", "-c", str(_files_config(tmp_path, SET)), "--run-dir", str(tmp_path / "run"), "-q"], env)
    elapsed = time.perf_counter() - start
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "test set 'tiny-set' is not cached" in done.stderr and "Connection refused" in done.stderr
    assert elapsed < 10  # interpreter start and imports included; the fetch itself gave up at once
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- mirrors


def test_a_local_mirror_folder_is_verified_like_a_download(
        tmp_path: Path, server: Server, registry: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror"
    (mirror / SET).mkdir(parents=True)
    (mirror / SET / "tiny.ms").write_bytes(MS.encode())
    (mirror / SET / "tiny.en").write_bytes(EN.encode().upper())
    monkeypatch.setenv("EVALHARNESS_TESTSETS_MIRROR", str(mirror))
    with pytest.raises(DownloadError, match=rf"{mirror / SET / 'tiny.en'} has sha256 [0-9a-f]{{64}}, expected"):
        load_corpus(SET)
    assert _cached(cache) == []
    (mirror / SET / "tiny.en").write_bytes(EN.encode())
    assert len(load_corpus(SET).pairs) == 3
    assert server.requests == []  # the pinned URLs were never asked
    (mirror / SET / "tiny.en").unlink()
    (cache / SET / "tiny.en").unlink()
    with pytest.raises(DownloadError, match=r"tiny\.en not found in the mirror .*tiny-set/tiny\.ms, tiny-set/tiny\.en"):
        load_corpus(SET)


def test_a_mirror_url_prefix(server: Server, registry: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server.files.update({f"/mirror/{SET}/tiny.ms": MS.encode(), f"/mirror/{SET}/tiny.en": EN.encode()})
    monkeypatch.setenv("EVALHARNESS_TESTSETS_MIRROR", server.base + "/mirror/")
    assert len(load_corpus(SET).pairs) == 3
    assert sorted(server.requests) == [f"/mirror/{SET}/tiny.en", f"/mirror/{SET}/tiny.ms"]


# --------------------------------------------------------------------------- a run on a named test set


def _files_config(tmp_path: Path, corpus: str) -> Path:
    """A files system on ``corpus``: hypotheses with the last word of every reference dropped."""
    hyp = {"ms-en": tmp_path / "hyp.en", "en-ms": tmp_path / "hyp.ms"}
    hyp["ms-en"].write_text("".join(" ".join(t.split()[:-1]) + "\n" for t in EN.splitlines()), encoding="utf-8")
    hyp["en-ms"].write_text("".join(" ".join(t.split()[:-1]) + "\n" for t in MS.splitlines()), encoding="utf-8")
    config = tmp_path / "c.yaml"
    config.write_text(f"corpus: {corpus}\nsystems:\n  - name: mt\n    backend: files\n    hypotheses:\n"
                      f"      ms-en: {hyp['ms-en']}\n      en-ms: {hyp['en-ms']}\nstatistics: {{resamples: 200}}\n",
                      encoding="utf-8")
    return config


def test_a_run_on_a_named_test_set_scores_as_sacrebleu(tmp_path: Path, registry: Path, server: Server) -> None:
    import sacrebleu

    assert main(["run", "-c", str(_files_config(tmp_path, SET)), "--run-dir", str(tmp_path / "run"), "-q"]) == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text(encoding="utf-8"))
    assert results["manifest"]["corpus"]["name"] == SET
    for direction, refs in (("ms-en", EN.splitlines()), ("en-ms", MS.splitlines())):
        hyps = [" ".join(t.split()[:-1]) for t in refs]
        scores = results["results"]["mt"][direction]["scores"]
        assert scores["bleu"]["score"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-9)
        assert scores["chrf"]["score"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score, abs=1e-9)


def test_info_prints_the_entry_and_where_it_is_cached(registry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["testsets", "info", SET]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["cached"] is None and info["files"]["ms"]["name"] == "tiny.ms"
    assert find(SET).as_json()["files"] == info["files"]
    load_corpus(SET)
    assert main(["testsets", "info", SET]) == 0
    assert json.loads(capsys.readouterr().out)["cached"]["en"].endswith("tiny.en")


def test_the_flores200_config_validates_and_fails_offline_naming_the_set(
        tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from evalharness.runs.config import load_config
    from tests.conftest import REPO

    config = load_config(REPO / "configs" / "flores200.yaml")
    assert config.corpus == "flores200-devtest"
    served = {(s.name, d) for s in config.systems for d in config.system_directions(s)}
    assert served == {("opus-mt-mul-en", "ms-en"), ("opus-mt-en-mul", "en-ms"), ("nllb-200-distilled-600M", "ms-en"),
                      ("nllb-200-distilled-600M", "en-ms")}
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    monkeypatch.setenv("EVALHARNESS_TESTSETS_MIRROR", f"http://127.0.0.1:{port}")
    assert main(["run", "-c", "flores200", "--run-dir", str(tmp_path / "run"), "-q"]) == 2
    err = capsys.readouterr().err
    url = f"http://127.0.0.1:{port}/flores200-devtest/zsm_Latn.devtest"
    assert f"test set 'flores200-devtest' is not cached and {url}" in err and err.count("\n") == 1, err


# --------------------------------------------------------------------------- every fetch is bounded (issue 23)


def test_a_trickling_server_is_abandoned_at_the_download_deadline(
        registry: Path, server: Server, cache: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    server.files["/files/tiny.ms"] = MS.encode() * 100  # 20 s at a byte every 50 ms
    server.trickle.add("/files/tiny.ms")
    monkeypatch.setenv("EVALHARNESS_TESTSETS_DOWNLOAD_TIMEOUT", "1")
    started = time.monotonic()
    assert main(["testsets", "get", SET]) == 2
    assert time.monotonic() - started < 5
    err = capsys.readouterr().err.splitlines()[-1]  # after the progress line
    assert "took more than 1 s" in err and "EVALHARNESS_TESTSETS_DOWNLOAD_TIMEOUT" in err, err
    assert _cached(cache) == []  # no temporary file either


@pytest.mark.parametrize("announce", [None, 300_000_000])
def test_a_download_beyond_the_recorded_size_is_stopped_there(
        announce: int | None, tmp_path: Path, server: Server, cache: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EVALHARNESS_TESTSETS_REGISTRY",
                       str(_registry(tmp_path / "r.json", server.base, ms_bytes=len(MS.encode()))))
    server.flood.add("/files/tiny.ms")
    server.announce = announce
    assert main(["testsets", "get", SET]) == 2
    err = capsys.readouterr().err
    size = len(MS.encode())
    what = f"sent more than {size} bytes" if announce is None else "announces 300000000 bytes"
    last = err.splitlines()[-1]  # after the progress line
    assert last.startswith("evalharness: error:") and what in last and f"its recorded size, {size} bytes" in err, err
    assert _cached(cache) == []


def test_without_a_recorded_size_a_download_stops_at_the_documented_cap(
        registry: Path, server: Server, cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from evalharness.testsets.registry import DEFAULT_MAX_BYTES

    server.flood.add("/files/tiny.ms")
    assert main(["testsets", "get", SET]) == 2
    err = capsys.readouterr().err
    assert f"sent more than {DEFAULT_MAX_BYTES} bytes; the limit is {DEFAULT_MAX_BYTES} bytes (its registry entry " \
        'records no "bytes")' in err, err
    assert _cached(cache) == []


def test_a_redirect_to_ftp_is_named_as_such(registry: Path, server: Server, cache: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    server.redirect["/files/tiny.ms"] = "ftp://127.0.0.1:1/tiny.ms"
    assert main(["testsets", "get", SET]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "redirects to ftp://127.0.0.1:1/tiny.ms, which is not an http(s) URL" in err, err
    assert "cannot be reached" not in err


@pytest.mark.parametrize("kind", ["fifo", "dev-zero-link"])
def test_a_mirror_file_that_is_no_regular_file_is_refused_at_once(
        kind: str, tmp_path: Path, registry: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import os

    mirror = tmp_path / "mirror"
    (mirror / SET).mkdir(parents=True)
    (mirror / SET / "tiny.en").write_bytes(EN.encode())
    if kind == "fifo":
        os.mkfifo(mirror / SET / "tiny.ms")  # nobody ever writes to it: opening it to read would wait forever
    else:
        (mirror / SET / "tiny.ms").symlink_to("/dev/zero")  # reading it would never end
    monkeypatch.setenv("EVALHARNESS_TESTSETS_MIRROR", str(mirror))
    started = time.monotonic()
    assert main(["testsets", "get", SET]) == 2
    assert time.monotonic() - started < 5
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a regular file" in err, err
    assert _cached(cache) == []


def test_a_mirror_file_larger_than_the_recorded_size_is_refused_before_copying(
        tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EVALHARNESS_TESTSETS_REGISTRY",
                       str(_registry(tmp_path / "r.json", "https://example.org", ms_bytes=len(MS.encode()))))
    mirror = tmp_path / "mirror"
    (mirror / SET).mkdir(parents=True)
    (mirror / SET / "tiny.ms").write_bytes(MS.encode() * 2)
    (mirror / SET / "tiny.en").write_bytes(EN.encode())
    monkeypatch.setenv("EVALHARNESS_TESTSETS_MIRROR", str(mirror))
    assert main(["testsets", "get", SET]) == 2
    size = len(MS.encode())
    assert f"is {2 * size} bytes; the limit is its recorded size, {size} bytes" in capsys.readouterr().err
    assert _cached(cache) == []


def test_a_mirror_that_is_neither_http_nor_a_folder_is_refused(
        registry: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EVALHARNESS_TESTSETS_MIRROR", "ftp://127.0.0.1:1/mirror")
    assert main(["testsets", "get", SET]) == 2
    assert "a mirror is an http(s) URL prefix or a local folder" in capsys.readouterr().err


@pytest.mark.parametrize("ms_path, words", [
    ("/OPUS-MT-testsets/eng%2Dmsa/tico19-test.msa", "eng-msa"),  # the server decodes %2D: the same trap
    ("/files/tiny%0Ams", "does not end in a file name"),  # a newline in the cached name would split output lines
    ("/files/tiny%7Fms", "does not end in a file name"),
])
def test_encoded_urls_do_not_slip_past_the_registry_checks(ms_path: str, words: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path = _registry(tmp_path / "r.json", "https://example.org", ms_path=ms_path)
    monkeypatch.setenv("EVALHARNESS_TESTSETS_REGISTRY", str(path))
    with pytest.raises(CorpusError, match=words):
        registered_sets()


def test_a_registry_listed_twice_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from evalharness.testsets.registry import REGISTRY_FILE

    path = _registry(tmp_path / "r.json", "https://example.org")
    monkeypatch.setenv("EVALHARNESS_TESTSETS_REGISTRY", os.pathsep.join([str(path), str(path), str(REGISTRY_FILE)]))
    assert SET in registered_sets() and "flores200-devtest" in registered_sets()


def test_a_registry_records_sizes_as_positive_whole_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for size in (0, -1, "90", 1.5, True):
        path = _registry(tmp_path / "r.json", "https://example.org", ms_bytes=size)  # type: ignore[arg-type]
        monkeypatch.setenv("EVALHARNESS_TESTSETS_REGISTRY", str(path))
        with pytest.raises(CorpusError, match=r"files\.ms\.bytes: expected the file's size"):
            registered_sets()
    path = _registry(tmp_path / "r.json", "https://example.org", ms_bytes=95)
    assert find(SET).files["ms"].size == 95 and find(SET).as_json()["files"]["ms"]["bytes"] == 95
    assert find(SET).files["en"].size is None and find(SET).as_json()["files"]["en"].keys() == {"name", "url", "sha256"}


def test_a_cache_that_cannot_be_written_names_the_folder_and_the_fix(registry: Path, server: Server, cache: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (cache / SET / "tiny.ms").mkdir(parents=True)  # a folder where the file goes: the rename into place fails
    assert main(["testsets", "get", SET]) == 2
    err = capsys.readouterr().err.splitlines()[-1]  # after the progress lines
    assert f"cannot write into the cache folder {cache / SET}" in err and "EVALHARNESS_TESTSETS_DIR" in err, err
    assert ".tmp" not in err
    assert sorted(p.name for p in (cache / SET).iterdir()) == ["tiny.ms"]  # no temporary file left


def test_a_file_name_too_long_to_cache_is_refused_in_the_registry(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = _registry(tmp_path / "r.json", "https://example.org", ms_path="/files/" + "m" * 240)
    monkeypatch.setenv("EVALHARNESS_TESTSETS_REGISTRY", str(path))
    with pytest.raises(CorpusError, match=r"files\.ms\.url: the file name is 240 bytes long; .* at most 200"):
        registered_sets()

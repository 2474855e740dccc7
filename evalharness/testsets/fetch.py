"""Fetching a named test set once, verifying it, and keeping it: ``<cache>/testsets/<set>/<file name>``.

A cached file counts only if its sha256 is the pinned one (checked on every use: hashing a few hundred kB
takes milliseconds), so a damaged or replaced cache file is fetched again, never used. A fetch writes each
file to a temporary file beside its destination, hashes it while writing, and renames the set's files into
place only when every one of them matched: a refused or interrupted download leaves nothing behind.

Sources, in order: ``$EVALHARNESS_TESTSETS_MIRROR`` when set (a URL prefix or a local folder holding each
file at ``<mirror>/<set>/<file name>``), else the pinned URL. Files from a mirror are verified against the
same hashes. With no network the first attempt to connect gives up after :data:`CONNECT_DEADLINE_S`.

Every fetch is bounded: a file brings at most its recorded size (``bytes`` in the registry, else
:data:`~evalharness.testsets.registry.DEFAULT_MAX_BYTES`); a download ends within :data:`DOWNLOAD_DEADLINE_S`
however slowly the server trickles; a mirror file must be a regular file (a FIFO or a link to ``/dev/zero`` would
block or never end); a redirect may lead only to another http(s) URL.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from evalharness.environment import env_seconds
from evalharness.errors import DownloadError
from evalharness.testsets.registry import SetEntry, SetFile

ENV_MIRROR = "EVALHARNESS_TESTSETS_MIRROR"
ENV_DIR = "EVALHARNESS_TESTSETS_DIR"
CONNECT_DEADLINE_S = 1.5
"""How long the server may take to answer (connect and headers): offline must fail in well under 2 s. A slow
link (a proxy, a distant mirror) sets ``$EVALHARNESS_TESTSETS_CONNECT_TIMEOUT`` (seconds) instead."""
ENV_CONNECT = "EVALHARNESS_TESTSETS_CONNECT_TIMEOUT"


def connect_deadline() -> float:
    """:data:`CONNECT_DEADLINE_S`, or ``$EVALHARNESS_TESTSETS_CONNECT_TIMEOUT`` where it is a positive number."""
    return env_seconds(ENV_CONNECT, CONNECT_DEADLINE_S, DownloadError, "10")


READ_TIMEOUT_S = 30.0
"""How long a started download may stall between two chunks before it is abandoned."""
DOWNLOAD_DEADLINE_S = 300.0
"""How long one file's download may take in all (a few hundred kB take a second): a server that trickles a byte at
a time is abandoned then (checked between reads, so at most :data:`READ_TIMEOUT_S` later). A slow link sets
``$EVALHARNESS_TESTSETS_DOWNLOAD_TIMEOUT`` (seconds) instead."""
ENV_DOWNLOAD = "EVALHARNESS_TESTSETS_DOWNLOAD_TIMEOUT"


def download_deadline() -> float:
    """:data:`DOWNLOAD_DEADLINE_S`, or ``$EVALHARNESS_TESTSETS_DOWNLOAD_TIMEOUT`` where it is a positive number."""
    return env_seconds(ENV_DOWNLOAD, DOWNLOAD_DEADLINE_S, DownloadError, "600")


_CHUNK = 1 << 16
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def testsets_dir() -> Path:
    """``$EVALHARNESS_TESTSETS_DIR``, else ``testsets/`` in the user cache (``~/.cache/evalharness/testsets``)."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR]).expanduser()
    from evalharness.paths import default_cache_dir

    return default_cache_dir() / "testsets"


def sha256_of(path: Path) -> str | None:
    """The file's sha256, or None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def cached_paths(entry: SetEntry) -> dict[str, Path] | None:
    """The set's cached files by language when every one is there and verified, else None (reads only)."""
    folder = testsets_dir() / entry.name
    paths = {lang: folder / f.name for lang, f in entry.files.items()}
    ok = all(p.is_file() and sha256_of(p) == entry.files[lang].sha256 for lang, p in paths.items())
    return paths if ok else None


def source(entry: SetEntry, file: SetFile) -> str:
    """Where ``file`` is fetched from: ``<mirror>/<set>/<file name>`` when a mirror is set, else its URL."""
    mirror = os.environ.get(ENV_MIRROR, "").strip()
    if not mirror:
        return file.url
    if _URL.match(mirror):
        if not mirror.lower().startswith(("http://", "https://")):
            raise DownloadError(f"{ENV_MIRROR}={mirror!r}: a mirror is an http(s) URL prefix or a local folder")
        from urllib.parse import quote

        return f"{mirror.rstrip('/')}/{entry.name}/{quote(file.name)}"
    return str(Path(mirror).expanduser() / entry.name / file.name)


def fetch(entry: SetEntry, *, notify: Callable[[str], None] | None = None) -> dict[str, Path]:
    """The set's files by language: from the cache, or fetched, verified and cached first (all or none)."""
    folder = testsets_dir() / entry.name
    wanted = {lang: folder / f.name for lang, f in entry.files.items()}
    missing = [lang for lang, p in wanted.items()
               if not (p.is_file() and sha256_of(p) == entry.files[lang].sha256)]
    if not missing:
        return wanted
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DownloadError(f"test set {entry.name!r}: cannot create the cache folder {folder}: "
                            f"{err.strerror or err} (set ${ENV_DIR} to a writable folder)") from None
    staged: dict[str, Path] = {}
    try:
        for lang in missing:
            file = entry.files[lang]
            staged[lang] = _stage(entry, file, source(entry, file), folder, notify)
        for lang, tmp in staged.items():
            os.replace(tmp, wanted[lang])
    except OSError as err:  # the folder, not the temporary file inside it, is what the user can fix
        raise DownloadError(f"test set {entry.name!r}: cannot write into the cache folder {folder}: "
                            f"{err.strerror or err}; nothing was cached (check its free space and permissions, or "
                            f"set ${ENV_DIR} to a writable folder)") from None
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
    return wanted


def _stage(entry: SetEntry, file: SetFile, where: str, folder: Path,
           notify: Callable[[str], None] | None) -> Path:
    """``where`` copied into a temporary file in ``folder`` and verified; the caller renames or removes it.

    ``notify`` hears of a download once the server has answered (offline, the error is the only line).
    """
    fd, name = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".tmp", dir=folder)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            got = (_download(entry, file, where, out, notify) if _URL.match(where)
                   else _copy(entry, file, Path(where), out))
            out.flush()
            os.fsync(out.fileno())
        if got != file.sha256:
            raise DownloadError(f"test set {entry.name!r}: {where} has sha256 {got}, expected {file.sha256}: not the "
                                "pinned file, so nothing was cached (a wrong or damaged file in the mirror, or a "
                                "changed upstream)")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _copy(entry: SetEntry, file: SetFile, path: Path, out: IO[bytes]) -> str:
    """``path`` (a mirror file) copied to ``out``; its sha256. Only a regular file of at most the file's size."""
    digest = hashlib.sha256()
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer that may never come
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise DownloadError(f"test set {entry.name!r}: {path} not found in the mirror (${ENV_MIRROR}); a mirror "
                            f"holds each file at <mirror>/<set>/<file name>: {_layout(entry)}") from None
    except OSError as err:
        raise DownloadError(f"test set {entry.name!r}: cannot read {path}: {err.strerror or err}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DownloadError(f"test set {entry.name!r}: {path} in the mirror is not a regular file (a pipe, a "
                                "device, or a link to one); put the file itself there")
        if info.st_size > file.max_bytes:
            raise DownloadError(_too_big(entry, str(path), f"is {info.st_size} bytes", file))
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as handle:
            fd = -1
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
    except OSError as err:
        raise DownloadError(f"test set {entry.name!r}: cannot read {path}: {err.strerror or err}") from None
    finally:
        if fd >= 0:
            os.close(fd)
    return digest.hexdigest()


def _too_big(entry: SetEntry, where: str, what: str, file: SetFile) -> str:
    limit = (f"its recorded size, {file.size} bytes" if file.size is not None
             else f"{file.max_bytes} bytes (its registry entry records no \"bytes\")")
    return (f"test set {entry.name!r}: {where} {what}; the limit is {limit}; nothing was cached (a wrong file in "
            "the mirror or a changed upstream; a larger file of your own records \"bytes\" in its registry entry)")


def _download(entry: SetEntry, file: SetFile, url: str, out: IO[bytes],
              notify: Callable[[str], None] | None) -> str:
    """``url`` written to ``out``, within :func:`download_deadline` and :attr:`SetFile.max_bytes`; its sha256."""
    seconds = download_deadline()
    deadline = time.monotonic() + seconds
    response = _open(entry, url)
    if notify is not None:
        notify(f"downloading {entry.name}: {url}")
    digest = hashlib.sha256()
    received = 0
    limit = file.max_bytes
    expected = response.headers.get("Content-Length")
    if expected is not None and expected.isdigit() and int(expected) > limit:
        response.close()
        raise DownloadError(_too_big(entry, url, f"announces {expected} bytes", file))
    try:
        with response:
            while True:
                chunk = response.read1(_CHUNK)  # what has arrived: read() would wait for a whole chunk
                if not chunk:
                    break
                digest.update(chunk)
                out.write(chunk)
                received += len(chunk)
                if received > limit:
                    raise DownloadError(_too_big(entry, url, f"sent more than {limit} bytes", file))
                if time.monotonic() > deadline:
                    raise DownloadError(f"test set {entry.name!r}: download of {url} took more than {seconds:g} s "
                                        f"({received} bytes so far); nothing was cached (a slow link: set "
                                        f"{ENV_DOWNLOAD}=SECONDS)")
    except (OSError, ValueError) as err:  # a stalled or reset connection, an incomplete chunked body
        raise DownloadError(f"test set {entry.name!r}: download of {url} broke off after {received} bytes "
                            f"({err}); nothing was cached: run again") from None
    if expected is not None and expected.isdigit() and int(expected) != received:
        raise DownloadError(f"test set {entry.name!r}: download of {url} was cut short: got {received} of "
                            f"{expected} bytes; nothing was cached: run again")
    return digest.hexdigest()


def _open(entry: SetEntry, url: str) -> Any:
    """The response to ``url``, or a one-line error within :data:`CONNECT_DEADLINE_S` when there is none.

    ``urlopen``'s own timeout does not bound name resolution, which can hang on a machine without a network;
    so the request runs in a daemon thread and we stop waiting for it at the deadline.
    """
    import urllib.error
    import urllib.request
    from urllib.parse import urlsplit

    class Elsewhere(Exception):
        """A redirect to a URL that is not http(s) (urllib would follow one to ftp://)."""

    class HttpOnly(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
            if urlsplit(newurl).scheme.lower() not in ("http", "https"):
                raise Elsewhere(newurl)
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    opener = urllib.request.build_opener(HttpOnly)
    answer: dict[str, Any] = {}

    def request() -> None:
        try:
            answer["response"] = opener.open(url, timeout=READ_TIMEOUT_S)
        except BaseException as err:  # handed to the waiting thread, which reports it
            answer["error"] = err

    worker = threading.Thread(target=request, name="evalharness-testset-fetch", daemon=True)
    worker.start()
    deadline = connect_deadline()
    worker.join(deadline)
    if worker.is_alive():
        raise DownloadError(_unreachable(entry, url, f"no answer within {deadline:g} s (a slow link: set "
                                                     f"{ENV_CONNECT})"))
    error = answer.get("error")
    if isinstance(error, Elsewhere):
        raise DownloadError(f"test set {entry.name!r}: {url} redirects to {error}, which is not an http(s) URL; "
                            f"evalharness fetches over http(s) only: fetch the file yourself and put it in a mirror "
                            f"(${ENV_MIRROR}): {_layout(entry)}")
    if isinstance(error, urllib.error.HTTPError):
        raise DownloadError(f"test set {entry.name!r}: {url} answered {error.code} {error.reason}"
                            + (f"; a mirror holds each file at <mirror>/<set>/<file name>: {_layout(entry)}"
                               if os.environ.get(ENV_MIRROR) else ""))
    if error is not None:
        reason = getattr(error, "reason", None) or error
        raise DownloadError(_unreachable(entry, url, str(reason)))
    return answer["response"]


def _layout(entry: SetEntry) -> str:
    return ", ".join(f"{entry.name}/{f.name}" for f in entry.files.values())


def _unreachable(entry: SetEntry, url: str, reason: str) -> str:
    names = " and ".join(f.name for f in entry.files.values())
    return (f"test set {entry.name!r} is not cached and {url} cannot be reached ({reason}); without a network, "
            f"put {names} (from {entry.repository} at {entry.commit[:12]}, see 'evalharness testsets info "
            f"{entry.name}') in MIRROR/{entry.name}/ and set {ENV_MIRROR}=MIRROR, or copy them into "
            f"{testsets_dir() / entry.name}/")

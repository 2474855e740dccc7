"""The translation store: one SQLite file of translations, keyed by everything that can change an output.

Keys are made by :class:`evalharness.systems.cached.CachedSystem` (identity, languages, source text); the
store only gets and puts them many at a time. It also memoises model-directory hashes, language-identification
results, the facts a loaded system reported (for the manifest of a rerun that loads nothing), and the segment
scores of model-based metrics (COMET), keyed by the metric's settings and the segment's texts.

Each finished batch is committed on its own (WAL journal), so a run killed mid-way keeps what it had
translated and a rerun resumes from there; several processes can share one cache file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from evalharness.errors import EvalHarnessWarning, InputError
from evalharness.paths import default_cache_dir
from evalharness.systems.base import Translation

T = TypeVar("T")
CACHE_FILE = "translations.sqlite3"
SCHEMA = """
CREATE TABLE IF NOT EXISTS translations (
    key TEXT PRIMARY KEY,
    identity TEXT NOT NULL,
    src TEXT NOT NULL,
    tgt TEXT NOT NULL,
    output TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    hit_limit INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS identities (identity TEXT PRIMARY KEY, description TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dir_hashes (path TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS languages (key TEXT PRIMARY KEY, lang TEXT NOT NULL, confidence REAL NOT NULL);
CREATE TABLE IF NOT EXISTS facts (identity TEXT PRIMARY KEY, facts TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS segment_scores (key TEXT PRIMARY KEY, metric TEXT NOT NULL, score REAL NOT NULL);
CREATE TABLE IF NOT EXISTS segment_spans (key TEXT PRIMARY KEY, metric TEXT NOT NULL, spans TEXT NOT NULL);
"""


def default_cache_path() -> Path:
    """The SQLite file used when the config names none."""
    return default_cache_dir() / CACHE_FILE


APPLICATION_ID = 0x45564848  # "EVHH" in the SQLite header: this file is an evalharness store
TRANSLATION_COLUMNS = ("key", "identity", "src", "tgt", "output", "tokens", "hit_limit", "created")


class TranslationStore:
    """A SQLite file of translations; safe to share between processes.

    Opened for a run (``create=True``) it is created if missing. An existing file that is not an evalharness
    store is refused rather than given new tables. Once open, a failure of the file (corrupted pages, a full
    disk) is a warning, after which the store answers "not found" and keeps nothing: translations are still
    returned, only not kept, so a finished run is never lost to its cache.
    """

    def __init__(self, path: Path, *, create: bool = True, readonly: bool = False) -> None:
        self.path = path
        self.broken: str | None = None
        # A read-only look (cache info) must leave the folder as it found it: SQLite creates -wal/-shm files
        # beside a WAL database even to read it; those it made are removed on close.
        self._sidecars = [Path(f"{path}{suffix}") for suffix in ("-wal", "-shm")] if readonly else []
        self._sidecars = [p for p in self._sidecars if not p.exists()]
        fix = "pass --no-cache, or set cache.path to a writable file" if create else "check the path"
        if not path.is_file() and (not create or path.exists()):
            what = "no such file" if not path.exists() else "not a file"
            raise InputError(f"{path}: {what}; {fix}")
        try:
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
            existed = path.is_file()
            uri = f"{path.resolve().as_uri()}?mode={'ro' if readonly else 'rw' if existed else 'rwc'}"
            self._db = sqlite3.connect(uri, uri=True, timeout=60, isolation_level=None)
            self._db.execute("PRAGMA busy_timeout = 60000")
            if existed:
                self._check_is_store(create=create)
            if not readonly:
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
                self._db.executescript(SCHEMA)
                if not existed:
                    self._db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        except (sqlite3.Error, OSError) as err:
            for sidecar in self._sidecars:
                sidecar.unlink(missing_ok=True)
            raise InputError(f"{path}: cannot open the translation cache ({err}); {fix}") from None

    def _check_is_store(self, *, create: bool) -> None:
        """Refuse a file that is not an evalharness store (someone else's database, an empty file).

        For a run (``create``), a database with no tables at all is one that another process is creating at
        this moment (two runs starting together share the file): it is taken as ours.
        """
        columns = tuple(row[1] for row in self._db.execute("PRAGMA table_info(translations)"))
        if columns == TRANSLATION_COLUMNS:
            return
        tables = self._db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
        if create and tables == 0:
            return
        self._db.close()
        raise InputError(f"{self.path}: not an evalharness translation cache (no translations table of ours); "
                         "refusing to change it: give another cache path")

    def _failed(self, err: sqlite3.Error) -> None:
        """Warn once and stop using the file."""
        if self.broken is None:
            self.broken = str(err)
            warnings.warn(f"{self.path}: the translation cache failed ({err}); going on without it: "
                          "outputs are not kept for the next run (clear or delete the file)",
                          EvalHarnessWarning, stacklevel=3)

    @property
    def data_dir(self) -> Path:
        """The cache file's folder: converted models are kept beside it."""
        return self.path.parent

    def close(self) -> None:
        """Close the connection (and, read-only, remove the -wal/-shm files that opening made)."""
        self._db.close()
        for sidecar in self._sidecars:
            sidecar.unlink(missing_ok=True)

    def __enter__(self) -> TranslationStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _safe(self, action: Callable[[], T], default: T) -> T:
        """``action()``, or ``default`` once the file has failed (see :meth:`_failed`)."""
        if self.broken is not None:
            return default
        try:
            return action()
        except sqlite3.Error as err:
            self._failed(err)
            return default

    def get_many(self, keys: Sequence[str]) -> dict[str, Translation]:
        """The cached translations among ``keys``."""
        none: list[tuple[Any, ...]] = []
        rows = self._safe(lambda: self._rows("translations", "output, tokens, hit_limit", keys), none)
        return {key: Translation(output, int(tokens), bool(hit)) for key, output, tokens, hit in rows}

    def _rows(self, table: str, columns: str, keys: Sequence[str]) -> list[tuple[Any, ...]]:
        """``key, columns…`` rows of ``table`` whose key is among ``keys`` (table and columns are ours)."""
        rows: list[tuple[Any, ...]] = []
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):  # SQLite limits bound parameters per statement
            chunk = unique[start : start + 500]
            query = f"SELECT key, {columns} FROM {table} WHERE key IN ({','.join('?' * len(chunk))})"
            rows.extend(self._db.execute(query, chunk))
        return rows

    def put_many(self, identity: str, description: dict[str, Any], src: str, tgt: str,
                 items: Iterable[tuple[str, Translation]]) -> None:
        """Store translations in one transaction (committed before returning)."""
        now = time.time()
        rows = [(key, identity, src, tgt, t.text, t.tokens, int(t.hit_limit), now) for key, t in items]

        def put() -> None:
            with self._transaction():
                self._db.execute("INSERT OR IGNORE INTO identities VALUES (?, ?)",
                                 (identity, json.dumps(description, sort_keys=True, ensure_ascii=False)))
                self._db.executemany("INSERT OR REPLACE INTO translations VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

        self._safe(put, None)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction, taken at once (``IMMEDIATE``) so concurrent writers queue instead of failing."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def dir_hash(self, folder: Path, compute: Callable[[Path], str]) -> str:
        """``compute(folder)``, memoised by the files' names, sizes and modification times."""
        from evalharness.systems.hf import model_files

        stats = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in model_files(folder)]
        fingerprint = hashlib.sha256(json.dumps(stats).encode()).hexdigest()
        where = str(folder.resolve())
        row = self._safe(lambda: self._db.execute("SELECT fingerprint, hash FROM dir_hashes WHERE path = ?",
                                                  (where,)).fetchone(), None)
        if row and row[0] == fingerprint:
            return str(row[1])
        value = str(compute(folder))

        def put() -> None:
            with self._transaction():
                self._db.execute("INSERT OR REPLACE INTO dir_hashes VALUES (?, ?, ?)", (where, fingerprint, value))

        self._safe(put, None)
        return value

    def get_facts(self, identity: str) -> dict[str, Any] | None:
        """What loading the system with this identity taught, as stored by :meth:`put_facts`."""
        row = self._safe(lambda: self._db.execute("SELECT facts FROM facts WHERE identity = ?",
                                                  (identity,)).fetchone(), None)
        return dict(json.loads(row[0])) if row else None

    def put_facts(self, identity: str, facts: dict[str, Any]) -> None:
        """Keep a loaded system's facts (classes, parameters, device) for reruns that never load it."""
        def put() -> None:
            with self._transaction():
                self._db.execute("INSERT OR REPLACE INTO facts VALUES (?, ?)",
                                 (identity, json.dumps(facts, ensure_ascii=False)))

        self._safe(put, None)

    def get_languages(self, keys: Sequence[str]) -> dict[str, tuple[str, float]]:
        """Cached language-identification results among ``keys`` (see evalharness.scoring.flags)."""
        none: list[tuple[Any, ...]] = []
        rows = self._safe(lambda: self._rows("languages", "lang, confidence", keys), none)
        return {key: (str(lang), float(conf)) for key, lang, conf in rows}

    def put_languages(self, items: Iterable[tuple[str, tuple[str, float]]]) -> None:
        """Store language-identification results."""
        rows = [(k, lang, conf) for k, (lang, conf) in items]

        def put() -> None:
            with self._transaction():
                self._db.executemany("INSERT OR REPLACE INTO languages VALUES (?, ?, ?)", rows)

        self._safe(put, None)

    def get_scores(self, keys: Sequence[str]) -> dict[str, float]:
        """Cached segment scores of a model-based metric among ``keys`` (the metric makes the keys)."""
        none: list[tuple[Any, ...]] = []
        rows = self._safe(lambda: self._rows("segment_scores", "score", keys), none)
        return {key: float(score) for key, score in rows}

    def put_scores(self, metric: str, items: Iterable[tuple[str, float]]) -> None:
        """Store segment scores of ``metric`` in one transaction."""
        rows = [(key, metric, float(score)) for key, score in items]

        def put() -> None:
            with self._transaction():
                self._db.executemany("INSERT OR REPLACE INTO segment_scores VALUES (?, ?, ?)", rows)

        self._safe(put, None)

    def get_spans(self, keys: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Cached error spans of a metric that gives them (xCOMET) among ``keys``: a JSON list each."""
        none: list[tuple[Any, ...]] = []
        rows = self._safe(lambda: self._rows("segment_spans", "spans", keys), none)
        return {key: json.loads(spans) for key, spans in rows}

    def put_spans(self, metric: str, items: Iterable[tuple[str, list[dict[str, Any]]]]) -> None:
        """Store segment error spans of ``metric`` in one transaction."""
        rows = [(key, metric, json.dumps(spans, ensure_ascii=False)) for key, spans in items]

        def put() -> None:
            with self._transaction():
                self._db.executemany("INSERT OR REPLACE INTO segment_spans VALUES (?, ?, ?)", rows)

        self._safe(put, None)

    def info(self) -> dict[str, Any]:
        """Path, size, number of entries, and entries per system identity."""
        try:
            return self._info()
        except sqlite3.Error as err:
            raise InputError(f"{self.path}: the translation cache is damaged ({err}); delete the file") from None

    def _info(self) -> dict[str, Any]:
        count = self._db.execute("SELECT COUNT(*) FROM translations").fetchone()[0]
        per = []
        query = ("SELECT i.description, COUNT(t.key) FROM identities i LEFT JOIN translations t "
                 "ON t.identity = i.identity GROUP BY i.identity ORDER BY COUNT(t.key) DESC")
        for description, n in self._db.execute(query):
            d = json.loads(description)
            per.append({"entries": n, "backend": d.get("backend"), "model": d.get("model"),
                        "revision": d.get("resolved_revision"), "identity": d})
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return {"path": str(self.path), "entries": count, "bytes": size, "systems": per}

    def clear(self) -> int:
        """Delete every entry; return how many there were."""
        try:
            return self._clear()
        except sqlite3.Error as err:
            raise InputError(f"{self.path}: the translation cache is damaged ({err}); delete the file") from None

    def _clear(self) -> int:
        n = int(self._db.execute("SELECT COUNT(*) FROM translations").fetchone()[0])
        with self._transaction():
            self._db.execute("DELETE FROM translations")
            self._db.execute("DELETE FROM identities")
            self._db.execute("DELETE FROM dir_hashes")
            self._db.execute("DELETE FROM languages")
            self._db.execute("DELETE FROM facts")
            self._db.execute("DELETE FROM segment_scores")
            self._db.execute("DELETE FROM segment_spans")
        self._db.execute("VACUUM")
        return n

    def integrity(self) -> str:
        """SQLite's integrity check: ``ok`` when the file is sound."""
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])


class StoreAt:
    """The store at ``path``, opened on first use: what a metric that keeps scores is given when the caller does
    not know whether it will need the store (a check re-scoring a run that had COMET, or had not)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._store: TranslationStore | None = None

    def _open(self) -> TranslationStore:
        if self._store is None:
            self._store = TranslationStore(self.path)
        return self._store

    def get_scores(self, keys: Sequence[str]) -> dict[str, float]:
        """As :meth:`TranslationStore.get_scores`."""
        return self._open().get_scores(keys)

    def put_scores(self, metric: str, items: Iterable[tuple[str, float]]) -> None:
        """As :meth:`TranslationStore.put_scores`."""
        self._open().put_scores(metric, items)

    def get_spans(self, keys: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """As :meth:`TranslationStore.get_spans`."""
        return self._open().get_spans(keys)

    def put_spans(self, metric: str, items: Iterable[tuple[str, list[dict[str, Any]]]]) -> None:
        """As :meth:`TranslationStore.put_spans`."""
        self._open().put_spans(metric, items)

    def close(self) -> None:
        """Close the store if it was opened."""
        if self._store is not None:
            self._store.close()
            self._store = None

"""The translation cache: SQLite, keyed by everything that can change an output.

Key = SHA-256 over the system's identity (backend, model id, resolved revision — a hash of the files
for a local directory — and every generation setting, prefix and language code), the source and target
language, and the source text. Metrics are not part of it, so re-scoring never re-translates.

Each finished batch is committed on its own (WAL journal), so a run killed mid-way keeps what it had
translated and a rerun resumes from there; several processes can share one cache file.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from evalharness.errors import InputError
from evalharness.paths import default_cache_dir
from evalharness.systems.base import Translation

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
"""


def default_cache_path() -> Path:
    """The SQLite file used when the config names none."""
    return default_cache_dir() / CACHE_FILE


def identity_hash(identity: dict[str, Any]) -> str:
    """Stable hash of a system identity (canonical JSON)."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def entry_key(identity: str, src: str, tgt: str, text: str) -> str:
    """Key of one translation."""
    return hashlib.sha256("\0".join((identity, src, tgt, text)).encode()).hexdigest()


class TranslationCache:
    """A SQLite file of translations; safe to share between processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=60, isolation_level=None)
            self._db.execute("PRAGMA busy_timeout = 60000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as err:
            raise InputError(f"{path}: cannot open the translation cache ({err}); "
                             "pass --no-cache, or set cache.path to a writable file") from None

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> TranslationCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_many(self, keys: Sequence[str]) -> dict[str, Translation]:
        """The cached translations among ``keys``."""
        rows = self._rows("translations", "output, tokens, hit_limit", keys)
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
        with self._transaction():
            self._db.execute("INSERT OR IGNORE INTO identities VALUES (?, ?)",
                             (identity, json.dumps(description, sort_keys=True, ensure_ascii=False)))
            self._db.executemany("INSERT OR REPLACE INTO translations VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def _transaction(self) -> Any:
        db = self._db

        class _Tx:
            def __enter__(self) -> None:
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, kind: object, *rest: object) -> None:
                db.execute("COMMIT" if kind is None else "ROLLBACK")

        return _Tx()

    def dir_hash(self, folder: Path, compute: Any) -> str:
        """``compute(folder)``, memoised by the files' names, sizes and modification times."""
        from evalharness.systems.hf import model_files

        stats = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in model_files(folder)]
        fingerprint = hashlib.sha256(json.dumps(stats).encode()).hexdigest()
        row = self._db.execute("SELECT fingerprint, hash FROM dir_hashes WHERE path = ?",
                               (str(folder.resolve()),)).fetchone()
        if row and row[0] == fingerprint:
            return str(row[1])
        value = str(compute(folder))
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO dir_hashes VALUES (?, ?, ?)",
                             (str(folder.resolve()), fingerprint, value))
        return value

    def get_languages(self, keys: Sequence[str]) -> dict[str, tuple[str, float]]:
        """Cached language-identification results among ``keys`` (see evalharness.scoring.flags)."""
        return {key: (str(lang), float(conf)) for key, lang, conf in self._rows("languages", "lang, confidence", keys)}

    def put_languages(self, items: Iterable[tuple[str, tuple[str, float]]]) -> None:
        """Store language-identification results."""
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO languages VALUES (?, ?, ?)",
                                 [(k, lang, conf) for k, (lang, conf) in items])

    def info(self) -> dict[str, Any]:
        """Path, size, number of entries, and entries per system identity."""
        count = self._db.execute("SELECT COUNT(*) FROM translations").fetchone()[0]
        per = []
        query = ("SELECT i.description, COUNT(t.key) FROM identities i LEFT JOIN translations t "
                 "ON t.identity = i.identity GROUP BY i.identity ORDER BY COUNT(t.key) DESC")
        for description, n in self._db.execute(query):
            d = json.loads(description)
            per.append({"entries": n, "backend": d.get("backend"), "model": d.get("model"),
                        "revision": d.get("resolved_revision")})
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return {"path": str(self.path), "entries": count, "bytes": size, "systems": per}

    def clear(self) -> int:
        """Delete every entry; return how many there were."""
        n = int(self._db.execute("SELECT COUNT(*) FROM translations").fetchone()[0])
        with self._transaction():
            self._db.execute("DELETE FROM translations")
            self._db.execute("DELETE FROM identities")
            self._db.execute("DELETE FROM dir_hashes")
            self._db.execute("DELETE FROM languages")
        self._db.execute("VACUUM")
        return n

    def integrity(self) -> str:
        """SQLite's integrity check: ``ok`` when the file is sound."""
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])


def translate_with_cache(system: Any, texts: Sequence[str], src: str, tgt: str, cache: TranslationCache | None,
                         progress: Any = None) -> tuple[list[Translation], dict[str, int]]:
    """Translations of ``texts``: cached ones looked up, the rest translated (and committed batch by batch).

    The model is loaded only when something is missing. Returns the outputs and ``{hits, misses}``.
    """
    def advance(n: int) -> None:
        if progress is not None:
            progress(n)

    if cache is None or not system.cacheable:
        if texts:
            system.prepare()
        out = system.translate(texts, src, tgt, on_batch=lambda idx, _: advance(len(idx)))
        return out, {"hits": 0, "misses": len(texts)}
    description = system.identity()
    ident = identity_hash(description)
    keys = [entry_key(ident, src, tgt, t) for t in texts]
    found = cache.get_many(keys)
    outputs: list[Translation | None] = [found.get(k) for k in keys]
    missing = [i for i, o in enumerate(outputs) if o is None]
    advance(len(texts) - len(missing))
    if missing:
        system.prepare()

        def on_batch(positions: Sequence[int], done: Sequence[Translation]) -> None:
            cache.put_many(ident, description, src, tgt,
                           ((keys[missing[p]], t) for p, t in zip(positions, done, strict=True)))
            advance(len(positions))

        new = system.translate([texts[i] for i in missing], src, tgt, on_batch=on_batch)
        for i, t in zip(missing, new, strict=True):
            outputs[i] = t
    final = [o if o is not None else Translation("") for o in outputs]
    return final, {"hits": len(texts) - len(missing), "misses": len(missing)}

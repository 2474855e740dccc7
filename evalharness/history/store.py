"""The history store: every recorded run, in SQLite (a file, the default) or PostgreSQL, through SQLAlchemy.

One schema for both engines, versioned by this module alone (``evalharness_meta.schema_version``; a later
version adds its migration here, run in order on open, and an older evalharness refuses a newer store). Per run
it keeps where it came from (commit, branch, dirty flag, CI run), what it measured (config hash, test set and its
content hash, level), each system's identity, every corpus score with its interval and signature, and every
segment record of ``segments.jsonl`` (hypothesis, segment scores, flags, references), so a run read back is a
:class:`~evalharness.runs.schema.Run` that any later run can be paired with exactly.

A run's id is a hash of its results and segments: recording it twice keeps one. Writers serialise on the store's
own lock (SQLite ``BEGIN IMMEDIATE`` with a busy timeout; a PostgreSQL advisory lock while creating the schema,
``ON CONFLICT DO NOTHING`` on the id), so jobs recording at the same time all land.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from evalharness.errors import InputError, MissingDependencyError
from evalharness.history.provenance import Provenance, config_hash
from evalharness.runs.schema import Results, Run, SegmentRecord

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine, MetaData, Table

SCHEMA_VERSION = 1
HISTORY_ENV = "EVALHARNESS_HISTORY"
"""Environment variable: where the history is (a file path or ``postgresql://…``) when neither ``--history`` nor
the config's ``history:`` says."""
EXPORT_KIND = "evalharness-history-run"
LOCK_KEY = 0x65766831  # "evh1": the PostgreSQL advisory lock held while the schema is created or migrated
SQLITE_TIMEOUT_S = 60.0  # how long a writer waits for another one's transaction (SQLite's busy timeout)


def _canonical(data: Any) -> str:
    """The one JSON text of a value that the store keeps and exports (so an export re-imports byte-identically)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def default_location() -> str:
    """``$EVALHARNESS_HISTORY``, else ``history.sqlite3`` in the user cache folder (beside the translation cache)."""
    import os

    from evalharness.paths import default_cache_dir

    return os.environ.get(HISTORY_ENV) or str(default_cache_dir() / "history.sqlite3")


def resolve_location(given: str | None, configured: str | None = None) -> str:
    """Where the history is: ``--history``, else the config's ``history:``, else :func:`default_location`."""
    return given or configured or default_location()


@dataclass(frozen=True)
class RunRow:
    """One recorded run as listed: where it came from and what it measured."""

    id: str
    started_at: str
    recorded_at: str
    commit: str | None
    branch: str | None
    dirty: bool | None
    ci_url: str | None
    config_hash: str
    test_set: str
    test_set_hash: str
    level: str
    systems: tuple[str, ...]
    directions: tuple[str, ...]
    signatures: dict[str, str]  # metric -> corpus signature, from the manifest
    references: dict[str, str]  # direction -> hash of the scored segments' ids and references

    @property
    def short(self) -> str:
        """A short label: the commit's first 10 characters, else the run id's."""
        return (self.commit or self.id)[:10]

    @property
    def commit_url(self) -> str | None:
        """The commit's page where the CI run's address says which repository it is."""
        if self.commit and self.ci_url and "/actions/runs/" in self.ci_url:
            return f"{self.ci_url.split('/actions/runs/')[0]}/commit/{self.commit}"
        return None


@dataclass(frozen=True)
class ScoreRow:
    """One corpus score of one recorded run."""

    run: RunRow
    system: str
    direction: str
    metric: str
    score: float
    ci_low: float
    ci_high: float
    signature: str
    higher_is_better: bool


def run_id(results: Results, records: Sequence[SegmentRecord]) -> str:
    """sha256 over a run's results and segments, as the store keeps them: the same run always has the same id."""
    digest = hashlib.sha256(_canonical(results.model_dump(mode="json")).encode("utf-8"))
    for record in records:
        digest.update(b"\n" + _canonical(record.model_dump(mode="json")).encode("utf-8"))
    return digest.hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def store_url(location: str) -> str:
    """SQLAlchemy's URL for a history location: a file path (SQLite), ``sqlite:///…`` or ``postgresql://…``."""
    if location.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + location.split("://", 1)[1]
    if location.startswith("postgresql+psycopg://") or location.startswith("sqlite:///"):
        return location
    if "://" in location:
        raise InputError(f"history {location.split('://', 1)[0]}://…: not a history location; give a file path "
                         "(SQLite) or postgresql://USER@HOST:PORT/DB")
    return "sqlite:///" + str(Path(location).expanduser().resolve())


def _tables() -> tuple[MetaData, dict[str, Table]]:
    from sqlalchemy import Boolean, Column, Float, ForeignKey, Integer, MetaData, String, Table, Text

    meta = MetaData()
    text_id = String(64)
    tables = {
        "meta": Table("evalharness_meta", meta, Column("key", String(64), primary_key=True),
                      Column("value", Text, nullable=False)),
        "runs": Table(
            "evalharness_runs", meta,
            Column("id", text_id, primary_key=True),
            Column("started_at", String(40), nullable=False, index=True),
            Column("recorded_at", String(40), nullable=False),
            Column("commit", String(64)), Column("branch", String(255), index=True), Column("dirty", Boolean),
            Column("ci_url", Text),
            Column("config_hash", String(80), nullable=False),
            Column("test_set", String(255), nullable=False, index=True),
            Column("test_set_hash", String(80), nullable=False),
            Column("level", String(16), nullable=False),
            Column("results", Text, nullable=False)),  # results.json as the run wrote it (canonical JSON)
        "systems": Table(
            "evalharness_systems", meta,
            Column("run_id", text_id, ForeignKey("evalharness_runs.id"), primary_key=True),
            Column("system", String(255), primary_key=True),
            Column("identity", Text, nullable=False)),  # the manifest's entry: backend, model, revision, decoding
        "scores": Table(
            "evalharness_scores", meta,
            Column("run_id", text_id, ForeignKey("evalharness_runs.id"), primary_key=True),
            Column("system", String(255), primary_key=True),
            Column("direction", String(32), primary_key=True),
            Column("metric", String(64), primary_key=True),
            Column("score", Float(53), nullable=False),
            Column("ci_low", Float(53), nullable=False), Column("ci_high", Float(53), nullable=False),
            Column("signature", Text, nullable=False),
            Column("higher_is_better", Boolean, nullable=False)),
        "segments": Table(
            "evalharness_segments", meta,
            Column("run_id", text_id, ForeignKey("evalharness_runs.id"), primary_key=True),
            Column("position", Integer, primary_key=True, autoincrement=False),
            Column("system", String(255), nullable=False),
            Column("direction", String(32), nullable=False),
            Column("segment_id", String(255), nullable=False),
            Column("hypothesis", Text, nullable=False),
            Column("record", Text, nullable=False)),  # the segments.jsonl line (canonical JSON)
    }
    return meta, tables


class HistoryStore:
    """A history, opened at a location (:func:`store_url`); a context manager that disposes of its engine."""

    def __init__(self, location: str, *, create: bool = True) -> None:
        try:
            import sqlalchemy
        except ImportError:
            raise MissingDependencyError("the results history needs SQLAlchemy: pip install 'evalharness' again, or "
                                         "pip install 'sqlalchemy>=2,<3'") from None
        self.location = location
        url = store_url(location)
        self.postgres = url.startswith("postgresql")
        if self.postgres:
            try:
                import psycopg  # noqa: F401
            except ImportError:
                raise MissingDependencyError("a PostgreSQL history needs psycopg 3: pip install "
                                             "'evalharness[postgres]'") from None
            self.label = sqlalchemy.make_url(url).render_as_string(hide_password=True).replace("+psycopg", "")
        else:
            path = Path(url.removeprefix("sqlite:///"))
            self.label = str(path)
            if path.is_dir():
                raise InputError(f"{path}: a folder, not a history file; give a file path (e.g. "
                                 f"{path / 'history.sqlite3'})")
            if not create and not path.is_file():
                raise InputError(f"{path}: no history there yet; record a run with 'evalharness history record "
                                 "RUN_DIR' (or give --history)")
            if create and not path.parent.is_dir():
                raise InputError(f"{path}: its folder does not exist; create it or give another --history")
        self.meta, self.tables = _tables()
        self.engine = self._engine(url)
        self._open(create)

    def _engine(self, url: str) -> Engine:
        from sqlalchemy import create_engine, event

        if self.postgres:
            return create_engine(url, connect_args={"connect_timeout": 10})
        engine = create_engine(url, connect_args={"timeout": SQLITE_TIMEOUT_S})

        # SQLite: take the write lock at BEGIN (IMMEDIATE), so two writers wait for each other instead of
        # failing on a lock upgrade; sqlite3's own BEGIN handling is switched off (SQLAlchemy's documented recipe).
        @event.listens_for(engine, "connect")
        def _no_driver_begin(dbapi_connection: Any, record: Any) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.engine.dispose()

    def _fail(self, err: Exception) -> InputError:
        first = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        return InputError(f"history {self.label}: {first}; check the location (--history, the config's history:, "
                          f"${HISTORY_ENV}) and that it is an evalharness history")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Connection]:
        from sqlalchemy.exc import DBAPIError

        try:
            with self.engine.begin() as conn:
                yield conn
        except DBAPIError as err:
            raise self._fail(err) from None

    def _open(self, create: bool) -> None:
        """Create the schema (under the store's lock) or check that it is there, at this version."""
        from sqlalchemy import inspect, select, text

        meta = self.tables["meta"]
        with self._transaction() as conn:
            if self.postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
            if not inspect(conn).has_table(meta.name):
                if not create:
                    raise InputError(f"history {self.label}: no evalharness history there yet; record a run with "
                                     "'evalharness history record RUN_DIR'")
                self.meta.create_all(conn)
                conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
                return
            version = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
        if version != str(SCHEMA_VERSION):
            raise InputError(f"history {self.label} has schema version {version}; this evalharness reads version "
                             f"{SCHEMA_VERSION}: use the evalharness that wrote it, or a newer one")

    # ----------------------------------------------------------------------------------------- writing

    def record(self, run: Run, provenance: Provenance, *, recorded_at: str | None = None) -> tuple[str, bool]:
        """Keep ``run`` with where it came from; returns its id and whether it was new (a run recorded twice is
        kept once, with the provenance of its first recording)."""
        return self._insert(_entry(run, provenance, recorded_at or _now()))

    def _insert(self, entry: dict[str, Any]) -> tuple[str, bool]:
        if self.postgres:
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]

        t = self.tables
        with self._transaction() as conn:
            # RETURNING says whether this writer added the run (rowcount is not reliable across drivers)
            added = conn.execute(insert(t["runs"]).values(**entry["run"]).on_conflict_do_nothing(
                index_elements=["id"]).returning(t["runs"].c.id)).first() is not None
            if added:
                for table in ("systems", "scores", "segments"):
                    if entry[table]:
                        conn.execute(t[table].insert(), entry[table])
        return entry["run"]["id"], added

    def import_lines(self, lines: Iterable[str], source: str) -> tuple[int, int]:
        """Add the runs of an export (JSON lines); returns (added, already there). A damaged line is refused before
        anything is added."""
        return self.import_entries(read_export(lines, source))

    def import_entries(self, entries: Sequence[Any]) -> tuple[int, int]:
        """Add runs read by :func:`read_export`; returns (added, already there)."""
        added = sum(self._insert(entry)[1] for entry in entries)
        return added, len(entries) - added

    # ----------------------------------------------------------------------------------------- reading

    def runs(self, *, system: str | None = None, test_set: str | None = None, branch: str | None = None,
             since: datetime | None = None) -> list[RunRow]:
        """Recorded runs, oldest first, filtered by system, test set, branch and start time."""
        from sqlalchemy import select

        r, s = self.tables["runs"], self.tables["systems"]
        query = select(r.c.id, r.c.started_at, r.c.recorded_at, r.c.commit, r.c.branch, r.c.dirty, r.c.ci_url,
                       r.c.config_hash, r.c.test_set, r.c.test_set_hash, r.c.level, r.c.results)
        if test_set is not None:
            query = query.where(r.c.test_set == test_set)
        if branch is not None:
            query = query.where(r.c.branch == branch)
        if system is not None:
            query = query.where(r.c.id.in_(select(s.c.run_id).where(s.c.system == system)))
        with self._transaction() as conn:
            rows = conn.execute(query.order_by(r.c.started_at, r.c.recorded_at, r.c.id)).all()
        out = [_run_row(row) for row in rows]
        return [row for row in out if since is None or parse_time(row.started_at) >= since]

    def scores(self, runs: Sequence[RunRow], *, metric: str | None = None) -> list[ScoreRow]:
        """The corpus scores of ``runs`` (of one metric, or all), in the order of ``runs``."""
        from sqlalchemy import select

        sc = self.tables["scores"]
        by_id = {run.id: run for run in runs}
        query = select(sc).where(sc.c.run_id.in_(list(by_id)))
        if metric is not None:
            query = query.where(sc.c.metric == metric)
        with self._transaction() as conn:
            rows = conn.execute(query).all()
        order = {run.id: i for i, run in enumerate(runs)}
        found = [ScoreRow(by_id[row.run_id], row.system, row.direction, row.metric, row.score, row.ci_low,
                          row.ci_high, row.signature, bool(row.higher_is_better)) for row in rows]
        return sorted(found, key=lambda s: (order[s.run.id], s.system, s.direction, s.metric))

    def load(self, row: RunRow) -> Run:
        """A recorded run read back whole, as a :class:`Run` (origin ``history:<commit>``)."""
        from sqlalchemy import select

        r, seg = self.tables["runs"], self.tables["segments"]
        with self._transaction() as conn:
            results = conn.execute(select(r.c.results).where(r.c.id == row.id)).scalar_one()
            records = conn.execute(select(seg.c.record).where(seg.c.run_id == row.id).order_by(seg.c.position)).all()
        try:
            return Run(Path(f"history:{row.short}"), Results.model_validate_json(results),
                       [SegmentRecord.model_validate_json(rec.record) for rec in records])
        except (ValidationError, ValueError) as err:
            raise InputError(f"history {self.label}: run {row.id[:12]} is damaged ({str(err).splitlines()[0]}); "
                             "record it again from its run directory") from None

    def export_lines(self) -> Iterator[str]:
        """Every run as one JSON line, oldest first: what :meth:`import_lines` reads back byte-identically."""
        from sqlalchemy import select

        r, seg = self.tables["runs"], self.tables["segments"]
        for row in self.runs():
            with self._transaction() as conn:
                results = conn.execute(select(r.c.results).where(r.c.id == row.id)).scalar_one()
                records = conn.execute(select(seg.c.record).where(seg.c.run_id == row.id)
                                       .order_by(seg.c.position)).scalars().all()
            yield _canonical({"kind": EXPORT_KIND, "schema_version": SCHEMA_VERSION, "id": row.id,
                              "recorded_at": row.recorded_at, "commit": row.commit, "branch": row.branch,
                              "dirty": row.dirty, "ci_url": row.ci_url, "results": json.loads(results),
                              "segments": [json.loads(rec) for rec in records]}) + "\n"


def parse_time(text: str) -> datetime:
    """An ISO time as stored (a time without a zone is UTC)."""
    stamp = datetime.fromisoformat(text)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


def _run_row(row: Any) -> RunRow:
    results = json.loads(row.results)
    systems = tuple(results["results"])
    directions = tuple(dict.fromkeys(d for by_dir in results["results"].values() for d in by_dir))
    manifest = results["manifest"]
    return RunRow(row.id, row.started_at, row.recorded_at, row.commit, row.branch,
                  None if row.dirty is None else bool(row.dirty), row.ci_url, row.config_hash, row.test_set,
                  row.test_set_hash, row.level, systems, directions,
                  {name: info["signature"] for name, info in manifest["metrics"].items()},
                  dict(manifest["corpus"].get("references") or {}))


def _entry(run: Run, provenance: Provenance, recorded_at: str) -> dict[str, Any]:
    """The rows that record ``run``."""
    manifest = run.manifest
    results = run.results.model_dump(mode="json")
    records = [r.model_dump(mode="json") for r in run.records]
    entry: dict[str, Any] = {"run": {
        "id": run_id(run.results, run.records), "started_at": manifest.started_at, "recorded_at": recorded_at,
        "commit": provenance.commit, "branch": provenance.branch, "dirty": provenance.dirty,
        "ci_url": provenance.ci_url, "config_hash": config_hash(manifest.config), "test_set": manifest.corpus.name,
        "test_set_hash": manifest.corpus.content_hash, "level": manifest.corpus.level,
        "results": _canonical(results)}}
    rid = entry["run"]["id"]
    entry["systems"] = [{"run_id": rid, "system": name, "identity": _canonical(manifest.systems.get(name, {}))}
                        for name in run.scores]
    entry["scores"] = [{"run_id": rid, "system": system, "direction": direction, "metric": metric,
                        "score": value.score, "ci_low": value.ci[0], "ci_high": value.ci[1],
                        "signature": value.signature, "higher_is_better": value.higher_is_better}
                       for system, by_dir in run.scores.items() for direction, result in by_dir.items()
                       for metric, value in result.scores.items()]
    entry["segments"] = [{"run_id": rid, "position": i, "system": rec["system"], "direction": rec["direction"],
                          "segment_id": rec["id"], "hypothesis": rec["hypothesis"], "record": _canonical(rec)}
                         for i, rec in enumerate(records)]
    return entry


def _entry_from_export(line: str, where: str) -> dict[str, Any]:
    """The rows of one exported run, validated: a line must be a whole run whose id matches its content."""
    from evalharness.textio import parse_json

    data = parse_json(line, where, "history export line", one_line=True)
    if not isinstance(data, dict) or data.get("kind") != EXPORT_KIND:
        raise InputError(f"{where}: not a line of 'evalharness history export' (no \"kind\": \"{EXPORT_KIND}\")")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise InputError(f"{where}: history export schema_version {data.get('schema_version')!r}; this evalharness "
                         f"reads {SCHEMA_VERSION}")
    try:
        run = Run(Path(where), Results.model_validate(data["results"]),
                  [SegmentRecord.model_validate(rec) for rec in data["segments"]])
    except (KeyError, TypeError, ValidationError, ValueError) as err:
        raise InputError(f"{where}: damaged history export line ({str(err).splitlines()[0]}); export it "
                         "again") from None
    provenance = Provenance(data.get("commit"), data.get("branch"), data.get("dirty"), data.get("ci_url"))
    entry = _entry(run, provenance, str(data.get("recorded_at") or _now()))
    if entry["run"]["id"] != data.get("id"):
        raise InputError(f"{where}: the run's id {str(data.get('id'))[:12]}… does not match its content "
                         f"({entry['run']['id'][:12]}…): the line was edited; export it again")
    return entry


def read_export(lines: Iterable[str], source: str) -> list[Any]:
    """The runs of an export (JSON lines), each checked; a damaged line raises before any store is opened."""
    return [_entry_from_export(line, f"{source}:{n}") for n, line in enumerate(lines, start=1) if line.strip()]

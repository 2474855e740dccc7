"""The registry of named test sets: ``registry.json`` shipped with the package, plus files of your own.

One data file, not code per set: each entry names the set's two languages (codes of :mod:`evalharness.languages`,
each mapped to the set's own code: ``{"ms": "zsm_Latn", "en": "eng_Latn"}``), the URL of every file pinned to a
commit, its sha256, the line count, licence, citation and which side is the original. More registry files
(same format) can be listed in ``$EVALHARNESS_TESTSETS_REGISTRY`` (``os.pathsep``-separated); they add sets,
and a name already registered is refused, so a local file cannot quietly replace a shipped set.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from evalharness.errors import CorpusError, InputError, UnknownNameError
from evalharness.languages import LANGUAGES
from evalharness.textio import parse_json, read_text

REGISTRY_FILE = Path(__file__).resolve().parent / "registry.json"
ENV_REGISTRY = "EVALHARNESS_TESTSETS_REGISTRY"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")


MAX_NAME_BYTES = 200
"""The longest file name a set may have: it is cached beside a temporary ``.NAME.XXXXXXXX.tmp`` (255 bytes at most
on most file systems)."""
DEFAULT_MAX_BYTES = 16 << 20
"""The most bytes fetched for a file whose registry entry records no ``bytes`` (16 MiB: fifty times the largest
shipped file); a larger test set records its size."""


@dataclass(frozen=True)
class SetFile:
    """One file of a set: its pinned URL, the sha256 of its bytes as fetched, and its size where recorded."""

    url: str
    sha256: str
    size: int | None = None

    @property
    def max_bytes(self) -> int:
        """The most bytes a fetch of this file may bring: its recorded size, else :data:`DEFAULT_MAX_BYTES`."""
        return self.size if self.size is not None else DEFAULT_MAX_BYTES

    @property
    def name(self) -> str:
        """The file name of the pinned URL: the name it has in the cache and in a mirror."""
        return unquote(urlsplit(self.url).path.rsplit("/", 1)[-1])


@dataclass(frozen=True)
class SetEntry:
    """A named test set: one line-aligned file per language, pinned and described."""

    name: str
    description: str
    languages: Mapping[str, str]  # our two languages (ms, en; id …) → the set's own codes (zsm_Latn, msa …)
    original: str  # the language the text was written in; the other side is a translation
    lines: int
    licence: str
    citation: str
    repository: str
    commit: str
    line_endings: str
    files: Mapping[str, SetFile]
    notes: tuple[str, ...]
    registry: Path  # the registry file that defined it

    def as_json(self) -> dict[str, Any]:
        """The entry as ``testsets info`` prints it."""
        return {
            "name": self.name, "description": self.description, "languages": dict(self.languages),
            "original": self.original, "lines": self.lines, "licence": self.licence, "citation": self.citation,
            "repository": self.repository, "commit": self.commit, "line_endings": self.line_endings,
            "files": {lang: {"name": f.name, "url": f.url, "sha256": f.sha256,
                             **({"bytes": f.size} if f.size is not None else {})} for lang, f in self.files.items()},
            "notes": list(self.notes), "registry": str(self.registry),
        }


def registry_files() -> list[Path]:
    """The shipped registry, then the files named in ``$EVALHARNESS_TESTSETS_REGISTRY``; a file named twice (or
    the shipped one named again) is read once, so that it does not collide with itself."""
    extra = [Path(p).expanduser() for p in os.environ.get(ENV_REGISTRY, "").split(os.pathsep) if p]
    out: list[Path] = []
    seen: set[str] = set()
    for path in [REGISTRY_FILE, *extra]:
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            out.append(path)
    return out


def registered_sets() -> dict[str, SetEntry]:
    """Every registered test set by name, shipped ones first."""
    return _load(tuple(registry_files()), tuple(_stamp(p) for p in registry_files()))


def find(name: str) -> SetEntry:
    """The set called ``name``; an unknown name lists the known ones and the closest."""
    sets = registered_sets()
    if name in sets:
        return sets[name]
    from evalharness.registry import did_you_mean

    raise UnknownNameError(f"unknown test set {name!r}{did_you_mean(name, sets)} (known: {', '.join(sets)})")


def _stamp(path: Path) -> tuple[int, int]:
    """Size and modification time: a registry file edited between calls (a test) is read again."""
    try:
        st = path.stat()
    except OSError:
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load(paths: tuple[Path, ...], _stamps: tuple[tuple[int, int], ...]) -> dict[str, SetEntry]:
    found: dict[str, SetEntry] = {}
    avoid: list[tuple[str, str]] = []
    parsed = []
    for path in paths:
        try:
            data = parse_json(read_text(path, "test-set registry"), str(path), "test-set registry")
        except InputError as err:
            raise CorpusError(f"{err} (${ENV_REGISTRY} lists it)" if path != REGISTRY_FILE else str(err)) from None
        if not isinstance(data, dict) or data.get("format") != 1 or not isinstance(data.get("sets"), dict):
            raise CorpusError(f"{path}: not a test-set registry: expected an object with \"format\": 1 and \"sets\"")
        for i, item in enumerate(data.get("avoid", [])):
            if not (isinstance(item, dict) and isinstance(item.get("path"), str) and isinstance(item.get("why"), str)):
                raise CorpusError(f"{path}: avoid.{i}: expected {{\"path\": …, \"why\": …}}")
            avoid.append((item["path"], item["why"]))
        parsed.append((path, data["sets"]))
    for path, sets in parsed:
        for name, raw in sets.items():
            if name in found:
                raise CorpusError(f"{path}: sets.{name}: already registered by {found[name].registry}; "
                                  "choose another name")
            found[name] = _entry(path, name, raw, avoid)
    return found


def _pinned_file(where: str, item: Any, avoid: list[tuple[str, str]]) -> SetFile:
    """One ``files`` item of a registry entry: an http(s) URL ending in a plain file name, its sha256, its size."""
    if not isinstance(item, dict) or not {"url", "sha256"} <= set(item) <= {"url", "sha256", "bytes"}:
        raise CorpusError(f"{where}: expected {{\"url\": …, \"sha256\": …}} and, optionally, \"bytes\": the file's "
                          "size")
    url, sha, size = item["url"], item["sha256"], item.get("bytes")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
        raise CorpusError(f"{where}.bytes: expected the file's size, a positive whole number")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("https", "http") or not urlsplit(url).path:
        raise CorpusError(f"{where}.url: expected an http(s) URL of a file")
    file_name = SetFile(url, "").name
    if file_name in ("", ".", "..") or "/" in file_name or "\\" in file_name or any(
            ord(c) < 32 or ord(c) == 127 for c in file_name):
        raise CorpusError(f"{where}.url: {url} does not end in a file name ({file_name!r}); the file is cached and "
                          "mirrored under that name, so it must be a plain one")
    if len(file_name.encode("utf-8")) > MAX_NAME_BYTES:
        raise CorpusError(f"{where}.url: the file name is {len(file_name.encode('utf-8'))} bytes long; the cache "
                          f"keeps it under that name, so at most {MAX_NAME_BYTES}")
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise CorpusError(f"{where}.sha256: expected 64 lower-case hex digits")
    for trap, why in avoid:
        if trap in url or trap in unquote(url):  # eng%2Dmsa is the same path to the server
            raise CorpusError(f"{where}.url: {url} is under {trap!r}: {why}")
    return SetFile(url, sha, size)


def _entry(path: Path, name: str, raw: Any, avoid: list[tuple[str, str]]) -> SetEntry:
    where = f"{path}: sets.{name}"
    if not _NAME.fullmatch(name):
        raise CorpusError(f"{where}: a set name is lower-case letters, digits, '.', '_' and '-'")
    if not isinstance(raw, dict):
        raise CorpusError(f"{where}: expected an object")

    def text(key: str, default: str | None = None) -> str:
        value = raw.get(key, default)
        if not isinstance(value, str) or not value:
            raise CorpusError(f"{where}.{key}: expected a non-empty string")
        return value

    known = {"description", "languages", "original", "lines", "licence", "citation", "repository", "commit",
             "line_endings", "files", "notes"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise CorpusError(f"{where}.{unknown[0]}: unknown key (known: {', '.join(sorted(known))})")
    languages, files = raw.get("languages"), raw.get("files")
    if not isinstance(languages, dict) or len(languages) != 2 or not all(
            k in LANGUAGES and isinstance(v, str) and v for k, v in languages.items()):
        raise CorpusError(f"{where}.languages: expected the set's two languages, each a code of "
                          f"evalharness/languages.py ({', '.join(LANGUAGES)}) mapped to the set's own code, e.g. "
                          "{\"ms\": \"zsm_Latn\", \"en\": \"eng_Latn\"}")
    sides = tuple(languages)
    if not isinstance(files, dict) or set(files) != set(sides):
        shape = ", ".join(f'"{lang}": …' for lang in sides)
        raise CorpusError(f"{where}.files: expected one file per language, {{{shape}}}")
    pinned = {lang: _pinned_file(f"{where}.files.{lang}", files[lang], avoid) for lang in sides}
    if pinned[sides[0]].name == pinned[sides[1]].name:
        raise CorpusError(f"{where}.files: the two files share the name {pinned[sides[0]].name!r}; the cache keeps "
                          "files by name")
    lines, original, endings = raw.get("lines"), text("original"), text("line_endings", "lf")
    if not isinstance(lines, int) or isinstance(lines, bool) or lines < 1:
        raise CorpusError(f"{where}.lines: expected a positive whole number")
    if original not in sides:
        raise CorpusError(f"{where}.original: expected {sides[0]!r} or {sides[1]!r}, the language the text was "
                          "written in")
    if endings not in ("lf", "crlf"):
        raise CorpusError(f"{where}.line_endings: expected 'lf' or 'crlf'")
    notes = raw.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise CorpusError(f"{where}.notes: expected a list of strings")
    return SetEntry(name=name, description=text("description"), languages=dict(languages), original=original,
                    lines=lines, licence=text("licence"), citation=text("citation"), repository=text("repository"),
                    commit=text("commit"), line_endings=endings, files=pinned, notes=tuple(notes), registry=path)

"""Reading and writing text files the same way everywhere: UTF-8, BOM and CRLF tolerant, atomic writes."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from evalharness.errors import InputError, OutputError

T = TypeVar("T")


def _opened(path: Path, what: str, opener: Callable[[], T]) -> T:
    """``opener()``, its failures as one-line InputError naming ``path``; a device or pipe refused (a
    read could block forever or never end)."""
    try:
        if path.exists() and not path.is_file() and not path.is_dir():
            raise InputError(f"{path}: expected a {what}, found a device or pipe; give a regular file")
        return opener()
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: expected a {what}, found a directory") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read {what}: {err.strerror}") from None


def read_text(path: Path, what: str = "file") -> str:
    """Return the file's text decoded as UTF-8 (a leading BOM dropped), newlines normalised to LF."""
    raw = _opened(path, what, path.read_bytes)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputError(
            f"{path}:{line}: {what} is not valid UTF-8 (byte offset {err.start}); re-encode it as UTF-8"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are unique; a repeated key would let the last value win unnoticed."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise InputError(f"key {key!r} given twice in one object")
        out[key] = value
    return out


def parse_json(text: str, where: str, what: str = "", *, one_line: bool = False) -> Any:
    """``json.loads`` that refuses lone surrogates (``"\\ud800"``): valid JSON, but not text that can be written
    back as UTF-8, so it would fail later, far from the file that held it. Raises :class:`InputError`.
    ``one_line``: ``text`` is one line of a JSON Lines file and ``where`` already ends with its number."""
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as err:
        line = "" if one_line else f":{err.lineno}"  # one JSON Lines record: ``where`` names the line already
        raise InputError(f"{where}{line}: invalid JSON{' in ' + what if what else ''}: {err.msg} "
                         f"(column {err.colno})") from None
    except InputError as err:  # a repeated key
        raise InputError(f"{where}: invalid JSON{' in ' + what if what else ''}: {err}") from None
    except RecursionError:  # valid JSON nested deeper than Python's stack: no file of ours is
        raise InputError(f"{where}: {what or 'JSON'} nested too deeply to read (arrays or objects inside each "
                         "other thousands of levels deep); not a file evalharness wrote") from None
    except ValueError as err:  # an integer of more than 4,300 digits (Python's int conversion limit)
        raise InputError(f"{where}: {what or 'JSON'} cannot be read: {str(err).split(';')[0]}; not a file "
                         "evalharness wrote") from None
    if "\\u" in text:
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as err:
            raise InputError(f"{where}: holds a lone surrogate U+{ord(err.object[err.start]):04X} (a \\u escape "
                             "with no pair); text must be valid Unicode") from None
    return value


def read_lines(path: Path, what: str = "file") -> list[str]:
    """Return the file's lines (no line terminators); a final newline does not make an extra empty line.

    Only LF/CRLF/CR count as line breaks: ``str.splitlines`` would also split on form feeds and
    U+2028, which can occur inside a segment and would silently misalign a test set.
    """
    text = read_text(path, what)
    if text == "":
        return []
    if text.endswith("\n"):
        text = text[:-1]
    return text.split("\n")


def iter_lines(path: Path, what: str = "file") -> Iterator[str]:
    """:func:`read_lines`, one line at a time: the same lines and the same errors, without holding the file.

    Universal newlines split on LF, CRLF and CR only (not on U+2028), as :func:`read_lines` does; a file that is
    not UTF-8 is read again by :func:`read_text` for its error, which names the line and byte offset.
    """
    handle = _opened(path, what, lambda: open(path, encoding="utf-8-sig", newline=None))  # noqa: SIM115  # closed below
    with handle:
        try:
            for line in handle:
                yield line[:-1] if line.endswith("\n") else line
        except UnicodeDecodeError:
            read_text(path, what)  # raises the InputError with the line and byte offset
            raise
        except OSError as err:
            raise InputError(f"{path}: cannot read {what}: {err.strerror}") from None


STALE_TEMP_S = 600
"""A temporary file or folder of ours this old was left by a killed process (a write takes seconds)."""


def remove_stale_temps(final: Path) -> None:
    """Remove what an earlier writer of ``final``, killed mid-write, left beside it (``.NAME.*.tmp``/``.old``)."""
    import shutil
    import time

    now = time.time()
    for leftover in final.parent.glob(f".{final.name}.*"):
        if leftover.suffix in (".tmp", ".old") and now - leftover.lstat().st_mtime > STALE_TEMP_S:
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


def write_outputs(files: Mapping[Path, str]) -> None:
    """Write every file or none: all go to temporary files first, then each is renamed into place.

    A path that is a symbolic link is written through (its target is replaced, the link stays). An error
    names the path the user gave, never the temporary file.
    """
    staged: list[tuple[Path, str, Path]] = []  # (given, temporary, final)
    try:
        for given, text in files.items():
            final = Path(os.path.realpath(given))
            try:
                final.parent.mkdir(parents=True, exist_ok=True)
                remove_stale_temps(final)
                fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
                staged.append((given, tmp, final))
                os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; results are meant to be shared
                with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                    handle.write(text)
                    handle.flush()
                    os.fsync(handle.fileno())
            except OSError as err:
                raise OutputError(f"{given}: cannot write: {err.strerror or err}; nothing was written "
                                  "(check free space, the folder and its permissions)") from None
        for given, _, final in staged:
            if final.is_dir():
                raise OutputError(f"{given}: is a directory; give a file path")
        for given, tmp, final in staged:
            try:
                os.replace(tmp, final)
            except OSError as err:
                raise OutputError(f"{given}: cannot write: {err.strerror or err}") from None
    finally:
        for _, tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: readers never see half a file."""
    write_outputs({path: text})


def check_outputs(outputs: Mapping[str, Path | None], inputs: Iterable[Path], *,
                  kinds: Mapping[str, bytes] | None = None) -> None:
    """Refuse, before anything is written, an output that would destroy something.

    ``outputs`` maps what each output is (``--junit``) to its path; ``inputs`` are the files (or folders) the
    command reads. Refused: an output that is, or links to, an input, lies inside an input folder, or is another
    output; an existing output that is not a regular file (a device or pipe would be replaced by a file); and,
    where ``kinds`` gives bytes that an output of that kind holds near its start, an existing file that is
    something else (``report -o config.yaml`` must not replace a config).
    """
    def same(a: Path, b: Path) -> bool:
        try:
            return a.exists() and b.exists() and os.path.samefile(a, b)
        except OSError:
            return False

    given = [(what, path) for what, path in outputs.items() if path is not None]
    sources = [Path(os.path.realpath(p)) for p in inputs]
    for what, path in given:
        target = Path(os.path.realpath(path))
        blocker = next((p for p in target.parents if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            raise InputError(f"{path}: {blocker} is a file, not a folder; give {what} a path in a folder")
        for source in sources:
            if same(target, source) or target == source or source in target.parents:
                raise InputError(f"{path}: {what} would overwrite the input {source}; choose another output path")
        if path.exists() or path.is_symlink():
            if not target.is_file():
                raise InputError(f"{path}: exists and is not a regular file (a folder, device or pipe); "
                                 f"give {what} a file path")
            marker = (kinds or {}).get(what)
            if marker is not None and target.stat().st_size > 0:
                with target.open("rb") as handle:
                    head = handle.read(256)
                if marker.lower() not in head.lower():
                    raise InputError(f"{path}: exists and is not {what} from evalharness; refusing to replace it "
                                     "(delete it first, or choose another path)")
    for i, (what, path) in enumerate(given):
        for other_what, other in given[i + 1:]:
            if os.path.realpath(path) == os.path.realpath(other) or same(path, other):
                raise InputError(f"{path}: {what} and {other_what} are the same file; give each its own path")


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask

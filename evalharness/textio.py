"""Reading and writing text files the same way everywhere: UTF-8, BOM and CRLF tolerant, atomic writes."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from evalharness.errors import InputError


def read_text(path: Path, what: str = "file") -> str:
    """Return the file's text decoded as UTF-8 (a leading BOM dropped), newlines normalised to LF."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: expected a {what}, found a directory") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read {what}: {err.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputError(
            f"{path}:{line}: {what} is not valid UTF-8 (byte offset {err.start}); re-encode it as UTF-8"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


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


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; results are meant to be shared
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_lines(path: Path, lines: Iterable[str]) -> None:
    """Write one item a line, atomically."""
    atomic_write_text(path, "".join(f"{line}\n" for line in lines))


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask

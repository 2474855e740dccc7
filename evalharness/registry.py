"""Name → "module:attr" registries that import on first use, so a heavy backend costs nothing until asked for."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable
from typing import Generic, TypeVar

from evalharness.errors import UnknownNameError

T = TypeVar("T")


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A ``; did you mean 'x'?`` suffix for the closest choice, or an empty string."""
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


class Registry(Generic[T]):
    """Maps names to ``"module:attr"`` targets; :meth:`get` imports the target on first use."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._targets: dict[str, str] = {}
        self._loaded: dict[str, T] = {}

    def register(self, name: str, target: str) -> None:
        """Register ``name`` → ``"package.module:attr"``."""
        self._targets[name] = target

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._targets)

    def __contains__(self, name: object) -> bool:
        return name in self._targets

    def get(self, name: str) -> T:
        """The object registered as ``name``, imported now if needed."""
        if name not in self._targets:
            raise UnknownNameError(
                f"unknown {self.what} {name!r}{did_you_mean(name, self._targets)} "
                f"(known: {', '.join(self.names())})"
            )
        if name not in self._loaded:
            module_name, attr = self._targets[name].split(":")
            self._loaded[name] = getattr(importlib.import_module(module_name), attr)
        return self._loaded[name]

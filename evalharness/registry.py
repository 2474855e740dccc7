"""Name → implementation registries that import on first use and that other packages can extend.

A target is registered as a ``"package.module:attr"`` string, so a heavy backend costs nothing until it is
asked for. Third-party packages add entries through package entry points (``[project.entry-points]`` in
their ``pyproject.toml``, group ``evalharness.backends`` or ``evalharness.metrics``); they are read on the
first lookup. A name is registered once: a second registration of the same name is refused, so a plug-in
cannot silently replace a built-in. A loaded target must be a subclass of the registry's base class.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from evalharness.errors import EvalHarnessError, UnknownNameError

T = TypeVar("T")


class RegistryError(EvalHarnessError):
    """A registration is invalid: a name taken twice, or a target of the wrong type."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A ``; did you mean 'x'?`` suffix for the closest choice, or an empty string."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


class Registry(Generic[T]):
    """Maps names to classes given as ``"module:attr"`` targets; :meth:`get` imports a target on first use."""

    def __init__(self, what: str, base: type[Any], *, group: str | None = None) -> None:
        self.what = what
        self.base = base
        self.group = group
        self._targets: dict[str, str] = {}
        self._loaded: dict[str, type[T]] = {}
        self._plugins_read = group is None

    def register(self, name: str, target: str) -> None:
        """Register ``name`` → ``"package.module:attr"``; a name already taken is a :class:`RegistryError`."""
        if name in self._targets:
            raise RegistryError(f"{self.what} {name!r} is registered twice: {self._targets[name]} and {target}")
        if ":" not in target:
            raise RegistryError(f"{self.what} {name!r}: target {target!r} is not of the form 'package.module:attr'")
        self._targets[name] = target

    def _read_plugins(self) -> None:
        if self._plugins_read:
            return
        self._plugins_read = True
        from importlib import metadata  # ~20 ms: only when a name is looked up, not for --help

        for entry in metadata.entry_points(group=self.group or ""):
            self.register(entry.name, entry.value)

    def names(self) -> list[str]:
        """Registered names, sorted (entry points included)."""
        self._read_plugins()
        return sorted(self._targets)

    def __contains__(self, name: object) -> bool:
        self._read_plugins()
        return name in self._targets

    def require(self, name: str) -> str:
        """``name`` if it is registered, else :class:`UnknownNameError` with the closest name (imports nothing)."""
        self._read_plugins()
        if name not in self._targets:
            raise UnknownNameError(
                f"unknown {self.what} {name!r}{did_you_mean(name, self._targets)} "
                f"(known: {', '.join(self.names())})"
            )
        return name

    def get(self, name: str) -> type[T]:
        """The class registered as ``name``, imported now if needed."""
        self.require(name)
        if name not in self._loaded:
            target = self._targets[name]
            module_name, attr = target.split(":", 1)
            try:
                obj = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError) as err:
                raise RegistryError(f"{self.what} {name!r}: cannot import {target}: {err}") from None
            if not (isinstance(obj, type) and issubclass(obj, self.base)):
                raise RegistryError(f"{self.what} {name!r}: {target} is not a subclass of "
                                    f"{self.base.__module__}.{self.base.__qualname__}")
            self._loaded[name] = obj
        return self._loaded[name]

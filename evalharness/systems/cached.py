"""A system behind the translation store: stored outputs are reused, the rest translated and stored batch by batch.

The key of one output is a SHA-256 over the system's identity (backend, model id, resolved revision — a hash
of the files for a local directory — and every setting of its backend), the source and target language, and
the source text. Metrics are not part of it, so re-scoring never re-translates. The model is loaded only
when something is missing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from evalharness.systems.base import BatchFn, Store, System, Translation


def identity_hash(identity: dict[str, Any]) -> str:
    """Stable hash of a system identity (canonical JSON)."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def entry_key(identity: str, src: str, tgt: str, text: str) -> str:
    """Key of one translation."""
    return hashlib.sha256("\0".join((identity, src, tgt, text)).encode()).hexdigest()


def stored_form(output: Translation) -> Translation:
    """What the store keeps of an output: the engine's own text, before post-processing (``finish`` redoes it)."""
    return output if output.raw is None else Translation(output.raw, output.tokens, output.hit_limit)


class CachedSystem(System):
    """Wraps ``inner`` (a cacheable system) with ``store``; translates only what the store does not hold."""

    store: Store  # never None here

    def __init__(self, inner: System, store: Store) -> None:
        super().__init__(inner.settings, seed=inner.seed, key=inner.key, store=store)
        self.inner = inner
        self.hits = self.misses = 0
        self._identity: tuple[str, dict[str, Any]] | None = None

    @property
    def segmentation(self) -> str:
        """The wrapped system's."""
        return self.inner.segmentation

    @property
    def loaded(self) -> bool:
        """The wrapped system's."""
        return self.inner.loaded

    @property
    def load_s(self) -> float:  # type: ignore[override]
        """The wrapped system's loading time."""
        return self.inner.load_s

    @load_s.setter
    def load_s(self, value: float) -> None:
        pass  # System.__init__ sets it; the wrapped system keeps the real figure

    def _key(self) -> tuple[str, dict[str, Any]]:
        if self._identity is None:
            description = self.inner.identity()
            self._identity = identity_hash(description), description
        return self._identity

    def preflight(self, segments: int) -> None:
        """The wrapped system's checks."""
        self.inner.preflight(segments)

    def prepare(self) -> None:
        """Load the wrapped system."""
        self.inner.prepare()

    def identity(self) -> dict[str, Any]:
        """The wrapped system's identity."""
        return self._key()[1]

    def lookup(self, keys: Sequence[str], texts: Sequence[str]) -> list[Translation | None]:
        """The stored output of each key (None where there is none), post-processed again by the wrapped system."""
        found = self.store.get_many(keys)
        return [self.inner.finish(found[k], t) if k in found else None for k, t in zip(keys, texts, strict=True)]

    def keep(self, src: str, tgt: str, items: Sequence[tuple[str, Translation]]) -> None:
        """Store outputs under their keys (the engine's own text: see :func:`stored_form`)."""
        ident, description = self._key()
        self.store.put_many(ident, description, src, tgt, ((k, stored_form(t)) for k, t in items))

    def translate(self, texts: Sequence[str], src: str, tgt: str, *,
                  on_batch: BatchFn | None = None) -> list[Translation]:
        """Stored outputs first (reported as one batch), then the missing ones translated and stored per batch."""
        ident, _ = self._key()
        keys = [entry_key(ident, src, tgt, t) for t in texts]
        outputs = self.lookup(keys, texts)
        missing = [i for i, o in enumerate(outputs) if o is None]
        present = [i for i, o in enumerate(outputs) if o is not None]
        self.hits, self.misses = len(present), len(missing)
        if on_batch and present:
            on_batch(present, [o for o in outputs if o is not None])
        if missing:
            self.inner.prepare()

            def stored(positions: Sequence[int], done: Sequence[Translation]) -> None:
                self.keep(src, tgt, [(keys[missing[p]], t) for p, t in zip(positions, done, strict=True)])
                if on_batch:
                    on_batch([missing[p] for p in positions], done)

            new = self.inner.translate([texts[i] for i in missing], src, tgt, on_batch=stored)
            for i, t in zip(missing, new, strict=True):
                outputs[i] = t
        return [o if o is not None else Translation("") for o in outputs]

    def facts(self) -> dict[str, Any]:
        """The wrapped system's facts: learnt now if it was loaded, else as stored when it last was.

        A rerun served wholly from the store never loads the model, yet its manifest must be the same as
        the first run's; if the store has no facts for this identity (an older store), load to learn them.
        """
        ident = self._key()[0]
        if not self.inner.loaded:
            stored = self.store.get_facts(ident)
            if stored is not None:
                return stored
            self.inner.prepare()
        facts = self.inner.facts()
        self.store.put_facts(ident, facts)
        return facts

    def manifest(self) -> dict[str, Any]:
        """The wrapped system's manifest with its load-time facts filled in."""
        facts = self.facts()  # first: it may load the system, which changes what the manifest says (load_s)
        return {**self.inner.manifest(), **facts}

    def close(self) -> None:
        """Release the wrapped system."""
        self.inner.close()

"""Named standard test sets (FLORES-200, NTREX-128, TICO-19): a registry pinned by sha256, and a verified cache.

The registry is one data file (``registry.json``); :mod:`evalharness.testsets.fetch` downloads a set on first
use, verifies every file against its pinned hash and keeps it in the user cache. ``corpus/`` turns the cached
files into a :class:`~evalharness.corpus.Corpus`; this package knows nothing of corpora.
"""

from evalharness.testsets.fetch import cached_paths, fetch, testsets_dir
from evalharness.testsets.registry import SetEntry, SetFile, find, registered_sets

__all__ = ["SetEntry", "SetFile", "cached_paths", "fetch", "find", "registered_sets", "testsets_dir"]

"""The translation store: reused outputs, directory hashes, language-ID results (SQLite, shared by processes)."""

from evalharness.store.sqlite import CACHE_FILE, StoreAt, TranslationStore, default_cache_path

__all__ = ["CACHE_FILE", "StoreAt", "TranslationStore", "default_cache_path"]

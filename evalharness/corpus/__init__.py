"""Reference corpora: the model (pairs, segments, hash), loading by name or path, checks, and slice tags."""

from evalharness.corpus.check import Finding, check_corpus
from evalharness.corpus.load import available_corpora, corpora_dirs, load_corpus, load_plain_pair, load_testset
from evalharness.corpus.model import LANGUAGES, Corpus, Level, Pair, Segment, Side, canonical_pair, content_hash

__all__ = ["LANGUAGES", "Corpus", "Finding", "Level", "Pair", "Segment", "Side", "available_corpora",
           "canonical_pair", "check_corpus", "content_hash", "corpora_dirs", "load_corpus", "load_plain_pair",
           "load_testset"]

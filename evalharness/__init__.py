"""evalharness: translate a reference corpus with MT systems, score it with sacrebleu, gate CI on it."""

__version__ = "0.1.0"

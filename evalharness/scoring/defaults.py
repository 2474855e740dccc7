"""Default settings of scoring, in one import-free module: the CLI's help reads them without loading the rest."""

DEFAULT_METRICS: tuple[str, ...] = ("bleu", "chrf", "chrf++", "ter")
"""What a run and ``score`` compute unless told otherwise."""

DEFAULT_RESAMPLES = 1000
"""Bootstrap resamples for confidence intervals and the paired bootstrap test."""

DEFAULT_AR_TRIALS = 10000
"""Trials of approximate randomization."""

DEFAULT_SEED = 12345
"""sacrebleu's default resampling seed (SACREBLEU_SEED)."""

CONFIDENCE = 0.95
"""Level of every confidence interval."""

TOKENIZERS: tuple[str, ...] = ("13a", "intl", "char", "none", "flores200", "flores101")
"""BLEU tokenizers a run or ``score`` may name (sacrebleu's names). The flores ones are SentencePiece models
that sacrebleu keeps under ``$SACREBLEU/models`` (default ``~/.sacrebleu``); evalharness never downloads them."""

DEFAULT_TOKENIZE = "13a"
"""sacrebleu's default BLEU tokenizer (mteval-v13a), the one WMT reports with."""

MAX_SEED = 2**32 - 1
"""Seeds are handed to torch and numpy: keep them within what both take."""
MAX_SAMPLES = 100_000
"""Upper bound of resamples and trials: beyond it the statistics change by less than their own noise."""

"""Scoring: metrics (``metrics``), intervals and paired tests (``significance``), slices and flags.

Every private sacrebleu hook the package uses is called from ``sacrebleu_adapter`` and nowhere else.
Nothing is imported here, so importing one submodule does not load sacrebleu or numpy.
"""

"""Scoring at scale: compact statistics, chunks, worker processes, streaming (issue 18).

The worker tests start a real pool of spawned processes with a threshold forced low, on inputs small enough to
stay fast; the same statistics and scores must come out whatever the number of processes and the chunk size, and
they must be sacrebleu's own.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sacrebleu

from evalharness.scoring import parallel
from evalharness.scoring.metrics import get_metrics
from evalharness.scoring.parallel import PoolSettings
from evalharness.scoring.plain import score_files, sentence_scores
from evalharness.scoring.scorer import score_metrics
from evalharness.scoring.significance import _draws, bootstrap_scores
from evalharness.textio import iter_lines, read_lines

NAMES = ["bleu", "chrf", "chrf++", "ter"]
THEIRS = {"bleu": (sacrebleu.BLEU(effective_order=True), sacrebleu.BLEU()), "chrf": (sacrebleu.CHRF(),) * 2,
          "chrf++": (sacrebleu.CHRF(word_order=2),) * 2, "ter": (sacrebleu.TER(),) * 2}


@pytest.fixture(autouse=True)
def _no_pool_left() -> Iterator[None]:
    yield
    parallel.shutdown()


def _texts(n: int, seed: int) -> tuple[list[str], list[str], list[str]]:
    """Hypotheses and two reference sets: random words, the hypotheses noisy copies of the first references."""
    rng = random.Random(seed)
    vocab = [f"w{k}" for k in range(60)] + ["the", "a", ".", ","]
    refs = [" ".join(rng.choices(vocab, k=rng.randint(1, 25))) for _ in range(n)]
    hyps = [" ".join(w for w in r.split() if rng.random() > 0.2) + (" w1" if rng.random() < 0.3 else "")
            for r in refs]
    refs2 = [" ".join(["the", *r.split()[1:]]) for r in refs]
    return hyps, refs, refs2


@pytest.mark.parametrize("multi", [False, pytest.param(True, marks=pytest.mark.slow)],
                         ids=["one-reference", "two-references"])
def test_scores_do_not_depend_on_processes_or_chunk_size(multi: bool) -> None:
    """Statistics and segment scores are the same in this process, in 2 workers, in chunks of 1, 3, 7 or all of
    the segments, and they are sacrebleu's sentence_score and corpus_score values."""
    hyps, refs, refs2 = _texts(23, seed=18)
    references = [refs, refs2] if multi else refs
    metrics = get_metrics(NAMES)
    results = {}
    for processes in (1, 2):
        for chunk in (1, 7, 100):
            settings = PoolSettings(processes=processes, chunk_size=chunk, threshold=1)
            results[processes, chunk] = score_metrics(metrics, hyps, references, segment_scores=True,
                                                      settings=settings)
    reference = results[1, 100]
    for key, scored in results.items():
        for metric, mine, base in zip(metrics, scored, reference, strict=True):
            assert np.array_equal(mine.stats, base.stats), (key, metric.name)
            assert mine.scores is not None and base.scores is not None
            assert np.array_equal(mine.scores, base.scores), (key, metric.name)
    sets = [[a, b] for a, b in zip(refs, refs2, strict=True)] if multi else [[r] for r in refs]
    for metric, scored in zip(metrics, reference, strict=True):
        segment, whole = THEIRS[metric.name]
        assert scored.scores is not None
        assert scored.scores.tolist() == [segment.sentence_score(h, s).score
                                          for h, s in zip(hyps, sets, strict=True)]
        assert metric.score_from_stats(scored.stats) == whole.corpus_score(hyps, [refs, refs2] if multi
                                                                            else [refs]).score
        assert f"nrefs:{2 if multi else 1}|" in metric.signature and f"nrefs:{2 if multi else 1}|" in \
            metric.segment_signature


@pytest.mark.slow  # importing torch takes seconds
def test_workers_are_spawned_without_torch() -> None:
    """A worker is a fresh interpreter: torch loaded here (as ``run`` loads it to translate) is not in it."""
    import torch  # noqa: F401  # loaded in this process on purpose

    pool = parallel._pool(2)
    loaded = pool.submit(eval, "sorted({m.split('.')[0] for m in __import__('sys').modules})").result()
    assert "torch" in sys.modules
    assert "torch" not in loaded and "transformers" not in loaded
    assert pool.submit(eval, "__import__('multiprocessing').get_start_method()").result() == "spawn"


def test_small_inputs_start_no_pool() -> None:
    """Below the threshold nothing is started: the reference corpus (29 segments) pays no start-up."""
    parallel.shutdown()
    hyps, refs, _ = _texts(29, seed=1)
    score_metrics(get_metrics(["chrf"]), hyps, refs, settings=PoolSettings(processes=2, threshold=30))
    assert parallel._POOL is None
    score_metrics(get_metrics(["chrf"]), hyps, refs, settings=PoolSettings(processes=2, threshold=29))
    assert parallel._POOL is not None


def test_rechunking_keeps_every_segment_in_order() -> None:
    hyps = [f"h{i}" for i in range(23)]
    refs = [f"r{i}" for i in range(23)]
    pieces = [(hyps[a:b], [refs[a:b]]) for a, b in ((0, 5), (5, 6), (6, 6), (6, 20), (20, 23))]
    for size in (1, 4, 5, 50):
        out = list(parallel._chunked(iter(pieces), size))
        assert all(len(h) == size for h, _ in out[:-1]) and 0 < len(out[-1][0]) <= size
        assert [x for h, _ in out for x in h] == hyps
        assert [x for _, (r,) in out for x in r] == refs


@pytest.mark.slow
def test_files_scored_in_chunks_and_workers_equal_one_pass(tmp_path: Path) -> None:
    """``score`` reads its files chunk by chunk: corpus scores, intervals and segment scores are the same with
    2 workers and chunks of 3 as in one process and one chunk, with --where and two reference files."""
    hyps, refs, refs2 = _texts(37, seed=5)
    files = {}
    for name, lines in (("hyp", hyps), ("ref", refs), ("ref2", refs2)):
        files[name] = tmp_path / f"{name}.txt"
        files[name].write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    args = ([files["ref"], files["ref2"]], [files["hyp"]], NAMES)
    one = PoolSettings(processes=1, chunk_size=10_000)
    many = PoolSettings(processes=2, chunk_size=3, threshold=1)
    from evalharness.scoring.significance import Bootstrap

    for where in ((), ("length=short",)):
        base = score_files(*args, where, bootstrap=Bootstrap(resamples=200), settings=one)
        assert score_files(*args, where, bootstrap=Bootstrap(resamples=200), settings=many) == base
        assert sentence_scores(*args, where, settings=many) == sentence_scores(*args, where, settings=one)
    whole = score_files(*args, settings=many)["systems"][0]["scores"]
    for name in NAMES:
        theirs = THEIRS[name][1].corpus_score(hyps, [refs, refs2]).score
        assert whole[name]["score"] == theirs


def test_iter_lines_reads_what_read_lines_reads(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    for raw in (b"", b"\n", b"a\n", b"a\n\n", b"\xef\xbb\xbfa\r\nb\rc", b"a\r", b"x\xe2\x80\xa8y\x0cz\nw"):
        path.write_bytes(raw)
        assert list(iter_lines(path)) == read_lines(path), raw


def test_bootstrap_draws_in_blocks_are_one_draw() -> None:
    """Resamples drawn a block at a time are the draws of one call, so intervals did not move."""
    for n in (1, 29, 5000):
        whole = np.random.default_rng(7).choice(n, size=(1000, n), replace=True)
        blocks = np.concatenate(list(_draws(np.random.default_rng(7), n, 1000)))
        assert np.array_equal(whole, blocks)
    metric = get_metrics(["chrf"])[0]
    hyps, refs, _ = _texts(50, seed=3)
    stats = metric.segment_stats(hyps, refs)
    idx = np.random.default_rng(12345).choice(50, size=(300, 50), replace=True)
    gathered = metric.scores_of_sums(stats.astype("float32")[idx].sum(axis=1))  # the one-shot way, before
    assert bootstrap_scores(metric, stats, resamples=300, seed=12345) == gathered.tolist()


@pytest.mark.slow
def test_segments_with_fewer_references_score_alike_in_workers() -> None:
    """A corpus where some segments have a second reference (sacrebleu's None for the others, ``nrefs:var``):
    workers and chunks give sacrebleu's corpus scores and the ``nrefs:var`` signature."""
    hyps, refs, refs2 = _texts(23, seed=5)
    ragged = [r if i % 3 == 0 else None for i, r in enumerate(refs2)]
    for processes, chunk in ((1, 100), (2, 4)):
        metrics = get_metrics(NAMES)
        settings = PoolSettings(processes=processes, chunk_size=chunk, threshold=1)
        scored = score_metrics(metrics, hyps, [refs, ragged], settings=settings)
        for metric, result in zip(metrics, scored, strict=True):
            whole = THEIRS[metric.name][1].corpus_score(hyps, [refs, ragged]).score
            assert metric.score_from_stats(result.stats) == pytest.approx(whole, abs=1e-9), metric.name
            assert "nrefs:var" in metric.signature and "nrefs:var" in metric.segment_signature


@pytest.mark.parametrize("processes", [1, 2])
def test_nrefs_covers_every_chunk(processes: int) -> None:
    """Segments with two references, then segments with one: ``nrefs:var`` as sacrebleu says, however the
    segments were chunked and wherever they were scored (this process overwrote it chunk by chunk once)."""
    hyps, refs, refs2 = _texts(30, seed=9)
    ragged = [r if i < 20 else None for i, r in enumerate(refs2)]
    (bleu,) = get_metrics(["bleu"])
    score_metrics([bleu], hyps, [refs, ragged], settings=PoolSettings(processes=processes, chunk_size=20,
                                                                       threshold=1))
    sacre = sacrebleu.BLEU()
    sacre.corpus_score(hyps, [refs, ragged])
    assert "nrefs:var" in str(sacre.get_signature())
    assert "nrefs:var" in bleu.signature and "nrefs:var" in bleu.segment_signature

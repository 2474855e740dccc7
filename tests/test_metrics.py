"""Metric values against sacrebleu (known values, the identity case, the vectorised formulas), each metric's
identity (label, direction, tolerance), the metric registry, input checks, and two reads of the source."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sacrebleu

from evalharness.errors import HypothesisError, UnknownNameError
from evalharness.registry import Registry, RegistryError
from evalharness.scoring.metrics import (
    METRICS,
    Metric,
    default_tolerances,
    get_metric,
    get_metrics,
    metric_label,
)
from evalharness.scoring.sacrebleu_metrics import (
    BleuMetric,
    ChrfMetric,
    ChrfPlusPlusMetric,
    SacrebleuMetric,
    TerMetric,
)
from evalharness.scoring.significance import scores_of_sums
from tests.conftest import REPO

EPS = 1e-9

# (hypotheses, references, metric, expected corpus score) — values from sacrebleu 2.x, also recomputed below.
KNOWN = [
    (["the cat sat on the mat"], ["the cat sat on the mat"], "bleu", 100.0),
    (["the cat sat on the mat"], ["the cat sat on the mat"], "ter", 0.0),
    (["the cat sat on the mat"], ["the cat sat on the mat"], "chrf", 100.0),
    (["xyz"], ["the cat sat on the mat"], "bleu", 0.0),
    (["the cat sat on the mat", "a dog"], ["the cat sat on a mat", "the dog"], "bleu", 50.000000000000014),
    (["the cat sat on the mat", "a dog"], ["the cat sat on a mat", "the dog"], "ter", 25.0),
    (["the cat sat on the mat", "a dog"], ["the cat sat on a mat", "the dog"], "chrf", 63.35826100018153),
    (["the cat sat on the mat", "a dog"], ["the cat sat on a mat", "the dog"], "chrf++", 63.14396813348003),
    (["Rusia dan Jepun bersetuju."], ["Rusia dan Jepun bersetuju untuk mengadakan mesyuarat 2 + 2."], "ter",
     70.0),
]


def _sacrebleu_corpus(metric: str, hyps: list[str], refs: list[str]) -> float:
    fn = {"bleu": sacrebleu.corpus_bleu, "chrf": sacrebleu.corpus_chrf, "ter": sacrebleu.corpus_ter}
    if metric == "chrf++":
        return float(sacrebleu.corpus_chrf(hyps, [refs], word_order=2).score)
    return float(fn[metric](hyps, [refs]).score)


@pytest.mark.parametrize(("hyps", "refs", "metric", "expected"), KNOWN)
def test_known_corpus_values(hyps: list[str], refs: list[str], metric: str, expected: float) -> None:
    ours = get_metric(metric).corpus_score(hyps, refs)
    assert ours == pytest.approx(expected, abs=1e-6)
    assert ours == pytest.approx(_sacrebleu_corpus(metric, hyps, refs), abs=EPS)


SEGMENTS = (
    ["Rusia dan Jepun bersetuju.", "Mereka membincangkan keselamatan antarabangsa.", "", "Tokyo."],
    ["Rusia dan Jepun bersetuju untuk mengadakan mesyuarat.", "Mereka membincangkan keselamatan.", "Ya.", "Tokyo."],
)


def test_segment_scores_equal_sacrebleu_sentence_functions() -> None:
    hyps, refs = SEGMENTS
    expected = {
        "bleu": [sacrebleu.sentence_bleu(h, [r]).score for h, r in zip(hyps, refs, strict=True)],
        "chrf": [sacrebleu.sentence_chrf(h, [r]).score for h, r in zip(hyps, refs, strict=True)],
        "chrf++": [sacrebleu.sentence_chrf(h, [r], word_order=2).score for h, r in zip(hyps, refs, strict=True)],
        "ter": [sacrebleu.sentence_ter(h, [r]).score for h, r in zip(hyps, refs, strict=True)],
    }
    for metric in get_metrics(list(expected)):
        assert metric.segment_scores(hyps, refs) == pytest.approx(expected[metric.name], abs=EPS)


def test_corpus_score_from_segment_stats_equals_direct() -> None:
    hyps, refs = SEGMENTS
    for metric in get_metrics(["bleu", "chrf", "chrf++", "ter"]):
        stats = metric.segment_stats(hyps, refs)
        assert len(stats) == len(hyps)
        assert metric.score_from_stats(stats) == pytest.approx(_sacrebleu_corpus(metric.name, hyps, refs), abs=EPS)


def test_reference_against_itself_is_perfect() -> None:
    _, refs = SEGMENTS
    scores = {m.name: m.corpus_score(refs, refs) for m in get_metrics(["bleu", "chrf", "chrf++", "ter"])}
    assert scores == pytest.approx({"bleu": 100.0, "chrf": 100.0, "chrf++": 100.0, "ter": 0.0}, abs=1e-9)


def test_signatures_and_direction() -> None:
    bleu, ter = get_metric("bleu"), get_metric("ter")
    bleu.corpus_score(["a b"], ["a b"])
    bleu.segment_scores(["a b"], ["a b"])
    assert "eff:no" in bleu.signature and "eff:yes" in bleu.segment_signature
    assert bleu.higher_is_better and not ter.higher_is_better


def test_misaligned_inputs_are_refused() -> None:
    bleu = get_metric("bleu")
    with pytest.raises(HypothesisError, match="2 hypotheses for 1 references"):
        bleu.corpus_score(["a", "b"], ["a"])
    with pytest.raises(HypothesisError, match="sequence of strings"):
        bleu.corpus_score(["a"], "a")  # a bare string would silently score against characters


def test_unknown_metric_suggests() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'chrf'"):
        get_metric("chrF")


# --------------------------------------------------------------------------- one object per metric

BUILTIN = {  # name: (label, higher_is_better, default tolerance)
    "bleu": ("BLEU", True, 1.0),
    "chrf": ("chrF", True, 1.0),
    "chrf++": ("chrF++", True, 1.0),
    "ter": ("TER", False, 1.0),  # lm-eval registers TER as higher-is-better; a gate must not
    "comet": ("COMET", True, 1.0),  # COMET points (×100); scored in its own environment (tests/test_comet.py)
}


@pytest.mark.parametrize("name", list(BUILTIN))
def test_identity_is_readable_from_the_class_and_the_instance(name: str) -> None:
    label, higher, tolerance = BUILTIN[name]
    cls = METRICS.get(name)
    assert (cls.name, cls.label, cls.higher_is_better, cls.default_tolerance) == (name, label, higher, tolerance)
    metric = get_metric(name)
    assert (metric.name, metric.label, metric.higher_is_better, metric.default_tolerance) == (
        name, label, higher, tolerance)


def test_metric_label_and_default_tolerances_build_no_sacrebleu_object(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Metric, *, segment: bool) -> Any:
        raise AssertionError(f"{type(self).__name__} built a sacrebleu object")

    for name in BUILTIN:
        if issubclass(METRICS.get(name), SacrebleuMetric):
            monkeypatch.setattr(METRICS.get(name), "build_sacrebleu", refuse)
    assert {name: metric_label(name) for name in BUILTIN} == {name: v[0] for name, v in BUILTIN.items()}
    assert metric_label("bertscore") == "bertscore"  # unknown: the name itself
    assert default_tolerances() == {name: v[2] for name, v in BUILTIN.items()}


def test_plain_chrf_is_not_labelled_chrf_plus_plus() -> None:
    chrf, chrfpp = get_metric("chrf"), get_metric("chrf++")
    chrf.corpus_score(["a b"], ["a b"])
    chrfpp.corpus_score(["a b"], ["a b"])
    assert "nw:0" in chrf.signature and "nw:2" in chrfpp.signature
    assert (chrf.label, chrfpp.label) == ("chrF", "chrF++")


def _rows(metric: Metric) -> np.ndarray:
    hyps, refs = SEGMENTS
    stats = np.array(metric.segment_stats([*hyps, "x", hyps[1]], [*refs, refs[1], refs[0]]), dtype="float64")
    rng = np.random.default_rng(0)
    rows = [stats[rng.choice(len(stats), size=k)].sum(0) for k in (1, 1, 2, 3, 6, 6, 6)]
    return np.array([*rows, *stats, np.zeros_like(stats[0])])  # every single segment, and all-zero statistics


VECTORISED = [BleuMetric(), BleuMetric(max_ngram_order=3), ChrfMetric(), ChrfPlusPlusMetric(), ChrfMetric(beta=1),
              TerMetric(), TerMetric(normalized=True)]
ROW_BY_ROW = [BleuMetric(smooth_method="floor"), BleuMetric(smooth_method="none"), ChrfMetric(eps_smoothing=True)]


@pytest.mark.parametrize("metric", VECTORISED + ROW_BY_ROW, ids=repr)
def test_scores_of_sums_equal_sacrebleu_row_by_row(metric: Metric) -> None:
    rows = _rows(metric)
    theirs = [metric.corpus_metric._compute_score_from_stats(list(map(float, r))).score for r in rows]
    ours = metric.scores_of_sums(rows)
    assert list(ours) == pytest.approx(theirs, abs=1e-9)
    assert list(scores_of_sums(metric, rows)) == list(ours)  # significance's name for the same thing
    if metric in ROW_BY_ROW:  # a configuration the numpy formula does not cover: sacrebleu's own numbers
        assert list(ours) == [metric.score_of_sum(r) for r in rows]


# --------------------------------------------------------------------------- the registry


def test_registry_refuses_a_target_that_is_not_a_metric() -> None:
    registry: Registry[Metric] = Registry("metric", METRICS.base)
    registry.register("path", "pathlib:Path")
    with pytest.raises(RegistryError, match=r"pathlib:Path is not a subclass of evalharness\.scoring\.metrics\.Metric"):
        registry.get("path")


def test_registry_refuses_a_name_twice() -> None:
    with pytest.raises(RegistryError, match="'bleu' is registered twice"):
        METRICS.register("bleu", "tests.test_metrics:FloorBleu")
    assert METRICS.get("bleu") is BleuMetric


class FloorBleu(BleuMetric):
    """A plug-in: BLEU with floor smoothing, scored by sacrebleu row by row."""

    name = "bleu-floor"
    label = "BLEU (floor)"
    default_tolerance = 0.5

    def __init__(self) -> None:
        super().__init__(smooth_method="floor")


def test_a_registered_subclass_is_a_whole_metric() -> None:
    assert METRICS.group == "evalharness.metrics"  # where plug-ins register themselves
    registry: Registry[Metric] = Registry("metric", METRICS.base)
    registry.register("bleu-floor", "tests.test_metrics:FloorBleu")
    metric = registry.get("bleu-floor")()
    hyps, refs = SEGMENTS
    assert metric.corpus_score(hyps, refs) == pytest.approx(
        sacrebleu.corpus_bleu(hyps, [refs], smooth_method="floor").score, abs=EPS)
    assert "smooth:floor" in metric.signature
    assert (metric.label, metric.default_tolerance, metric.higher_is_better) == ("BLEU (floor)", 0.5, True)


# --------------------------------------------------------------------------- the source, read

PACKAGE = REPO / "evalharness"
ADAPTER = PACKAGE / "scoring" / "sacrebleu_adapter.py"


def _is_private(name: str) -> bool:
    return name.startswith("_") and name != "_" and not (name.startswith("__") and name.endswith("__"))


def _sacrebleu_private_names() -> set[str]:
    """Private functions, methods, classes and constants sacrebleu defines, read from its source.

    Private *instance* attributes (``_cache``, ``_seed``) are left out: our own classes may well use
    those names, and a match would say nothing about sacrebleu.
    """
    names: set[str] = set()
    for path in Path(sacrebleu.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and _is_private(node.name):
                names.add(node.name)
        scopes = [tree.body, *(c.body for c in tree.body if isinstance(c, ast.ClassDef))]
        for node in (n for body in scopes for n in body):
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AnnAssign):
                targets = [node.target]
            else:
                continue
            names.update(t.id for t in targets if isinstance(t, ast.Name) and _is_private(t.id))
    return names


def _private_sacrebleu_uses(path: Path, private: set[str]) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sacrebleu":
            found += [f"{path.name}:{node.lineno} imports {a.name}" for a in node.names if _is_private(a.name)]
        elif isinstance(node, ast.Attribute) and _is_private(node.attr):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if node.attr in private or (isinstance(root, ast.Name) and root.id == "sacrebleu"):
                found.append(f"{path.name}:{node.lineno} uses .{node.attr}")
    return found


def test_private_sacrebleu_names_only_in_the_adapter() -> None:
    private = _sacrebleu_private_names()
    assert {"_compute_score_from_stats", "_compute_p_value", "_SIGNATURE_TYPE"} <= private
    # the check finds what the adapter does, so it would find the same anywhere else
    assert len(_private_sacrebleu_uses(ADAPTER, private)) >= 4
    elsewhere = [use for path in sorted(PACKAGE.rglob("*.py")) if path != ADAPTER
                 for use in _private_sacrebleu_uses(path, private)]
    assert elsewhere == []


def _class_name_tests(source: str, where: str) -> list[str]:
    """Where code branches on a class's name: ``type(m).__name__ == "TER"``, directly or through a variable
    (``name = type(m).__name__`` … ``if name == "TER"``), a lookup keyed on it, or a ``match`` on it.
    Printing a class name (``f"got {type(x).__name__}"``) is fine."""
    tree = ast.parse(source)

    def is_name_attr(x: ast.AST) -> bool:
        return isinstance(x, ast.Attribute) and x.attr in ("__name__", "__qualname__")

    holders = {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign) and is_name_attr(node.value)
               for t in node.targets if isinstance(t, ast.Name)}

    def is_class_name(x: ast.AST) -> bool:
        return is_name_attr(x) or (isinstance(x, ast.Name) and x.id in holders)

    found = []
    for node in ast.walk(tree):
        operands: list[ast.AST] = []
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
        elif isinstance(node, ast.Subscript):
            operands = [node.slice]
        elif isinstance(node, ast.Match):
            operands = [node.subject]
        if any(is_class_name(x) for x in operands):
            found.append(f"{where}:{node.lineno}")
    return found


def test_no_class_name_tests_in_the_package() -> None:
    replaced = (  # the shapes this redesign removed; the check must see each
        "def f(m):\n"
        "    name = type(m).__name__\n"
        "    if name == 'TER':\n"
        "        return 1\n"
        "    return {'BLEU': 2}[m.__class__.__name__]\n"
    )
    assert _class_name_tests(replaced, "old") == ["old:3", "old:5"]
    assert _class_name_tests("def g(x):\n    raise TypeError(f'got {type(x).__name__}')\n", "message") == []
    found = [hit for path in sorted(PACKAGE.rglob("*.py"))
             for hit in _class_name_tests(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE)))]
    assert found == []  # dispatch on the metric's own attributes and methods, never on type(x).__name__

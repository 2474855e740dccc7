"""The COMET worker: run by the COMET environment's own Python, never imported by evalharness.

``unbabel-comet`` 2.2.7 needs ``transformers<5`` and ``numpy<2``, which cannot share evalharness's environment
(transformers 5), so evalharness runs this file with the Python of a separate virtual environment (see
:mod:`evalharness.scoring.comet.env`). It imports nothing from evalharness: that environment does not have it.

    python worker.py serve                     # JSON lines on stdin/stdout (the protocol below)
    python worker.py build-tiny OUT --text F   # a random-weight COMET checkpoint for tests and benchmarks

``serve`` first writes a hello line with its versions, then answers one line per request line::

    -> {"id": 1, "model": "Unbabel/wmt22-comet-da", "batch_size": 8, "device": "cpu", "precision": "fp32",
        "triples": [["source", "hypothesis", "reference"], ...]}     (reference null: a reference-free model)
    <- {"id": 1, "scores": [0.83, ...], "system_score": 0.81, "seconds": 1.2}
       (+ "spans": [[{"start": 0, "end": 4, "severity": "major", "confidence": 0.8, "text": "..."}], ...]
        where the model gives error spans: xCOMET)
    <- {"id": 1, "error": "...", "kind": "model"}           (kind: model | request | internal)

Every model is scored through ``comet.load_from_checkpoint`` and ``CometModel.predict``, as ``comet-score``
does. Anything the libraries print goes to stderr: stdout carries the protocol alone. Lines are ASCII JSON
(``ensure_ascii``), so no character inside a string can be taken for a line end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import IO, Any

PROTOCOL = 2  # 2: references may be null, replies may carry spans
PRECISIONS = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def versions() -> dict[str, Any]:
    """What this environment scores with: the hello line's content."""
    import torch

    return {"protocol": PROTOCOL, "comet": version("unbabel-comet"), "torch": torch.__version__,
            "transformers": version("transformers"), "python": platform.python_version(),
            "cuda": bool(torch.cuda.is_available())}


def checkpoint_path(model: str) -> str:
    """The ``model.ckpt`` of a local COMET model (its folder or the file) or of a hub id (downloaded by comet)."""
    local = Path(model).expanduser()
    if local.is_file():
        return str(local)
    if local.is_dir():
        ckpt = local / "checkpoints" / "model.ckpt"
        if not ckpt.is_file():
            raise FileNotFoundError(f"{local}: no checkpoints/model.ckpt in this COMET model folder")
        return str(ckpt)
    if model.startswith((".", "/", "~")) or os.sep in model.strip("/").replace("/", "", 1):
        raise FileNotFoundError(f"{model}: no such COMET model folder or checkpoint")
    from comet import download_model

    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
    return str(download_model(model, local_files_only=offline))


class Scorer:
    """Loaded models by (model, device, precision), so one worker scores every system × direction of a run."""

    def __init__(self) -> None:
        self.models: dict[tuple[str, str, str], Any] = {}

    def model(self, name: str, device: str, precision: str) -> Any:
        """The COMET model, loaded once, cast to ``precision``."""
        key = (name, device, precision)
        if key not in self.models:
            import torch
            from comet import load_from_checkpoint

            offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
            loaded = load_from_checkpoint(checkpoint_path(name), local_files_only=offline)
            if precision != "fp32":
                loaded = loaded.to(getattr(torch, PRECISIONS[precision]))
            self.models[key] = loaded
        return self.models[key]

    def score(self, request: dict[str, Any]) -> dict[str, Any]:
        """Per-segment scores of the request's triples (source, hypothesis, reference)."""
        device, precision = str(request["device"]), str(request["precision"])
        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
        triples = request["triples"]
        # a reference of None: a reference-free model (CometKiwi) scores (src, mt) alone
        samples = [{"src": s, "mt": h, **({} if r is None else {"ref": r})} for s, h, r in triples]
        if not samples:
            return {"scores": [], "system_score": 0.0, "seconds": 0.0}
        model = self.model(str(request["model"]), device, precision)
        t0 = time.perf_counter()
        if device == "cpu":
            out = model.predict(samples, batch_size=int(request["batch_size"]), gpus=0, progress_bar=False)
        else:
            index = int(device.split(":", 1)[1]) if ":" in device else 0
            out = model.predict(samples, batch_size=int(request["batch_size"]), gpus=1, devices=[index],
                                accelerator="cuda", progress_bar=False)
        scores = [float(x) for x in out.scores]
        reply = {"scores": scores, "system_score": float(out.system_score), "seconds": time.perf_counter() - t0}
        metadata = out.get("metadata") or {}
        if "error_spans" in metadata:  # xCOMET: its spans in the hypothesis, each segment's list as comet gives it
            reply["spans"] = [[{"start": int(sp["start"]), "end": int(sp["end"]), "severity": str(sp["severity"]),
                                "confidence": float(sp["confidence"]), "text": str(sp["text"])} for sp in spans]
                              for spans in metadata["error_spans"]]
        return reply


def _write(stream: IO[str], message: dict[str, Any]) -> None:
    stream.write(json.dumps(message, ensure_ascii=True) + "\n")
    stream.flush()


def serve() -> int:
    """Answer requests on stdin until it closes."""
    protocol = os.fdopen(os.dup(1), "w", encoding="ascii", buffering=1)
    os.dup2(2, 1)  # whatever comet, lightning or torch print lands on stderr, not in the protocol
    sys.stdout = sys.stderr
    try:
        hello = versions()
        import comet  # noqa: F401  # fails here, in the hello, if the environment is broken
    except Exception as err:  # report any failure of the environment as one line, then stop
        _write(protocol, {"hello": False, "error": f"{type(err).__name__}: {err}"})
        return 1
    _write(protocol, {"hello": True, **hello})
    scorer = Scorer()
    for raw in sys.stdin.buffer:
        if not raw.strip():
            continue
        try:
            request = json.loads(raw)
        except ValueError as err:
            _write(protocol, {"id": None, "error": f"not a JSON line: {err}", "kind": "request"})
            continue
        rid = request.get("id") if isinstance(request, dict) else None
        try:
            _write(protocol, {"id": rid, **scorer.score(request)})
        except (FileNotFoundError, KeyError, OSError) as err:
            _write(protocol, {"id": rid, "error": f"{type(err).__name__}: {err}", "kind": "model"})
        except (ValueError, TypeError) as err:
            _write(protocol, {"id": rid, "error": f"{type(err).__name__}: {err}", "kind": "request"})
        except Exception as err:  # the worker stays up; the harness turns this into one line
            _write(protocol, {"id": rid, "error": f"{type(err).__name__}: {err}", "kind": "internal"})
    return 0


# --------------------------------------------------------------------------- a tiny checkpoint, built here

# Sizes of the random encoders: "tiny" builds and scores in seconds; "large" has XLM-R large's shape (the
# encoder of Unbabel/wmt22-comet-da), for throughput measurements. The tiny encoder's weights are drawn 10×
# wider than XLM-R's initialisation, so that its scores move with the text (at 0.02 they hardly do).
SIZES: dict[str, dict[str, int]] = {
    "tiny": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
             "vocab_size": 0, "estimator": 16},
    "large": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096,
              "vocab_size": 250_002, "estimator": 3072},
}


KINDS = ("regression", "kiwi", "xcomet")
"""What ``build-tiny`` builds: COMET-22's regression model (reference-based), a CometKiwi-like ``UnifiedMetric``
reading (mt, src) alone, or an ``XCOMETMetric`` (a score and error spans)."""


def _tiny_encoder(out: Path, texts: list[str], dims: dict[str, int], *, size: str, spm_vocab: int) -> Path:
    """``out/encoder``: a random XLM-R encoder saved with ``save_pretrained`` beside its SentencePiece tokenizer
    (trained on ``texts``)."""
    import io

    import sentencepiece as spm
    from transformers import (  # type: ignore[attr-defined]  # the fast class is transformers<5's
        XLMRobertaConfig,
        XLMRobertaModel,
        XLMRobertaTokenizer,
        XLMRobertaTokenizerFast,
    )

    encoder_dir = out / "encoder"
    encoder_dir.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(texts), model_writer=buffer, vocab_size=spm_vocab,
                                   model_type="unigram", character_coverage=1.0, hard_vocab_limit=False,
                                   num_threads=1, minloglevel=2)
    spm_file = encoder_dir / "sentencepiece.bpe.model"
    spm_file.write_bytes(buffer.getvalue())
    slow = XLMRobertaTokenizer(vocab_file=str(spm_file))
    fast = XLMRobertaTokenizerFast(vocab_file=str(spm_file), tokenizer_object=None, from_slow=True)
    fast.save_pretrained(str(encoder_dir))
    vocab = dims["vocab_size"] or len(slow)
    config = XLMRobertaConfig(vocab_size=vocab, hidden_size=dims["hidden_size"],
                              num_hidden_layers=dims["num_hidden_layers"],
                              num_attention_heads=dims["num_attention_heads"],
                              intermediate_size=dims["intermediate_size"], max_position_embeddings=514,
                              type_vocab_size=1, initializer_range=0.2 if size == "tiny" else 0.02,
                              pad_token_id=slow.pad_token_id, bos_token_id=slow.bos_token_id,
                              eos_token_id=slow.eos_token_id)
    XLMRobertaModel(config, add_pooling_layer=False).save_pretrained(str(encoder_dir))
    return encoder_dir


def _tiny_hparams(kind: str, dims: dict[str, int], encoder_dir: Path, *, size: str) -> dict[str, Any]:
    """The hyper-parameters of the released model of ``kind`` (``Unbabel/wmt22-comet-da``,
    ``Unbabel/wmt22-cometkiwi-da``, ``Unbabel/XCOMET-XL``) with this encoder and a smaller estimator."""
    common: dict[str, Any] = {
        "activations": "Tanh", "dropout": 0.1, "encoder_model": "XLM-RoBERTa", "final_activation": None,
        "hidden_sizes": [dims["estimator"], dims["estimator"] // 3] if size == "large" else [dims["estimator"]],
        "keep_embeddings_frozen": True, "layer_norm": False, "layer_transformation": "sparsemax",
        "layerwise_decay": 0.95, "loss": "mse", "nr_frozen_epochs": 0.3, "optimizer": "AdamW",
        "pretrained_model": str(encoder_dir.resolve()), "train_data": [], "validation_data": [],
        "warmup_steps": 0,
    }
    if kind == "regression":
        return {**common, "batch_size": 16, "class_identifier": "regression_metric", "encoder_learning_rate": 1.0e-06,
                "layer": "mix", "learning_rate": 1.5e-05, "pool": "avg"}
    unified = {**common, "batch_size": 4, "encoder_learning_rate": 1.0e-06, "learning_rate": 1.5e-05,
               "sent_layer": "mix", "word_layer": dims["num_hidden_layers"], "loss_lambda": 0.65,
               "cross_entropy_weights": None}
    if kind == "kiwi":
        return {**unified, "class_identifier": "unified_metric", "input_segments": ["mt", "src"],
                "word_level_training": False, "error_labels": ["minor", "major"]}
    return {**unified, "class_identifier": "xcomet_metric", "word_level_training": True,
            "error_labels": ["minor", "major", "critical"], "loss_lambda": 0.055,
            "cross_entropy_weights": [0.08, 0.486, 0.505, 0.533]}


def build_tiny(out: Path, texts: list[str], *, size: str = "tiny", kind: str = "regression", spm_vocab: int = 400,
               seed: int = 0) -> Path:
    """A random-weight COMET checkpoint on disk of ``kind`` (:data:`KINDS`), loadable by
    ``comet.load_from_checkpoint``.

    ``out/encoder``: an XLM-R encoder with its SentencePiece tokenizer (trained on ``texts``); ``out/hparams.yaml``
    and ``out/checkpoints/model.ckpt``: the COMET model whose ``pretrained_model`` is that folder, in the layout
    of a downloaded ``Unbabel/wmt22-comet-da``, built by comet's own class for the kind.
    """
    import pytorch_lightning
    import torch
    import yaml
    from comet.models import str2model

    if kind not in KINDS:
        raise ValueError(f"kind {kind!r}: expected one of {', '.join(KINDS)}")
    dims = SIZES[size]
    torch.manual_seed(seed)
    encoder_dir = _tiny_encoder(out, texts, dims, size=size, spm_vocab=spm_vocab)
    hparams = _tiny_hparams(kind, dims, encoder_dir, size=size)
    init = {k: v for k, v in hparams.items() if k != "class_identifier"}  # the file's, not the class's
    model = str2model[hparams["class_identifier"]](**init, load_pretrained_weights=True, local_files_only=True)
    if kind == "xcomet":  # drawn so that some subwords are tagged and some not: spans open and close
        torch.nn.init.normal_(model.hidden2tag.weight, std=1.0)
        with torch.no_grad():
            model.hidden2tag.bias[0] = 6.0  # the "O" label
    (out / "hparams.yaml").write_text(yaml.safe_dump(hparams, sort_keys=True), encoding="utf-8")
    (out / "checkpoints").mkdir(exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": hparams,
                "pytorch-lightning_version": pytorch_lightning.__version__, "epoch": 0, "global_step": 0},
               out / "checkpoints" / "model.ckpt")
    return out


def main(argv: list[str] | None = None) -> int:
    """``serve`` or ``build-tiny``."""
    parser = argparse.ArgumentParser(prog="evalharness-comet-worker")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="JSON lines on stdin/stdout")
    build = sub.add_parser("build-tiny", help="write a random-weight COMET checkpoint")
    build.add_argument("out", type=Path)
    build.add_argument("--text", type=Path, required=True, help="SentencePiece training text, one segment a line")
    build.add_argument("--size", choices=sorted(SIZES), default="tiny")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--kind", choices=KINDS, default="regression")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve()
    texts = [line for line in args.text.read_text(encoding="utf-8").split("\n") if line.strip()]
    os.dup2(2, 1)  # library chatter to stderr; the folder is the only output
    build_tiny(args.out, texts, size=args.size, kind=args.kind, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())

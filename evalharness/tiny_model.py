"""Build a random-weight MarianMT model on disk, for offline tests, smoke runs and benchmarks.

The model is saved with ``save_pretrained`` next to real MarianTokenizer files (``source.spm``,
``target.spm``, ``vocab.json``) whose SentencePiece model is trained on the shipped article corpus, so it
loads through exactly the code path of a hub model such as ``Helsinki-NLP/opus-mt-en-mul``. Its
translations are noise: use it to test plumbing, never quality.

    python -m evalharness.tiny_model OUT_DIR            # tiny: seconds to build and run
    python -m evalharness.tiny_model OUT_DIR --opus-mt  # opus-mt size (d_model 512, 6+6 layers, ~60k vocab)
    python -m evalharness.tiny_model OUT_DIR --comet    # a random COMET checkpoint (needs the COMET environment)
    python -m evalharness.tiny_model OUT_DIR --llm      # a random Llama chat model, for `transformers serve`
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# Language tokens as the multilingual opus-mt models spell them; kept in the vocabulary so that a
# ``>>zsm_Latn<<`` prefix is one token, as with the real en-mul model.
TARGET_TOKENS = (">>zsm_Latn<<", ">>ind<<", ">>eng<<")


@dataclass(frozen=True)
class Architecture:
    """Sizes of the Marian transformer."""

    d_model: int = 32
    layers: int = 1
    heads: int = 2
    ffn: int = 64
    vocab_size: int = 0  # 0: as many entries as the SentencePiece model has (plus specials)
    max_positions: int = 512


TINY = Architecture()
OPUS_MT = Architecture(d_model=512, layers=6, heads=8, ffn=2048, vocab_size=60_000)


ARTICLE_CORPUS = "rt-2013-russia-japan-2plus2"


def corpus_texts() -> list[str]:
    """Both sides of every pair of the shipped article corpus: the SentencePiece training text.

    Read from the shipped copy only (never ``./corpora`` or ``$EVALHARNESS_CORPORA``), so that the
    tokenizer, and with it the model and the committed CI baseline, cannot change with what else is
    on the corpus search path.
    """
    from evalharness.corpus import LANGUAGES, load_corpus
    from evalharness.errors import CorpusError
    from evalharness.paths import bundled_corpora_dir

    folder = bundled_corpora_dir() / ARTICLE_CORPUS
    if not (folder / "pairs.jsonl").is_file():
        raise CorpusError(f"{folder}: the shipped corpus {ARTICLE_CORPUS!r} is missing; reinstall evalharness")
    texts: list[str] = []
    for pair in load_corpus(folder).pairs:
        texts.extend(pair.sides[lang].text for lang in LANGUAGES)
    return texts


def build_marian(out_dir: Path, texts: Sequence[str] | None = None, *, arch: Architecture = TINY,
                 spm_vocab: int = 300, seed: int = 0) -> Path:
    """Write a random-weight Marian model and its tokenizer files to ``out_dir``; return ``out_dir``."""
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # "Writing model shards" under -q

    texts = list(texts) if texts is not None else corpus_texts()
    out_dir.mkdir(parents=True, exist_ok=True)
    model_file = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_writer=model_file, vocab_size=spm_vocab,
        model_type="unigram", character_coverage=1.0, hard_vocab_limit=False,
        minloglevel=2, num_threads=1, seed_sentencepiece_size=100_000,
    )
    spm_path = out_dir / "source.spm"
    spm_path.write_bytes(model_file.getvalue())
    (out_dir / "target.spm").write_bytes(model_file.getvalue())
    processor = spm.SentencePieceProcessor(model_file=str(spm_path))
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    vocab: dict[str, int] = {}
    for token in ("</s>", "<unk>", *TARGET_TOKENS, *pieces):
        if token not in vocab and token not in ("<s>",):
            vocab[token] = len(vocab)
    # Pad with unused entries up to the requested size, so that embedding and output-projection cost
    # what they would for a real vocabulary.
    while arch.vocab_size and len(vocab) < arch.vocab_size - 1:
        vocab[f"<unused{len(vocab)}>"] = len(vocab)
    vocab["<pad>"] = len(vocab)
    (out_dir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")

    tokenizer = MarianTokenizer(str(spm_path), str(out_dir / "target.spm"), str(out_dir / "vocab.json"),
                                source_lang="mul", target_lang="mul")
    pad = vocab["<pad>"]
    config = MarianConfig(
        vocab_size=len(vocab), d_model=arch.d_model,
        encoder_layers=arch.layers, decoder_layers=arch.layers,
        encoder_attention_heads=arch.heads, decoder_attention_heads=arch.heads,
        encoder_ffn_dim=arch.ffn, decoder_ffn_dim=arch.ffn, max_position_embeddings=arch.max_positions,
        pad_token_id=pad, eos_token_id=vocab["</s>"], decoder_start_token_id=pad,
        forced_eos_token_id=vocab["</s>"], share_encoder_decoder_embeddings=True, init_std=0.5,
    )
    torch.manual_seed(seed)
    model = MarianMTModel(config)
    model.generation_config.decoder_start_token_id = pad
    model.generation_config.pad_token_id = pad
    model.generation_config.eos_token_id = vocab["</s>"]
    model.generation_config.bad_words_ids = [[pad]]
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
"""A minimal chat template (roles as special tokens), enough for a chat-completions server to build prompts."""


def build_llm(out_dir: Path, texts: Sequence[str] | None = None, *, layers: int = 2, hidden: int = 32,
              vocab: int = 400, seed: int = 0) -> Path:
    """Write a random-weight Llama causal LM with a byte-level BPE tokenizer (trained on the shipped article) and
    a chat template to ``out_dir``: what ``transformers serve`` loads like a hub chat model. Its answers are noise.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|begin|>", "<|end|>", "<|pad|>", "<|system|>", "<|user|>", "<|assistant|>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(list(texts if texts is not None else corpus_texts()), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<|begin|>", eos_token="<|end|>",  # type: ignore[no-untyped-call]
                                        pad_token="<|pad|>")
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2,
                         num_hidden_layers=layers, num_attention_heads=2, num_key_value_heads=2,
                         max_position_embeddings=2048, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    model = LlamaForCausalLM(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def build_comet(out_dir: Path, *, size: str = "tiny", kind: str = "regression", seed: int = 0,
                python: Path | None = None) -> Path:
    """Write a random-weight COMET checkpoint to ``out_dir`` (``hparams.yaml``, ``checkpoints/model.ckpt``, and
    the XLM-R encoder with a SentencePiece tokenizer trained on the shipped article in ``encoder/``).

    It is built by the COMET environment's Python (``python``, else the one runs use), since only comet's own
    classes write a checkpoint that ``comet.load_from_checkpoint`` reads as it reads ``Unbabel/wmt22-comet-da``.
    ``size``: ``tiny`` (seconds) or ``large`` (XLM-R large's shape, ~2.2 GB, for throughput measurements).
    ``kind``: ``regression`` (COMET-22's class), ``kiwi`` (a ``UnifiedMetric`` reading source and hypothesis, as
    CometKiwi) or ``xcomet`` (an ``XCOMETMetric``: a score and error spans).
    """
    import subprocess
    import tempfile

    from evalharness.errors import ModelLoadError
    from evalharness.scoring.comet.env import comet_python, worker_script

    python = python or comet_python()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="evalharness-comet-text-") as tmp:
        text = Path(tmp) / "corpus.txt"
        text.write_text("\n".join(t.replace("\n", " ") for t in corpus_texts()) + "\n", encoding="utf-8")
        done = subprocess.run([str(python), str(worker_script()), "build-tiny", str(out_dir), "--text", str(text),
                               "--size", size, "--kind", kind, "--seed", str(seed)],
                              capture_output=True, text=True, cwd=tmp)
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
        raise ModelLoadError(f"building the COMET checkpoint in {out_dir} failed: {lines[-1] if lines else '?'}")
    return out_dir


def main(argv: Iterable[str] | None = None) -> int:
    """``python -m evalharness.tiny_model OUT_DIR [--opus-mt | --comet [--comet-size large] [--comet-kind K]]``."""
    parser = argparse.ArgumentParser(prog="python -m evalharness.tiny_model", description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--opus-mt", action="store_true", help="opus-mt size instead of tiny")
    parser.add_argument("--comet", action="store_true",
                        help="a random-weight COMET checkpoint instead (built in the COMET environment: "
                             "'evalharness metrics setup comet')")
    parser.add_argument("--comet-kind", choices=["regression", "kiwi", "xcomet"], default="regression",
                        help="with --comet: COMET-22's class (default), a CometKiwi-like UnifiedMetric, or "
                             "XCOMETMetric")
    parser.add_argument("--comet-size", choices=["tiny", "large"], default="tiny",
                        help="with --comet: tiny (default) or XLM-R large's shape (~2.2 GB)")
    parser.add_argument("--llm", action="store_true", help="a random-weight Llama chat model instead (for an "
                        "OpenAI-compatible server such as `transformers serve`)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(list(argv) if argv is not None else None)
    from evalharness.errors import EvalHarnessError

    try:
        if args.llm:
            build_llm(args.out_dir, seed=args.seed)
        elif args.comet:
            build_comet(args.out_dir, size=args.comet_size, kind=args.comet_kind, seed=args.seed)
        else:
            build_marian(args.out_dir, arch=OPUS_MT if args.opus_mt else TINY, seed=args.seed)
    except EvalHarnessError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    print(args.out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

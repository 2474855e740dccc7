"""CTranslate2: the same checkpoints as the transformers system, converted once and run by a faster engine.

A transformers Marian / NLLB / M2M100 checkpoint is converted on first use and kept on disk under a key
of the model's resolved revision and the CTranslate2 version, so later runs load the converted model
directly; a directory that is already a CTranslate2 model (``model.bin``) is used as it is. Tokenization
and language-token handling are inherited from :class:`HFModelSystem`, so both engines see the same
token sequences. Install with ``pip install 'evalharness[ct2]'``.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evalharness.errors import MissingDependencyError, ModelLoadError
from evalharness.paths import default_cache_dir
from evalharness.systems.base import BatchFn, Translation
from evalharness.systems.hf import HFModelSystem, torch_threads
from evalharness.systems.settings import CT2Settings

TOKENIZER_FILES = ("tokenizer_config.json", "special_tokens_map.json", "tokenizer.json", "sentencepiece.bpe.model",
                   "source.spm", "target.spm", "vocab.json", "spm.model", "generation_config.json")


def import_ctranslate2(system: str = "") -> Any:
    """``ctranslate2``, or a :class:`MissingDependencyError` that says how to install it."""
    try:
        import ctranslate2
    except ImportError:
        who = f"system {system!r} uses backend 'ct2', which" if system else "the ct2 backend"
        raise MissingDependencyError(f"{who} needs CTranslate2: pip install 'evalharness[ct2]'") from None
    return ctranslate2


def is_converted(folder: Path) -> bool:
    """True for a directory that already holds a CTranslate2 model."""
    return (folder / "model.bin").is_file()


class CT2System(HFModelSystem):
    """CTranslate2 translator over a converted transformers checkpoint."""

    Settings = CT2Settings
    settings: CT2Settings
    backend_name = "ct2"

    def __init__(self, settings: CT2Settings, **context: Any) -> None:
        super().__init__(settings, **context)  # seed, key, store, notify: see System
        self._translator: Any = None
        self._converted: Path | None = None
        self.convert_s = 0.0

    @property
    def loaded(self) -> bool:
        """True once tokenizer and translator are loaded."""
        return self._translator is not None and self._tokenizer is not None

    def preflight(self, segments: int) -> None:
        """The extra must be installed; then the checks every checkpoint system makes."""
        import_ctranslate2(self.name)
        super().preflight(segments)

    def converted_dir(self) -> Path:
        """The CTranslate2 model directory, converting (once, atomically) when needed."""
        if self._converted is not None:
            return self._converted
        source = self.model_dir()
        if is_converted(source):
            self._converted = source
            return source
        ct2 = import_ctranslate2(self.name)
        base = (self.store.data_dir if self.store is not None else default_cache_dir()) / "ct2-models"
        key = hashlib.sha256(f"{self.model_id}\0{self.resolved_revision()}\0{ct2.__version__}".encode()).hexdigest()
        target = base / key[:32]
        if not is_converted(target):
            start = time.perf_counter()
            base.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".converting-", dir=base))
            try:
                from ctranslate2.converters import TransformersConverter
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # "Loading weights" under -q

                copy = [name for name in TOKENIZER_FILES if (source / name).is_file()]
                TransformersConverter(str(source), copy_files=copy).convert(str(tmp / "model"), force=True)
                try:
                    (tmp / "model").rename(target)
                except OSError:  # another process converted it meanwhile: keep theirs
                    if not is_converted(target):
                        raise
            except Exception as err:  # the converter raises whatever the model code raises
                raise ModelLoadError(f"{self.key}.model: CTranslate2 cannot convert {source}: "
                                     f"{type(err).__name__}: {err}") from None
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            self.convert_s = time.perf_counter() - start
        self._converted = target
        return target

    def prepare(self) -> None:
        """Convert if needed and load the translator with the configured device, compute type and threads."""
        if self._translator is not None:
            return
        self.notify(f"{self.name}: loading {self.model_id} with CTranslate2 (converted once on first use) …")
        start = time.perf_counter()
        ct2 = import_ctranslate2(self.name)
        gen = self.settings.generation
        device = gen.device
        if device == "auto":
            device = "cuda" if ct2.get_cuda_device_count() > 0 else "cpu"
        folder = self.converted_dir()
        self.load_tokenizer()
        try:
            with torch_threads():
                self._translator = ct2.Translator(
                    str(folder), device=device, compute_type=gen.compute_type,
                    inter_threads=gen.inter_threads, intra_threads=gen.threads or 0)
        except (RuntimeError, ValueError) as err:
            raise ModelLoadError(f"{self.key}: CTranslate2 cannot load {folder} on {device} "
                                 f"({gen.compute_type}): {err}") from None
        self.load_s = time.perf_counter() - start

    def translate(self, texts: Sequence[str], src: str, tgt: str, *,
                  on_batch: BatchFn | None = None) -> list[Translation]:
        """All batches are submitted at once (so ``inter_threads`` run in parallel); results come back in order."""
        encoded, codes = self.prepared_inputs(texts, src, tgt)
        tok, gen = self._tokenizer, self.settings.generation
        tokens = [tok.convert_ids_to_tokens(ids) for ids in encoded]
        batches = self.batches(encoded)
        # transformers counts the end token in max_new_tokens and, for models with forced_eos_token_id (Marian),
        # spends the last step on it; CTranslate2 counts only the tokens it returns. Match transformers.
        limit = gen.max_new_tokens - 1 if self._forces_eos() else gen.max_new_tokens
        pending = [
            self._translator.translate_batch(
                [tokens[i] for i in batch], target_prefix=[[codes[1]]] * len(batch) if codes else None,
                beam_size=gen.num_beams, max_decoding_length=max(1, limit), return_scores=False,
                asynchronous=True)
            for batch in batches
        ]
        outputs: list[Translation] = [Translation("")] * len(texts)
        special = set(tok.all_special_ids)  # a property that rebuilds its list on every access
        for batch, results in zip(batches, pending, strict=True):
            hyps = [r.result().hypotheses[0] for r in results]
            ids = [tok.convert_tokens_to_ids(h) for h in hyps]
            done = []
            for i, hyp, row, text in zip(batch, hyps, ids, tok.batch_decode(ids, skip_special_tokens=True),
                                         strict=True):
                n = sum(1 for t in row if t not in special)
                outputs[i] = Translation(text.strip(), n, hit_limit=len(hyp) >= limit)
                done.append(outputs[i])
            if on_batch:
                on_batch(batch, done)
        return outputs

    def _forces_eos(self) -> bool:
        """Whether the checkpoint's generation settings force the end token at the length limit."""
        import json

        for name in ("generation_config.json", "config.json"):
            path = self.model_dir() / name
            if path.is_file():
                try:
                    value = json.loads(path.read_text(encoding="utf-8")).get("forced_eos_token_id")
                except (OSError, ValueError):
                    continue
                if value is not None:
                    return True
        return False

    def facts(self) -> dict[str, Any]:
        """Adds the converted directory, the compute type in effect and the device (None until loaded)."""
        return {
            **super().facts(),
            "converted_dir": str(self._converted) if self._converted else None,
            "compute_type_used": getattr(self._translator, "compute_type", None),
            "device": getattr(self._translator, "device", None),
        }

    def manifest(self) -> dict[str, Any]:
        """Adds the conversion time and the CTranslate2 version."""
        return {**super().manifest(), "convert_s": round(self.convert_s, 3),
                "ctranslate2": import_ctranslate2().__version__}

    def close(self) -> None:
        """Release the translator."""
        self._translator = None
        self._tokenizer = None

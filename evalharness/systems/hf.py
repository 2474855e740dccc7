"""Hugging Face seq2seq models (Marian/opus-mt, NLLB, M2M100): loading, tokenization, and ``generate``.

:class:`HFModelSystem` holds what every backend built on a transformers checkpoint shares: finding the
model (a local directory is loaded directly; a hub id is looked up in the local cache, and the hub is
contacted only when it answers within a second or two), its resolved revision, the tokenizer, the
target-language prefix or code, and length-sorted batching. :class:`TransformersSystem` generates with
PyTorch; ``evalharness.systems.ct2`` with CTranslate2. transformers 5 has no translation pipeline, so
``generate`` is called directly.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from evalharness.errors import ModelLoadError
from evalharness.systems.base import BatchFn, System, Translation
from evalharness.systems.batching import plan_batches
from evalharness.systems.settings import CT2Settings, ModelSettings, TransformersSettings, looks_like_path

HUB_PROBE_TIMEOUT_S = 1.5
MODEL_FILE_SUFFIXES = (".json", ".safetensors", ".bin", ".spm", ".model", ".txt")


@contextlib.contextmanager
def torch_threads(count: int | None = None) -> Iterator[None]:
    """Run the block with PyTorch on ``count`` threads (``None``: as it is), then put the old count back.

    PyTorch's thread count is global to the process: one system's ``threads`` setting must not carry over to
    the next system in the same run. CTranslate2 also changes it when it loads a translator (to its
    ``intra_threads``), so the ``ct2`` system loads inside this block too.
    """
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    if count and torch is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if torch is not None and torch.get_num_threads() != before:
            torch.set_num_threads(before)


def hub_reachable(timeout: float = HUB_PROBE_TIMEOUT_S) -> bool:
    """True when the Hugging Face hub answers (any HTTP status) within ``timeout`` seconds."""
    import urllib.error
    import urllib.request

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    try:
        urllib.request.urlopen(urllib.request.Request(constants.ENDPOINT, method="HEAD"), timeout=timeout)
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError, TimeoutError):
        return False
    return True


def model_files(folder: Path) -> list[Path]:
    """The weight, config and tokenizer files of a model directory, sorted."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in MODEL_FILE_SUFFIXES)


def hash_model_dir(folder: Path) -> str:
    """SHA-256 over the weight, config and tokenizer files of a local model directory."""
    digest = hashlib.sha256()
    for path in model_files(folder):
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


class HFModelSystem(System):
    """Shared machinery of systems that run a transformers checkpoint."""

    cacheable: ClassVar[bool] = True
    backend_name: ClassVar[str] = "transformers"

    settings: TransformersSettings | CT2Settings

    def __init__(self, settings: ModelSettings, **context: Any) -> None:
        super().__init__(settings, **context)  # seed, key, store, notify: see System
        self._tokenizer: Any = None
        self._resolved_revision: str | None = None
        self._local_dir: Path | None = None

    @property
    def segmentation(self) -> str:
        """As configured: ``paragraph`` or ``sentence``."""
        return self.settings.segmentation

    @property
    def loaded(self) -> bool:
        """True once the tokenizer (and the engine's model) are loaded."""
        return self._tokenizer is not None

    # ------------------------------------------------------------------ finding the model

    @property
    def model_id(self) -> str:
        """The configured hub id or local path."""
        return self.settings.model

    @property
    def is_local(self) -> bool:
        """True when ``model`` names a local directory."""
        return looks_like_path(self.model_id)

    def preflight(self, segments: int) -> None:
        """Fail in a second, before torch is even imported, when a hub model is neither cached nor reachable."""
        if self.is_local:
            self._check_model_dir(Path(self.model_id).expanduser())
            return
        if self._cached_snapshot() is None and not hub_reachable():
            raise self._unreachable()

    def _check_model_dir(self, folder: Path) -> None:
        config = folder / "config.json"
        if not config.is_file():
            raise ModelLoadError(
                f"{self.key}.model: {folder} is not a transformers model directory (no config.json); "
                "point it at a folder written by save_pretrained or a downloaded snapshot"
            )
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise ModelLoadError(f"{self.key}.model: {config} is not readable JSON ({_first_line(err)}); "
                                 "restore the model's config.json") from None
        if not isinstance(data, dict):
            raise ModelLoadError(f"{self.key}.model: {config} holds a JSON {type(data).__name__}, not an object; "
                                 "restore the model's config.json")

    def _unreachable(self) -> ModelLoadError:
        return ModelLoadError(
            f"model {self.model_id!r} ({self.key}.model, system {self.name!r}) is not in the local Hugging Face "
            f"cache and the hub is unreachable: set {self.key}.model to a local directory "
            f"(--set {self.key}.model=/path/to/model), or download it beforehand where the hub is reachable "
            f"(hf download {self.model_id})"
        )

    def _cached_snapshot(self) -> Path | None:
        """The local snapshot folder of a hub model, if its config is in the HF cache."""
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(self.model_id, "config.json", revision=self.settings.revision)
        return Path(cached).parent if isinstance(cached, str) else None

    def model_dir(self) -> Path:
        """A local folder holding the checkpoint: the configured directory, or the (downloaded) hub snapshot."""
        if self._local_dir is not None:
            return self._local_dir
        if self.is_local:
            self._local_dir = Path(self.model_id).expanduser()
            return self._local_dir
        snapshot = self._cached_snapshot()
        if snapshot is None:
            if not hub_reachable():
                raise self._unreachable()
            from huggingface_hub import snapshot_download

            try:
                snapshot = Path(snapshot_download(self.model_id, revision=self.settings.revision))
            except Exception as err:  # the hub client raises many unrelated types; all mean "cannot download"
                raise ModelLoadError(f"{self.key}.model: {self.model_id!r} could not be downloaded: "
                                     f"{_first_line(err)}") from None
        self._local_dir = snapshot
        return snapshot

    def resolved_revision(self) -> str:
        """Hub commit of the snapshot, or ``sha256:`` of a local directory's model files."""
        if self._resolved_revision is None:
            folder = self.model_dir()
            parts = folder.parts
            if not self.is_local and "snapshots" in parts:
                self._resolved_revision = parts[parts.index("snapshots") + 1]
            else:
                store = self.store
                self._resolved_revision = (store.dir_hash(folder, hash_model_dir) if store is not None
                                           else hash_model_dir(folder))
        return self._resolved_revision

    def load_tokenizer(self) -> Any:
        """The checkpoint's tokenizer (loaded once)."""
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            try:
                self._tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir()), local_files_only=True)
            except Exception as err:  # the loader runs over the user's files: any failure means they are damaged
                raise ModelLoadError(f"{self.key}.model: cannot load a tokenizer from {self.model_dir()} "
                                     f"({type(err).__name__}: {_first_line(err)}); check or re-download its "
                                     "tokenizer files") from None
        return self._tokenizer

    # ------------------------------------------------------------------ inputs and batches

    def model_inputs(self, texts: Sequence[str], tgt: str) -> list[str]:
        """The strings the tokenizer sees: a multi-target model's ``>>xxx<<`` token goes in front."""
        prefix = self.settings.target_prefix.get(tgt, "")
        return [f"{prefix} {t}" if prefix else t for t in texts]

    def language_codes(self, src: str, tgt: str) -> tuple[str, str] | None:
        """(source code, target code) for NLLB/M2M100-style models, or None when the config gives none.

        ``lang_codes: flores`` takes both from the language table (``zsm_Latn``, ``ind_Latn``, ``eng_Latn``)."""
        codes = self.settings.lang_codes
        if codes == "flores":
            from evalharness.languages import language

            return language(src).flores, language(tgt).flores
        if not codes:
            return None
        if src not in codes or tgt not in codes:
            raise ModelLoadError(f"{self.key}.lang_codes needs entries for {src!r} and {tgt!r}")
        return codes[src], codes[tgt]

    def encode(self, texts: Sequence[str], src: str, tgt: str) -> list[list[int]]:
        """Token ids of every input (source language set on the tokenizer when it has one)."""
        tok = self.load_tokenizer()
        codes = self.language_codes(src, tgt)
        if codes and hasattr(tok, "src_lang"):
            tok.src_lang = codes[0]
        ids: list[list[int]] = tok(self.model_inputs(texts, tgt), truncation=True)["input_ids"]
        return ids

    def prepared_inputs(self, texts: Sequence[str], src: str,
                        tgt: str) -> tuple[list[list[int]], tuple[str, str] | None]:
        """Load the system if needed; then the token ids of ``texts`` and the language codes, as every engine
        needs them before it translates."""
        self.prepare()
        return self.encode(texts, src, tgt), self.language_codes(src, tgt)

    def batches(self, encoded: Sequence[Sequence[int]]) -> list[list[int]]:
        """Length-sorted batches by segment count and, when set, padded-token budget."""
        gen = self.settings.generation
        return plan_batches([len(e) for e in encoded], batch_size=gen.batch_size, batch_tokens=gen.batch_tokens)

    # ------------------------------------------------------------------ description

    def identity(self) -> dict[str, Any]:
        """Backend, model, resolved revision and every setting that can change an output."""
        return {
            "backend": self.backend_name,
            "model": self.model_id,
            "resolved_revision": self.resolved_revision(),
            "generation": self.settings.generation.model_dump(),
            "target_prefix": dict(sorted(self.settings.target_prefix.items())),
            "lang_codes": codes if isinstance(codes := self.settings.lang_codes, str) else dict(sorted(codes.items())),
        }

    def manifest(self) -> dict[str, Any]:
        """The identity plus the requested revision and what was loaded."""
        return {
            **self.identity(),
            "revision": self.settings.revision,
            "tokenizer_class": None,
            "load_s": round(self.load_s, 3),
            **self.facts(),
        }

    def facts(self) -> dict[str, Any]:
        """The tokenizer class (None until loaded)."""
        return {"tokenizer_class": type(self._tokenizer).__name__ if self._tokenizer is not None else None}


class TransformersSystem(HFModelSystem):
    """``AutoModelForSeq2SeqLM`` + ``generate`` in PyTorch, from a hub id or a local directory."""

    Settings = TransformersSettings
    settings: TransformersSettings

    def __init__(self, settings: TransformersSettings, **context: Any) -> None:
        super().__init__(settings, **context)  # seed, key, store, notify: see System
        self._model: Any = None
        self._device = "cpu"

    @property
    def loaded(self) -> bool:
        """True once tokenizer and model are loaded."""
        return self._model is not None and self._tokenizer is not None

    def prepare(self) -> None:
        """Load tokenizer and model once; raise :class:`ModelLoadError` with the fix on failure."""
        if self._model is not None:
            return
        self.notify(f"{self.name}: loading {self.model_id} …")
        start = time.perf_counter()
        import torch
        from transformers import AutoModelForSeq2SeqLM
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # ours is the bar that matters
        gen = self.settings.generation
        device = gen.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda" and not torch.cuda.is_available():
            raise ModelLoadError(f"{self.key}.generation.device is 'cuda' but torch sees no CUDA device")
        folder = self.model_dir()
        self.load_tokenizer()
        dtype: Any = "auto" if gen.dtype == "auto" else getattr(torch, gen.dtype)
        try:
            model = AutoModelForSeq2SeqLM.from_pretrained(str(folder), dtype=dtype, local_files_only=True)
        except Exception as err:  # as for the tokenizer: a damaged file can raise anything in the loader
            raise ModelLoadError(f"{self.key}.model: cannot load a model from {folder} ({type(err).__name__}: "
                                 f"{_first_line(err)}); check or re-download its weights and config.json") from None
        self._device = device
        self._model = model.to(device).eval()
        self.load_s = time.perf_counter() - start

    def translate(self, texts: Sequence[str], src: str, tgt: str, *,
                  on_batch: BatchFn | None = None) -> list[Translation]:
        """Translate ``texts`` from ``src`` to ``tgt`` in length-sorted batches; outputs in input order."""
        encoded, codes = self.prepared_inputs(texts, src, tgt)
        import torch

        tok, gen = self._tokenizer, self.settings.generation
        extra: dict[str, Any] = {}
        if codes:
            extra["forced_bos_token_id"] = (
                tok.get_lang_id(codes[1]) if hasattr(tok, "get_lang_id") else tok.convert_tokens_to_ids(codes[1]))
        if gen.static_cache:
            extra["cache_implementation"] = "static"
        outputs: list[Translation] = [Translation("")] * len(texts)
        torch.manual_seed(self.seed)
        special = torch.tensor(sorted(set(tok.all_special_ids)))
        model = self._model
        with torch_threads(gen.threads):
            for batch in self.batches(encoded):
                padded = tok.pad({"input_ids": [encoded[i] for i in batch]}, return_tensors="pt")
                padded = {k: v.to(self._device) for k, v in padded.items()}
                with torch.inference_mode():
                    generated = model.generate(**padded, num_beams=gen.num_beams, max_new_tokens=gen.max_new_tokens,
                                               do_sample=False, **extra)
                # Tokens per row: everything but the decoder start, padding and special tokens. A row that used all
                # max_new_tokens steps stopped at the limit (Marian forces EOS into the last step, so an EOS there
                # does not mean the sentence was finished).
                generated = generated.cpu()  # one device-to-host copy per batch; everything below runs on it
                body = generated[:, 1:]
                counts = (~torch.isin(body, special)).sum(dim=1).tolist()
                steps = (body != tok.pad_token_id).sum(dim=1).tolist() if tok.pad_token_id is not None else counts
                texts_out = tok.batch_decode(generated, skip_special_tokens=True)
                done = []
                for i, text, n, used in zip(batch, texts_out, counts, steps, strict=True):
                    outputs[i] = Translation(text.strip(), int(n), hit_limit=used >= gen.max_new_tokens)
                    done.append(outputs[i])
                if on_batch:
                    on_batch(batch, done)
        return outputs

    def facts(self) -> dict[str, Any]:
        """Tokenizer and model class, parameter count, device (None until loaded)."""
        model = self._model
        return {
            **super().facts(),
            "model_class": type(model).__name__ if model is not None else None,
            "parameters": sum(p.numel() for p in model.parameters()) if model is not None else None,
            "device": self._device,
        }

    def close(self) -> None:
        """Drop the model so the next system has the memory."""
        self._model = None
        self._tokenizer = None

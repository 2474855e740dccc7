"""Any seq2seq model of Hugging Face transformers (Marian/opus-mt, NLLB, M2M100) through ``generate``.

transformers 5 has no translation pipeline, so this module tokenizes, batches and generates itself:
inputs are sorted by token length so each batch pads little, and outputs go back in input order.
Loading never hangs on an unreachable hub: a local directory is loaded directly, a hub id is first
looked up in the local cache, and only when the hub answers within a second or two is it downloaded.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evalharness.config import looks_like_path
from evalharness.errors import ModelLoadError
from evalharness.systems.base import ProgressFn, System

HUB_PROBE_TIMEOUT_S = 1.5
MODEL_FILE_SUFFIXES = (".json", ".safetensors", ".bin", ".spm", ".model", ".txt")


def hub_reachable(timeout: float = HUB_PROBE_TIMEOUT_S) -> bool:
    """True when the Hugging Face hub answers (any HTTP status) within ``timeout`` seconds."""
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


def hash_model_dir(folder: Path) -> str:
    """SHA-256 over the weight, config and tokenizer files of a local model directory."""
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix in MODEL_FILE_SUFFIXES:
            digest.update(path.name.encode() + b"\0")
            with path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
    return "sha256:" + digest.hexdigest()


class TransformersSystem(System):
    """``AutoModelForSeq2SeqLM`` + ``generate``, from a hub id or a local directory."""

    def __init__(self, config: Any, *, seed: int = 0, index: int = 0) -> None:
        super().__init__(config, seed=seed, index=index)
        self._model: Any = None
        self._tokenizer: Any = None
        self._device = "cpu"
        self._resolved_revision: str | None = None
        self.generated_tokens = 0

    # ------------------------------------------------------------------ loading

    def preflight(self) -> None:
        """Fail in a second, before torch is even imported, when a hub model is neither cached nor reachable."""
        model_id = str(self.config.model)
        if looks_like_path(model_id):
            self._check_model_dir(Path(model_id).expanduser())
            return
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model_id, "config.json", revision=self.config.revision)
        if isinstance(cached, str):
            return
        if not hub_reachable():
            raise self._unreachable(model_id)

    def _check_model_dir(self, folder: Path) -> None:
        if not (folder / "config.json").is_file():
            raise ModelLoadError(
                f"{self.key}.model: {folder} is not a transformers model directory (no config.json); "
                "point it at a folder written by save_pretrained or a downloaded snapshot"
            )

    def _unreachable(self, model_id: str) -> ModelLoadError:
        return ModelLoadError(
            f"model {model_id!r} ({self.key}.model, system {self.name!r}) is not in the local Hugging Face cache "
            f"and the hub is unreachable: set {self.key}.model to a local directory "
            f"(--set {self.key}.model=/path/to/model), or download it beforehand where the hub is reachable "
            f"(huggingface-cli download {model_id})"
        )

    def prepare(self) -> None:
        """Load the model now (see :meth:`load`)."""
        self.load()

    def load(self) -> None:
        """Load tokenizer and model once; raise :class:`ModelLoadError` with the fix on failure."""
        if self._model is not None:
            return
        import torch

        model_id = str(self.config.model)
        kwargs: dict[str, Any] = {}
        if looks_like_path(model_id):
            folder = Path(model_id).expanduser()
            self._check_model_dir(folder)
            source: str = str(folder)
            kwargs["local_files_only"] = True
            self._resolved_revision = hash_model_dir(folder)
        else:
            source = model_id
            if self.config.revision:
                kwargs["revision"] = self.config.revision
        dtype = self.config.generation.dtype
        torch_dtype: Any = "auto" if dtype == "auto" else getattr(torch, dtype)
        self._tokenizer, self._model = self._from_pretrained(source, kwargs, torch_dtype)
        if self._resolved_revision is None:
            self._resolved_revision = self._hub_commit(source, kwargs)
        device = self.config.generation.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda" and not torch.cuda.is_available():
            raise ModelLoadError(f"system {self.name!r}: generation.device is 'cuda' but torch sees no CUDA device")
        self._device = device
        self._model.to(device)
        self._model.eval()

    def _from_pretrained(self, source: str, kwargs: dict[str, Any], torch_dtype: Any) -> tuple[Any, Any]:
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # our own progress bar is the one that matters

        def load(**extra: Any) -> tuple[Any, Any]:
            tok = AutoTokenizer.from_pretrained(source, **kwargs, **extra)
            model = AutoModelForSeq2SeqLM.from_pretrained(source, dtype=torch_dtype, **kwargs, **extra)
            return tok, model

        if kwargs.get("local_files_only"):
            try:
                return load()
            except (OSError, ValueError) as err:
                raise ModelLoadError(
                    f"{self.key}.model: cannot load a model from {source}: {_first_line(err)}"
                ) from None
        try:
            return load(local_files_only=True)  # cached snapshot: no network at all
        except (OSError, ValueError):
            pass
        if not hub_reachable():
            raise self._unreachable(source)
        try:
            return load()
        except (OSError, ValueError) as err:
            raise ModelLoadError(f"{self.key}.model: {source!r} could not be loaded: {_first_line(err)}") from None

    @staticmethod
    def _hub_commit(source: str, kwargs: dict[str, Any]) -> str | None:
        """The commit hash of the cached snapshot that was loaded (``.../snapshots/<commit>/config.json``)."""
        from transformers.utils.hub import cached_file

        try:
            path = cached_file(source, "config.json", local_files_only=True, revision=kwargs.get("revision"))
        except (OSError, ValueError):
            return None
        if path is None:
            return None
        parts = Path(path).parts
        return parts[parts.index("snapshots") + 1] if "snapshots" in parts else None

    # ------------------------------------------------------------------ translating

    def model_inputs(self, texts: Sequence[str], tgt: str) -> list[str]:
        """The strings the tokenizer sees: a multi-target model's ``>>xxx<<`` token goes in front."""
        prefix = self.config.target_prefix.get(tgt, "")
        return [f"{prefix} {t}" if prefix else t for t in texts]

    def translate(self, texts: Sequence[str], src: str, tgt: str, *,
                  progress: ProgressFn | None = None) -> list[str]:
        """Translate ``texts`` from ``src`` to ``tgt`` in length-sorted batches; outputs in input order."""
        self.load()
        import torch

        tok, model, gen = self._tokenizer, self._model, self.config.generation
        inputs = self.model_inputs(texts, tgt)
        extra: dict[str, Any] = {}
        codes = self.config.lang_codes
        if codes:
            if src not in codes or tgt not in codes:
                raise ModelLoadError(f"system {self.name!r}: lang_codes needs entries for {src!r} and {tgt!r}")
            if hasattr(tok, "src_lang"):
                tok.src_lang = codes[src]
            extra["forced_bos_token_id"] = (
                tok.get_lang_id(codes[tgt]) if hasattr(tok, "get_lang_id") else tok.convert_tokens_to_ids(codes[tgt])
            )
        encoded = tok(inputs, truncation=True)["input_ids"]
        order = sorted(range(len(inputs)), key=lambda i: -len(encoded[i]))
        outputs: list[str] = [""] * len(inputs)
        torch.manual_seed(self.seed)
        for start in range(0, len(order), gen.batch_size):
            batch = order[start : start + gen.batch_size]
            padded = tok.pad({"input_ids": [encoded[i] for i in batch]}, return_tensors="pt")
            padded = {k: v.to(self._device) for k, v in padded.items()}
            with torch.inference_mode():
                generated = model.generate(
                    **padded, num_beams=gen.num_beams, max_new_tokens=gen.max_new_tokens, do_sample=False, **extra
                )
            pad_id = tok.pad_token_id
            real = (generated != pad_id) if pad_id is not None else torch.ones_like(generated, dtype=torch.bool)
            self.generated_tokens += int(real.sum().item())
            for i, text in zip(batch, tok.batch_decode(generated, skip_special_tokens=True), strict=True):
                outputs[i] = text.strip()
            if progress:
                progress(len(batch))
        return outputs

    def manifest(self) -> dict[str, Any]:
        """Model id, requested and resolved revision, classes, device and every generation setting."""
        return {
            "backend": "transformers",
            "model": self.config.model,
            "revision": self.config.revision,
            "resolved_revision": self._resolved_revision,
            "model_class": type(self._model).__name__ if self._model is not None else None,
            "tokenizer_class": type(self._tokenizer).__name__ if self._tokenizer is not None else None,
            "parameters": sum(p.numel() for p in self._model.parameters()) if self._model is not None else None,
            "device": self._device,
            "generation": self.config.generation.model_dump(),
            "target_prefix": dict(self.config.target_prefix),
            "lang_codes": dict(self.config.lang_codes),
        }

    def close(self) -> None:
        """Drop the model so the next system has the memory."""
        self._model = None
        self._tokenizer = None


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__

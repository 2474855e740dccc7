"""Settings of one MT system, as written in a config's ``systems:`` list."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from evalharness.corpus.model import Direction


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Generation(_Strict):
    """Decoding and batching settings; all of them are part of a system's identity (manifest, cache key)."""

    num_beams: int = Field(default=1, ge=1)
    max_new_tokens: int = Field(default=256, ge=1)
    batch_size: int = Field(default=8, ge=1)
    batch_tokens: int | None = Field(default=None, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "float32"
    threads: int | None = Field(default=None, ge=1)
    static_cache: bool = False
    compute_type: Literal["auto", "default", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16",
                          "float16", "bfloat16", "float32"] = "auto"
    inter_threads: int = Field(default=1, ge=1)


class SystemConfig(_Strict):
    """One MT system: a backend plus what it needs to translate."""

    name: str = Field(min_length=1)
    backend: str = "transformers"
    model: str | None = None
    revision: str | None = None
    directions: list[Direction] | None = None
    target_prefix: dict[str, str] = Field(default_factory=dict)
    lang_codes: dict[str, str] = Field(default_factory=dict)
    generation: Generation = Field(default_factory=Generation)
    hypotheses: dict[Direction, str] = Field(default_factory=dict)
    segmentation: Literal["paragraph", "sentence"] = "paragraph"

    @model_validator(mode="after")
    def _backend_needs(self) -> SystemConfig:
        if self.backend == "transformers" and not self.model:
            raise ValueError("backend 'transformers' needs 'model' (a hub id or a local directory)")
        if self.backend == "files" and not self.hypotheses:
            raise ValueError("backend 'files' needs 'hypotheses': {ms-en: FILE, en-ms: FILE}")
        return self



def looks_like_path(value: str) -> bool:
    """True for a local path (absolute, ``./``, ``../``, ``~``), False for a hub id like ``org/name``."""
    return value.startswith(("/", "./", "../", "~", ".\\")) or Path(value).expanduser().exists()

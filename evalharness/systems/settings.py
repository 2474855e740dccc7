"""Settings of one MT system, as written in a config's ``systems:`` list, each backend with its own model.

A backend's class names its settings model (``System.Settings``); :func:`evalharness.systems.parse_system` picks it
by the ``backend`` key through the registry, so a knob of one backend (``compute_type`` is CTranslate2's) is refused
on another and never enters its identity or cache key, and a plug-in backend brings its own settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, field_validator

from evalharness.languages import LanguageError, split_direction

MAX_NEW_TOKENS = 4096
"""Longer than any segment a seq2seq MT model is trained for; a typo (1e9) fails before a model loads."""


def _direction(value: str) -> str:
    """``value`` when it is a direction of two known languages (``ms-en``); pydantic reports the ValueError."""
    try:
        split_direction(value, where=f"direction {value!r}")
    except LanguageError as err:
        raise ValueError(str(err)) from None
    return value


Direction = Annotated[str, AfterValidator(_direction)]
"""A direction in a config: two codes of evalharness/languages.py joined by ``-`` (``ms-en``, ``id-en``)."""


class Strict(BaseModel):
    """Frozen, and unknown keys are errors (a typo must not be ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SystemSettings(Strict):
    """What every system has: a unique name, its backend, and the directions it serves."""

    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f\u0085\u2028\u2029]+$")  # one line
    backend: str = "transformers"
    directions: list[Direction] | None = None

    @field_validator("directions")
    @classmethod
    def _once_each(cls, directions: list[Direction] | None) -> list[Direction] | None:
        if directions is not None and len(set(directions)) != len(directions):
            raise ValueError(f"each direction once: {directions}")
        return directions


class CopySettings(SystemSettings):
    """The source copied as output: nothing to set."""

    backend: Literal["copy"] = "copy"


class FilesSettings(SystemSettings):
    """Hypotheses produced elsewhere: one file per direction, one line per corpus segment."""

    backend: Literal["files"] = "files"
    hypotheses: dict[Direction, str] = Field(min_length=1)


class Decoding(Strict):
    """Decoding and batching settings shared by the model engines; all part of a system's identity."""

    num_beams: StrictInt = Field(default=1, ge=1)
    max_new_tokens: StrictInt = Field(default=256, ge=1, le=MAX_NEW_TOKENS)
    batch_size: StrictInt = Field(default=8, ge=1)
    batch_tokens: StrictInt | None = Field(default=None, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: StrictInt | None = Field(default=None, ge=1)


class TransformersDecoding(Decoding):
    """PyTorch: weight precision and the static KV cache."""

    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "float32"
    static_cache: bool = False


class CT2Decoding(Decoding):
    """CTranslate2: compute type and batches translated in parallel."""

    compute_type: Literal["auto", "default", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16",
                          "float16", "bfloat16", "float32"] = "auto"
    inter_threads: StrictInt = Field(default=1, ge=1)


class ModelSettings(SystemSettings):
    """A checkpoint (hub id or local directory) and how to feed it."""

    model: str = Field(min_length=1)
    revision: str | None = None
    target_prefix: dict[str, str] = Field(default_factory=dict)
    # NLLB/M2M100 language tokens per language, or "flores": each language's FLORES-200 code from the table
    lang_codes: dict[str, str] | Literal["flores"] = Field(default_factory=dict)
    segmentation: Literal["paragraph", "sentence"] = "paragraph"


class TransformersSettings(ModelSettings):
    """``AutoModelForSeq2SeqLM`` + ``generate``."""

    backend: Literal["transformers"] = "transformers"
    generation: TransformersDecoding = Field(default_factory=TransformersDecoding)


class CT2Settings(ModelSettings):
    """The same checkpoint run by CTranslate2."""

    backend: Literal["ct2"] = "ct2"
    generation: CT2Decoding = Field(default_factory=CT2Decoding)


def looks_like_path(value: str) -> bool:
    """True for a local path (absolute, ``./``, ``../``, ``~``), False for a hub id like ``org/name``."""
    return value.startswith(("/", "./", "../", "~", ".\\")) or Path(value).expanduser().exists()

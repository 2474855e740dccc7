"""The ``comet:`` section of a run config (and ``score``'s ``--comet-*`` options): what COMET scores with."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictInt, field_validator

from evalharness.systems.settings import Strict

DEFAULT_MODEL = "Unbabel/wmt22-comet-da"
"""The model the field reports COMET with since WMT22 (reference-based, XLM-R large)."""
KIWI_MODEL = "Unbabel/wmt22-cometkiwi-da"
"""CometKiwi, WMT22's reference-free model (InfoXLM large; CC-BY-NC-SA-4.0, gated on the hub)."""
XCOMET_MODEL = "Unbabel/XCOMET-XL"
"""xCOMET XL: a score and error spans (XLM-R XL; CC-BY-NC-SA-4.0, gated on the hub)."""


class CometSettings(Strict):
    """Which COMET model, and how it runs. All but ``python`` go into the score's signature."""

    model: str = DEFAULT_MODEL  # hub id, or a local COMET model folder (hparams.yaml + checkpoints/model.ckpt)
    batch_size: StrictInt = Field(default=8, ge=1, le=4096)
    device: str = "cpu"  # cpu, cuda or cuda:N; never "auto", so the signature says what ran
    precision: Literal["fp32", "fp16", "bf16"] = "fp32"
    python: str | None = None  # the COMET environment's Python (or folder); else $EVALHARNESS_COMET_PYTHON

    @field_validator("device")
    @classmethod
    def _device(cls, device: str) -> str:
        if device == "cpu" or device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit()):
            return device
        raise ValueError(f"device {device!r}: expected cpu, cuda or cuda:N")

    @field_validator("model")
    @classmethod
    def _model(cls, model: str) -> str:
        if not model.strip():
            raise ValueError("model is empty: give a hub id (Unbabel/wmt22-comet-da) or a local COMET model folder")
        return model


class CometKiwiSettings(CometSettings):
    """CometKiwi's settings: COMET's, with its own default model."""

    model: str = KIWI_MODEL


class XcometSettings(CometSettings):
    """xCOMET's settings: COMET's, with its own default model."""

    model: str = XCOMET_MODEL

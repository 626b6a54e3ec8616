"""The models the emulator serves, described as the two APIs list them.

The Developer API describes a model as a ``Model`` (``models/{id}``: limits, supported methods,
sampling defaults); Vertex AI as a ``PublisherModel`` (``publishers/google/models/{id}``: version,
launch stage). Both lists are paginated with opaque page tokens.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from .config import IMAGE_MODELS, TEXT_MODELS, TTS_MODELS, EmulatorConfig

ModelKind = Literal["text", "tts", "image", "live"]

DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 1000

_TEXT_METHODS: Final = ("generateContent", "countTokens", "createCachedContent", "batchGenerateContent")
_TTS_METHODS: Final = ("countTokens", "generateContent")
_IMAGE_METHODS: Final = ("generateContent", "countTokens", "batchGenerateContent")
_LIVE_METHODS: Final = ("bidiGenerateContent",)

# What the service says about the models it is known to serve (others are described from their id).
_DESCRIPTIONS: Final = {
    "gemini-3.1-flash-lite": "Our fastest and most cost-efficient multimodal model, built for high-volume tasks.",
    "gemini-3-flash": "Our most balanced model, with frontier intelligence at Flash speed.",
    "gemini-3.1-pro": "Our most capable model for complex reasoning, coding and agentic tasks.",
    "gemini-2.5-flash": "Stable version of Gemini 2.5 Flash, our mid-size multimodal model that supports "
    "up to 1 million tokens, released in June of 2025.",
    "gemini-3.1-flash-tts-preview": "Gemini 3.1 Flash text-to-speech preview: controllable, expressive "
    "speech in over 80 languages.",
    "gemini-2.5-flash-preview-tts": "Gemini 2.5 Flash Preview TTS",
    "gemini-3.8-live": "Gemini 3.8 Live: low-latency, native-audio conversations over the Live API.",
    "gemini-2.5-flash-image": "Gemini 2.5 Flash Image",
}


@dataclass(frozen=True)
class ModelInfo:
    """One served model."""

    id: str
    kind: ModelKind

    @property
    def display_name(self) -> str:
        """``gemini-3.1-flash-lite`` → ``Gemini 3.1 Flash Lite``; TTS spelled as Google does."""
        words = self.id.split("-")
        return " ".join(w.upper() if w in {"tts"} else w[:1].upper() + w[1:] for w in words)

    @property
    def preview(self) -> bool:
        """Whether Google ships this model as a preview."""
        return "preview" in self.id or "exp" in self.id

    @property
    def version(self) -> str:
        """The ``version`` a Developer API ``Model`` carries."""
        return self.id.removeprefix("gemini-") if self.preview else "001"

    def limits(self) -> tuple[int, int]:
        """Input and output token limits."""
        if self.kind == "tts":
            return 8192, 16384
        if self.kind == "image":
            return 32768, 32768
        if self.kind == "live":
            return 131072, 65536 if self.id.startswith("gemini-3") else 8192
        return 1048576, 65536

    def methods(self) -> tuple[str, ...]:
        """The generation methods the model supports."""
        return {"text": _TEXT_METHODS, "tts": _TTS_METHODS, "image": _IMAGE_METHODS, "live": _LIVE_METHODS}[self.kind]

    def developer_resource(self) -> dict[str, Any]:
        """The Developer API ``Model`` (``GET /v1beta/models/{id}``)."""
        input_limit, output_limit = self.limits()
        resource: dict[str, Any] = {
            "name": f"models/{self.id}",
            "baseModelId": self.id,
            "version": self.version,
            "displayName": self.display_name,
            "description": _DESCRIPTIONS.get(self.id, self.display_name),
            "inputTokenLimit": input_limit,
            "outputTokenLimit": output_limit,
            "supportedGenerationMethods": list(self.methods()),
            "temperature": 1,
            "topP": 0.95,
            "topK": 64,
            "maxTemperature": 2,
        }
        if self.kind == "text":
            resource["thinking"] = True
        return resource

    def vertex_resource(self) -> dict[str, Any]:
        """The Vertex AI ``PublisherModel`` (``GET /v1beta1/publishers/google/models/{id}``)."""
        return {
            "name": f"publishers/google/models/{self.id}",
            "versionId": "default",
            "openSourceCategory": "PROPRIETARY",
            "launchStage": "PUBLIC_PREVIEW" if self.preview else "GA",
            "versionState": "VERSION_STATE_UNSTABLE" if self.preview else "VERSION_STATE_STABLE",
            "publisherModelTemplate": (
                f"projects/{{project}}/locations/{{location}}/publishers/google/models/{self.id}@default"
            ),
        }


def served_models(config: EmulatorConfig, backend: Literal["mldev", "vertex"]) -> list[ModelInfo]:
    """Every model a backend serves, in listing order (text, speech, images, Live)."""
    live = config.vertex_live_models if backend == "vertex" else config.live_models
    models = [ModelInfo(m, "text") for m in TEXT_MODELS] + [ModelInfo(m, "tts") for m in TTS_MODELS]
    models += [ModelInfo(m, "image") for m in IMAGE_MODELS]
    known = {m.id for m in models}
    models += [ModelInfo(m, "live") for m in live if m not in known]
    return models


def find_model(config: EmulatorConfig, backend: Literal["mldev", "vertex"], model_id: str) -> ModelInfo | None:
    """The served model with this id (``models/`` prefix tolerated), or None."""
    wanted = model_id.removeprefix("models/")
    return next((m for m in served_models(config, backend) if m.id == wanted), None)


class PageTokenError(ValueError):
    """A ``pageToken`` this service did not hand out."""


def paginate[T](items: Sequence[T], page_size: int | None, page_token: str | None) -> tuple[list[T], str | None]:
    """One page of ``items`` and the token of the next page (None on the last)."""
    size = DEFAULT_PAGE_SIZE if not page_size or page_size <= 0 else min(page_size, MAX_PAGE_SIZE)
    offset = _decode_page_token(page_token) if page_token else 0
    page = list(items[offset : offset + size])
    following = offset + size
    return page, (_encode_page_token(following) if following < len(items) else None)


def _encode_page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _decode_page_token(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, _, value = text.partition(":")
        if prefix != "offset":
            raise PageTokenError(token)
        return int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError) as err:
        raise PageTokenError(token) from err

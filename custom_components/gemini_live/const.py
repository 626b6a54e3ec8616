"""Constants for the Gemini Live integration."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from homeassistant.const import CONF_LLM_HASS_API, CONF_PROMPT
from homeassistant.helpers import llm

LOGGER = logging.getLogger(__package__)

DOMAIN: Final = "gemini_live"

# Config entry data
CONF_AUTH_TYPE: Final = "auth_type"
AUTH_DEVELOPER: Final = "developer"
AUTH_VERTEX: Final = "vertex"
CONF_SERVICE_ACCOUNT: Final = "service_account"  # the parsed key file (a dict)
CONF_SERVICE_ACCOUNT_JSON: Final = "service_account_json"  # form field: pasted text
CONF_SERVICE_ACCOUNT_FILE: Final = "service_account_file"  # form field: uploaded file id
CONF_PROJECT_ID: Final = "project_id"
CONF_LOCATION: Final = "location"
CONF_CLIENT_EMAIL: Final = "client_email"
CONF_BASE_URL: Final = "base_url"  # advanced: another endpoint (the emulator, a proxy)
CONF_CA_FILE: Final = "ca_file"  # advanced: the CA that endpoint's certificate is signed by

# A Gemini Live bridge (docs/link-protocol.md) is an entry of its own kind; account entries have no kind.
CONF_KIND: Final = "kind"
KIND_BRIDGE: Final = "bridge"
CONF_BRIDGE_ID: Final = "bridge_id"
CONF_PAIRING_TOKEN: Final = "pairing_token"
CONF_ACCOUNT: Final = "account_entry_id"  # the account entry whose Gemini credentials the bridge gets
CONF_CONFIRM: Final = "confirm_sensitive"  # spoken confirmation for locks, alarm panels, garage doors
DEFAULT_BRIDGE_PORT: Final = 10710
ZEROCONF_TYPE: Final = "_gemini-live._tcp.local."


def is_bridge(data: Mapping[str, Any]) -> bool:
    """Whether an entry's data is a linked bridge's (else it is a Gemini account's)."""
    return data.get(CONF_KIND) == KIND_BRIDGE


# Subentry types and their options
SUBENTRY_CONVERSATION: Final = "conversation"
SUBENTRY_TTS: Final = "tts"
SUBENTRY_STT: Final = "stt"
SUBENTRY_AI_TASK: Final = "ai_task_data"  # the name core's Gemini integration gives its AI task subentries

CONF_RECOMMENDED: Final = "recommended"
CONF_CHAT_MODEL: Final = "chat_model"
CONF_TEMPERATURE: Final = "temperature"
CONF_TOP_P: Final = "top_p"
CONF_TOP_K: Final = "top_k"
CONF_MAX_TOKENS: Final = "max_tokens"
CONF_THINKING_BUDGET: Final = "thinking_budget"
CONF_THINKING_LEVEL: Final = "thinking_level"
CONF_HARASSMENT_BLOCK_THRESHOLD: Final = "harassment_block_threshold"
CONF_HATE_BLOCK_THRESHOLD: Final = "hate_block_threshold"
CONF_SEXUAL_BLOCK_THRESHOLD: Final = "sexual_block_threshold"
CONF_DANGEROUS_BLOCK_THRESHOLD: Final = "dangerous_block_threshold"
CONF_GOOGLE_SEARCH: Final = "enable_google_search_tool"
CONF_VOICE: Final = "voice"
CONF_LANGUAGE: Final = "language"
CONF_STYLE: Final = "style"

DEFAULT_TITLE_DEVELOPER: Final = "Gemini Developer API"
DEFAULT_CONVERSATION_NAME: Final = "Gemini conversation"
DEFAULT_TTS_NAME: Final = "Gemini TTS"
DEFAULT_STT_NAME: Final = "Gemini STT"
DEFAULT_AI_TASK_NAME: Final = "Gemini AI Task"
BRIDGE_TITLE: Final = "Gemini Live bridge ({name})"

RECOMMENDED_CHAT_MODEL: Final = "gemini-3.1-flash-lite"
RECOMMENDED_TTS_MODEL: Final = "gemini-3.1-flash-tts-preview"
RECOMMENDED_STT_MODEL: Final = RECOMMENDED_CHAT_MODEL
RECOMMENDED_IMAGE_MODEL: Final = "gemini-2.5-flash-image"
RECOMMENDED_TEMPERATURE: Final = 1.0
RECOMMENDED_TOP_P: Final = 0.95
RECOMMENDED_TOP_K: Final = 64
RECOMMENDED_MAX_TOKENS: Final = 3000
RECOMMENDED_THINKING_BUDGET: Final = -1
RECOMMENDED_THINKING_LEVEL: Final = "auto"
RECOMMENDED_HARM_BLOCK_THRESHOLD: Final = "BLOCK_MEDIUM_AND_ABOVE"
HARM_BLOCK_THRESHOLDS: Final = ("BLOCK_NONE", "BLOCK_ONLY_HIGH", "BLOCK_MEDIUM_AND_ABOVE", "BLOCK_LOW_AND_ABOVE")
THINKING_LEVELS: Final = ("auto", "minimal", "low", "medium", "high")
DEFAULT_VOICE: Final = "Kore"
DEFAULT_STT_PROMPT: Final = "Transcribe the attached audio. Answer with the transcript only."
LANGUAGE_AUTO: Final = "auto"

DEFAULT_LOCATION: Final = "us-central1"
# Vertex AI regions that serve Gemini (https://cloud.google.com/vertex-ai/generative-ai/docs/learn/locations).
VERTEX_LOCATIONS: Final = (
    "global",
    "us-central1",
    "us-east1",
    "us-east4",
    "us-east5",
    "us-south1",
    "us-west1",
    "us-west4",
    "northamerica-northeast1",
    "southamerica-east1",
    "europe-central2",
    "europe-north1",
    "europe-southwest1",
    "europe-west1",
    "europe-west2",
    "europe-west3",
    "europe-west4",
    "europe-west6",
    "europe-west8",
    "europe-west9",
    "asia-east1",
    "asia-east2",
    "asia-northeast1",
    "asia-northeast3",
    "asia-south1",
    "asia-southeast1",
    "australia-southeast1",
    "me-central1",
    "me-central2",
    "me-west1",
)

RECOMMENDED_CONVERSATION_OPTIONS: Final = {
    CONF_RECOMMENDED: True,
    CONF_PROMPT: llm.DEFAULT_INSTRUCTIONS_PROMPT,
    CONF_LLM_HASS_API: [llm.LLM_API_ASSIST],
}
RECOMMENDED_TTS_OPTIONS: Final = {
    CONF_RECOMMENDED: True,
    CONF_VOICE: DEFAULT_VOICE,
    CONF_LANGUAGE: LANGUAGE_AUTO,
    CONF_STYLE: "",
}
RECOMMENDED_STT_OPTIONS: Final = {
    CONF_RECOMMENDED: True,
    CONF_PROMPT: DEFAULT_STT_PROMPT,
    CONF_LANGUAGE: LANGUAGE_AUTO,
}
RECOMMENDED_AI_TASK_OPTIONS: Final[dict[str, Any]] = {CONF_RECOMMENDED: True}

RECOMMENDED_LIVE_MODEL: Final = "gemini-3.8-live"
DEFAULT_LIVE_VOICE: Final = "Puck"
DEFAULT_LIVE_PROMPT: Final = (
    "You are a friendly voice assistant for a home. Answer briefly, in the language the user speaks. "
    "Use the tools to control the home and to look things up; never claim to have done something a tool "
    "did not confirm. When the user is done, call end_conversation."
)
RECOMMENDED_BRIDGE_OPTIONS: Final = {
    CONF_CHAT_MODEL: RECOMMENDED_LIVE_MODEL,
    CONF_VOICE: DEFAULT_LIVE_VOICE,
    CONF_LANGUAGE: LANGUAGE_AUTO,
    CONF_PROMPT: DEFAULT_LIVE_PROMPT,
    CONF_LLM_HASS_API: [llm.LLM_API_ASSIST],
    CONF_CONFIRM: True,
}

TIMEOUT_MILLIS: Final = 10000  # for the calls that check credentials
REQUEST_TIMEOUT_MILLIS: Final = 60000  # for every other call, streams included
MAX_TOOL_ITERATIONS: Final = 10
AUTH_FAILURES_BEFORE_ISSUE: Final = 3
TOKEN_REFRESH_MARGIN_S: Final = 300  # refresh Vertex AI access tokens this long before they expire
TOKEN_RETRY_S: Final = 60
CLOUD_PLATFORM_SCOPE: Final = "https://www.googleapis.com/auth/cloud-platform"

# Gemini's prebuilt voices (https://ai.google.dev/gemini-api/docs/speech-generation#voices): name and character.
VOICES: Final = (
    ("Zephyr", "Bright"),
    ("Puck", "Upbeat"),
    ("Charon", "Informative"),
    ("Kore", "Firm"),
    ("Fenrir", "Excitable"),
    ("Leda", "Youthful"),
    ("Orus", "Firm"),
    ("Aoede", "Breezy"),
    ("Callirrhoe", "Easy-going"),
    ("Autonoe", "Bright"),
    ("Enceladus", "Breathy"),
    ("Iapetus", "Clear"),
    ("Umbriel", "Easy-going"),
    ("Algieba", "Smooth"),
    ("Despina", "Smooth"),
    ("Erinome", "Clear"),
    ("Algenib", "Gravelly"),
    ("Rasalgethi", "Informative"),
    ("Laomedeia", "Upbeat"),
    ("Achernar", "Soft"),
    ("Alnilam", "Firm"),
    ("Schedar", "Even"),
    ("Gacrux", "Mature"),
    ("Pulcherrima", "Forward"),
    ("Achird", "Friendly"),
    ("Zubenelgenubi", "Casual"),
    ("Vindemiatrix", "Gentle"),
    ("Sadachbia", "Lively"),
    ("Sadaltager", "Knowledgeable"),
    ("Sulafat", "Warm"),
)

# The languages Gemini speech (TTS and Live) speaks, as Google lists them
# (https://ai.google.dev/gemini-api/docs/speech-generation#languages).
TTS_LANGUAGES: Final = (
    "af-ZA",
    "am-ET",
    "ar-EG",
    "az-AZ",
    "be-BY",
    "bg-BG",
    "bn-BD",
    "ca-ES",
    "ceb-PH",
    "cmn-CN",
    "cs-CZ",
    "da-DK",
    "de-DE",
    "el-GR",
    "en-IN",
    "en-US",
    "es-ES",
    "es-US",
    "et-EE",
    "eu-ES",
    "fa-IR",
    "fi-FI",
    "fil-PH",
    "fr-FR",
    "gl-ES",
    "gu-IN",
    "he-IL",
    "hi-IN",
    "hr-HR",
    "ht-HT",
    "hu-HU",
    "hy-AM",
    "id-ID",
    "is-IS",
    "it-IT",
    "ja-JP",
    "jv-ID",
    "ka-GE",
    "kn-IN",
    "ko-KR",
    "kok-IN",
    "la-VA",
    "lb-LU",
    "lo-LA",
    "lt-LT",
    "lv-LV",
    "mai-IN",
    "mg-MG",
    "mk-MK",
    "ml-IN",
    "mn-MN",
    "mr-IN",
    "ms-MY",
    "my-MM",
    "nb-NO",
    "ne-NP",
    "nl-NL",
    "nn-NO",
    "or-IN",
    "pa-IN",
    "pl-PL",
    "ps-AF",
    "pt-BR",
    "pt-PT",
    "ro-RO",
    "ru-RU",
    "sd-PK",
    "si-LK",
    "sk-SK",
    "sl-SI",
    "sq-AL",
    "sr-RS",
    "sv-SE",
    "sw-KE",
    "ta-IN",
    "te-IN",
    "th-TH",
    "tr-TR",
    "uk-UA",
    "ur-PK",
    "vi-VN",
)

# Arabic as Home Assistant users pick it: plain "ar" and the regional tags (Gemini understands them all).
ARABIC_LOCALES: Final = (
    "ar",
    "ar-AE",
    "ar-BH",
    "ar-DZ",
    "ar-EG",
    "ar-IQ",
    "ar-JO",
    "ar-KW",
    "ar-LB",
    "ar-LY",
    "ar-MA",
    "ar-OM",
    "ar-PS",
    "ar-QA",
    "ar-SA",
    "ar-SD",
    "ar-SY",
    "ar-TN",
    "ar-YE",
)
ENGLISH_LOCALES: Final = (
    "en",
    "en-AU",
    "en-CA",
    "en-GB",
    "en-IE",
    "en-IN",
    "en-NZ",
    "en-PH",
    "en-SG",
    "en-US",
    "en-ZA",
)

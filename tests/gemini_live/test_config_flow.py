"""The config flow, every path, against the emulator: both ways in, each error and its recovery, duplicates,
reauth, reconfigure, and the agents' subentries."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from gemini_live_emulator import Emulator
from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER, ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_API_KEY, CONF_LLM_HASS_API, CONF_NAME, CONF_PROMPT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import llm
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import start_reauth_flow
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.gemini_live.const import (
    AUTH_DEVELOPER,
    AUTH_VERTEX,
    CONF_AUTH_TYPE,
    CONF_BASE_URL,
    CONF_CA_FILE,
    CONF_CHAT_MODEL,
    CONF_CLIENT_EMAIL,
    CONF_GOOGLE_SEARCH,
    CONF_LANGUAGE,
    CONF_LOCATION,
    CONF_MAX_TOKENS,
    CONF_PROJECT_ID,
    CONF_RECOMMENDED,
    CONF_SERVICE_ACCOUNT,
    CONF_SERVICE_ACCOUNT_FILE,
    CONF_SERVICE_ACCOUNT_JSON,
    CONF_STYLE,
    CONF_TEMPERATURE,
    CONF_THINKING_LEVEL,
    CONF_VOICE,
    DOMAIN,
    KIND_BRIDGE,
    RECOMMENDED_CHAT_MODEL,
    RECOMMENDED_TTS_MODEL,
    SUBENTRY_AI_TASK,
    SUBENTRY_CONVERSATION,
    SUBENTRY_STT,
    SUBENTRY_TTS,
)

from .common import (
    KEY_A,
    KEY_B,
    add_developer_entry,
    add_vertex_entry,
    closed_port_url,
    endpoint,
    service_account_text,
    start_flow,
)

pytestmark = pytest.mark.usefixtures("core")


async def submit(hass: HomeAssistant, flow_id: str, user_input: dict[str, Any]) -> dict[str, Any]:
    """Submit a form of the main flow."""
    return dict(await hass.config_entries.flow.async_configure(flow_id, user_input))


async def account_info(emulator: Emulator) -> dict[str, Any]:
    """The emulator's service-account key file, parsed."""
    return dict(json.loads(await asyncio.to_thread(service_account_text, emulator)))


# ------------------------------------------------------------------------------------------- Developer API


async def test_menu_offers_both_ways_in(hass: HomeAssistant) -> None:
    """The flow starts by asking how to reach Gemini (or to add a Gemini Live bridge)."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == [AUTH_DEVELOPER, AUTH_VERTEX, KIND_BRIDGE]


async def test_developer_api_key(hass: HomeAssistant, emulator: Emulator) -> None:
    """A valid key is checked against the service, saved with the endpoint, and gets the three agents."""
    entry = await add_developer_entry(hass, emulator)
    assert entry.title == "Gemini Developer API"
    assert entry.data == {
        CONF_AUTH_TYPE: AUTH_DEVELOPER,
        CONF_API_KEY: KEY_A,
        CONF_BASE_URL: emulator.base_url,
        CONF_CA_FILE: emulator.ca_file,
    }
    kinds = sorted(subentry.subentry_type for subentry in entry.subentries.values())
    assert kinds == [SUBENTRY_AI_TASK, SUBENTRY_CONVERSATION, SUBENTRY_STT, SUBENTRY_TTS]
    conversation = next(s for s in entry.subentries.values() if s.subentry_type == SUBENTRY_CONVERSATION)
    assert conversation.data[CONF_LLM_HASS_API] == [llm.LLM_API_ASSIST]


async def test_developer_invalid_key_then_valid(hass: HomeAssistant, emulator: Emulator) -> None:
    """A key the service refuses is an error in the form; the user can correct it there."""
    result = await start_flow(hass, AUTH_DEVELOPER)
    bad = "AIzaSy" + "NotAKeyTheEmulatorKnows".ljust(33, "0")
    result = await submit(hass, result["flow_id"], {CONF_API_KEY: bad, "endpoint": endpoint(emulator)})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}
    result = await submit(hass, result["flow_id"], {CONF_API_KEY: KEY_A, "endpoint": endpoint(emulator)})
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_developer_quota(hass: HomeAssistant, emulator: Emulator) -> None:
    """A 429 from the service says the quota is exhausted."""
    emulator.config.faults.reject_rest = 1
    result = await start_flow(hass, AUTH_DEVELOPER)
    result = await submit(hass, result["flow_id"], {CONF_API_KEY: KEY_A, "endpoint": endpoint(emulator)})
    assert result["errors"] == {"base": "quota_exceeded"}
    result = await submit(hass, result["flow_id"], {CONF_API_KEY: KEY_A, "endpoint": endpoint(emulator)})
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_developer_cannot_connect(hass: HomeAssistant, emulator: Emulator) -> None:
    """Nobody listening is "cannot connect", not a traceback."""
    result = await start_flow(hass, AUTH_DEVELOPER)
    unreachable = {"base_url": closed_port_url(), "ca_file": emulator.ca_file}
    result = await submit(hass, result["flow_id"], {CONF_API_KEY: KEY_A, "endpoint": unreachable})
    assert result["errors"] == {"base": "cannot_connect"}


async def test_developer_unexpected_answer(hass: HomeAssistant, emulator: Emulator) -> None:
    """An endpoint that answers, but not as Gemini (404 for the models list): an unknown error."""
    result = await start_flow(hass, AUTH_DEVELOPER)
    elsewhere = {"base_url": emulator.base_url + "/not/gemini", "ca_file": emulator.ca_file}
    result = await submit(hass, result["flow_id"], {CONF_API_KEY: KEY_A, "endpoint": elsewhere})
    assert result["errors"] == {"base": "unknown"}


async def test_endpoint_is_checked(hass: HomeAssistant, emulator: Emulator, tmp_path: Path) -> None:
    """A base URL that is not https, and a CA file that is not PEM, are refused before any call."""
    result = await start_flow(hass, AUTH_DEVELOPER)
    plain = {"base_url": emulator.base_url.replace("https://", "http://")}
    result = await submit(hass, result["flow_id"], {CONF_API_KEY: KEY_A, "endpoint": plain})
    assert result["errors"] == {"endpoint": "invalid_base_url"}
    not_pem = tmp_path / "ca.pem"
    await asyncio.to_thread(not_pem.write_text, "not a certificate", encoding="utf-8")
    for ca_file in (str(not_pem), str(tmp_path / "missing.pem")):
        broken = {"base_url": emulator.base_url, "ca_file": ca_file}
        result = await submit(hass, result["flow_id"], {CONF_API_KEY: KEY_A, "endpoint": broken})
        assert result["errors"] == {"endpoint": "invalid_ca_file"}


async def test_developer_duplicate(hass: HomeAssistant, emulator: Emulator) -> None:
    """The same key twice is aborted."""
    await add_developer_entry(hass, emulator)
    result = await start_flow(hass, AUTH_DEVELOPER)
    result = await submit(hass, result["flow_id"], {CONF_API_KEY: KEY_A, "endpoint": endpoint(emulator)})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


# ------------------------------------------------------------------------------------------- Vertex AI


async def test_vertex_pasted_key(hass: HomeAssistant, emulator: Emulator) -> None:
    """A pasted service-account key: the project comes from the file, the token from the token endpoint."""
    entry = await add_vertex_entry(hass, emulator)
    info = await account_info(emulator)
    assert entry.title == f"Vertex AI {info['project_id']} (us-central1)"
    assert entry.data[CONF_AUTH_TYPE] == AUTH_VERTEX
    assert entry.data[CONF_SERVICE_ACCOUNT] == info
    assert entry.data[CONF_PROJECT_ID] == info["project_id"]
    assert entry.data[CONF_CLIENT_EMAIL] == info["client_email"]
    assert CONF_SERVICE_ACCOUNT_JSON not in entry.data
    token = entry.runtime_data.gemini.token
    assert token is not None
    assert emulator.credentials.access_token_valid(token.token)


async def test_vertex_uploaded_key_and_project(
    hass: HomeAssistant, emulator: Emulator, hass_client: ClientSessionGenerator
) -> None:
    """A key file uploaded through Home Assistant, with the project and location chosen in the form."""
    result = await start_flow(hass, AUTH_VERTEX)  # sets up file_upload (a dependency)
    client = await hass_client()
    key_bytes = (await asyncio.to_thread(service_account_text, emulator)).encode()
    form = aiohttp.FormData()
    form.add_field("file", key_bytes, filename="key.json", content_type="application/json")
    response = await client.post("/api/file_upload", data=form)
    assert response.status == 200
    file_id = (await response.json())["file_id"]
    result = await submit(
        hass,
        result["flow_id"],
        {
            CONF_SERVICE_ACCOUNT_FILE: file_id,
            CONF_PROJECT_ID: "my-other-project",
            CONF_LOCATION: "europe-west4",
            "endpoint": endpoint(emulator),
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Vertex AI my-other-project (europe-west4)"
    assert result["data"][CONF_PROJECT_ID] == "my-other-project"
    assert result["data"][CONF_LOCATION] == "europe-west4"


async def test_vertex_unknown_upload(hass: HomeAssistant, emulator: Emulator) -> None:
    """An upload id that does not exist (expired) is reported as an unusable key."""
    result = await start_flow(hass, AUTH_VERTEX)
    result = await submit(
        hass,
        result["flow_id"],
        {
            CONF_SERVICE_ACCOUNT_FILE: "0f6a2cbd-0000-4000-8000-000000000000",
            CONF_LOCATION: "us-central1",
            "endpoint": endpoint(emulator),
        },
    )
    assert result["errors"] == {"base": "invalid_service_account"}


async def test_vertex_api_key_instead_of_service_account(hass: HomeAssistant, emulator: Emulator) -> None:
    """An API key where Vertex AI needs OAuth2 is named as such."""
    result = await start_flow(hass, AUTH_VERTEX)
    result = await submit(
        hass,
        result["flow_id"],
        {CONF_SERVICE_ACCOUNT_JSON: KEY_A, CONF_LOCATION: "us-central1", "endpoint": endpoint(emulator)},
    )
    assert result["errors"] == {"base": "api_key_on_vertex"}


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda info: "{not json", id="not-json"),
        pytest.param(lambda info: json.dumps([info]), id="not-an-object"),
        pytest.param(lambda info: json.dumps({**info, "type": "authorized_user"}), id="not-a-service-account"),
        pytest.param(lambda info: json.dumps({**info, "private_key": ""}), id="missing-field"),
        pytest.param(
            lambda info: json.dumps(
                {**info, "private_key": "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"}
            ),
            id="broken-private-key",
        ),
    ],
)
async def test_vertex_malformed_key(hass: HomeAssistant, emulator: Emulator, mangle: Any) -> None:
    """A malformed service-account file is an error in the form, not a traceback."""
    info = await account_info(emulator)
    result = await start_flow(hass, AUTH_VERTEX)
    result = await submit(
        hass,
        result["flow_id"],
        {CONF_SERVICE_ACCOUNT_JSON: mangle(info), CONF_LOCATION: "us-central1", "endpoint": endpoint(emulator)},
    )
    assert result["errors"] == {"base": "invalid_service_account"}


async def test_vertex_key_missing(hass: HomeAssistant, emulator: Emulator) -> None:
    """Neither pasted nor uploaded."""
    result = await start_flow(hass, AUTH_VERTEX)
    result = await submit(hass, result["flow_id"], {CONF_LOCATION: "us-central1", "endpoint": endpoint(emulator)})
    assert result["errors"] == {"base": "service_account_missing"}


async def test_vertex_key_signed_by_another_key(hass: HomeAssistant, emulator: Emulator) -> None:
    """A key file whose private key the token endpoint does not know: invalid credentials."""
    info = await account_info(emulator)
    other = await asyncio.to_thread(rsa.generate_private_key, public_exponent=65537, key_size=2048)
    info["private_key"] = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    result = await start_flow(hass, AUTH_VERTEX)
    result = await submit(
        hass,
        result["flow_id"],
        {CONF_SERVICE_ACCOUNT_JSON: json.dumps(info), CONF_LOCATION: "us-central1", "endpoint": endpoint(emulator)},
    )
    assert result["errors"] == {"base": "invalid_auth"}


async def test_vertex_project_missing_then_given(hass: HomeAssistant, emulator: Emulator) -> None:
    """A key file without a project needs one in the form."""
    info = await account_info(emulator)
    del info["project_id"]
    user_input = {
        CONF_SERVICE_ACCOUNT_JSON: json.dumps(info),
        CONF_LOCATION: "us-east4",
        "endpoint": endpoint(emulator),
    }
    result = await start_flow(hass, AUTH_VERTEX)
    result = await submit(hass, result["flow_id"], user_input)
    assert result["errors"] == {CONF_PROJECT_ID: "project_missing"}
    result = await submit(hass, result["flow_id"], {**user_input, CONF_PROJECT_ID: "given-project"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_PROJECT_ID] == "given-project"


async def test_vertex_quota_and_cannot_connect(hass: HomeAssistant, emulator: Emulator) -> None:
    """Vertex AI's 429 and an unreachable endpoint, each in the form."""
    result = await start_flow(hass, AUTH_VERTEX)
    text = await asyncio.to_thread(service_account_text, emulator)
    user_input = {CONF_SERVICE_ACCOUNT_JSON: text, CONF_LOCATION: "us-central1", "endpoint": endpoint(emulator)}
    emulator.config.faults.reject_rest = 1
    result = await submit(hass, result["flow_id"], user_input)
    assert result["errors"] == {"base": "quota_exceeded"}
    unreachable = {**user_input, "endpoint": {"base_url": closed_port_url(), "ca_file": emulator.ca_file}}
    result = await submit(hass, result["flow_id"], unreachable)
    assert result["errors"] == {"base": "cannot_connect"}


async def test_vertex_duplicate(hass: HomeAssistant, emulator: Emulator) -> None:
    """The same service account, project and location twice is aborted; another location is not."""
    await add_vertex_entry(hass, emulator)
    result = await start_flow(hass, AUTH_VERTEX)
    text = await asyncio.to_thread(service_account_text, emulator)
    user_input = {CONF_SERVICE_ACCOUNT_JSON: text, CONF_LOCATION: "us-central1", "endpoint": endpoint(emulator)}
    result = await submit(hass, result["flow_id"], user_input)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    await add_vertex_entry(hass, emulator, **{CONF_LOCATION: "europe-west1"})


# ------------------------------------------------------------------------------------------- reauth, reconfigure


async def test_reauth_developer(hass: HomeAssistant, emulator: Emulator) -> None:
    """Reauth shows the key form; a refused key stays in the form; a good one updates and reloads."""
    entry = await add_developer_entry(hass, emulator)
    result = dict(await start_reauth_flow(hass, entry))
    assert result["step_id"] == "reauth_confirm"
    bad = "AIzaSy" + "Revoked".ljust(33, "0")
    result = await submit(hass, result["flow_id"], {CONF_API_KEY: bad})
    assert result["errors"] == {"base": "invalid_auth"}
    result = await submit(hass, result["flow_id"], {CONF_API_KEY: KEY_B})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_API_KEY] == KEY_B
    assert entry.data[CONF_BASE_URL] == emulator.base_url  # the endpoint is kept
    assert entry.state is ConfigEntryState.LOADED


async def test_reauth_vertex_of_an_entry_that_failed(hass: HomeAssistant, emulator: Emulator) -> None:
    """An entry whose key was refused at start-up gets reauth; the new key sets it up again."""
    entry = await add_vertex_entry(hass, emulator)
    info = await account_info(emulator)
    other = await asyncio.to_thread(rsa.generate_private_key, public_exponent=65537, key_size=2048)
    revoked = {
        **info,
        "private_key": other.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
    }
    hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_SERVICE_ACCOUNT: revoked})
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
    result = await submit(
        hass,
        flows[0]["flow_id"],
        {CONF_SERVICE_ACCOUNT_JSON: json.dumps(info), CONF_LOCATION: "us-central1"},
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.data[CONF_SERVICE_ACCOUNT] == info


async def test_reconfigure_developer(hass: HomeAssistant, emulator: Emulator) -> None:
    """Reconfigure takes another key, but not one another entry already uses."""
    first = await add_developer_entry(hass, emulator)
    result = await start_flow(hass, AUTH_DEVELOPER)
    second_result = await submit(hass, result["flow_id"], {CONF_API_KEY: KEY_B, "endpoint": endpoint(emulator)})
    second: ConfigEntry = second_result["result"]
    await hass.async_block_till_done()

    result = dict(
        await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": first.entry_id}
        )
    )
    assert result["step_id"] == "reconfigure"
    result = await submit(hass, result["flow_id"], {CONF_API_KEY: KEY_B, "endpoint": endpoint(emulator)})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"

    await hass.config_entries.async_remove(second.entry_id)
    hass.config_entries.async_update_entry(first, title="My Gemini")
    result = dict(
        await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": first.entry_id}
        )
    )
    result = await submit(hass, result["flow_id"], {CONF_API_KEY: KEY_B, "endpoint": endpoint(emulator)})
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert first.data[CONF_API_KEY] == KEY_B
    assert first.title == "My Gemini"  # a title the user chose is kept
    assert first.state is ConfigEntryState.LOADED


async def test_reconfigure_vertex_location(hass: HomeAssistant, emulator: Emulator) -> None:
    """Reconfigure Vertex AI: same key, another location; the entry reloads with it."""
    entry = await add_vertex_entry(hass, emulator)
    result = dict(
        await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
        )
    )
    assert result["step_id"] == "reconfigure"
    # The stored key is kept when none is pasted or uploaded.
    result = await submit(hass, result["flow_id"], {CONF_LOCATION: "asia-northeast1", "endpoint": endpoint(emulator)})
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_LOCATION] == "asia-northeast1"
    assert entry.data[CONF_SERVICE_ACCOUNT] == await account_info(emulator)
    assert entry.title.endswith("(asia-northeast1)")
    assert entry.state is ConfigEntryState.LOADED


# ------------------------------------------------------------------------------------------- subentries


async def start_subentry(hass: HomeAssistant, entry: ConfigEntry, kind: str) -> dict[str, Any]:
    """Open the add-agent form."""
    return dict(
        await hass.config_entries.subentries.async_init((entry.entry_id, kind), context={"source": SOURCE_USER})
    )


async def submit_subentry(hass: HomeAssistant, flow_id: str, user_input: dict[str, Any]) -> dict[str, Any]:
    """Submit a subentry form."""
    return dict(await hass.config_entries.subentries.async_configure(flow_id, user_input))


def form_fields(result: dict[str, Any]) -> set[str]:
    """The names of a form's fields."""
    return {str(key) for key in result["data_schema"].schema}


async def test_add_conversation_agent_recommended(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """The recommended agent: name, instructions, LLM APIs; it appears as an entity after the reload."""
    result = await start_subentry(hass, developer_entry, SUBENTRY_CONVERSATION)
    assert result["step_id"] == "set_options"
    assert form_fields(result) == {CONF_NAME, CONF_PROMPT, CONF_LLM_HASS_API, CONF_RECOMMENDED}
    result = await submit_subentry(
        hass,
        result["flow_id"],
        {CONF_NAME: "Kitchen helper", CONF_PROMPT: "Be brief.", CONF_LLM_HASS_API: [], CONF_RECOMMENDED: True},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Kitchen helper"
    assert result["data"] == {CONF_PROMPT: "Be brief.", CONF_RECOMMENDED: True}
    await hass.async_block_till_done()
    assert hass.states.get("conversation.kitchen_helper") is not None


async def test_add_ai_task_with_model_settings(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """An AI task has a name and the model settings (its instructions come with each task)."""
    result = await start_subentry(hass, developer_entry, SUBENTRY_AI_TASK)
    assert form_fields(result) == {CONF_NAME, CONF_RECOMMENDED}
    result = await submit_subentry(hass, result["flow_id"], {CONF_NAME: "Summaries", CONF_RECOMMENDED: False})
    assert result["type"] is FlowResultType.FORM
    fields = form_fields(result)
    assert {CONF_CHAT_MODEL, CONF_TEMPERATURE, CONF_MAX_TOKENS, CONF_THINKING_LEVEL} <= fields
    assert not {CONF_PROMPT, CONF_LLM_HASS_API, CONF_GOOGLE_SEARCH} & fields
    result = await submit_subentry(
        hass,
        result["flow_id"],
        {CONF_NAME: "Summaries", CONF_RECOMMENDED: False, CONF_CHAT_MODEL: RECOMMENDED_CHAT_MODEL},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Summaries"
    await hass.async_block_till_done()
    assert hass.states.get("ai_task.summaries") is not None


async def test_add_conversation_agent_with_model_settings(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """Turning "recommended" off shows the models the service lists and the model settings."""
    result = await start_subentry(hass, developer_entry, SUBENTRY_CONVERSATION)
    result = await submit_subentry(
        hass,
        result["flow_id"],
        {CONF_NAME: "Custom", CONF_LLM_HASS_API: [llm.LLM_API_ASSIST], CONF_RECOMMENDED: False},
    )
    assert result["type"] is FlowResultType.FORM
    assert {CONF_CHAT_MODEL, CONF_TEMPERATURE, CONF_MAX_TOKENS, CONF_THINKING_LEVEL, CONF_GOOGLE_SEARCH} <= form_fields(
        result
    )
    model_selector = result["data_schema"].schema[CONF_CHAT_MODEL]
    models = [option["value"] for option in model_selector.config["options"]]
    assert RECOMMENDED_CHAT_MODEL in models
    assert "gemini-3-flash" in models
    assert not any("tts" in model or "live" in model for model in models)

    settings = {
        CONF_NAME: "Custom",
        CONF_LLM_HASS_API: [llm.LLM_API_ASSIST],
        CONF_RECOMMENDED: False,
        CONF_CHAT_MODEL: "gemini-3-flash",
        CONF_TEMPERATURE: 0.3,
        CONF_MAX_TOKENS: 500,
        CONF_GOOGLE_SEARCH: True,
    }
    result = await submit_subentry(hass, result["flow_id"], settings)
    assert result["errors"] == {CONF_GOOGLE_SEARCH: "google_search_with_llm_api"}
    result = await submit_subentry(hass, result["flow_id"], {**settings, CONF_GOOGLE_SEARCH: False})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_CHAT_MODEL] == "gemini-3-flash"
    assert result["data"][CONF_MAX_TOKENS] == 500
    await hass.async_block_till_done()


async def test_add_tts_and_stt_agents(hass: HomeAssistant, vertex_entry: ConfigEntry) -> None:
    """TTS: voice, language, style; its model list holds speech models. STT: instructions and language."""
    result = await start_subentry(hass, vertex_entry, SUBENTRY_TTS)
    assert {CONF_VOICE, CONF_LANGUAGE, CONF_STYLE} <= form_fields(result)
    voices = result["data_schema"].schema[CONF_VOICE].config["options"]
    assert len(voices) == 30
    result = await submit_subentry(
        hass,
        result["flow_id"],
        {CONF_NAME: "Arabic voice", CONF_VOICE: "Puck", CONF_LANGUAGE: "ar-eg", CONF_RECOMMENDED: False},
    )
    models = [option["value"] for option in result["data_schema"].schema[CONF_CHAT_MODEL].config["options"]]
    assert RECOMMENDED_TTS_MODEL in models
    assert all("tts" in model for model in models)  # listed by Vertex AI, where models carry no method list
    result = await submit_subentry(
        hass,
        result["flow_id"],
        {
            CONF_NAME: "Arabic voice",
            CONF_VOICE: "Puck",
            CONF_LANGUAGE: "ar-eg",
            CONF_STYLE: "Speak warmly",
            CONF_RECOMMENDED: False,
            CONF_CHAT_MODEL: "gemini-2.5-flash-preview-tts",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_VOICE] == "Puck"
    assert result["data"][CONF_LANGUAGE] == "ar-EG"  # the form's option key, stored as Gemini's code
    assert result["data"][CONF_STYLE] == "Speak warmly"
    await hass.async_block_till_done()  # the entry reloads with the new agent

    result = await start_subentry(hass, vertex_entry, SUBENTRY_STT)
    assert {CONF_PROMPT, CONF_LANGUAGE, CONF_RECOMMENDED} <= form_fields(result)
    result = await submit_subentry(
        hass, result["flow_id"], {CONF_NAME: "Arabic ears", CONF_LANGUAGE: "ar-eg", CONF_RECOMMENDED: True}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_LANGUAGE] == "ar-EG"
    await hass.async_block_till_done()
    assert hass.states.get("stt.arabic_ears") is not None
    assert hass.states.get("tts.arabic_voice") is not None


async def test_reconfigure_subentry(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """The same form edits an agent; it keeps its title and the entity follows the new settings."""
    subentry = next(s for s in developer_entry.subentries.values() if s.subentry_type == SUBENTRY_TTS)
    result = dict(
        await hass.config_entries.subentries.async_init(
            (developer_entry.entry_id, SUBENTRY_TTS),
            context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry.subentry_id},
        )
    )
    assert CONF_NAME not in form_fields(result)
    result = await submit_subentry(
        hass, result["flow_id"], {CONF_VOICE: "Charon", CONF_LANGUAGE: "auto", CONF_RECOMMENDED: True}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert developer_entry.subentries[subentry.subentry_id].data[CONF_VOICE] == "Charon"
    assert developer_entry.subentries[subentry.subentry_id].title == subentry.title


async def test_subentry_needs_a_loaded_entry(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """Agents cannot be added while the entry is not loaded."""
    await hass.config_entries.async_unload(developer_entry.entry_id)
    result = await start_subentry(hass, developer_entry, SUBENTRY_CONVERSATION)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "entry_not_loaded"


async def test_subentry_model_list_unavailable(
    hass: HomeAssistant, developer_entry: ConfigEntry, emulator: Emulator
) -> None:
    """When the service cannot list models, the form still offers the recommended one."""
    result = await start_subentry(hass, developer_entry, SUBENTRY_STT)
    emulator.config.faults.reject_rest = 1
    result = await submit_subentry(hass, result["flow_id"], {CONF_NAME: "Ears", CONF_RECOMMENDED: False})
    models = [option["value"] for option in result["data_schema"].schema[CONF_CHAT_MODEL].config["options"]]
    assert models == [RECOMMENDED_CHAT_MODEL]


async def test_llm_api_that_disappeared_is_not_suggested(hass: HomeAssistant, developer_entry: ConfigEntry) -> None:
    """A reconfigure form only suggests LLM APIs that still exist."""
    subentry = next(s for s in developer_entry.subentries.values() if s.subentry_type == SUBENTRY_CONVERSATION)
    hass.config_entries.async_update_subentry(
        developer_entry, subentry, data={**subentry.data, CONF_LLM_HASS_API: ["gone", llm.LLM_API_ASSIST]}
    )
    await hass.async_block_till_done()
    result = dict(
        await hass.config_entries.subentries.async_init(
            (developer_entry.entry_id, SUBENTRY_CONVERSATION),
            context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry.subentry_id},
        )
    )
    key = next(k for k in result["data_schema"].schema if k == CONF_LLM_HASS_API)
    assert key.description["suggested_value"] == [llm.LLM_API_ASSIST]


async def test_setup_component_for_file_upload(hass: HomeAssistant) -> None:
    """The integration's dependencies load (file_upload is needed to upload a key file)."""
    assert await async_setup_component(hass, DOMAIN, {})
    assert "file_upload" in hass.config.components

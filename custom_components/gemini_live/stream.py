"""One conversation turn: stream Gemini's answer into the chat log, run the tools it calls, repeat.

Each round sends the whole chat log (:func:`~.chat.build_contents`) with ``streamGenerateContent``;
:func:`response_deltas` turns the streamed chunks into ``ChatLog`` deltas, so text reaches the
pipeline (and TTS) while the model is still writing and tool calls start as soon as they arrive.
The chat log executes the tools through Home Assistant's LLM API (exposed entities only); their
results go back in the next round, until the model answers without calling anything.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from google.genai import types
from homeassistant.components import conversation
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import llm

from .chat import GeminiNative, build_contents, decode_arguments, generate_config
from .client import GeminiClient, aclose_stream
from .const import DOMAIN, LOGGER, MAX_TOOL_ITERATIONS
from .schema import ToolNameMap, gemini_tools

_ACCEPTED_FINISH_REASONS = frozenset({types.FinishReason.STOP, types.FinishReason.FINISH_REASON_UNSPECIFIED})


async def response_deltas(
    stream: AsyncIterator[types.GenerateContentResponse],
    names: ToolNameMap,
    chat_log: conversation.ChatLog,
) -> AsyncIterator[conversation.AssistantContentDeltaDict]:
    """One streamed model response as chat-log deltas; its parts end up in ``native``."""
    yield {"role": "assistant"}
    parts: list[types.Part] = []
    async for response in stream:
        if (usage := response.usage_metadata) is not None:
            chat_log.async_trace(
                {
                    "stats": {
                        "input_tokens": usage.prompt_token_count,
                        "cached_input_tokens": usage.cached_content_token_count or 0,
                        "output_tokens": usage.candidates_token_count,
                    }
                }
            )
        if not response.candidates:
            reason = response.prompt_feedback.block_reason if response.prompt_feedback else None
            LOGGER.warning("Gemini blocked the request (%s)", reason or "no reason given")
            raise HomeAssistantError(translation_domain=DOMAIN, translation_key="blocked")
        candidate = response.candidates[0]
        for part in (candidate.content.parts or []) if candidate.content else []:
            parts.append(part)
            delta = _part_delta(part, names)
            if delta:
                yield delta
        if candidate.finish_reason is not None and candidate.finish_reason not in _ACCEPTED_FINISH_REASONS:
            LOGGER.warning("Gemini ended its answer with %s", candidate.finish_reason)
            raise HomeAssistantError(translation_domain=DOMAIN, translation_key="finish_reason")
    if parts:
        yield {"native": GeminiNative.from_parts(parts)}


def _part_delta(part: types.Part, names: ToolNameMap) -> conversation.AssistantContentDeltaDict:
    if part.function_call is not None:
        call = part.function_call
        tool_input = llm.ToolInput(
            tool_name=names.home_assistant(call.name or ""),
            tool_args=decode_arguments(dict(call.args or {})),
        )
        if call.id:
            tool_input.id = call.id
        return {"tool_calls": [tool_input]}
    if part.text:
        if part.thought:
            return {"thinking_content": part.text}
        return {"content": part.text}
    return {}


async def async_run_turn(
    client: GeminiClient,
    chat_log: conversation.ChatLog,
    agent_id: str,
    model: str,
    *,
    options: dict[str, Any],
    extra_tools: list[types.Tool] | None = None,
    attachments: Sequence[types.Part] = (),
    response_schema: types.Schema | None = None,
    max_rounds: int = MAX_TOOL_ITERATIONS,
) -> None:
    """Answer the chat log's last user message, calling tools as the model asks (up to a limit).

    ``attachments`` go with the last user message (files already uploaded, or their bytes);
    ``response_schema`` asks for JSON of that shape (an AI task's structure).
    SDK and network errors propagate unchanged: the caller reports them.
    """
    names = ToolNameMap(tool.name for tool in chat_log.llm_api.tools) if chat_log.llm_api else ToolNameMap()
    config = generate_config(model, options)
    if response_schema is not None:
        config.response_mime_type = "application/json"
        config.response_schema = response_schema
    # The chat log starts with the system prompt (it is created with one, and provide_llm_data replaces it).
    system = chat_log.content[0]
    config.system_instruction = (system.content or None) if isinstance(system, conversation.SystemContent) else None
    tools: types.ToolListUnion = []
    if chat_log.llm_api:
        tools += gemini_tools(chat_log.llm_api, names)
    tools += extra_tools or []
    config.tools = tools or None

    for _round in range(max_rounds):
        contents = build_contents(chat_log.content[1:], names, attachments)
        stream = await client.aio.models.generate_content_stream(model=model, contents=contents, config=config)
        try:
            async for _content in chat_log.async_add_delta_content_stream(
                agent_id, response_deltas(stream, names, chat_log)
            ):
                pass
        finally:
            # Release the HTTP response even when the turn stops early (an error, a cancelled pipeline).
            await aclose_stream(stream)
        if not chat_log.unresponded_tool_results:
            return
    LOGGER.warning("Gemini was still calling tools after %d rounds", max_rounds)
    raise HomeAssistantError(translation_domain=DOMAIN, translation_key="too_many_tool_calls")

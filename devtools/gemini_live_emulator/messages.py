"""The request messages the emulator parses, as :mod:`.protojson` schemas.

Ground truth is what google-genai 3.4.0 can put on the wire (``_live_converters.py``, the ``models.py``
and ``_tokens_converters.py`` converters, and the pydantic types they pass through unconverted),
checked against the public protos in ``googleapis/googleapis`` for names, nesting and enum numbers.
The SDK sends every field of a type it passes through unconverted, so such a type has all the fields
of its SDK model here even where the public proto is older. A field is left out of one backend only
where every SDK path refuses it there (``... is only supported in ... mode``): for example
``explicitVadSignal`` and ``sessionResumption.transparent`` exist for Vertex AI only, ``fileSearch`` for
the Developer API only. ``labels`` is accepted on both Live backends because ``LiveConnectConfig``
sends it to Vertex AI as well.

Type names (which appear in error texts) follow the public protos where those have the type, and the
SDK's type names otherwise; Developer API names are in ``google.ai.generativelanguage.v1beta`` and
Vertex AI names in ``google.cloud.aiplatform.v1beta1`` (``parse_json(..., api_version=...)`` renames
them for the version a client called).
"""

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any, Final, Literal

from .protojson import EnumType, Field, Kind, Message

__all__ = [
    "CLIENT_MESSAGE_MLDEV",
    "CLIENT_MESSAGE_VERTEX",
    "COUNT_TOKENS_REQUEST_MLDEV",
    "COUNT_TOKENS_REQUEST_VERTEX",
    "CREATE_AUTH_TOKEN_REQUEST",
    "GENERATE_CONTENT_REQUEST_MLDEV",
    "GENERATE_CONTENT_REQUEST_VERTEX",
    "MLDEV_PACKAGE",
    "VERTEX_PACKAGE",
]

MLDEV_PACKAGE: Final = "google.ai.generativelanguage.v1beta"
VERTEX_PACKAGE: Final = "google.cloud.aiplatform.v1beta1"
_AUTH_TOKEN_PACKAGE: Final = "google.ai.generativelanguage.v1alpha"

Backend = Literal["mldev", "vertex"]


# ------------------------------------------------------------------------------------------------ fields


def _string(name: str, **options: Any) -> Field:
    return Field(name, Kind.STRING, **options)


def _bool(name: str, **options: Any) -> Field:
    return Field(name, Kind.BOOL, **options)


def _int32(name: str, **options: Any) -> Field:
    return Field(name, Kind.INT32, **options)


def _int64(name: str, **options: Any) -> Field:
    return Field(name, Kind.INT64, **options)


def _float(name: str, **options: Any) -> Field:
    return Field(name, Kind.FLOAT, **options)


def _double(name: str, **options: Any) -> Field:
    return Field(name, Kind.DOUBLE, **options)


def _bytes(name: str, **options: Any) -> Field:
    return Field(name, Kind.BYTES, **options)


def _duration(name: str, **options: Any) -> Field:
    return Field(name, Kind.DURATION, **options)


def _timestamp(name: str, **options: Any) -> Field:
    return Field(name, Kind.TIMESTAMP, **options)


def _struct(name: str, **options: Any) -> Field:
    return Field(name, Kind.STRUCT, **options)


def _value(name: str, **options: Any) -> Field:
    return Field(name, Kind.VALUE, **options)


def _enum(name: str, enum_type: EnumType, **options: Any) -> Field:
    return Field(name, Kind.ENUM, enum=enum_type, **options)


def _message(name: str, message: Message, **options: Any) -> Field:
    return Field(name, Kind.MESSAGE, message=message, **options)


_LAT_LNG: Final = Message("google.type.LatLng", _double("latitude"), _double("longitude"))
_INTERVAL: Final = Message("google.type.Interval", _timestamp("start_time"), _timestamp("end_time"))
_NULL_VALUE: Final = EnumType("google.protobuf.NullValue", ["NULL_VALUE"])


# ------------------------------------------------------------------------------------------------ catalog


class _Catalog:
    """The message types of one backend and package, each built once on first use."""

    def __init__(self, backend: Backend, package: str) -> None:
        self.vertex = backend == "vertex"
        self.package = package

    # ---- helpers

    def name(self, relative: str) -> str:
        """The full name of a type of this package."""
        return f"{self.package}.{relative}"

    def message(self, relative: str, *fields: Field) -> Message:
        """A message type of this package."""
        return Message(self.name(relative), *fields)

    def enum(self, relative: str, values: Mapping[str, int] | Sequence[str]) -> EnumType:
        """An enum type of this package."""
        return EnumType(self.name(relative), values)

    def only(self, *, vertex: bool, fields: Sequence[Field]) -> tuple[Field, ...]:
        """``fields`` on the named backend only (the SDK refuses them on the other one)."""
        return tuple(fields) if vertex == self.vertex else ()

    # ---- content

    @cached_property
    def blob(self) -> Message:
        """``Blob``: inline bytes (realtime audio and video, ``inlineData`` parts)."""
        return self.message("Blob", _string("mime_type"), _bytes("data"), _string("display_name"))

    @cached_property
    def file_data(self) -> Message:
        """``FileData``: a part that points at a file."""
        return self.message("FileData", _string("mime_type"), _string("file_uri"), _string("display_name"))

    @cached_property
    def video_metadata(self) -> Message:
        """``VideoMetadata``."""
        layer = self.enum("VideoMetadata.ContentLayer", ["CONTENT_LAYER_UNSPECIFIED", "FRAMES", "AUDIO", "TRANSCRIPT"])
        return self.message(
            "VideoMetadata",
            _duration("start_offset"),
            _duration("end_offset"),
            _double("fps"),
            _enum("content_layers", layer, repeated=True),
        )

    @cached_property
    def document_metadata(self) -> Message:
        """``DocumentMetadata``."""
        layer = self.enum("DocumentMetadata.ContentLayer", ["CONTENT_LAYER_UNSPECIFIED", "PAGE_IMAGE", "PAGE_TEXT"])
        return self.message(
            "DocumentMetadata",
            _int32("start_page"),
            _int32("end_page"),
            _enum("content_layers", layer, repeated=True),
        )

    @cached_property
    def spreadsheet_metadata(self) -> Message:
        """``SpreadsheetMetadata``."""
        layer = self.enum(
            "SpreadsheetMetadata.ContentLayer", ["CONTENT_LAYER_UNSPECIFIED", "DATA", "FORMULAS", "VISUAL"]
        )
        return self.message(
            "SpreadsheetMetadata",
            _string("visible_cells"),
            _int32("sheet_index"),
            _enum("content_layers", layer, repeated=True),
        )

    @cached_property
    def audio_metadata(self) -> Message:
        """``AudioMetadata``."""
        return self.message("AudioMetadata", _duration("start_offset"), _duration("end_offset"))

    @cached_property
    def media_resolution(self) -> Message:
        """A part's media resolution: a level or a token count."""
        level = self.enum(
            "MediaResolution.Level",
            [
                "MEDIA_RESOLUTION_UNSPECIFIED",
                "MEDIA_RESOLUTION_LOW",
                "MEDIA_RESOLUTION_MEDIUM",
                "MEDIA_RESOLUTION_HIGH",
                "MEDIA_RESOLUTION_ULTRA_HIGH",
            ],
        )
        return self.message("MediaResolution", _enum("level", level), _int32("num_tokens"))

    @cached_property
    def media_processing(self) -> EnumType:
        """How a part's media is processed."""
        return self.enum("MediaProcessing", ["MEDIA_PROCESSING_UNSPECIFIED", "STATIC", "AGENTIC"])

    @cached_property
    def tool_type(self) -> EnumType:
        """The kind of a server-side tool call."""
        return self.enum(
            "ToolType",
            [
                "TOOL_TYPE_UNSPECIFIED",
                "GOOGLE_SEARCH_WEB",
                "GOOGLE_SEARCH_IMAGE",
                "URL_CONTEXT",
                "GOOGLE_MAPS",
                "FILE_SEARCH",
                "MEDIA_PROCESSING",
            ],
        )

    @cached_property
    def executable_code(self) -> Message:
        """``ExecutableCode``."""
        language = self.enum("ExecutableCode.Language", ["LANGUAGE_UNSPECIFIED", "PYTHON"])
        return self.message("ExecutableCode", _enum("language", language), _string("code"), _string("id"))

    @cached_property
    def code_execution_result(self) -> Message:
        """``CodeExecutionResult``."""
        outcome = self.enum(
            "CodeExecutionResult.Outcome",
            ["OUTCOME_UNSPECIFIED", "OUTCOME_OK", "OUTCOME_FAILED", "OUTCOME_DEADLINE_EXCEEDED"],
        )
        return self.message("CodeExecutionResult", _enum("outcome", outcome), _string("output"), _string("id"))

    @cached_property
    def function_call(self) -> Message:
        """``FunctionCall`` (streamed partial arguments exist on Vertex AI only)."""
        partial_arg = self.message(
            "PartialArg",
            _enum("null_value", _NULL_VALUE),
            _double("number_value"),
            _string("string_value"),
            _bool("bool_value"),
            _string("json_path"),
            _bool("will_continue"),
        )
        vertex_only = (_message("partial_args", partial_arg, repeated=True), _bool("will_continue"))
        return self.message(
            "FunctionCall",
            _string("id"),
            _string("name"),
            _struct("args"),
            *self.only(vertex=True, fields=vertex_only),
        )

    @cached_property
    def function_response_part(self) -> Message:
        """``FunctionResponsePart``: media returned by a function."""
        blob = self.message("FunctionResponseBlob", _string("mime_type"), _bytes("data"), _string("display_name"))
        file_data = self.message(
            "FunctionResponseFileData", _string("file_uri"), _string("mime_type"), _string("display_name")
        )
        return self.message(
            "FunctionResponsePart",
            _message("inline_data", blob, oneof="data"),
            _message("file_data", file_data, oneof="data"),
            _enum("media_processing", self.media_processing),
            _message("media_resolution", self.media_resolution),
            _message("video_metadata", self.video_metadata),
            _message("document_metadata", self.document_metadata),
            _message("spreadsheet_metadata", self.spreadsheet_metadata),
            _message("audio_metadata", self.audio_metadata),
        )

    @cached_property
    def function_response(self) -> Message:
        """``FunctionResponse``: a tool result (``toolResponse`` and ``functionResponse`` parts)."""
        scheduling = self.enum(
            "FunctionResponse.Scheduling", ["SCHEDULING_UNSPECIFIED", "SILENT", "WHEN_IDLE", "INTERRUPT"]
        )
        return self.message(
            "FunctionResponse",
            _string("id"),
            _string("name"),
            _struct("response"),
            _message("parts", self.function_response_part, repeated=True),
            _bool("will_continue"),
            _enum("scheduling", scheduling),
        )

    @cached_property
    def transcription(self) -> Message:
        """A transcription carried in a part."""
        word = self.message("WordInfo", _string("word"), _duration("start_offset"), _duration("end_offset"))
        return self.message(
            "Transcription",
            _string("text"),
            _bool("finished"),
            _string("language_code"),
            _string("speaker_label"),
            _message("words", word, repeated=True),
            _duration("start_offset"),
            _duration("end_offset"),
        )

    @cached_property
    def part(self) -> Message:
        """``Part``: one piece of content; its payload is the ``data`` oneof."""
        tool_call = self.message("ToolCall", _string("id"), _enum("tool_type", self.tool_type), _struct("args"))
        tool_response = self.message(
            "ToolResponse", _string("id"), _enum("tool_type", self.tool_type), _struct("response")
        )
        speech_metadata = self.message("SpeechMetadata", _string("speaker"), _string("style"))
        return self.message(
            "Part",
            _string("text", oneof="data"),
            _message("inline_data", self.blob, oneof="data"),
            _message("function_call", self.function_call, oneof="data"),
            _message("function_response", self.function_response, oneof="data"),
            _message("file_data", self.file_data, oneof="data"),
            _message("executable_code", self.executable_code, oneof="data"),
            _message("code_execution_result", self.code_execution_result, oneof="data"),
            _bool("thought"),
            _bytes("thought_signature"),
            _message("video_metadata", self.video_metadata),
            _message("media_resolution", self.media_resolution),
            _message("tool_call", tool_call),
            _message("tool_response", tool_response),
            _struct("part_metadata"),
            _message("audio_transcription", self.transcription),
            _enum("media_processing", self.media_processing),
            _message("speech_metadata", speech_metadata),
            _message("document_metadata", self.document_metadata),
            _message("spreadsheet_metadata", self.spreadsheet_metadata),
            _message("audio_metadata", self.audio_metadata),
        )

    @cached_property
    def content(self) -> Message:
        """``Content``: a turn (role and parts)."""
        return self.message("Content", _message("parts", self.part, repeated=True), _string("role"))

    # ---- function declarations

    @cached_property
    def schema(self) -> Message:
        """``Schema`` (OpenAPI subset, recursive)."""
        schema_type = self.enum(
            "Type", ["TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"]
        )
        schema = self.message("Schema")
        return schema.add(
            _enum("type", schema_type),
            _string("format"),
            _string("title"),
            _string("description"),
            _bool("nullable"),
            _string("enum", repeated=True),
            _message("items", schema),
            _int64("max_items"),
            _int64("min_items"),
            _message("properties", schema, map=True),
            _string("required", repeated=True),
            _int64("min_properties"),
            _int64("max_properties"),
            _double("minimum"),
            _double("maximum"),
            _int64("min_length"),
            _int64("max_length"),
            _string("pattern"),
            _value("example"),
            _message("any_of", schema, repeated=True),
            _string("property_ordering", repeated=True),
            _value("default"),
            _value("additional_properties"),
            _string("ref"),
            _message("defs", schema, map=True),
        )

    @cached_property
    def function_declaration(self) -> Message:
        """``FunctionDeclaration``."""
        behavior = self.enum("FunctionDeclaration.Behavior", ["UNSPECIFIED", "BLOCKING", "NON_BLOCKING"])
        return self.message(
            "FunctionDeclaration",
            _string("name"),
            _string("description"),
            _message("parameters", self.schema),
            _value("parameters_json_schema"),
            _message("response", self.schema),
            _value("response_json_schema"),
            _enum("behavior", behavior),
        )

    # ---- tools

    @cached_property
    def phish_block_threshold(self) -> EnumType:
        """Vertex AI's threshold for blocking phishing sites in search."""
        return self.enum(
            "PhishBlockThreshold",
            [
                "PHISH_BLOCK_THRESHOLD_UNSPECIFIED",
                "BLOCK_LOW_AND_ABOVE",
                "BLOCK_MEDIUM_AND_ABOVE",
                "BLOCK_HIGH_AND_ABOVE",
                "BLOCK_HIGHER_AND_ABOVE",
                "BLOCK_VERY_HIGH_AND_ABOVE",
                "BLOCK_ONLY_EXTREMELY_HIGH",
            ],
        )

    @cached_property
    def google_search(self) -> Message:
        """``Tool.GoogleSearch``."""
        search_types = self.message(
            "Tool.GoogleSearch.SearchTypes",
            _message("web_search", self.message("Tool.GoogleSearch.WebSearch")),
            _message("image_search", self.message("Tool.GoogleSearch.ImageSearch")),
        )
        vertex_only = (
            _enum("blocking_confidence", self.phish_block_threshold),
            _string("exclude_domains", repeated=True),
        )
        return self.message(
            "Tool.GoogleSearch",
            _message("search_types", search_types),
            _message("time_range_filter", _INTERVAL),
            *self.only(vertex=True, fields=vertex_only),
        )

    @cached_property
    def auth_config(self) -> Message:
        """``AuthConfig`` (the Developer API takes an API key only)."""
        location = self.enum(
            "HttpElementLocation",
            [
                "HTTP_IN_UNSPECIFIED",
                "HTTP_IN_QUERY",
                "HTTP_IN_HEADER",
                "HTTP_IN_PATH",
                "HTTP_IN_BODY",
                "HTTP_IN_COOKIE",
            ],
        )
        auth_type = self.enum(
            "AuthType",
            [
                "AUTH_TYPE_UNSPECIFIED",
                "NO_AUTH",
                "API_KEY_AUTH",
                "HTTP_BASIC_AUTH",
                "GOOGLE_SERVICE_ACCOUNT_AUTH",
                "OAUTH",
                "OIDC_AUTH",
            ],
        )
        vertex_only = (
            _message(
                "api_key_config",
                self.message(
                    "AuthConfig.ApiKeyConfig",
                    _string("api_key_secret"),
                    _string("api_key_string"),
                    _enum("http_element_location", location),
                    _string("name"),
                ),
            ),
            _enum("auth_type", auth_type),
            _message(
                "google_service_account_config",
                self.message("AuthConfig.GoogleServiceAccountConfig", _string("service_account")),
            ),
            _message(
                "http_basic_auth_config",
                self.message("AuthConfig.HttpBasicAuthConfig", _string("credential_secret")),
            ),
            _message(
                "oauth_config",
                self.message("AuthConfig.OauthConfig", _string("access_token"), _string("service_account")),
            ),
            _message(
                "oidc_config",
                self.message("AuthConfig.OidcConfig", _string("id_token"), _string("service_account")),
            ),
        )
        return self.message("AuthConfig", _string("api_key"), *self.only(vertex=True, fields=vertex_only))

    @cached_property
    def google_maps(self) -> Message:
        """``GoogleMaps``."""
        grounding_types = self.message(
            "GoogleMaps.GroundingTypes",
            _message("places", self.message("GoogleMaps.GroundingTypes.Places")),
            _message("routing", self.message("GoogleMaps.GroundingTypes.Routing")),
        )
        return self.message(
            "GoogleMaps",
            _message("auth_config", self.auth_config),
            _bool("enable_widget"),
            *self.only(vertex=True, fields=[_message("grounding_types", grounding_types)]),
        )

    @cached_property
    def computer_use(self) -> Message:
        """``Tool.ComputerUse``."""
        environment = self.enum(
            "Tool.ComputerUse.Environment",
            ["ENVIRONMENT_UNSPECIFIED", "ENVIRONMENT_BROWSER", "ENVIRONMENT_MOBILE", "ENVIRONMENT_DESKTOP"],
        )
        policy = self.enum(
            "Tool.ComputerUse.SafetyPolicy",
            [
                "SAFETY_POLICY_UNSPECIFIED",
                "FINANCIAL_TRANSACTIONS",
                "SENSITIVE_DATA_MODIFICATION",
                "COMMUNICATION_TOOL",
                "ACCOUNT_CREATION",
                "DATA_MODIFICATION",
                "USER_CONSENT_MANAGEMENT",
                "LEGAL_TERMS_AND_AGREEMENTS",
            ],
        )
        return self.message(
            "Tool.ComputerUse",
            _enum("environment", environment),
            _string("excluded_predefined_functions", repeated=True),
            _bool("enable_prompt_injection_detection"),
            _enum("disabled_safety_policies", policy, repeated=True),
        )

    @cached_property
    def google_search_retrieval(self) -> Message:
        """``GoogleSearchRetrieval`` (the older search tool)."""
        mode = self.enum("DynamicRetrievalConfig.Mode", ["MODE_UNSPECIFIED", "MODE_DYNAMIC"])
        dynamic = self.message("DynamicRetrievalConfig", _enum("mode", mode), _float("dynamic_threshold"))
        return self.message("GoogleSearchRetrieval", _message("dynamic_retrieval_config", dynamic))

    @cached_property
    def mcp_server(self) -> Message:
        """``McpServer`` (the SDK refuses both of its fields on Vertex AI)."""
        transport = self.message(
            "StreamableHttpTransport",
            _string("headers", map=True),
            _duration("sse_read_timeout"),
            _bool("terminate_on_close"),
            _duration("timeout"),
            _string("url"),
        )
        mldev_only = (_string("name"), _message("streamable_http_transport", transport))
        return self.message("McpServer", *self.only(vertex=False, fields=mldev_only))

    @cached_property
    def file_search(self) -> Message:
        """``FileSearch`` (Developer API)."""
        return self.message(
            "FileSearch",
            _string("file_search_store_names", repeated=True),
            _int32("top_k"),
            _string("metadata_filter"),
        )

    @cached_property
    def retrieval(self) -> Message:
        """``Retrieval`` (Vertex AI: Vertex AI Search, RAG Engine, an external search API)."""
        return self.message(
            "Retrieval",
            _bool("disable_attribution"),
            _message("external_api", self.external_api),
            _message("vertex_ai_search", self.vertex_ai_search),
            _message("vertex_rag_store", self.vertex_rag_store),
        )

    @cached_property
    def external_api(self) -> Message:
        """``ExternalApi`` (a retrieval source on Vertex AI)."""
        api_spec = self.enum("ExternalApi.ApiSpec", ["API_SPEC_UNSPECIFIED", "SIMPLE_SEARCH", "ELASTIC_SEARCH"])
        key_config = self.message("ApiAuth.ApiKeyConfig", _string("api_key_secret_version"), _string("api_key_string"))
        elastic = self.message(
            "ExternalApi.ElasticSearchParams",
            _string("index"),
            _int32("num_hits"),
            _string("search_template"),
        )
        return self.message(
            "ExternalApi",
            _message("api_auth", self.message("ApiAuth", _message("api_key_config", key_config))),
            _enum("api_spec", api_spec),
            _message("auth_config", self.auth_config),
            _message("elastic_search_params", elastic),
            _string("endpoint"),
            _message("simple_search_params", self.message("ExternalApi.SimpleSearchParams")),
        )

    @cached_property
    def vertex_ai_search(self) -> Message:
        """``VertexAISearch``."""
        spec = self.message("VertexAISearch.DataStoreSpec", _string("data_store"), _string("filter"))
        return self.message(
            "VertexAISearch",
            _message("data_store_specs", spec, repeated=True),
            _string("datastore"),
            _string("engine"),
            _string("filter"),
            _int32("max_results"),
        )

    @cached_property
    def vertex_rag_store(self) -> Message:
        """``VertexRagStore`` (RAG Engine)."""
        resource = self.message(
            "VertexRagStore.RagResource", _string("rag_corpus"), _string("rag_file_ids", repeated=True)
        )
        rag_filter = self.message(
            "RagRetrievalConfig.Filter",
            _string("metadata_filter"),
            _double("vector_distance_threshold"),
            _double("vector_similarity_threshold"),
        )
        ranking = self.message(
            "RagRetrievalConfig.Ranking",
            _message("llm_ranker", self.message("RagRetrievalConfig.Ranking.LlmRanker", _string("model_name"))),
            _message("rank_service", self.message("RagRetrievalConfig.Ranking.RankService", _string("model_name"))),
        )
        config = self.message(
            "RagRetrievalConfig",
            _message("filter", rag_filter),
            _message("hybrid_search", self.message("RagRetrievalConfig.HybridSearch", _float("alpha"))),
            _message("ranking", ranking),
            _int32("top_k"),
        )
        return self.message(
            "VertexRagStore",
            _string("rag_corpora", repeated=True),
            _message("rag_resources", resource, repeated=True),
            _message("rag_retrieval_config", config),
            _int32("similarity_top_k"),
            _bool("store_context"),
            _double("vector_distance_threshold"),
        )

    @cached_property
    def vertex_tools(self) -> tuple[Field, ...]:
        """The tools only Vertex AI has."""
        enterprise_web_search = self.message(
            "EnterpriseWebSearch",
            _enum("blocking_confidence", self.phish_block_threshold),
            _string("exclude_domains", repeated=True),
        )
        parallel = self.message(
            "Tool.ParallelAiSearch",
            _string("api_key"),
            _struct("custom_configs"),
            _bool("enable_data_retention"),
            _bool("enable_zero_data_retention"),
        )
        exa = self.message("Tool.ExaAiSearch", _string("api_key"), _struct("custom_configs"))
        return (
            _message("retrieval", self.retrieval),
            _message("enterprise_web_search", enterprise_web_search),
            _message("parallel_ai_search", parallel),
            _message("exa_ai_search", exa),
        )

    @cached_property
    def tool(self) -> Message:
        """``Tool``."""
        return self.message(
            "Tool",
            _message("function_declarations", self.function_declaration, repeated=True),
            _message("google_search_retrieval", self.google_search_retrieval),
            _message("code_execution", self.message("CodeExecution")),
            _message("google_search", self.google_search),
            _message("computer_use", self.computer_use),
            _message("url_context", self.message("UrlContext")),
            _message("google_maps", self.google_maps),
            _message("mcp_servers", self.mcp_server, repeated=True),
            *self.only(vertex=False, fields=[_message("file_search", self.file_search)]),
            *self.only(vertex=True, fields=self.vertex_tools),
        )

    @cached_property
    def tool_config(self) -> Message:
        """``ToolConfig``."""
        mode = self.enum("FunctionCallingConfig.Mode", ["MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"])
        calling = self.message(
            "FunctionCallingConfig",
            _enum("mode", mode),
            _string("allowed_function_names", repeated=True),
            *self.only(vertex=True, fields=[_bool("stream_function_call_arguments")]),
        )
        retrieval = self.message("RetrievalConfig", _message("lat_lng", _LAT_LNG), _string("language_code"))
        return self.message(
            "ToolConfig",
            _message("function_calling_config", calling),
            _message("retrieval_config", retrieval),
            *self.only(vertex=False, fields=[_bool("include_server_side_tool_invocations")]),
        )

    # ---- safety

    @cached_property
    def safety_setting(self) -> Message:
        """``SafetySetting`` (the block method exists on Vertex AI only)."""
        if self.vertex:
            categories: Mapping[str, int] = {
                "HARM_CATEGORY_UNSPECIFIED": 0,
                "HARM_CATEGORY_HATE_SPEECH": 1,
                "HARM_CATEGORY_DANGEROUS_CONTENT": 2,
                "HARM_CATEGORY_HARASSMENT": 3,
                "HARM_CATEGORY_SEXUALLY_EXPLICIT": 4,
                "HARM_CATEGORY_CIVIC_INTEGRITY": 5,
                "HARM_CATEGORY_JAILBREAK": 6,
                "HARM_CATEGORY_IMAGE_HATE": 7,
                "HARM_CATEGORY_IMAGE_DANGEROUS_CONTENT": 8,
                "HARM_CATEGORY_IMAGE_HARASSMENT": 9,
                "HARM_CATEGORY_IMAGE_SEXUALLY_EXPLICIT": 10,
            }
        else:
            categories = {
                "HARM_CATEGORY_UNSPECIFIED": 0,
                "HARM_CATEGORY_DEROGATORY": 1,
                "HARM_CATEGORY_TOXICITY": 2,
                "HARM_CATEGORY_VIOLENCE": 3,
                "HARM_CATEGORY_SEXUAL": 4,
                "HARM_CATEGORY_MEDICAL": 5,
                "HARM_CATEGORY_DANGEROUS": 6,
                "HARM_CATEGORY_HARASSMENT": 7,
                "HARM_CATEGORY_HATE_SPEECH": 8,
                "HARM_CATEGORY_SEXUALLY_EXPLICIT": 9,
                "HARM_CATEGORY_DANGEROUS_CONTENT": 10,
                "HARM_CATEGORY_CIVIC_INTEGRITY": 11,
                "HARM_CATEGORY_JAILBREAK": 12,
                "HARM_CATEGORY_IMAGE_HATE": 13,
                "HARM_CATEGORY_IMAGE_DANGEROUS_CONTENT": 14,
                "HARM_CATEGORY_IMAGE_HARASSMENT": 15,
                "HARM_CATEGORY_IMAGE_SEXUALLY_EXPLICIT": 16,
            }
        threshold = self.enum(
            "SafetySetting.HarmBlockThreshold",
            [
                "HARM_BLOCK_THRESHOLD_UNSPECIFIED",
                "BLOCK_LOW_AND_ABOVE",
                "BLOCK_MEDIUM_AND_ABOVE",
                "BLOCK_ONLY_HIGH",
                "BLOCK_NONE",
                "OFF",
            ],
        )
        method = self.enum(
            "SafetySetting.HarmBlockMethod", ["HARM_BLOCK_METHOD_UNSPECIFIED", "SEVERITY", "PROBABILITY"]
        )
        return self.message(
            "SafetySetting",
            _enum("category", self.enum("HarmCategory", categories)),
            _enum("threshold", threshold),
            *self.only(vertex=True, fields=[_enum("method", method)]),
        )

    # ---- generation config

    @cached_property
    def speech_config(self) -> Message:
        """``SpeechConfig`` (voice cloning consent fields exist on the Developer API only)."""
        signature = self.message("VoiceConsentSignature", _string("signature"))
        replicated = self.message(
            "ReplicatedVoiceConfig",
            _string("mime_type"),
            _bytes("voice_sample_audio"),
            *self.only(
                vertex=False,
                fields=[_bytes("consent_audio"), _message("voice_consent_signature", signature)],
            ),
        )
        voice = self.message(
            "VoiceConfig",
            _message(
                "prebuilt_voice_config",
                self.message("PrebuiltVoiceConfig", _string("voice_name")),
                oneof="voice_config",
            ),
            _message("replicated_voice_config", replicated, oneof="voice_config"),
            _string("voice"),
        )
        speaker = self.message("SpeakerVoiceConfig", _string("speaker"), _message("voice_config", voice))
        multi = self.message("MultiSpeakerVoiceConfig", _message("speaker_voice_configs", speaker, repeated=True))
        return self.message(
            "SpeechConfig",
            _message("voice_config", voice),
            _message("multi_speaker_voice_config", multi),
            _string("language_code"),
        )

    @cached_property
    def thinking_config(self) -> Message:
        """``ThinkingConfig`` (nested in ``GenerationConfig`` on Vertex AI)."""
        relative = "GenerationConfig.ThinkingConfig" if self.vertex else "ThinkingConfig"
        level = self.enum(
            f"{relative}.ThinkingLevel",
            ["THINKING_LEVEL_UNSPECIFIED", "MINIMAL", "LOW", "MEDIUM", "HIGH", "XHIGH"],
        )
        return self.message(
            relative, _bool("include_thoughts"), _int32("thinking_budget"), _enum("thinking_level", level)
        )

    @cached_property
    def image_config(self) -> Message:
        """``ImageConfig`` (output options exist on Vertex AI only)."""
        people = self.enum(
            "ImageConfig.ProminentPeople",
            ["PROMINENT_PEOPLE_UNSPECIFIED", "ALLOW_PROMINENT_PEOPLE", "BLOCK_PROMINENT_PEOPLE"],
        )
        output = self.message("ImageConfig.ImageOutputOptions", _string("mime_type"), _int32("compression_quality"))
        vertex_only = (
            _string("person_generation"),
            _enum("prominent_people", people),
            _message("image_output_options", output),
        )
        return self.message(
            "ImageConfig",
            _string("aspect_ratio"),
            _string("image_size"),
            *self.only(vertex=True, fields=vertex_only),
        )

    @cached_property
    def response_format(self) -> Message:
        """``ResponseFormat`` (per-modality output formats)."""
        delivery = self.enum("ResponseFormat.Delivery", ["DELIVERY_UNSPECIFIED", "INLINE", "URI"])
        aspect = self.enum(
            "ImageResponseFormat.AspectRatio",
            [
                "ASPECT_RATIO_UNSPECIFIED",
                "ASPECT_RATIO_ONE_BY_ONE",
                "ASPECT_RATIO_TWO_BY_THREE",
                "ASPECT_RATIO_THREE_BY_TWO",
                "ASPECT_RATIO_THREE_BY_FOUR",
                "ASPECT_RATIO_FOUR_BY_THREE",
                "ASPECT_RATIO_FOUR_BY_FIVE",
                "ASPECT_RATIO_FIVE_BY_FOUR",
                "ASPECT_RATIO_NINE_BY_SIXTEEN",
                "ASPECT_RATIO_SIXTEEN_BY_NINE",
                "ASPECT_RATIO_TWENTY_ONE_BY_NINE",
                "ASPECT_RATIO_ONE_BY_EIGHT",
                "ASPECT_RATIO_EIGHT_BY_ONE",
                "ASPECT_RATIO_ONE_BY_FOUR",
                "ASPECT_RATIO_FOUR_BY_ONE",
            ],
        )
        size = self.enum(
            "ImageResponseFormat.ImageSize",
            [
                "IMAGE_SIZE_UNSPECIFIED",
                "IMAGE_SIZE_FIVE_TWELVE",
                "IMAGE_SIZE_ONE_K",
                "IMAGE_SIZE_TWO_K",
                "IMAGE_SIZE_FOUR_K",
            ],
        )
        audio = self.message(
            "AudioResponseFormat",
            _int32("bit_rate"),
            _enum("delivery", delivery),
            _string("mime_type"),
            _int32("sample_rate"),
        )
        image = self.message(
            "ImageResponseFormat",
            _enum("aspect_ratio", aspect),
            _enum("delivery", delivery),
            _enum("image_size", size),
            _string("mime_type"),
        )
        text = self.message("TextResponseFormat", _string("mime_type"), _value("json_schema"))
        video = self.message(
            "VideoResponseFormat",
            _enum("aspect_ratio", aspect),
            _enum("delivery", delivery),
            _duration("duration"),
            _string("gcs_uri"),
            _string("resolution"),
        )
        return self.message(
            "ResponseFormat",
            _message("audio", audio),
            _message("image", image),
            _message("text", text),
            _message("video", video),
        )

    @cached_property
    def audio_transcription_config(self) -> Message:
        """``AudioTranscriptionConfig`` (``{}`` turns transcription on; the rest are hints)."""
        mode = self.enum("AudioTranscriptionConfig.Mode", ["MODE_UNSPECIFIED", "VERBATIM", "SMART"])
        hints = self.message("AudioTranscriptionConfig.LanguageHints", _string("language_codes", repeated=True))
        return self.message(
            "AudioTranscriptionConfig",
            _string("language_codes", repeated=True),
            _message("language_auto", self.message("AudioTranscriptionConfig.LanguageAuto")),
            _message("language_hints", hints),
            _string("custom_vocabulary", repeated=True),
            _string("adaptation_phrases", repeated=True),
            _bool("word_timestamp"),
            _bool("diarization"),
            _enum("mode", mode),
            _string("source_text"),
        )

    @cached_property
    def model_selection(self) -> tuple[Field, ...]:
        """Model routing and selection: Vertex AI names; the Developer API gets them only from Live.

        On the Developer API the SDK refuses these in ``generateContent`` but passes a Live
        ``generation_config`` through unconverted, under the SDK's own field names.
        """
        prefix = "GenerationConfig."
        preference = self.enum(
            f"{prefix}ModelConfig.FeatureSelectionPreference",
            ["FEATURE_SELECTION_PREFERENCE_UNSPECIFIED", "PRIORITIZE_QUALITY", "BALANCED", "PRIORITIZE_COST"],
        )
        model_config = self.message(f"{prefix}ModelConfig", _enum("feature_selection_preference", preference))
        routing_preference = self.enum(
            f"{prefix}RoutingConfig.AutoRoutingMode.ModelRoutingPreference",
            ["UNKNOWN", "PRIORITIZE_QUALITY", "BALANCED", "PRIORITIZE_COST"],
        )
        auto = self.message(
            f"{prefix}RoutingConfig.AutoRoutingMode", _enum("model_routing_preference", routing_preference)
        )
        manual = self.message(f"{prefix}RoutingConfig.ManualRoutingMode", _string("model_name"))
        routing = self.message(
            f"{prefix}RoutingConfig",
            _message("auto_mode", auto, oneof="routing_config"),
            _message("manual_mode", manual, oneof="routing_config"),
        )
        model_field = "model_config" if self.vertex else "model_selection_config"
        return (
            _message(model_field, model_config),
            _message("routing_config", routing),
            _bool("audio_timestamp"),
        )

    @cached_property
    def generation_config(self) -> Message:
        """``GenerationConfig`` (shared by ``generateContent`` and the Live setup)."""
        modality = self.enum(
            "GenerationConfig.Modality",
            {"MODALITY_UNSPECIFIED": 0, "TEXT": 1, "IMAGE": 2, "AUDIO": 3, "VIDEO": 4},
        )
        resolution = self.enum(
            "GenerationConfig.MediaResolution",
            [
                "MEDIA_RESOLUTION_UNSPECIFIED",
                "MEDIA_RESOLUTION_LOW",
                "MEDIA_RESOLUTION_MEDIUM",
                "MEDIA_RESOLUTION_HIGH",
            ],
        )
        # The Developer API proto names two fields for JSON schemas: "responseJsonSchema" is the ordered
        # one, "_responseJsonSchema" the older one, which the snake_case name still reaches.
        json_schemas = (
            (
                _value("response_json_schema", json_name="_responseJsonSchema"),
                _value("response_json_schema_ordered", json_name="responseJsonSchema"),
            )
            if not self.vertex
            else (_value("response_json_schema"),)
        )
        return self.message(
            "GenerationConfig",
            _int32("candidate_count"),
            _string("stop_sequences", repeated=True),
            _int32("max_output_tokens"),
            _float("temperature"),
            _float("top_p"),
            _int32("top_k"),
            _int32("seed"),
            _string("response_mime_type"),
            _message("response_schema", self.schema),
            *json_schemas,
            _float("presence_penalty"),
            _float("frequency_penalty"),
            _bool("response_logprobs"),
            _int32("logprobs"),
            *self.only(vertex=False, fields=[_bool("enable_enhanced_civic_answers")]),
            _enum("response_modalities", modality, repeated=True),
            _message("speech_config", self.speech_config),
            _message("thinking_config", self.thinking_config),
            _message("image_config", self.image_config),
            _enum("media_resolution", resolution),
            _bool("enable_affective_dialog"),
            _message("response_format", self.response_format, repeated=True),
            _message("translation_config", self.translation_config),
            _message("audio_transcription_config", self.audio_transcription_config),
            *self.model_selection,
        )

    @cached_property
    def translation_config(self) -> Message:
        """``TranslationConfig`` (the Live translation model)."""
        return self.message("TranslationConfig", _bool("echo_target_language"), _string("target_language_code"))

    # ---- REST requests

    @cached_property
    def generate_content_request(self) -> Message:
        """``GenerateContentRequest``: the body of ``generateContent`` and ``streamGenerateContent``."""
        tier = self.enum("ServiceTier", ["unspecified", "flex", "standard", "priority"])
        armor = self.message("ModelArmorConfig", _string("prompt_template_name"), _string("response_template_name"))
        output = self.message("GenerationOutputConfig", _string("output_uri_prefix"))
        vertex_only = (_message("model_armor_config", armor), _message("output_config", output))
        return self.message(
            "GenerateContentRequest",
            _string("model"),
            _message("system_instruction", self.content),
            _message("contents", self.content, repeated=True),
            _message("tools", self.tool, repeated=True),
            _message("tool_config", self.tool_config),
            _message("safety_settings", self.safety_setting, repeated=True),
            _message("generation_config", self.generation_config),
            _string("cached_content"),
            _string("labels", map=True),
            _enum("service_tier", tier),
            _bytes("continuation_token"),
            *self.only(vertex=False, fields=[_bool("store")]),
            *self.only(vertex=True, fields=vertex_only),
        )

    @cached_property
    def count_tokens_request(self) -> Message:
        """``CountTokensRequest``: the body of ``models.countTokens``."""
        if not self.vertex:
            return self.message(
                "CountTokensRequest",
                _string("model"),
                _message("contents", self.content, repeated=True),
                _message("generate_content_request", self.generate_content_request),
            )
        return self.message(
            "CountTokensRequest",
            _string("endpoint"),
            _string("model"),
            _value("instances", repeated=True),
            _message("contents", self.content, repeated=True),
            _message("system_instruction", self.content),
            _message("tools", self.tool, repeated=True),
            _message("generation_config", self.generation_config),
        )

    # ---- Live

    @cached_property
    def realtime_input_config(self) -> Message:
        """``RealtimeInputConfig``: voice activity detection and what a turn covers."""
        detection = "RealtimeInputConfig.AutomaticActivityDetection"
        start = self.enum(
            f"{detection}.StartSensitivity",
            ["START_SENSITIVITY_UNSPECIFIED", "START_SENSITIVITY_HIGH", "START_SENSITIVITY_LOW"],
        )
        end = self.enum(
            f"{detection}.EndSensitivity",
            ["END_SENSITIVITY_UNSPECIFIED", "END_SENSITIVITY_HIGH", "END_SENSITIVITY_LOW"],
        )
        automatic = self.message(
            detection,
            _bool("disabled"),
            _enum("start_of_speech_sensitivity", start),
            _int32("prefix_padding_ms"),
            _enum("end_of_speech_sensitivity", end),
            _int32("silence_duration_ms"),
        )
        handling = self.enum(
            "RealtimeInputConfig.ActivityHandling",
            ["ACTIVITY_HANDLING_UNSPECIFIED", "START_OF_ACTIVITY_INTERRUPTS", "NO_INTERRUPTION"],
        )
        coverage = self.enum(
            "RealtimeInputConfig.TurnCoverage",
            [
                "TURN_COVERAGE_UNSPECIFIED",
                "TURN_INCLUDES_ONLY_ACTIVITY",
                "TURN_INCLUDES_ALL_INPUT",
                "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO",
            ],
        )
        return self.message(
            "RealtimeInputConfig",
            _message("automatic_activity_detection", automatic),
            _enum("activity_handling", handling),
            _enum("turn_coverage", coverage),
            _bool("interim_transcript_timestamp_enabled"),
        )

    @cached_property
    def session_configs(self) -> tuple[Field, ...]:
        """Session resumption, context compression, proactivity, history and avatar settings."""
        resumption = self.message(
            "SessionResumptionConfig",
            _string("handle"),
            *self.only(vertex=True, fields=[_bool("transparent")]),
        )
        sliding = self.message("ContextWindowCompressionConfig.SlidingWindow", _int64("target_tokens"))
        compression = self.message(
            "ContextWindowCompressionConfig",
            _message("sliding_window", sliding, oneof="compression_mechanism"),
            _int64("trigger_tokens"),
        )
        proactivity = self.message("ProactivityConfig", _bool("proactive_audio"), _bool("proactive_video"))
        history = self.message("HistoryConfig", _bool("initial_history_in_client_content"))
        avatar = self.message(
            "AvatarConfig",
            _string("avatar_name"),
            _message(
                "customized_avatar",
                self.message("CustomizedAvatar", _string("image_mime_type"), _bytes("image_data")),
            ),
            _int32("audio_bitrate_bps"),
            _int32("video_bitrate_bps"),
        )
        return (
            _message("session_resumption", resumption),
            _message("context_window_compression", compression),
            _message("proactivity", proactivity),
            _message("history_config", history),
            _message("avatar_config", avatar),
        )

    @cached_property
    def setup(self) -> Message:
        """``BidiGenerateContentSetup``: the first client message of a Live session."""
        return self.message(
            "BidiGenerateContentSetup",
            _string("model"),
            _message("generation_config", self.generation_config),
            _message("system_instruction", self.content),
            _message("tools", self.tool, repeated=True),
            _message("realtime_input_config", self.realtime_input_config),
            *self.session_configs,
            _message("input_audio_transcription", self.audio_transcription_config),
            _message("output_audio_transcription", self.audio_transcription_config),
            _message("safety_settings", self.safety_setting, repeated=True),
            _string("labels", map=True),
            *self.only(vertex=True, fields=[_bool("explicit_vad_signal")]),
        )

    @cached_property
    def realtime_input(self) -> Message:
        """``BidiGenerateContentRealtimeInput``: audio, video, text and activity markers."""
        prefix = "BidiGenerateContentRealtimeInput"
        return self.message(
            prefix,
            _message("media_chunks", self.blob, repeated=True),
            _message("audio", self.blob),
            _bool("audio_stream_end"),
            _message("video", self.blob),
            _string("text"),
            _message("activity_start", self.message(f"{prefix}.ActivityStart")),
            _message("activity_end", self.message(f"{prefix}.ActivityEnd")),
        )

    @cached_property
    def client_message(self) -> Message:
        """``BidiGenerateContentClientMessage``: one client frame, exactly one of ``message_type``."""
        client_content = self.message(
            "BidiGenerateContentClientContent",
            _message("turns", self.content, repeated=True),
            _bool("turn_complete"),
        )
        tool_response = self.message(
            "BidiGenerateContentToolResponse",
            _message("function_responses", self.function_response, repeated=True),
        )
        context_tools = self.message(
            "BidiGenerateContentContextUpdate.Tools", _message("tools", self.tool, repeated=True)
        )
        context_update = self.message(
            "BidiGenerateContentContextUpdate",
            _message("system_instruction", self.content),
            _message("tools", context_tools),
        )
        return self.message(
            "BidiGenerateContentClientMessage",
            _message("setup", self.setup, oneof="message_type"),
            _message("client_content", client_content, oneof="message_type"),
            _message("realtime_input", self.realtime_input, oneof="message_type"),
            _message("tool_response", tool_response, oneof="message_type"),
            _message("context_update", context_update, oneof="message_type"),
        )

    @cached_property
    def auth_token(self) -> Message:
        """``AuthToken``: the body of ``POST v1alpha/auth_tokens`` (an ephemeral Live token)."""
        return self.message(
            "AuthToken",
            _string("name"),
            _timestamp("expire_time"),
            _timestamp("new_session_expire_time"),
            _int32("uses"),
            _message("bidi_generate_content_setup", self.setup),
            Field("field_mask", Kind.FIELD_MASK),
        )


_MLDEV: Final = _Catalog("mldev", MLDEV_PACKAGE)
_VERTEX: Final = _Catalog("vertex", VERTEX_PACKAGE)

CLIENT_MESSAGE_MLDEV: Final = _MLDEV.client_message
"""A Live client frame on the Gemini Developer API."""
CLIENT_MESSAGE_VERTEX: Final = _VERTEX.client_message
"""A Live client frame on Vertex AI."""
GENERATE_CONTENT_REQUEST_MLDEV: Final = _MLDEV.generate_content_request
"""The ``generateContent`` body on the Gemini Developer API."""
GENERATE_CONTENT_REQUEST_VERTEX: Final = _VERTEX.generate_content_request
"""The ``generateContent`` body on Vertex AI."""
COUNT_TOKENS_REQUEST_MLDEV: Final = _MLDEV.count_tokens_request
"""The ``countTokens`` body on the Gemini Developer API."""
COUNT_TOKENS_REQUEST_VERTEX: Final = _VERTEX.count_tokens_request
"""The ``countTokens`` body on Vertex AI."""
CREATE_AUTH_TOKEN_REQUEST: Final = _Catalog("mldev", _AUTH_TOKEN_PACKAGE).auth_token
"""The ``auth_tokens`` (ephemeral token) body; the Developer API's v1alpha only."""

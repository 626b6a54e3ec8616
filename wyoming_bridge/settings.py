"""Every option of ``gemini-live-bridge`` in one typed place, each with its environment-variable fallback.

Options follow the conventions of rhasspy's Wyoming servers (``--uri``, ``--zeroconf [NAME]``, ``--debug``,
``--log-format``, ``--version``). An option given on the command line wins over its environment variable,
which wins over the default.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from gemini_live_engine import defaults
from gemini_live_engine.pipeline import PIPELINES, Pipeline

ENV_PREFIX = "GEMINI_BRIDGE_"


def package_version() -> str:
    """The installed version of the bridge."""
    try:
        return version("gemini-live-bridge")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
        return "0.0.0"


DEFAULT_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DEFAULT_WAKE_WORDS = ("okay_nabu",)
DEFAULT_VERTEX_LOCATION = "us-central1"


@dataclass(frozen=True)
class BridgeSettings:
    """The bridge's settings, resolved from options, environment and defaults (the defaults are held here once)."""

    satellites: tuple[str, ...] = ()
    discover: bool = False
    uri: str | None = None
    zeroconf: str | None = None
    data_dir: Path | None = None  # None: default_data_dir()
    pairing_token: str | None = dataclasses.field(default=None, repr=False)
    api_key: str | None = dataclasses.field(default=None, repr=False)
    vertex_project: str | None = None
    vertex_location: str = DEFAULT_VERTEX_LOCATION
    service_account_file: Path | None = None
    gemini_base_url: str | None = None
    gemini_ca_file: Path | None = None
    gemini_api_version: str | None = None
    model: str = defaults.MODEL
    voice: str = defaults.VOICE
    language: str | None = None
    system_prompt: str = defaults.SYSTEM_PROMPT
    wake_words: tuple[str, ...] = DEFAULT_WAKE_WORDS
    wake_refractory_s: float = 2.0
    wake_phrase: str | None = None
    barge_in: bool = False
    follow_up_s: float = 5.0
    end_of_speech_ms: int = defaults.END_OF_SPEECH_MS
    standby_idle_s: float = defaults.IDLE_CLOSE_S
    tool_timeout_s: float = defaults.TOOL_TIMEOUT_S
    pipeline: Pipeline = "auto"
    text_model: str = defaults.TEXT_MODEL
    tts_model: str = defaults.TTS_MODEL
    web: tuple[str, int] | None = None
    web_password: str | None = dataclasses.field(default=None, repr=False)
    web_direct: bool = False
    web_hosts: tuple[str, ...] = ()  # names the console may be reached as, besides addresses and localhost
    web_max_sessions: int = 4  # consoles holding a Gemini session at once
    debug: bool = False
    log_format: str = DEFAULT_LOG_FORMAT
    # Options that carried a secret on the command line, where every local user can read it (/proc/PID/cmdline),
    # each with the environment variable to use instead.
    secrets_on_command_line: tuple[tuple[str, str], ...] = ()

    @property
    def uses_vertex(self) -> bool:
        """Vertex AI (OAuth2) rather than a Developer API key."""
        return self.vertex_project is not None

    @property
    def web_is_loopback(self) -> bool:
        """The web console is reachable from this machine only."""
        return self.web is not None and is_loopback(self.web[0])


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_tcp_uri(uri: str) -> tuple[str, int]:
    """``tcp://HOST:PORT`` → (host, port); ValueError when it is not one."""
    if not uri.startswith("tcp://"):
        raise ValueError(f"expected tcp://HOST:PORT, not {uri!r}")
    return parse_host_port(uri.removeprefix("tcp://"))


def parse_host_port(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8765`` for IPv6) → (host, port); ValueError when it is not one."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT, not {value!r}")
    return host.strip("[]"), int(port)


_DEFAULTS = BridgeSettings()


def default_settings(satellites: tuple[str, ...], api_key: str | None, **values: Any) -> BridgeSettings:
    """Settings as the command line gives them with only satellites and a key, changed by ``values``.

    For programs that run the bridge in-process (the demo, tests, benchmarks) instead of parsing options.
    """
    return BridgeSettings(satellites=satellites, api_key=api_key, **values)


def _env(name: str, *fallbacks: str) -> str | None:
    for key in (ENV_PREFIX + name, *fallbacks):
        value = os.environ.get(key)
        if value:
            return value
    return None


def _env_bool(name: str) -> bool:
    value = _env(name)
    return value is not None and value.lower() in ("1", "true", "yes", "on")


def _env_list(name: str) -> list[str]:
    value = _env(name)
    return [item.strip() for item in value.split(",") if item.strip()] if value else []


def build_parser() -> argparse.ArgumentParser:
    """The command line, with each option's environment variable named in its help."""
    parser = argparse.ArgumentParser(
        prog="gemini-live-bridge",
        description="Drive Wyoming voice satellites with Gemini Live: wake word, native audio replies, "
        "barge-in and tool calls. Every option falls back to the environment variable named in its help.",
    )
    env = ENV_PREFIX
    sats = parser.add_argument_group("satellites")
    sats.add_argument(
        "--satellite",
        action="append",
        default=None,
        metavar="tcp://HOST:PORT",
        help=f"a Wyoming satellite to control (repeatable) [{env}SATELLITES, comma-separated]",
    )
    sats.add_argument(
        "--discover",
        action="store_true",
        default=None,
        help=f"also control satellites found by zeroconf (_wyoming._tcp) [{env}DISCOVER]",
    )
    sats.add_argument(
        "--wake-word",
        action="append",
        default=None,
        metavar="NAME",
        help=f"wake word the bridge listens for on always-streaming satellites (repeatable; okay_nabu, hey_jarvis, "
        f"hey_mycroft, alexa) [{env}WAKE_WORDS, comma-separated; default {','.join(_DEFAULTS.wake_words)}]",
    )
    sats.add_argument(
        "--wake-refractory",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"ignore the wake word this long after a detection [{env}WAKE_REFRACTORY; "
        f"default {_DEFAULTS.wake_refractory_s:g}]",
    )
    sats.add_argument(
        "--wake-phrase",
        default=None,
        metavar="TEXT",
        help=f'opt-in spoken name: a turn counts only when the user starts with it, e.g. "روبوت" [{env}WAKE_PHRASE]',
    )
    sats.add_argument(
        "--barge-in",
        action="store_true",
        default=None,
        help=f"let the user interrupt replies (needs a satellite with echo cancellation) [{env}BARGE_IN]",
    )
    sats.add_argument(
        "--follow-up-seconds",
        type=float,
        default=None,
        help=f"after a question from the model, listen this long without a wake word (from the last speech heard) "
        f"[{env}FOLLOW_UP_SECONDS; default {_DEFAULTS.follow_up_s:g}]",
    )
    sats.add_argument(
        "--end-of-speech-ms",
        type=int,
        default=None,
        metavar="MS",
        help=f"end the user's turn after this much quiet, telling Gemini at once instead of waiting for its own "
        f"silence window (0: leave it to Gemini) [{env}END_OF_SPEECH_MS; default {_DEFAULTS.end_of_speech_ms}]",
    )
    server = parser.add_argument_group("the link: Home Assistant runs the bridge (docs/link-protocol.md)")
    server.add_argument(
        "--uri",
        default=None,
        metavar="tcp://HOST:PORT",
        help=f"serve the link for Home Assistant here, e.g. tcp://0.0.0.0:10710 [{env}URI]",
    )
    server.add_argument(
        "--zeroconf",
        nargs="?",
        const="gemini-live-bridge",
        default=None,
        metavar="NAME",
        help=f"announce the link over zeroconf (_gemini-live._tcp) so Home Assistant discovers it [{env}ZEROCONF]",
    )
    server.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"where the pairing token and the bridge's id are kept [{env}DATA_DIR; default "
        "$XDG_DATA_HOME/gemini-live-bridge]",
    )
    server.add_argument(
        "--pairing-token",
        default=None,
        metavar="TOKEN",
        help=f"the token Home Assistant pairs with (default: made on first start, kept in the data directory) "
        f"[{env}PAIRING_TOKEN]",
    )
    gemini = parser.add_argument_group("Gemini")
    gemini.add_argument("--api-key", default=None, help="Gemini Developer API key [GEMINI_API_KEY]")
    gemini.add_argument(
        "--vertex-project", default=None, help=f"use Vertex AI in this Google Cloud project [{env}VERTEX_PROJECT]"
    )
    gemini.add_argument(
        "--vertex-location",
        default=None,
        help=f"Vertex AI location [{env}VERTEX_LOCATION; default {_DEFAULTS.vertex_location}]",
    )
    gemini.add_argument(
        "--service-account-file",
        type=Path,
        default=None,
        help="Vertex AI service-account JSON (default: application default credentials) "
        "[GOOGLE_APPLICATION_CREDENTIALS]",
    )
    gemini.add_argument(
        "--gemini-base-url",
        default=None,
        metavar="URL",
        help=f"a Live-compatible endpoint instead of Google's, e.g. the emulator [{env}GEMINI_BASE_URL]",
    )
    gemini.add_argument(
        "--gemini-ca-file", type=Path, default=None, metavar="PEM", help=f"CA to trust for it [{env}GEMINI_CA_FILE]"
    )
    gemini.add_argument(
        "--gemini-api-version", default=None, help=f"API version, e.g. v1beta [{env}GEMINI_API_VERSION]"
    )
    gemini.add_argument("--model", default=None, help=f"Live model [{env}MODEL; default {_DEFAULTS.model}]")
    gemini.add_argument("--voice", default=None, help=f"Gemini voice [{env}VOICE; default {_DEFAULTS.voice}]")
    gemini.add_argument("--language", default=None, help=f"BCP-47 language hint, e.g. ar-EG [{env}LANGUAGE]")
    gemini.add_argument("--system-prompt", default=None, help=f"instructions for the model [{env}SYSTEM_PROMPT]")
    gemini.add_argument(
        "--standby-idle-seconds",
        type=float,
        default=None,
        help=f"close a satellite's warm session after this long without a turn [{env}STANDBY_IDLE_SECONDS; "
        f"default {_DEFAULTS.standby_idle_s:g}]",
    )
    gemini.add_argument(
        "--tool-timeout",
        type=float,
        default=None,
        help=f"seconds a tool call may take [{env}TOOL_TIMEOUT; default {_DEFAULTS.tool_timeout_s:g}]",
    )
    gemini.add_argument(
        "--pipeline",
        choices=PIPELINES,
        default=None,
        help=f"live: Gemini Live only; cascaded: Gemini text + Gemini speech over REST; auto: Live, and the "
        f"cascaded path while Live cannot be used [{env}PIPELINE; default {_DEFAULTS.pipeline}]",
    )
    gemini.add_argument(
        "--text-model",
        default=None,
        help=f"text model of the cascaded path [{env}TEXT_MODEL; default {_DEFAULTS.text_model}]",
    )
    gemini.add_argument(
        "--tts-model",
        default=None,
        help=f"speech model of the cascaded path [{env}TTS_MODEL; default {_DEFAULTS.tts_model}]",
    )
    web = parser.add_argument_group("web voice console")
    web.add_argument(
        "--web",
        default=None,
        metavar="HOST:PORT",
        help=f"serve the browser voice console here, e.g. 127.0.0.1:8765 (off by default) [{env}WEB]",
    )
    web.add_argument(
        "--web-password",
        default=None,
        help=f"password of the console; required unless HOST is a loopback address. Prefer the environment "
        f"variable or --web-password-file: a command line is visible to every local user [{env}WEB_PASSWORD]",
    )
    web.add_argument(
        "--web-password-file",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"read the console's password from the first line of FILE [{env}WEB_PASSWORD_FILE]",
    )
    web.add_argument(
        "--web-host",
        action="append",
        default=None,
        metavar="NAME",
        help=f"a name the console is reached as, besides its address and localhost, e.g. a reverse proxy's "
        f"(repeatable; requests for other names are refused) [{env}WEB_HOSTS, comma-separated]",
    )
    web.add_argument(
        "--web-max-sessions",
        type=int,
        default=None,
        metavar="N",
        help=f"consoles holding a Gemini session at once; the longest idle one gives its session up when "
        f"another needs one [{env}WEB_MAX_SESSIONS; default {_DEFAULTS.web_max_sessions}]",
    )
    web.add_argument(
        "--web-direct",
        action="store_true",
        default=None,
        help=f"browsers connect straight to Gemini Live with single-use ephemeral tokens minted by the bridge "
        f"(Developer API key only) [{env}WEB_DIRECT]",
    )
    parser.add_argument("--debug", action="store_true", default=None, help=f"log debug messages [{env}DEBUG]")
    parser.add_argument("--log-format", default=None, help=f"Python logging format [{env}LOG_FORMAT]")
    parser.add_argument("--version", action="version", version=package_version())
    return parser


def settings_from_args(argv: Sequence[str] | None = None) -> BridgeSettings:
    """Parse options, fill from the environment, validate."""
    parser = build_parser()
    args = parser.parse_args(argv)

    def pick(value: object, env_name: str, *fallbacks: str) -> str | None:
        return str(value) if value is not None else _env(env_name, *fallbacks)

    def number(value: float | None, env_name: str, default: float) -> float:
        raw = value if value is not None else _env(env_name)
        try:
            return float(raw) if raw is not None else default
        except ValueError:
            parser.error(f"{ENV_PREFIX}{env_name} must be a number, not {raw!r}")

    def milliseconds(value: int | None, env_name: str, default: int) -> int:
        raw = value if value is not None else _env(env_name)
        try:
            chosen = int(raw) if raw is not None else default
        except ValueError:
            parser.error(f"{ENV_PREFIX}{env_name} must be a whole number of milliseconds, not {raw!r}")
        if chosen < 0:
            parser.error(f"--{env_name.lower().replace('_', '-')} cannot be negative ({chosen})")
        return chosen

    def pipeline(value: str | None) -> Pipeline:
        chosen = value or _env("PIPELINE") or _DEFAULTS.pipeline
        if chosen not in PIPELINES:
            parser.error(f"{ENV_PREFIX}PIPELINE must be one of {', '.join(PIPELINES)}, not {chosen!r}")
        return chosen

    def web_address(value: str | None) -> tuple[str, int] | None:
        if value is None:
            return None
        try:
            return parse_host_port(value)
        except ValueError as err:
            parser.error(f"--web: {err}")

    def web_password() -> str | None:
        if args.web_password is not None:
            return str(args.web_password)
        path = pick(args.web_password_file, "WEB_PASSWORD_FILE")
        if path is not None:
            try:
                first = Path(path).read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as err:
                parser.error(f"--web-password-file: cannot read {path}: {getattr(err, 'strerror', None) or err}")
            if not first or not first[0].strip():
                parser.error(f"--web-password-file: {path} is empty")
            return first[0].strip()
        return _env("WEB_PASSWORD")

    def whole_number(value: int | None, env_name: str, default: int, minimum: int) -> int:
        raw = value if value is not None else _env(env_name)
        try:
            chosen = int(raw) if raw is not None else default
        except ValueError:
            parser.error(f"{ENV_PREFIX}{env_name} must be a whole number, not {raw!r}")
        if chosen < minimum:
            parser.error(f"{ENV_PREFIX}{env_name} must be at least {minimum}, not {chosen}")
        return chosen

    d = _DEFAULTS
    satellites = tuple(args.satellite or _env_list("SATELLITES"))
    service_account = pick(args.service_account_file, "SERVICE_ACCOUNT_FILE", "GOOGLE_APPLICATION_CREDENTIALS")
    ca_file = pick(args.gemini_ca_file, "GEMINI_CA_FILE")
    settings = BridgeSettings(
        satellites=satellites,
        discover=bool(args.discover) or _env_bool("DISCOVER"),
        uri=pick(args.uri, "URI"),
        zeroconf=pick(args.zeroconf, "ZEROCONF"),
        data_dir=Path(data_dir) if (data_dir := pick(args.data_dir, "DATA_DIR")) else None,
        pairing_token=pick(args.pairing_token, "PAIRING_TOKEN"),
        api_key=pick(args.api_key, "API_KEY", "GEMINI_API_KEY"),
        vertex_project=pick(args.vertex_project, "VERTEX_PROJECT"),
        vertex_location=pick(args.vertex_location, "VERTEX_LOCATION") or d.vertex_location,
        service_account_file=Path(service_account) if service_account else None,
        gemini_base_url=pick(args.gemini_base_url, "GEMINI_BASE_URL"),
        gemini_ca_file=Path(ca_file) if ca_file else None,
        gemini_api_version=pick(args.gemini_api_version, "GEMINI_API_VERSION"),
        model=pick(args.model, "MODEL") or d.model,
        voice=pick(args.voice, "VOICE") or d.voice,
        language=pick(args.language, "LANGUAGE"),
        system_prompt=pick(args.system_prompt, "SYSTEM_PROMPT") or d.system_prompt,
        wake_words=tuple(args.wake_word or _env_list("WAKE_WORDS") or d.wake_words),
        wake_refractory_s=number(args.wake_refractory, "WAKE_REFRACTORY", d.wake_refractory_s),
        wake_phrase=pick(args.wake_phrase, "WAKE_PHRASE"),
        barge_in=bool(args.barge_in) or _env_bool("BARGE_IN"),
        follow_up_s=number(args.follow_up_seconds, "FOLLOW_UP_SECONDS", d.follow_up_s),
        end_of_speech_ms=milliseconds(args.end_of_speech_ms, "END_OF_SPEECH_MS", d.end_of_speech_ms),
        standby_idle_s=number(args.standby_idle_seconds, "STANDBY_IDLE_SECONDS", d.standby_idle_s),
        tool_timeout_s=number(args.tool_timeout, "TOOL_TIMEOUT", d.tool_timeout_s),
        pipeline=pipeline(args.pipeline),
        text_model=pick(args.text_model, "TEXT_MODEL") or d.text_model,
        tts_model=pick(args.tts_model, "TTS_MODEL") or d.tts_model,
        web=web_address(pick(args.web, "WEB")),
        web_password=web_password(),
        web_direct=bool(args.web_direct) or _env_bool("WEB_DIRECT"),
        web_hosts=tuple(args.web_host or _env_list("WEB_HOSTS")),
        web_max_sessions=whole_number(args.web_max_sessions, "WEB_MAX_SESSIONS", d.web_max_sessions, 1),
        debug=bool(args.debug) or _env_bool("DEBUG"),
        log_format=pick(args.log_format, "LOG_FORMAT") or d.log_format,
    )
    exposed = tuple(
        (option, variable)
        for option, variable, value in (
            ("--api-key", "GEMINI_API_KEY", args.api_key),
            ("--web-password", f"{ENV_PREFIX}WEB_PASSWORD", args.web_password),
            ("--pairing-token", f"{ENV_PREFIX}PAIRING_TOKEN", args.pairing_token),
        )
        if value is not None
    )
    settings = dataclasses.replace(settings, secrets_on_command_line=exposed)
    if not settings.satellites and not settings.discover and not settings.uri and not settings.web:
        parser.error("nothing to do: give --satellite tcp://HOST:PORT, --discover, --uri or --web")
    if settings.web is not None and not settings.web_is_loopback and not settings.web_password:
        parser.error(
            f"--web {settings.web[0]} is reachable from the network: set a password with --web-password "
            f"({ENV_PREFIX}WEB_PASSWORD), or bind to 127.0.0.1"
        )
    if settings.web_direct and settings.uses_vertex:
        parser.error("--web-direct needs a Gemini Developer API key: ephemeral tokens do not exist on Vertex AI")
    if settings.web_direct and settings.wake_phrase and settings.web is not None:
        parser.error(
            "--web-direct cannot honour --wake-phrase: the browser talks to Gemini itself, so the bridge cannot "
            "hold a reply back until the name is heard; leave out one of them"
        )
    if not settings.uses_vertex and not settings.api_key and not settings.uri:
        parser.error(
            "Gemini credentials are missing: set GEMINI_API_KEY (or --api-key) or --vertex-project, or serve the "
            "link with --uri so that Home Assistant provides them"
        )
    if settings.uri is not None:
        try:
            parse_tcp_uri(settings.uri)
        except ValueError as err:
            parser.error(f"--uri: {err}")
    if settings.zeroconf and not settings.uri:
        parser.error("--zeroconf announces the link: give --uri too")
    for uri in settings.satellites:
        if not uri.startswith("tcp://"):
            parser.error(f"--satellite takes tcp://HOST:PORT, not {uri!r}")
    return settings

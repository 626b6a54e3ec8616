"""Parse client JSON the way Google's proto3-JSON front end (ESF) does.

Google's API front end ("ESF") turns request JSON into protos with the converter that also lives in
protobuf's ``util/internal`` (``JsonStreamParser`` feeding ``ProtoStreamObjectWriter``). This module
reproduces what a client can observe of it, driven by a declarative schema (:class:`Message`,
:class:`Field`, :class:`EnumType`):

* Grammar: the text is read with ``json.loads`` (control characters inside strings allowed, as ESF
  allows them). What it refuses is refused with the text ESF's parser gives at that point and its
  context line (up to 20 characters either side of the caret), e.g.
  ``Invalid JSON payload received. Unexpected token.\\nnot json\\n^``; ``NaN``/``Infinity`` literals,
  numbers beyond a double, broken surrogate pairs, bytes that are not UTF-8 and objects nested over 100
  deep are refused as ESF refuses them. Standard JSON only: the extensions ESF's own parser also takes
  (trailing commas, single quotes, bare keys, unknown ``\\x`` escapes, ``1.``) are refused here, with the
  text of the standard rule they break.
* Names: a key may be a field's lowerCamelCase ``json_name`` or its proto name, at every level; map keys
  are data and are kept as sent. Unknown names are errors.
* Values: proto3-JSON rules (int64 as number or decimal string, floats also as ``"NaN"``/``"Infinity"``,
  bytes in the standard or URL-safe base64 alphabet with or without padding, enums by name -
  case-insensitively, as ESF does - or number, ``Duration`` as ``"1.5s"``, ``Timestamp`` as RFC 3339,
  ``Struct``/``Value``/``ListValue`` free-form). ``null`` means "not set", except for ``Value``. A single
  value where a list is expected counts as a one-element list (ESF's "implicit list").
* Errors are collected like ESF's error listener does (all of them, in document order, one per line) and
  raised as :class:`ProtoJsonError`. Paths use proto (snake_case) names, list indexes (``tools[0]``) and
  map entries (``properties[3].value``) exactly as ESF prints them, including its index quirks.

Texts confirmed against captured production errors (public issues and code that quote Google's 400
responses): ``Unknown name "x" at 'p': Cannot find field.``, ``... Proto field is not repeating, cannot
start list.``, ``Unknown name "": Root element must be a message.``, ``Invalid value at 'p'
(TYPE_FLOAT), "abc"`` (numbers unquoted, strings quoted), ``Invalid value at 'p'
(type.googleapis.com/<enum or message>), "x"``, ``(TYPE_BYTES), Base64 decoding failed for "x"``,
``Invalid value at 'p' (oneof), oneof field 'o' is already set. Cannot set 'k'``, ``Invalid value at 'p'
(field_name), Starting an object on a scalar field``, ``(type.googleapis.com/google.protobuf.Duration),
Field 'k', Illegal duration format; duration must end with 's'``, the parser's ``Unexpected token.``
with its context line, and ``Unexpected end of string. Expected a value.``. The remaining texts come
from protobuf's open-source converter, which ESF's texts match wherever both are known.

A field sent twice in one object (``generationConfig`` and ``generation_config``) is merged as ESF
merges it (lists concatenate, messages merge, scalars: the last wins); the SDK relies on it, since its
Developer API Live setup sends ``generation_config`` next to the ``responseModalities``-style shortcuts.
``on_duplicate="reject"`` refuses such a message instead, with a text of ours (ESF has none):
``Invalid JSON payload received. Duplicate field "k" at 'p': Field 'name' is already set.``
"""

import base64
import binascii
import datetime as dt
import enum
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, NoReturn

__all__ = [
    "EnumType",
    "Field",
    "Kind",
    "Message",
    "OnDuplicate",
    "ProtoJsonError",
    "Violation",
    "lower_camel",
    "parse_json",
    "parse_value",
]

_PAYLOAD: Final = "Invalid JSON payload received. "

type OnDuplicate = Literal["merge", "reject"]
"""What to do with a field given twice in one object: merge it as ESF does, or refuse it."""


# ------------------------------------------------------------------------------------------------ schema


class Kind(enum.Enum):
    """What a field holds. Scalar kinds carry the type name ESF prints in ``Invalid value`` errors."""

    STRING = "TYPE_STRING"
    BOOL = "TYPE_BOOL"
    INT32 = "TYPE_INT32"
    INT64 = "TYPE_INT64"
    FLOAT = "TYPE_FLOAT"
    DOUBLE = "TYPE_DOUBLE"
    BYTES = "TYPE_BYTES"
    ENUM = "TYPE_ENUM"
    MESSAGE = "TYPE_MESSAGE"
    DURATION = "google.protobuf.Duration"
    TIMESTAMP = "google.protobuf.Timestamp"
    FIELD_MASK = "google.protobuf.FieldMask"
    STRUCT = "google.protobuf.Struct"
    VALUE = "google.protobuf.Value"
    LIST_VALUE = "google.protobuf.ListValue"


_WELL_KNOWN: Final = frozenset(
    {Kind.DURATION, Kind.TIMESTAMP, Kind.FIELD_MASK, Kind.STRUCT, Kind.VALUE, Kind.LIST_VALUE}
)


def lower_camel(name: str) -> str:
    """Protobuf's default ``json_name`` of a proto field name (``turn_complete`` → ``turnComplete``)."""
    parts = name.split("_")
    return parts[0] + "".join(part[:1].upper() + part[1:] for part in parts[1:])


class EnumType:
    """A proto enum: its full name (for error texts) and its values with their numbers."""

    __slots__ = ("_by_name", "_by_number", "full_name")

    def __init__(self, full_name: str, values: Mapping[str, int] | Sequence[str]) -> None:
        """Create an enum; a plain sequence of names is numbered 0, 1, 2, ..."""
        self.full_name = full_name
        numbered = dict(values) if isinstance(values, Mapping) else {name: i for i, name in enumerate(values)}
        self._by_name: dict[str, int] = numbered
        self._by_number: dict[int, str] = {}
        for name, number in numbered.items():
            self._by_number.setdefault(number, name)

    @property
    def names(self) -> tuple[str, ...]:
        """All value names, in declaration order."""
        return tuple(self._by_name)

    def number(self, name: str) -> int | None:
        """The number of ``name``, or None."""
        return self._by_name.get(name)

    def name(self, number: int) -> str | None:
        """The (first) name of ``number``, or None."""
        return self._by_number.get(number)

    def __repr__(self) -> str:
        """Show the enum's name."""
        return f"EnumType({self.full_name!r})"


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a :class:`Message`.

    ``name`` is the proto (snake_case) name; ``json_name`` defaults to its lowerCamelCase form. ``map``
    makes the field a ``map<string, X>`` whose values are described by the other attributes.
    """

    name: str
    kind: Kind
    repeated: bool = False
    map: bool = False
    message: Message | None = None
    enum: EnumType | None = None
    oneof: str | None = None
    json_name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        """Fill in the json name and check that the description is consistent."""
        if not self.json_name:
            object.__setattr__(self, "json_name", lower_camel(self.name))
        if (self.kind is Kind.MESSAGE) != (self.message is not None):
            raise ValueError(f"field {self.name}: a message field needs a message type, and only it")
        if (self.kind is Kind.ENUM) != (self.enum is not None):
            raise ValueError(f"field {self.name}: an enum field needs an enum type, and only it")
        if self.repeated and self.map:
            raise ValueError(f"field {self.name}: a map is not also repeated")


class Message:
    """A proto message type: its full name and fields. Fields may be added later, for recursive types."""

    __slots__ = ("_by_json", "_by_name", "_fields", "full_name")

    def __init__(self, full_name: str, *fields: Field) -> None:
        """Create a message type with the given fields."""
        self.full_name = full_name
        self._fields: list[Field] = []
        self._by_json: dict[str, Field] = {}
        self._by_name: dict[str, Field] = {}
        self.add(*fields)

    def add(self, *fields: Field) -> Message:
        """Add fields (returns self, so a recursive type can be declared, then completed)."""
        for new in fields:
            if new.name in self._by_name or new.json_name in self._by_json:
                raise ValueError(f"{self.full_name}: field {new.name} declared twice")
            self._fields.append(new)
            self._by_name[new.name] = new
            self._by_json[new.json_name] = new
        return self

    @property
    def fields(self) -> tuple[Field, ...]:
        """The fields, in declaration order."""
        return tuple(self._fields)

    def field(self, key: str) -> Field | None:
        """The field a JSON key names: its json name first, then its proto name (as ESF looks them up)."""
        return self._by_json.get(key) or self._by_name.get(key)

    def __repr__(self) -> str:
        """Show the message's name."""
        return f"Message({self.full_name!r})"


# ------------------------------------------------------------------------------------------------ errors


@dataclass(frozen=True, slots=True)
class Violation:
    """One problem ESF reports: where (proto path, empty at the top) and its full text."""

    field: str
    description: str


class ProtoJsonError(ValueError):
    """The request JSON was refused; ``message`` is ESF's text (all violations, one per line)."""

    def __init__(self, message: str, violations: Sequence[Violation] = ()) -> None:
        """Create the error; without explicit violations the message is the only one."""
        super().__init__(message)
        self.message = message
        self.violations: tuple[Violation, ...] = tuple(violations) or (Violation("", message),)


# ------------------------------------------------------------------------------------------------ grammar

_CONTEXT: Final = 20  # characters of context either side of the caret in a grammar error
_MAX_DEPTH: Final = 100  # objects nested deeper are refused
_INT64_MIN: Final = -(2**63)
_UINT64_MAX: Final = 2**64 - 1
_KEYWORD_PATIENCE: Final = len("false")  # a word this close to the end may still become a keyword
# What ESF's parser reads as the start of a token, and as one number.
_TOKEN_START: Final = re.compile(r"[\"'\-0-9{}\[\]:,A-Za-z_$]")
_NUMBER_CHARS: Final = re.compile(r"[0-9.eE+\-x]*")
_ESF_DOUBLE: Final = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# A number at the very end of the text, which ESF's parser only reads once it knows nothing follows.
_TRAILING_NUMBER: Final = re.compile(r"(?<![0-9A-Za-z_$.+\-])-?[0-9][0-9.eE+\-x]*\Z")
# Searches over text json.loads has read without error: whole strings (skipped), and what is looked for.
_STRING: Final = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_BRACKETS: Final = re.compile(rf"{_STRING}|([\[\]{{}}])", re.DOTALL)
_NUMBERS: Final = re.compile(
    rf"{_STRING}|(-?Infinity|NaN|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)", re.DOTALL
)
# A \u escape of a UTF-16 high or low surrogate (its backslash not itself escaped).
_SURROGATE_ESCAPE: Final = re.compile(r"(?<!\\)(?:\\\\)*(\\u[dD][89a-fA-F][0-9a-fA-F]{2})")
_HEX4: Final = re.compile(r"[0-9a-fA-F]{4}")


class _RepeatedKeys(dict[str, Any]):
    """A JSON object that names a key more than once: the last value of each key, and ``pairs`` as sent."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    return value if len(value) == len(pairs) else _RepeatedKeys(pairs)


class _BadNumber(ValueError):
    """A number ESF refuses (``NaN``, ``Infinity``, beyond a double's range); located after the fact."""


def _integer(text: str) -> int | float:
    """An integer token: an int within int64 and uint64, as ESF keeps it, a double beyond."""
    if len(text) <= 21:
        value = int(text)
        if _INT64_MIN <= value <= _UINT64_MAX:
            return value
    return _double(text)


def _double(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _BadNumber(text)
    return value


def _constant(text: str) -> NoReturn:
    raise _BadNumber(text)


_DECODER: Final = json.JSONDecoder(
    object_pairs_hook=_object, parse_int=_integer, parse_float=_double, parse_constant=_constant, strict=False
)


@dataclass(frozen=True, slots=True)
class _Syntax:
    """A grammar error as ESF's parser reports it: its text and where, with a line of context.

    ``resumed_at`` is set for the errors ESF's parser only reports once it knows the input is complete:
    the end of the text, a character that starts no token, a token that may go on past the end (a
    number there, a word or a surrogate pair close to it). Its context line starts where that last
    pass began reading, not before.
    """

    text: str
    position: int
    resumed_at: int | None = None

    def error(self, source: str) -> ProtoJsonError:
        begin = max(self.position - _CONTEXT, self.resumed_at or 0)
        segment = source[begin : self.position + _CONTEXT]
        return ProtoJsonError(f"{_PAYLOAD}{self.text}\n{segment}\n{' ' * (self.position - begin)}^")


def _load(data: str | bytes) -> Any:
    """Read request JSON with ``json.loads``, refusing what ESF refuses with its texts."""
    if isinstance(data, str):
        text = data
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise _non_utf8(data, err.start) from None
    value, problem = _read(text)
    if problem is not None:
        raise problem.error(text)
    _check_depth(value)
    return value


def _read(text: str) -> tuple[Any, _Syntax | None]:
    """What json.loads reads, or else the grammar error ESF reports first."""
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as err:
        return None, _first_problem(text, _grammar(text, err))
    except _BadNumber:
        return None, _first_problem(text, _bad_number(text))
    except RecursionError:
        raise ProtoJsonError(f"{_PAYLOAD}Message too deep. Max recursion depth reached for key ''") from None
    return value, _lone_surrogate(text, len(text))


def _grammar(text: str, err: json.JSONDecodeError) -> _Syntax:
    """ESF's text for the JSON rule ``json.loads`` found broken."""
    reason, position = err.msg, err.pos
    if reason.startswith("Unterminated string"):
        # Cut off right after a backslash, ESF's parser stops at the backslash (it waits for the escape).
        at = len(text) - (len(text) - len(text.rstrip("\\"))) % 2
        return _Syntax("Closing quote expected in string.", at, resumed_at=at)
    if reason in ("Extra data", "Expecting ',' delimiter") and (number := _number_run(text, position)):
        return number
    if reason == "Extra data":
        return _Syntax("Parsing terminated before end of input.", position)
    if reason.startswith("Illegal trailing comma"):  # ESF's own parser takes one; refused here
        return _Syntax("Unexpected token.", position)
    if reason.startswith("Invalid \\u") and len(text) - position < 5:  # ESF waits for the rest of it
        return _Syntax("Illegal hex string.", position - 1, resumed_at=position - 1)
    if reason.startswith("Invalid \\u"):
        return _Syntax("Invalid escape sequence.", position - 1)
    if reason.startswith("Invalid"):  # an escape ESF would read as the character itself; refused here
        return _Syntax("Invalid escape sequence.", position)
    in_array = _in_array(text, position)
    if reason == "Expecting value":
        expected = "Expected a value or ] within an array." if in_array else "Expected a value."
    elif reason == "Expecting ',' delimiter":
        expected = "Expected , or ] after array value." if in_array else "Expected , or } after key:value pair."
    elif reason == "Expecting ':' delimiter":
        expected = "Expected : between key:value pair."
    else:  # "Expecting property name enclosed in double quotes"
        expected = "Expected an object key or }."
    if position >= len(text):
        trailing_number = _TRAILING_NUMBER.search(text)
        resumed_at = trailing_number.start() if trailing_number else len(text)
        return _Syntax(f"Unexpected end of string. {expected}", len(text), resumed_at=resumed_at)
    if not _TOKEN_START.match(text, position):
        return _Syntax(expected, position, resumed_at=position)
    if reason == "Expecting value" and text[position] == "-":
        return _esf_number(text, position) or _Syntax("Unexpected token.", position)
    if reason == "Expecting value":
        return _unexpected_word(text, position)
    return _Syntax(expected, position)


def _number_run(text: str, position: int) -> _Syntax | None:
    """ESF's error for a number json.loads stopped reading at ``position`` (``01``, ``0x1``, ``1e5x``)."""
    start = position
    while start > 0 and text[start - 1] in "0123456789.eE+-":
        start -= 1
    if start == position or text[start] not in "-0123456789":
        return None
    return _esf_number(text, start)


def _esf_number(text: str, start: int) -> _Syntax | None:
    """ESF's verdict on the number at ``start``, which it reads as the longest run of number characters.

    None when its parser takes the number (even where json.loads does not, as ``1.``).
    """
    run = _NUMBER_CHARS.match(text, start)
    assert run is not None
    number = run[0]
    # A number that runs to the end is only read once ESF's parser knows the input is complete.
    resumed_at = start if run.end() == len(text) else None
    digits = number.removeprefix("-")
    if not any(char in ".eE" for char in digits):
        if len(digits) >= 2 and digits[0] == "0":
            return _Syntax("Octal/hex numbers are not valid JSON values.", start, resumed_at)
        if digits.isdigit() and len(digits) <= 20 and _INT64_MIN <= int(number) <= _UINT64_MAX:
            return None
    if not _ESF_DOUBLE.fullmatch(number):
        return _Syntax("Unable to parse number.", start, resumed_at)
    if math.isinf(float(number)):
        return _Syntax("Number exceeds the range of double.", start, resumed_at)
    return None


def _unexpected_word(text: str, position: int) -> _Syntax:
    """A word where a value belongs; within five characters of the end ESF's parser waits for more."""
    near_end = len(text) - position < _KEYWORD_PATIENCE
    return _Syntax("Unexpected token.", position, resumed_at=position if near_end else None)


def _in_array(text: str, position: int) -> bool:
    """Whether the innermost container open at ``position`` is a list."""
    open_brackets: list[str] = []
    for match in _BRACKETS.finditer(text, 0, position):
        bracket = match[1]
        if bracket in ("[", "{"):
            open_brackets.append(bracket)
        elif bracket:
            open_brackets.pop()
    return bool(open_brackets) and open_brackets[-1] == "["


def _bad_number(text: str) -> _Syntax:
    """Where the number ``json.loads`` could not take is, and ESF's text for it."""
    for match in _NUMBERS.finditer(text):
        if match[1] in ("NaN", "Infinity"):
            return _unexpected_word(text, match.start(1))
        if match[1] and (refused := _esf_number(text, match.start(1))):
            return refused
    raise AssertionError("a refused number that is not in the text")


def _lone_surrogate(text: str, end: int) -> _Syntax | None:
    """A ``\\u`` escape before ``end`` that is half of a UTF-16 surrogate pair, which ESF refuses."""
    if "\\u" not in text:
        return None
    position = 0
    while match := _SURROGATE_ESCAPE.search(text, position, end):
        at = match.start(1)
        if int(match[1][2:], 16) >= 0xDC00:
            return _Syntax("Invalid unicode code point.", at)
        if len(text) - at < 12:  # ESF's parser waits for the rest of the pair, which never comes
            return _Syntax("Missing low surrogate.", at, resumed_at=at)
        if text[at + 6 : at + 8] != "\\u":
            return _Syntax("Missing low surrogate.", at)
        if not _HEX4.fullmatch(text, at + 8, at + 12):
            return _Syntax("Invalid escape sequence.", at)
        if not 0xDC00 <= int(text[at + 8 : at + 12], 16) <= 0xDFFF:
            return _Syntax("Invalid low surrogate.", at)
        position = at + 12
    return None


def _first_problem(text: str, found: _Syntax) -> _Syntax:
    """The grammar error ESF reports first: a broken surrogate pair before ``found`` comes before it."""
    return _lone_surrogate(text, found.position) or found


def _non_utf8(data: bytes, start: int) -> ProtoJsonError:
    """ESF's error for bytes that are not UTF-8, unless the text before them already broke a rule."""
    valid = data[:start].decode("utf-8")
    value, problem = _read(valid)
    if problem is None:
        _check_depth(value)
        trailing_number = _TRAILING_NUMBER.search(valid)
        stop = trailing_number.start() if trailing_number else len(valid)
    elif problem.resumed_at is None:
        return problem.error(valid)
    else:
        stop = problem.resumed_at
    context = (valid[stop:].encode() + data[start:])[:_CONTEXT].decode("utf-8", errors="replace")
    return ProtoJsonError(f"{_PAYLOAD}Encountered non UTF-8 code points.\n{context}\n^")


def _check_depth(value: Any) -> None:
    """ESF's nesting limit: objects nest at most 100 deep (lists do not count)."""
    pending: list[tuple[Any, str, int]] = [(value, "", 0)]
    while pending:
        item, key, depth = pending.pop()
        if isinstance(item, dict):
            depth += 1
            if depth > _MAX_DEPTH:
                raise ProtoJsonError(f"{_PAYLOAD}Message too deep. Max recursion depth reached for key '{key}'")
            pairs = item.pairs if isinstance(item, _RepeatedKeys) else item.items()
            children = [(child, name, depth) for name, child in pairs if isinstance(child, dict | list)]
        elif isinstance(item, list):
            children = [(child, "", depth) for child in item if isinstance(child, dict | list)]
        else:
            continue
        pending.extend(reversed(children))


# ------------------------------------------------------------------------------------------------ values


class _Bad(Exception):
    """A value a field cannot take; ``text`` is what ESF prints after the type."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


_FLOAT_MAX: Final = 3.4028234663852886e38
_DIGITS: Final = re.compile(r"[0-9]+")
_INT32: Final = (-(2**31), 2**31 - 1)
_INT64: Final = (_INT64_MIN, 2**63 - 1)
_DECIMAL: Final = re.compile(r"[+-]?[0-9]+")
_FLOAT_TEXT: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SPECIAL_FLOATS: Final = {"Infinity": math.inf, "-Infinity": -math.inf, "NaN": math.nan}
_TRUE_WORDS: Final = frozenset({"true", "t", "yes", "y", "1"})
_FALSE_WORDS: Final = frozenset({"false", "f", "no", "n", "0"})
_DURATION_MAX_SECONDS: Final = 315_576_000_000
_TIMESTAMP: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(?:Z|([+-])([0-9]{2}):([0-9]{2}))"
)


def _simple_dtoa(value: float) -> str:
    """Format a double like protobuf's ``SimpleDtoa`` (shortest of %.15g / %.17g that round-trips)."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = f"{value:.15g}"
    return text if float(text) == value else f"{value:.17g}"


def _render(value: object) -> str:
    """A JSON value as ESF quotes it in errors (``DataPiece::ValueAsStringOrDefault``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float):
        return _simple_dtoa(value)
    return str(value)


def _to_string(value: object) -> str:
    if isinstance(value, str):
        return value
    raise _Bad(_render(value))


def _to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE_WORDS | _FALSE_WORDS:
        return value.lower() in _TRUE_WORDS
    raise _Bad(_render(value))


def _to_int(value: object, low: int, high: int) -> int:
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif (isinstance(value, float) and value.is_integer()) or (isinstance(value, str) and _DECIMAL.fullmatch(value)):
        number = int(value)
    if number is None or not low <= number <= high:
        raise _Bad(_render(value))
    return number


def _to_double(value: object) -> float:
    if isinstance(value, bool):
        raise _Bad(_render(value))
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:
            raise _Bad(_render(value)) from None
    if isinstance(value, str):
        if value in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[value]
        if _FLOAT_TEXT.fullmatch(value) and math.isfinite(number := float(value)):
            return number
    raise _Bad(_render(value))


def _to_float(value: object) -> float:
    number = _to_double(value)
    if math.isfinite(number) and abs(number) > _FLOAT_MAX:
        raise _Bad(_render(value))
    return number


def _decode_base64(text: str) -> bytes:
    """Decode base64 in either alphabet (not mixed), padding optional, as ESF's decoder does."""
    url_safe = "-" in text or "_" in text
    if url_safe and ("+" in text or "/" in text):
        raise ValueError("mixed base64 alphabets")
    body = text.rstrip("=")
    if len(body) % 4 == 1 or len(text) - len(body) > 2 or (len(text) != len(body) and len(text) % 4):
        raise ValueError("bad base64 length")
    padded = body + "=" * (-len(body) % 4)
    if url_safe:
        padded = padded.replace("-", "+").replace("_", "/")
    return base64.b64decode(padded, validate=True)


def _to_bytes(value: object) -> bytes:
    if not isinstance(value, str):
        raise _Bad(_render(value))
    try:
        return _decode_base64(value)
    except ValueError, binascii.Error:
        raise _Bad(f'Base64 decoding failed for "{value}"') from None


def _to_enum(value: object, enum_type: EnumType) -> str | int:
    """An enum value by name (exact, as a number in a string, or normalized) or by number.

    A number the enum does not declare is kept as an int: proto3 enums are open, and ESF accepts it.
    """
    if isinstance(value, str):
        if enum_type.number(value) is not None:
            return value
        if _DECIMAL.fullmatch(value) and (named := enum_type.name(int(value))) is not None:
            return named
        normalized = value.replace("-", "_").upper()
        if enum_type.number(normalized) is not None:
            return normalized
        raise _Bad(_render(value))
    number = _to_int(value, *_INT32)
    return enum_type.name(number) or number


def _nanos(fraction: str) -> int:
    """Nanoseconds from the digits after the decimal point (at most nine)."""
    if fraction and not _DIGITS.fullmatch(fraction):
        raise _Bad("Invalid duration format, failed to parse nano seconds")
    if len(fraction) > 9:
        raise _Bad("Duration value exceeds limits")
    return int(fraction.ljust(9, "0")) if fraction else 0


def _to_duration(value: object) -> float:
    """A ``Duration`` string (``"50s"``, ``"-1.5s"``) as float seconds."""
    if not isinstance(value, str):
        raise _Bad(f"Invalid data type for duration, value is {_render(value)}")
    if not value.endswith("s"):
        raise _Bad("Illegal duration format; duration must end with 's'")
    body = value[:-1]
    sign = -1 if body.startswith("-") else 1
    body = body.removeprefix("-")
    seconds_text, _, fraction = body.rpartition(".") if "." in body else (body, "", "")
    if not _DIGITS.fullmatch(seconds_text):
        raise _Bad("Invalid duration format, failed to parse seconds")
    seconds = int(seconds_text)
    if seconds > _DURATION_MAX_SECONDS:
        raise _Bad("Duration value exceeds limits")
    return sign * (seconds + _nanos(fraction) / 1e9)


def _to_timestamp(value: object) -> dt.datetime:
    """An RFC 3339 ``Timestamp`` (offset required, as protobuf's ``ParseTime`` requires) in UTC."""
    if not isinstance(value, str):
        raise _Bad(f"Invalid data type for timestamp, value is {_render(value)}")
    match = _TIMESTAMP.fullmatch(value)
    try:
        if match is None:
            raise ValueError(value)
        year, month, day, hour, minute, second = (int(group) for group in match.groups()[:6])
        fraction, sign, offset_hours, offset_minutes = match.groups()[6:]
        if int(offset_hours or 0) > 23 or int(offset_minutes or 0) > 59:
            raise ValueError(value)
        offset = dt.timedelta(hours=int(offset_hours or 0), minutes=int(offset_minutes or 0))
        zone = dt.timezone(-offset if sign == "-" else offset)
        micros = int((fraction or "0").ljust(9, "0")) // 1000
        stamp = dt.datetime(year, month, day, hour, minute, second, micros, tzinfo=zone)
    except ValueError:
        raise _Bad(f"Invalid time format: {value}") from None
    return stamp.astimezone(dt.UTC)


def _to_field_mask(value: object) -> str:
    if not isinstance(value, str):
        raise _Bad(f"Invalid data type for field mask, value is {_render(value)}")
    return value


_SCALAR_CONVERTERS: Final[dict[Kind, Callable[[object], Any]]] = {
    Kind.STRING: _to_string,
    Kind.BOOL: _to_bool,
    Kind.INT32: lambda value: _to_int(value, *_INT32),
    Kind.INT64: lambda value: _to_int(value, *_INT64),
    Kind.FLOAT: _to_float,
    Kind.DOUBLE: _to_double,
    Kind.BYTES: _to_bytes,
}
_WKT_CONVERTERS: Final[dict[Kind, Callable[[object], Any]]] = {
    Kind.DURATION: _to_duration,
    Kind.TIMESTAMP: _to_timestamp,
    Kind.FIELD_MASK: _to_field_mask,
}
_DEFAULTS: Final[dict[Kind, Any]] = {
    Kind.STRING: "",
    Kind.BOOL: False,
    Kind.INT32: 0,
    Kind.INT64: 0,
    Kind.FLOAT: 0.0,
    Kind.DOUBLE: 0.0,
    Kind.BYTES: b"",
    Kind.DURATION: 0.0,
    Kind.FIELD_MASK: "",
    Kind.VALUE: None,
    Kind.LIST_VALUE: [],
}
_DURATION_OBJECT: Final = Message("google.protobuf.Duration", Field("seconds", Kind.INT64), Field("nanos", Kind.INT32))
_TIMESTAMP_OBJECT: Final = Message(
    "google.protobuf.Timestamp", Field("seconds", Kind.INT64), Field("nanos", Kind.INT32)
)
_FIELD_MASK_OBJECT: Final = Message("google.protobuf.FieldMask", Field("paths", Kind.STRING, repeated=True))
_LIST_VALUE_OBJECT: Final = Message("google.protobuf.ListValue", Field("values", Kind.VALUE, repeated=True))


# ------------------------------------------------------------------------------------------------ walk


_SKIP: Final = object()
_VERSIONED: Final = re.compile(r"^(google\.ai\.generativelanguage|google\.cloud\.aiplatform)\.v[0-9a-z]+\.")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _indexed(path: str, pushed: int) -> str:
    """ESF's location of a list: the last element it pushed (none yet: the bare name)."""
    return f"{path}[{pushed - 1}]" if pushed else path


@dataclass(slots=True)
class _Walk:
    """State of one conversion: how to name types, what to do with repeated fields, the violations found."""

    api_version: str | None
    on_duplicate: OnDuplicate
    violations: list[Violation] = field(default_factory=list)

    def pairs(self, obj: Mapping[str, Any]) -> list[tuple[str, Any]]:
        """The object's entries as sent, repeated keys included."""
        return obj.pairs if isinstance(obj, _RepeatedKeys) else list(obj.items())

    def type_url(self, full_name: str) -> str:
        """``type.googleapis.com/<name>``, in the API version the client called when one is given."""
        if self.api_version:
            full_name = _VERSIONED.sub(rf"\g<1>.{self.api_version}.", full_name)
        return f"type.googleapis.com/{full_name}"

    def invalid_name(self, path: str, key: str, reason: str) -> None:
        """Record an ``Unknown name`` violation (ESF's ``InvalidName``)."""
        at = f" at '{path}'" if path else ""
        self.violations.append(Violation(path, f'{_PAYLOAD}Unknown name "{key}"{at}: {reason}'))

    def invalid_value(self, path: str, type_name: str, text: str) -> None:
        """Record an ``Invalid value`` violation (ESF's ``InvalidValue``)."""
        at = f" at '{path}'" if path else ""
        self.violations.append(Violation(path, f"Invalid value{at} ({type_name}), {text}"))

    def duplicate(self, path: str, key: str, proto_name: str) -> None:
        """Record a field sent twice in one object (``on_duplicate="reject"``; this rule is not ESF's)."""
        at = f" at '{path}'" if path else ""
        text = f"{_PAYLOAD}Duplicate field \"{key}\"{at}: Field '{proto_name}' is already set."
        self.violations.append(Violation(path, text))

    def raise_if_any(self) -> None:
        """Raise what was found, all violations in one error as ESF reports them."""
        if self.violations:
            message = "\n".join(violation.description for violation in self.violations)
            raise ProtoJsonError(message, self.violations)


def _root(value: Any, message: Message, path: str, walk: _Walk) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return _message(value, message, path, walk)
    walk.invalid_name(path, "", "Root element must be a message.")
    return {}


def _message(obj: Mapping[str, Any], message: Message, path: str, walk: _Walk) -> dict[str, Any]:
    """Convert one JSON object of type ``message`` found at ``path``."""
    result: dict[str, Any] = {}
    oneofs: set[str] = set()
    seen: set[str] = set()
    for key, value in walk.pairs(obj):
        described = message.field(key)
        if described is None:
            walk.invalid_name(path, key, "Cannot find field.")
            continue
        if value is None and (described.kind is not Kind.VALUE or described.repeated):
            continue
        if described.oneof is not None:
            if described.oneof in oneofs:
                text = f"oneof field '{described.oneof}' is already set. Cannot set '{key}'"
                walk.invalid_value(path, "oneof", text)
                continue
            oneofs.add(described.oneof)
        elif described.name in seen and walk.on_duplicate == "reject":
            walk.duplicate(path, key, described.name)
            continue
        seen.add(described.name)
        converted = _field(described, key, value, owner=message, path=path, walk=walk)
        if converted is _SKIP:
            continue
        previous = result.get(described.json_name, _SKIP)
        result[described.json_name] = converted if previous is _SKIP else _merge(described, previous, converted)
    return result


def _merge(described: Field, old: Any, new: Any) -> Any:
    """A field sent twice, as protobuf merges it: lists concatenate, messages merge, scalars: last wins."""
    if described.repeated or described.kind is Kind.LIST_VALUE:
        return [*old, *new]
    if described.map or described.kind is Kind.STRUCT:
        return {**old, **new}
    if described.message is None:
        return new
    merged = dict(old)
    for key, value in new.items():
        inner = described.message.field(key)
        merged[key] = _merge(inner, merged[key], value) if key in merged and inner is not None else value
    return merged


def _field(described: Field, key: str, value: Any, *, owner: Message, path: str, walk: _Walk) -> Any:
    """Convert the value of one field; ``path`` is the enclosing message's."""
    here = _join(path, described.name)
    if isinstance(value, list) and not _takes_list(described):
        return _list(described, key, value, path, walk)
    if described.map:
        if isinstance(value, Mapping):
            return _map(described, value, here, walk)
        entry = f"{owner.full_name}.{described.name.title().replace('_', '')}Entry"
        walk.invalid_value(here, walk.type_url(entry), _render(value))
        return _SKIP
    converted = _single(described, key, value, here=here, parent=path, walk=walk)
    if described.repeated and converted is not _SKIP:
        return [converted]
    return converted


def _takes_list(described: Field) -> bool:
    """Whether a JSON list is one value of the field (a ``Value`` or ``ListValue``), not its elements."""
    return not described.repeated and not described.map and described.kind in (Kind.VALUE, Kind.LIST_VALUE)


def _list(described: Field, key: str, items: list[Any], path: str, walk: _Walk) -> Any:
    if described.map:
        walk.invalid_value(path, "Map", f"Cannot bind a list to map for field '{key}'.")
        return _SKIP
    if not described.repeated:
        walk.invalid_name(path, key, "Proto field is not repeating, cannot start list.")
        return _SKIP
    result: list[Any] = []
    _elements(described, items, where=_join(path, described.name), walk=walk, out=result)
    return result


def _pushes_element(described: Field) -> bool:
    """Whether ESF opens an element for each list item, which advances the index it prints.

    Messages and well-known types always do; a plain scalar only when it is refused (proto3 writes
    accepted scalars straight through), so for scalars ESF's index counts the refused items.
    """
    return described.kind is Kind.MESSAGE or described.kind in _WELL_KNOWN


_END: Final = object()


def _elements(described: Field, items: list[Any], *, where: str, walk: _Walk, out: list[Any]) -> None:
    """Convert the items of a repeated field; nested lists are flattened, as ESF does.

    Iterative, so arbitrarily deep nesting (which ESF's depth limit does not count) cannot overflow.
    """
    levels: list[tuple[Iterator[Any], str]] = [(iter(items), where)]
    pushed = [0]
    while levels:
        iterator, here = levels[-1]
        item = next(iterator, _END)
        if item is _END:
            levels.pop()
            pushed.pop()
        elif isinstance(item, list) and described.kind not in (Kind.VALUE, Kind.LIST_VALUE):
            levels.append((iter(item), _indexed(here, pushed[-1])))
            pushed.append(0)
        elif item is not None or described.kind is Kind.VALUE:
            pushed[-1] = _element(described, item, where=here, pushed=pushed[-1], walk=walk, out=out)


def _element(described: Field, item: Any, *, where: str, pushed: int, walk: _Walk, out: list[Any]) -> int:
    """Convert one list item; returns ESF's updated element count for the list."""
    if isinstance(item, Mapping) and described.kind not in (Kind.MESSAGE, *_WELL_KNOWN):
        walk.invalid_value(_indexed(where, pushed), described.name, "Starting an object on a scalar field")
        return pushed
    if _pushes_element(described):
        pushed += 1
        converted = _single(described, "", item, here=_indexed(where, pushed), parent=where, walk=walk)
    else:
        converted = _scalar_in_list(described, item, where, pushed, walk)
        pushed += converted is _SKIP
    if converted is not _SKIP:
        out.append(converted)
    return pushed


def _scalar_in_list(described: Field, item: Any, where: str, pushed: int, walk: _Walk) -> Any:
    """A plain scalar list item: converted silently, or reported at the index ESF gives a refused one."""
    try:
        return _scalar(described, item)
    except _Bad as bad:
        walk.invalid_value(_indexed(where, pushed + 1), _scalar_type(described, walk), bad.text)
        return _SKIP


def _map(described: Field, obj: Mapping[str, Any], where: str, walk: _Walk) -> dict[str, Any]:
    """Convert a ``map<string, X>``: keys are data, values sit at ``<map>[<entry>].value``."""
    result: dict[str, Any] = {}
    pushed = 0
    for key, value in walk.pairs(obj):
        if key in result:
            walk.invalid_name(_indexed(where, pushed), key, f"Repeated map key: '{key}' is already set.")
            continue
        pushed += 1
        value_path = f"{_indexed(where, pushed)}.value"
        if value is None:
            result[key] = _default(described)
        elif isinstance(value, list) and described.kind not in (Kind.VALUE, Kind.LIST_VALUE):
            walk.invalid_value(value_path, "Map", f"Cannot have repeated items ('{key}') within a map.")
            result[key] = _default(described)
        elif isinstance(value, Mapping) and described.kind not in (Kind.MESSAGE, *_WELL_KNOWN):
            walk.invalid_value(_indexed(where, pushed), "value", "Starting an object on a scalar field")
            result[key] = _default(described)
        else:
            converted = _single(described, key, value, here=value_path, parent=value_path, walk=walk)
            result[key] = _default(described) if converted is _SKIP else converted
    return result


def _default(described: Field) -> Any:
    """The value of a map entry that names a key but no (valid) value."""
    if described.kind is Kind.MESSAGE or described.kind is Kind.STRUCT:
        return {}
    if described.enum is not None:
        return described.enum.names[0]
    if described.kind is Kind.TIMESTAMP:
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return _DEFAULTS[described.kind]


def _single(described: Field, key: str, value: Any, *, here: str, parent: str, walk: _Walk) -> Any:
    """Convert one value (not a list of elements) found at ``here``; ``parent`` is the message's path."""
    kind = described.kind
    if kind is Kind.MESSAGE:
        assert described.message is not None
        return _nested(value, described.message, here, walk)
    if kind in _WELL_KNOWN:
        return _well_known(described, key, value, here, walk)
    if isinstance(value, Mapping):
        walk.invalid_value(parent, described.name, "Starting an object on a scalar field")
        return _SKIP
    try:
        return _scalar(described, value)
    except _Bad as bad:
        walk.invalid_value(here, _scalar_type(described, walk), bad.text)
        return _SKIP


def _nested(value: Any, message: Message, here: str, walk: _Walk) -> Any:
    if isinstance(value, Mapping):
        return _message(value, message, here, walk)
    walk.invalid_value(here, walk.type_url(message.full_name), _render(value))
    return _SKIP


def _scalar(described: Field, value: Any) -> Any:
    if described.enum is not None:
        return _to_enum(value, described.enum)
    return _SCALAR_CONVERTERS[described.kind](value)


def _scalar_type(described: Field, walk: _Walk) -> str:
    if described.enum is not None:
        return walk.type_url(described.enum.full_name)
    return described.kind.value


def _well_known(described: Field, key: str, value: Any, here: str, walk: _Walk) -> Any:
    """Convert a value of a well-known type (``Struct``, ``Value``, ``Duration``, ...)."""
    kind = described.kind
    if kind is Kind.VALUE or (kind is Kind.LIST_VALUE and isinstance(value, list)):
        return value
    if kind is Kind.STRUCT:
        if isinstance(value, Mapping):
            return dict(value)
        walk.invalid_value(here, walk.type_url(kind.value), _render(value))
        return _SKIP
    if isinstance(value, Mapping):
        return _well_known_object(kind, value, here, walk)
    if kind is Kind.LIST_VALUE:
        walk.invalid_value(here, walk.type_url(kind.value), _render(value))
        return _SKIP
    try:
        return _WKT_CONVERTERS[kind](value)
    except _Bad as bad:
        walk.invalid_value(here, walk.type_url(kind.value), f"Field '{key}', {bad.text}")
        return _SKIP


def _well_known_object(kind: Kind, value: Mapping[str, Any], here: str, walk: _Walk) -> Any:
    """A well-known type written as its message (``{"seconds": 5}``), which ESF also accepts."""
    if kind is Kind.LIST_VALUE:
        return _message(value, _LIST_VALUE_OBJECT, here, walk).get("values", [])
    if kind is Kind.FIELD_MASK:
        return ",".join(_message(value, _FIELD_MASK_OBJECT, here, walk).get("paths", []))
    schema = _DURATION_OBJECT if kind is Kind.DURATION else _TIMESTAMP_OBJECT
    parts = _message(value, schema, here, walk)
    seconds = parts.get("seconds", 0) + parts.get("nanos", 0) / 1e9
    if kind is Kind.DURATION:
        return seconds
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)


# ------------------------------------------------------------------------------------------------ API


def parse_value(
    obj: object,
    message: Message,
    path: str = "",
    *,
    api_version: str | None = None,
    on_duplicate: OnDuplicate = "merge",
) -> dict[str, Any]:
    """Convert an already-decoded JSON value to the canonical dict of ``message``.

    The result is keyed by lowerCamelCase json names; bytes are decoded, durations are float seconds,
    timestamps aware UTC datetimes, enums their value names (an undeclared number stays an int), int64
    ints; ``Struct``/``Value`` contents are kept as sent. ``path`` prefixes the locations in error texts
    (``"setup"`` for a setup message given on its own); ``api_version`` (``"v1alpha"``, ...) names types
    in errors as the endpoint the client called. A field given twice in one object (``generationConfig``
    and ``generation_config``) is merged as ESF merges it, or refused with ``on_duplicate="reject"``.
    Raises :class:`ProtoJsonError` with ESF's texts.
    """
    walk = _Walk(api_version, on_duplicate)
    result = _root(obj, message, path, walk)
    walk.raise_if_any()
    return result


def parse_json(
    text: str | bytes,
    message: Message,
    *,
    api_version: str | None = None,
    on_duplicate: OnDuplicate = "merge",
) -> dict[str, Any]:
    """Parse request JSON (a WebSocket frame or a REST body) into the canonical dict of ``message``.

    Grammar errors come first, with ESF's texts (an empty text included: REST front ends treat an
    empty body as ``{}`` before parsing; do that in the caller). Then the value is converted as by
    :func:`parse_value`, which describes the options.
    """
    value = _load(text)
    walk = _Walk(api_version, on_duplicate)
    result = _root(value, message, "", walk)
    walk.raise_if_any()
    return result

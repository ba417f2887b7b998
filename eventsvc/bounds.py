"""The bounds of a value the log accepts: what every backend's projections can store (L0).

Integers fit a signed 64-bit column (PostgreSQL ``BIGINT``, SQLite ``INTEGER``); text holds
no NUL (PostgreSQL ``TEXT`` refuses it) and no lone surrogate (it has no UTF-8 form); JSON
values nest at most ``MAX_DEPTH`` deep. Every append checks its events against them
(``check``), so a value the log holds is one every projection can fold; commands check their
input first (``problems``) to name the node and field, and there also refuse NaN and the
infinities, which JSON stores as ``null`` (a node's output may hold them: it is stored so, as
before). Text eventsvc writes itself, such as a node's error message, is made storable with
``storable_text`` instead of being refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from typing import Any

import msgspec

from eventsvc.errors import InvalidValueError, Problem

MIN_INT = -(2**63)
MAX_INT = 2**63 - 1
MAX_SAFE_INT = 2**53 - 1
"""The largest integer a client may send (RFC 7493, I-JSON): every JSON parser holds the range
[-(2**53 - 1), 2**53 - 1] exactly, so a value a client sent is the value it meant. What
eventsvc computes itself (a node's output, a measurement) may use the whole 64 bits."""
MAX_DEPTH = 64
"""How deep lists and objects may nest inside one value (an event's fields count as one)."""

MAX_TEXT_CHARS = 64 * 1024
"""How much of a message eventsvc writes itself (an error, a traceback) it keeps."""

_SURROGATE = re.compile("[\ud800-\udfff]")
# Encoded JSON with every digit as "0" and all else as " ": a run of 19 digits or more, which
# an integer past 64 bits needs, is then found by a plain search (a regex is ten times slower).
_DIGITS = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
_LONG_NUMBER = b"0" * 19
# Lists longer than this are checked by element type first, at C speed.
_FAST_LIST = 16
# Problems reported for one value at most: enough to name what is wrong.
_MAX_PROBLEMS = 5


def problems(value: Any, path: str = "", *, finite: bool = False) -> list[Problem]:
    """What in ``value`` lies outside the bounds, each named by its path (``a.b[3]``)."""
    return [Problem(code="out_of_bounds", field=_shown(where), message=why)
            for where, why in _first(_walk(value, path, 0, finite))]  # fmt: skip


def input_problems(value: Any, path: str = "") -> list[Problem]:
    """What in a client's ``value`` the API refuses: what the log refuses, and also NaN and the
    infinities (JSON stores them as null) and integers past ``MAX_SAFE_INT``."""
    return problems(value, path, finite=True)


def _shown(path: str) -> str | None:
    return path[:77] + "..." if len(path) > 80 else path or None


def check(value: Any, what: str) -> None:
    """Raise ``InvalidValueError`` naming ``what`` and the first problems, if any."""
    found = problems(value)
    if found:
        raise InvalidValueError(what, found)


def encoded_within(value: Any, encode: Callable[[Any], bytes], what: str) -> bytes:
    """``encode(value)`` (as JSON), checked as ``check`` checks it. The check reads the encoded
    text at C speed and walks the value only where the text hints at a problem: a NUL is
    written ``\\u0000``, an integer past 64 bits has at least 19 digits, nesting needs as many
    brackets, and a lone surrogate cannot be encoded at all."""
    try:
        data = encode(value)
    except Exception:
        check(value, what)
        raise
    suspect = b"\\u0000" in data or _LONG_NUMBER in data.translate(_DIGITS)
    if suspect or data.count(b"[") + data.count(b"{") > MAX_DEPTH:
        check(value, what)
    return data


def storable_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """``text`` as the log can hold it: NUL and lone surrogates become U+FFFD, and text past
    ``limit`` characters is cut, saying so."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if not text.isascii():
        text = _SURROGATE.sub("\ufffd", text)
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(text) - limit} more characters cut)"
    return text


def _first(found: Iterator[tuple[str, str]]) -> list[tuple[str, str]]:
    return [problem for _, problem in zip(range(_MAX_PROBLEMS), found, strict=False)]


def _walk(value: Any, path: str, depth: int, finite: bool) -> Iterator[tuple[str, str]]:
    kind = type(value)
    if kind is str:
        why = _text_problem(value)
        if why:
            yield path, why
    elif kind is int:
        if finite and not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            yield (
                path,
                (
                    f"integer {_short(value)} is outside [-(2**53-1), 2**53-1], the range every "
                    "JSON client holds exactly"
                ),
            )
        elif not MIN_INT <= value <= MAX_INT:
            yield path, f"integer {_short(value)} is outside the 64-bit range [-2**63, 2**63-1]"
    elif kind is float:
        if finite and not math.isfinite(value):
            yield path, f"{value!r} is not a finite number"
    elif kind is dict or kind is list or kind is tuple or isinstance(value, msgspec.Struct):
        if depth >= MAX_DEPTH:
            yield path, f"nested more than {MAX_DEPTH} levels deep"
            return
        yield from _walk_container(value, path, depth + 1, finite)


def _walk_container(value: Any, path: str, depth: int, finite: bool) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if type(key) is str and (why := _text_problem(key)):
                yield where, f"key {why}"
            yield from _walk(item, where, depth, finite)
    elif isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            where = f"{path}.{name}" if path else name
            yield from _walk(getattr(value, name), where, depth, finite)
    elif len(value) < _FAST_LIST or not _plainly_storable(value, finite):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]", depth, finite)


def _plainly_storable(items: list[Any] | tuple[Any, ...], finite: bool) -> bool:
    """Whether a long list of one scalar type is storable, checked without a call per item."""
    kinds = set(map(type, items))
    if kinds == {int}:
        low: int = min(items)
        high: int = max(items)
        lowest, highest = (-MAX_SAFE_INT, MAX_SAFE_INT) if finite else (MIN_INT, MAX_INT)
        return lowest <= low and high <= highest
    if kinds == {float}:
        return not finite or math.isfinite(sum(items))  # NaN or infinity (or an overflow)
    if kinds == {str}:
        return not _text_problem("".join(items))
    return kinds <= {bool, type(None)}


def _text_problem(text: str) -> str:
    if "\x00" in text:
        return f"text holds a NUL character at index {text.index(chr(0))}"
    if not text.isascii() and (match := _SURROGATE.search(text)):
        return f"text holds a lone surrogate ({match.group()!a}) at index {match.start()}"
    return ""


def _short(number: int) -> str:
    # Python refuses to print an integer of more than 4300 digits; name its size instead.
    return str(number) if number.bit_length() <= 100 else f"of {number.bit_length()} bits"

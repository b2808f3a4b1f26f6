"""JSON from strangers: anyone who knows your public bundle can send you bytes to parse.

`loads` refuses, with one exception type (ValueError), everything `json.loads` would
choke on in other ways: deep nesting (the C parser recurses per level; with eth-account
imported the recursion limit is 100,000, deep enough to overflow a thread's C stack),
huge integers (ValueError past 4,300 digits), Infinity/NaN, invalid UTF-8, and lone
surrogates (valid JSON escapes that are not valid text).
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 16


def _too_deep(text: str, limit: int) -> bool:
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number here")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses as inf, which JSON cannot write back
        raise ValueError("a number overflows")
    return value


def loads(data: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        # Counting is C-fast; the careful scan runs only when nesting is even possible.
        if text.count("[") + text.count("{") > max_depth and _too_deep(text, max_depth):
            raise ValueError("JSON nested too deeply")
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
        json.dumps(value, ensure_ascii=False).encode("utf-8")  # lone surrogates fail here
        return value
    except (UnicodeError, RecursionError, OverflowError, TypeError, ValueError) as error:
        raise ValueError(f"unusable JSON ({type(error).__name__})") from None

"""Strings from someone else, made inert before they reach a terminal.

Every text, greeting, note, theme, contact or group name, unknown payload field and relay
error came from someone who may be hostile. A terminal obeys what such a string carries:
ESC sequences (CSI moves the cursor and erases lines, OSC sets the title or a hyperlink),
C1 controls (0x9b is a one-byte CSI on some terminals), carriage returns and newlines
(which draw a fake line "alice: pay me at 0x..."), and bidi overrides (which reverse what
follows: an address or an amount read backwards). Rich, in turn, obeys markup ("[link=
...]", and "x[/]" crashes it).

`inert` shows each such character as a visible escape (\\x1b, \\n, \\u202e) and leaves
every other character, emoji and CJK included, as it is; `markup` also escapes Rich
markup, for strings embedded in a markup template; `json_text` makes JSON output safe
the same way (JSON already escapes C0; this adds C1 and the bidi and line controls,
still valid JSON). Pure.
"""

from __future__ import annotations

import re

# Bidi embeddings, overrides and isolates, the marks, and the line and paragraph separators.
_BIDI_AND_LINES = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029"
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI_AND_LINES}]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# In JSON text, C0 can only be the layout whitespace of json.dumps(indent=...): inside
# strings json.dumps has escaped it already, and a \u000a between tokens is invalid JSON.
_UNSAFE_IN_JSON = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI_AND_LINES}]")


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(text: object) -> str:
    """`text` (anything: str() of it) with every control, ESC, C1, bidi and line character
    shown as a visible escape."""
    return _UNSAFE.sub(_visible, text if isinstance(text, str) else str(text))


def markup(text: object) -> str:
    """`inert(text)`, also safe inside a Rich markup string (no tag is interpreted)."""
    from rich.markup import escape

    return escape(inert(text))


def json_text(dumped: str) -> str:
    """JSON text (from json.dumps) with C1, bidi and line characters as \\uXXXX escapes;
    the same JSON value, nothing a terminal obeys."""
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)

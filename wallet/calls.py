"""Calls to any contract, from text: function signatures, arguments, calldata, results.

    fn = parse_signature("balanceOf(address)(uint256)")     # or function_from_abi(load_abi(path), "balanceOf")
    values = parse_args(fn, ["0x7099...79C8"])              # EIP-55 checked, ranges checked
    data = calldata(fn, values)                              # selector + ABI encoding
    decode_result(fn, returned)                              # -> Python values, rendered by `to_json` / `to_text`

Signatures are written as `name(type,...)` optionally followed by the return types
`(type,...)`; Solidity-style text (`function f(address to, uint amount) view returns (bool)`)
is accepted too. Types: address, bool, string, bytes, bytes1..32, uint8..256, int8..256
(`uint`/`int` mean 256 bits), tuples `(t1,t2)` and arrays `t[]`, `t[3]`. Arguments:
addresses (a mixed-case address must carry a correct EIP-55 checksum), integers in decimal
or 0x hex, `true`/`false`, 0x hex for bytes, strings as typed, arrays `[a,b]`, tuples `(a,b)`.

Also here: the approval drafts and amounts the token and vault commands share, and permit
deadlines (`1h`, `30m`, `7d`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import abi, erc20
from . import address as addr
from .amounts import AmountError, format_units, parse_amount, to_units
from .config import Token
from .errors import WalletError

UNLIMITED_WORDS = ("unlimited", "infinite")
_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_ELEMENTARY = re.compile(r"(address|bool|string|bytes|function|u?int(\d*)|bytes(\d+))\Z")
_MODIFIERS = {"memory", "calldata", "storage", "indexed", "payable"}
_FUNCTION_WORDS = {"external", "public", "internal", "view", "pure", "payable", "nonpayable", "virtual", "override"}
_INT = re.compile(r"(-)?(0x[0-9a-fA-F]+|[0-9]+)\Z")


class CallError(WalletError):
    pass


@dataclass(frozen=True, slots=True)
class Param:
    type: str  # canonical: uint256, (address,uint256)[], ...
    name: str = ""


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    inputs: tuple[Param, ...]
    outputs: tuple[Param, ...] | None = None  # None: the return types are unknown
    mutability: str | None = None  # from an ABI: view, pure, nonpayable, payable

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(p.type for p in self.inputs)})"

    @property
    def selector(self) -> bytes:
        return abi.selector(self.signature)

    def describe(self) -> str:
        """`transfer(address,uint256)` or `balanceOf(address) returns (uint256)`."""
        if self.outputs:
            return f"{self.signature} returns ({','.join(p.type for p in self.outputs)})"
        return self.signature

    def labels(self) -> list[str]:
        """`address to`, `uint256 arg1`: how each argument is shown in a preview."""
        return [f"{p.type} {p.name or f'arg{i}'}" for i, p in enumerate(self.inputs)]


# -- signatures ---------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, why: str) -> CallError:
        return CallError(
            f'{self.text!r} is not a function signature ({why}); write it as name(type,...) with optional return types, e.g. "balanceOf(address)(uint256)"'
        )

    def spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.spaces()
        return self.text[self.pos : self.pos + 1]

    def expect(self, char: str) -> None:
        if self.peek() != char:
            found = self.text[self.pos : self.pos + 1] or "the end"
            raise self.fail(f"expected {char!r} at position {self.pos + 1}, found {found!r}")
        self.pos += 1

    def word(self) -> str:
        self.spaces()
        match = _NAME.match(self.text, self.pos)
        if not match:
            return ""
        self.pos = match.end()
        return match.group()

    def params(self) -> tuple[Param, ...]:
        self.expect("(")
        params: list[Param] = []
        if self.peek() == ")":
            self.pos += 1
            return ()
        while True:
            params.append(self.param())
            if self.peek() == ",":
                self.pos += 1
                continue
            self.expect(")")
            return tuple(params)

    def param(self) -> Param:
        kind = self.type()
        name = ""
        while True:
            start = self.pos
            word = self.word()
            if not word:
                break
            if word in _MODIFIERS:
                continue
            if name:
                self.pos = start
                raise self.fail(f"unexpected {word!r} after parameter {name!r}")
            name = word
        return Param(kind, name)

    def type(self) -> str:
        if self.peek() == "(":
            base = "(" + ",".join(p.type for p in self.params()) + ")"
        else:
            word = self.word()
            if word == "tuple" and self.peek() == "(":
                base = "(" + ",".join(p.type for p in self.params()) + ")"
            else:
                base = canonical_elementary(word, self)
        while self.text[self.pos : self.pos + 1] == "[":
            end = self.text.find("]", self.pos)
            size = self.text[self.pos + 1 : end] if end > 0 else "x"
            if not (size == "" or (size.isdigit() and int(size) > 0)):
                raise self.fail(f"bad array size {size!r}")
            base += f"[{size}]"
            self.pos = end + 1
        return base


def canonical_elementary(word: str, parser: _Parser | None = None) -> str:
    match = _ELEMENTARY.match(word or "")
    problem = None
    if not word:
        problem = "a type is missing"
    elif not match or word == "function":
        problem = f"unknown type {word!r}"
    elif word in ("uint", "int"):
        return word + "256"
    elif word.startswith(("uint", "int")):
        bits = int(match.group(2))
        if not (8 <= bits <= 256 and bits % 8 == 0):
            problem = f"unknown type {word!r}: integers are 8 to 256 bits in steps of 8"
    elif match.group(3) is not None and not 1 <= int(match.group(3)) <= 32:
        problem = f"unknown type {word!r}: fixed bytes are bytes1 to bytes32"
    if problem:
        raise parser.fail(problem) if parser else CallError(problem)
    return word


def parse_signature(text: str) -> Function:
    """`transfer(address,uint256)`, `balanceOf(address)(uint256)`, or Solidity-style text."""
    parser = _Parser(text.strip())
    first = parser.word()
    if first == "function":
        first = parser.word()
    if not first:
        raise parser.fail("it does not start with a function name")
    if parser.peek() != "(":
        raise parser.fail("the argument types in parentheses are missing")
    inputs = parser.params()
    outputs = None
    mutability = None
    while True:
        if parser.peek() == "(":
            if outputs is not None:
                raise parser.fail("two lists of return types")
            outputs = parser.params()
            continue
        start = parser.pos
        word = parser.word()
        if not word:
            break
        if word == "returns":
            if parser.peek() != "(":
                raise parser.fail("'returns' without types")
            continue
        if word not in _FUNCTION_WORDS:
            parser.pos = start
            raise parser.fail(f"unexpected {word!r}")
        if word in ("view", "pure", "payable", "nonpayable"):
            mutability = word
    parser.spaces()
    if parser.pos != len(parser.text):
        raise parser.fail(f"unexpected {parser.text[parser.pos :]!r} at the end")
    return Function(first, inputs, outputs, mutability)


# -- ABI files ----------------------------------------------------------------------------


def load_abi(path: Path) -> list[dict[str, Any]]:
    """A JSON ABI: a list of entries, or an artifact ({"abi": [...]}: solc, Hardhat, Foundry)."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CallError(f"cannot read the ABI {path}: {type(error).__name__}") from None
    entries = document.get("abi") if isinstance(document, dict) else document
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise CallError(f'{path} is not a JSON ABI (a list of entries, or an object with an "abi" list)')
    return entries


def _abi_type(entry: dict[str, Any]) -> str:
    kind = str(entry.get("type", ""))
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in entry.get("components", []))
        return f"({inner}){kind[len('tuple') :]}"
    parsed = _Parser(kind)
    return parsed.type() if kind else canonical_elementary(kind)


def _abi_params(entries: Sequence[dict[str, Any]]) -> tuple[Param, ...]:
    return tuple(Param(_abi_type(e), str(e.get("name") or "")) for e in entries)


def function_from_abi(entries: list[dict[str, Any]], wanted: str) -> Function:
    """The ABI's function named `wanted`, or matching `name(types)` when it is overloaded."""
    functions = []
    for entry in entries:
        if entry.get("type", "function") == "function" and entry.get("name"):
            try:
                functions.append(
                    Function(
                        str(entry["name"]),
                        _abi_params(entry.get("inputs", [])),
                        _abi_params(entry.get("outputs", [])),
                        entry.get("stateMutability"),
                    )
                )
            except CallError:
                continue  # an entry with a type we do not handle: not choosable
    wanted = wanted.strip()
    if "(" in wanted:
        signature = parse_signature(wanted).signature
        found = [f for f in functions if f.signature == signature]
    else:
        found = [f for f in functions if f.name == wanted]
    if not found:
        names = sorted({f.name for f in functions})
        shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        raise CallError(f"the ABI has no function {wanted!r} (it has: {shown or 'none'})")
    if len(found) > 1:
        raise CallError(f"{wanted!r} is overloaded in the ABI; name one: " + ", ".join(f.signature for f in found))
    return found[0]


# -- arguments ----------------------------------------------------------------------------


def _split_items(text: str, what: str) -> list[str]:
    """`a, [b,c], "d,e"` -> ['a', '[b,c]', '"d,e"'] (commas at the top level only)."""
    items, depth, start, quoted, escaped = [], 0, 0, False, False
    for i, char in enumerate(text):
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
            continue
        if char == '"':
            quoted = True
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
            if depth < 0:
                raise CallError(f"unbalanced brackets in {what}")
        elif char == "," and depth == 0:
            items.append(text[start:i].strip())
            start = i + 1
    if depth or quoted:
        raise CallError(f"unbalanced brackets or quotes in {what}")
    last = text[start:].strip()
    if last or items:
        items.append(last)
    return items


def _split_tuple(kind: str) -> list[str]:
    return _split_items(kind[1:-1], kind) if kind != "()" else []


def parse_value(kind: str, text: str, where: str = "the argument", nested: bool = False) -> Any:
    """One argument of ABI type `kind` from its text; CallError saying what is wrong."""
    text = text.strip()
    if kind.endswith("]"):
        cut = kind.rindex("[")
        element, size = kind[:cut], kind[cut + 1 : -1]
        if not (text.startswith("[") and text.endswith("]")):
            raise CallError(f"{where} ({kind}) must be a list like [a,b], got {text!r}")
        items = _split_items(text[1:-1], where)
        if size and len(items) != int(size):
            raise CallError(f"{where} ({kind}) needs {size} items, got {len(items)}")
        return [parse_value(element, item, f"{where}[{i}]", True) for i, item in enumerate(items)]
    if kind.startswith("("):
        components = _split_tuple(kind)
        if not (text.startswith("(") and text.endswith(")")):
            raise CallError(f"{where} ({kind}) must be a tuple like (a,b), got {text!r}")
        items = _split_items(text[1:-1], where)
        if len(items) != len(components):
            raise CallError(f"{where} ({kind}) needs {len(components)} values, got {len(items)}")
        return tuple(
            parse_value(c, item, f"{where}.{i}", True)
            for i, (c, item) in enumerate(zip(components, items, strict=True))
        )
    if kind == "string":
        if nested and len(text) >= 2 and text[0] == text[-1] == '"':
            try:
                return json.loads(text)  # a quoted string inside a list or tuple
            except ValueError:
                raise CallError(f"{where} (string) is not a valid quoted string: {text}") from None
        return text
    if kind == "address":
        try:
            return addr.parse(text)
        except WalletError as error:
            raise CallError(f"{where} (address): {error}") from None
    if kind == "bool":
        lowered = text.lower()
        if lowered not in ("true", "false", "1", "0"):
            raise CallError(f"{where} (bool) must be true or false, got {text!r}")
        return lowered in ("true", "1")
    if kind.startswith(("uint", "int")):
        match = _INT.match(text.replace("_", ""))
        if not match:
            raise CallError(f"{where} ({kind}) must be an integer in decimal or 0x hex, got {text!r}")
        value = int(match.group(2), 0) if match.group(2).startswith("0x") else int(match.group(2))
        value = -value if match.group(1) else value
        bits = int(kind[4:] if kind.startswith("uint") else kind[3:])
        low, high = (0, 2**bits - 1) if kind.startswith("uint") else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        if not low <= value <= high:
            raise CallError(f"{where} ({kind}) is out of range: {text} is not within {low}..{high}")
        return value
    if kind.startswith("bytes"):
        if not re.fullmatch(r"0x([0-9a-fA-F]{2})*", text):
            raise CallError(f"{where} ({kind}) must be 0x followed by an even number of hex digits, got {text!r}")
        raw = bytes.fromhex(text[2:])
        if kind != "bytes" and len(raw) != int(kind[5:]):
            raise CallError(
                f"{where} ({kind}) needs exactly {kind[5:]} bytes ({2 * int(kind[5:])} hex digits), got {len(raw)}"
            )
        return raw
    raise CallError(f"{where}: type {kind!r} is not supported")


def parse_args(function: Function, texts: Sequence[str]) -> list[Any]:
    if len(texts) != len(function.inputs):
        raise CallError(
            f"{function.signature} takes {len(function.inputs)} argument{'s' if len(function.inputs) != 1 else ''}, got {len(texts)}"
        )
    return [
        parse_value(p.type, t, f"argument {i + 1}" + (f" ({p.name})" if p.name else ""))
        for i, (p, t) in enumerate(zip(function.inputs, texts, strict=True))
    ]


def calldata(function: Function, values: Sequence[Any]) -> bytes:
    return function.selector + (abi.encode([p.type for p in function.inputs], values) if function.inputs else b"")


def decode_result(function: Function, data: bytes) -> list[Any]:
    """The return values; CallError when the data does not fit the return types."""
    outputs = function.outputs or ()
    if not outputs:
        return []
    if not data:
        raise CallError(f"{function.signature} returned no data (is it the right contract and function?)")
    try:
        return list(abi.decode([p.type for p in outputs], data))
    except Exception:  # noqa: BLE001  eth-abi raises several types for data from an untrusted contract
        raise CallError(
            f"the {len(data)} bytes returned do not decode as ({','.join(p.type for p in outputs)})"
        ) from None


# -- rendering ----------------------------------------------------------------------------


def to_json(kind: str, value: Any) -> Any:
    """A value as JSON: integers as decimal strings (no precision loss), bytes as 0x hex."""
    if kind.endswith("]"):
        element = kind[: kind.rindex("[")]
        return [to_json(element, v) for v in value]
    if kind.startswith("("):
        return [to_json(c, v) for c, v in zip(_split_tuple(kind), value, strict=True)]
    if kind == "address":
        return addr.to_checksum(value)
    if kind == "bool":
        return bool(value)
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, int):
        return str(value)
    return value


def to_text(kind: str, value: Any) -> str:
    """A value for people: `[1, 2]`, `(0xAb..., true)`, strings quoted only inside lists."""
    if kind.endswith("]"):
        element = kind[: kind.rindex("[")]
        return "[" + ", ".join(_inner_text(element, v) for v in value) + "]"
    if kind.startswith("("):
        return "(" + ", ".join(_inner_text(c, v) for c, v in zip(_split_tuple(kind), value, strict=True)) + ")"
    rendered = to_json(kind, value)
    return ("true" if rendered else "false") if kind == "bool" else str(rendered)


def _inner_text(kind: str, value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if kind == "string" else to_text(kind, value)


# -- token amounts, approvals, deadlines --------------------------------------------------


def token_units(text: str, token: Token, *, allow_unlimited: bool = False) -> int:
    """`100`, `100 TKN`, `0.5` (exact, in the token's decimals), or `unlimited` when allowed."""
    if text.strip().lower() in UNLIMITED_WORDS:
        if not allow_unlimited:
            raise AmountError("'unlimited' is only for approvals; give an amount")
        return erc20.UNLIMITED
    amount = parse_amount(text)
    if amount.value is None:
        raise AmountError(
            "'max' is not an allowance: give an amount, or 'unlimited' (and read its warning)"
            if allow_unlimited
            else "give an amount"
        )
    if amount.unit and amount.unit.lower() not in (token.symbol.lower(), token.address.lower()):
        raise AmountError(f"the amount says {amount.unit} but the token is {token.symbol}")
    return to_units(amount.value, token.decimals, token.symbol)


def is_unlimited(units: int) -> bool:
    return units >= 2**255


def format_allowance(units: int, token: Token) -> str:
    return "unlimited" if is_unlimited(units) else f"{format_units(units, token.decimals)} {token.symbol}"


def approve_data(spender: str, units: int) -> bytes:
    return abi.call_data(erc20.APPROVE, spender, units)


_DURATION = re.compile(r"(\d+)\s*(s|sec|m|min|h|d|w)?\Z", re.IGNORECASE)
_SECONDS = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> int:
    """`90` / `90s`, `30m`, `1h`, `7d`, `2w` -> seconds (> 0)."""
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise WalletError(f"{text!r} is not a duration: write e.g. 30m, 1h, 7d (or seconds)")
    return int(match.group(1)) * _SECONDS[match.group(2).lower() if match.group(2) else None]

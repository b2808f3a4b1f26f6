"""Any contract, for every front end: read a function (eth_call, the result decoded by its
return types) or send a transaction calling it (simulated and previewed as parsed)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from wallet.errors import WalletError

from .sender import Sender, TxOptions
from .tokens import resolve_spender

if TYPE_CHECKING:
    from .frontend import Frontend


def function(text: str, abi_file: Path | None) -> Any:
    """`name(types)(returns)`, or a name in the ABI of `abi_file`."""
    from wallet import calls

    if abi_file is not None:
        return calls.function_from_abi(calls.load_abi(abi_file), text)
    if "(" not in text:
        raise WalletError(
            f'{text!r} is not a function signature: write it as name(types), e.g. "balanceOf(address)(uint256)", or give --abi FILE'
        )
    return calls.parse_signature(text)


def _contract_at(chain: Any, net: Any, text: str) -> str:
    where = resolve_spender(net, text)
    if not chain.code(where):
        raise WalletError(f"no contract at {where} on {net.name}: check the address and the network")
    return where


def read(
    address: str,
    function_text: str,
    args: tuple[str, ...],
    *,
    abi_file: Path | None = None,
    sender: str | None = None,
    block: str = "latest",
    network_name: str | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """eth_call FUNCTION on ADDRESS (from `sender`, at `block`): the arguments and the result
    as JSON values and the raw bytes; and the result in lines for people (the raw bytes when
    the return types are unknown)."""
    from wallet import calls, rpc
    from wallet.rpc import RpcError

    from .. import names
    from ..context import chain as connect
    from ..context import network

    fn = function(function_text, abi_file)
    values = calls.parse_args(fn, args)
    net = network(network_name)
    chain = connect(network_name)
    chain.verify()
    where = _contract_at(chain, net, address)
    request = {"to": where, "data": "0x" + calls.calldata(fn, values).hex()}
    if sender:
        request["from"] = names.address(sender)
    tag = block_tag(block)
    try:
        raw = bytes.fromhex((chain.rpc.call("eth_call", request, tag) or "0x")[2:])
    except RpcError as error:
        if not rpc.is_revert(error):
            raise
        from wallet.abi import revert_reason

        raise WalletError(f"{fn.signature} on {where} reverted ({revert_reason(rpc.revert_data(error))})") from None
    decoded = calls.decode_result(fn, raw)
    outputs = fn.outputs or ()
    data = {
        "to": where,
        "function": fn.signature,
        "returns": [p.type for p in outputs],
        "args": [calls.to_json(p.type, v) for p, v in zip(fn.inputs, values, strict=True)],
        "result": [calls.to_json(p.type, v) for p, v in zip(outputs, decoded, strict=True)],
        "raw": "0x" + raw.hex(),
    }
    lines = [calls.to_text(p.type, v) for p, v in zip(outputs, decoded, strict=True)] if outputs else [data["raw"]]
    return data, lines


def send(
    address: str,
    function_text: str,
    args: tuple[str, ...],
    frontend: Frontend,
    opts: TxOptions,
    *,
    abi_file: Path | None = None,
    value_text: str | None = None,
) -> dict[str, Any]:
    """A transaction calling FUNCTION on ADDRESS with `value_text` of ETH; warned when the
    function is a read or not payable."""
    from wallet import calls

    fn = function(function_text, abi_file)
    values = calls.parse_args(fn, args)
    value = wei(value_text) if value_text else 0
    sender = Sender(frontend, opts)
    where = _contract_at(sender.chain, sender.net, address)
    warnings = []
    if fn.mutability in ("view", "pure"):
        warnings.append(
            f"{fn.name} is a {fn.mutability} function: a transaction changes nothing; `hongbao contract call` reads it for free"
        )
    if value and fn.mutability == "nonpayable":
        warnings.append(f"{fn.name} is not payable: sending ETH with it should fail")
    shown = {label: calls.to_text(p.type, v) for label, p, v in zip(fn.labels(), fn.inputs, values, strict=True)}
    summary = f"function: {fn.signature} (selector 0x{fn.selector.hex()})"
    sent = sender.send(
        where, calls.calldata(fn, values), value=value, call=(fn.name, shown), warnings=warnings, summary=summary
    )
    result = sent.json()
    result["function"] = {
        "signature": fn.signature,
        "selector": "0x" + fn.selector.hex(),
        "args": [calls.to_json(p.type, v) for p, v in zip(fn.inputs, values, strict=True)],
    }
    return result


def block_tag(text: str) -> str:
    import re

    text = text.strip().lower()
    if text in ("latest", "pending", "earliest", "safe", "finalized"):
        return text
    if re.fullmatch(r"[0-9]+", text):
        return hex(int(text))
    if re.fullmatch(r"0x[0-9a-f]+", text):
        return hex(int(text, 16))
    raise WalletError(f"--block {text!r}: give a block number, or latest / pending")


def wei(text: str) -> int:
    from wallet.amounts import AmountError, parse_amount, to_units

    amount = parse_amount(text, "ETH")
    scale = {"eth": 18, "gwei": 9, "wei": 0}.get((amount.unit or "ETH").lower())
    if amount.value is None or scale is None:
        raise AmountError(f"--value {text!r}: give an amount of ETH (0.1, '0.1 ETH', '5 gwei', '100 wei')")
    return to_units(amount.value, scale, amount.unit or "ETH")

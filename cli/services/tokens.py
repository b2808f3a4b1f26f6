"""ERC-20 approvals for every front end: approve, revoke, the allowances the known spenders
hold, and EIP-2612 permits (signed after a confirmation, optionally submitted)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wallet.errors import WalletError

from .sender import Sender, TxOptions

if TYPE_CHECKING:
    from wallet.config import Network, Token

    from .frontend import Frontend
    from .signing import Sent


def resolve_token(net: Network, chain: Any, text: str) -> Token:
    """A configured token by symbol or address, or any ERC-20 by address (read from the chain)."""
    from wallet import erc20
    from wallet.config import ConfigError

    try:
        return net.token(text)
    except ConfigError:
        if text.strip().lower().startswith("0x"):
            return erc20.read_token(chain.rpc, text)
        raise


def resolve_spender(net: Network, text: str) -> str:
    """An address, the name of a contract recorded on the network (`vault`, `red_packet`),
    or a contact's name."""
    from messaging.contact_book import UnknownName

    from .. import names

    wanted = text.strip().lower().replace("-", "_")
    for name, address in net.contracts.items():
        if name.lower() == wanted:
            return address
    try:
        return names.address(text)
    except UnknownName:
        known = ", ".join(sorted(net.contracts)) or "none recorded"
        raise WalletError(
            f"{text!r} is neither an address nor a contract recorded on {net.name} (known: {known}), nor a saved contact"
        ) from None


def spender_name(net: Network, address: str) -> str | None:
    """A recorded contract's name, else a contact's name, for previews and tables."""
    from .. import names

    return next((name for name, a in net.contracts.items() if a == address), None) or names.name_of(address)


def approval_json(tok: Token, spender: str, units: int, sent: Sent) -> dict[str, Any]:
    from wallet import calls

    return {
        "token": tok.symbol,
        "token_address": tok.address,
        "spender": spender,
        "allowance": str(units),
        "formatted": calls.format_allowance(units, tok),
        **sent.json(),
    }


def approve(token: str, spender: str, amount: str, frontend: Frontend, opts: TxOptions) -> dict[str, Any]:
    """SPENDER (address, contract name or contact) may spend AMOUNT (exact or `unlimited`) of TOKEN."""
    from wallet import calls

    sender = Sender(frontend, opts)
    tok = resolve_token(sender.net, sender.chain, token)
    who = resolve_spender(sender.net, spender)
    units = calls.token_units(amount, tok, allow_unlimited=True)
    return approval_json(tok, who, units, sender.approve(tok, who, units))


def revoke(token: str, spender: str, frontend: Frontend, opts: TxOptions) -> tuple[dict[str, Any], str | None]:
    """SPENDER's allowance on TOKEN set to 0; (result, None), or (status "unchanged", a line
    for people) when there was none."""
    from wallet import erc20

    sender = Sender(frontend, opts)
    tok = resolve_token(sender.net, sender.chain, token)
    who = resolve_spender(sender.net, spender)
    if erc20.allowance(sender.chain.rpc, tok.address, sender.owner, who) == 0:
        data = {
            "token": tok.symbol,
            "token_address": tok.address,
            "spender": who,
            "allowance": "0",
            "formatted": f"0 {tok.symbol}",
            "hash": None,
            "status": "unchanged",
        }
        return data, f"{who} has no {tok.symbol} allowance from {sender.owner}: nothing to revoke"
    return approval_json(tok, who, 0, sender.approve(tok, who, 0)), None


def allowances(
    address: str | None, spenders: tuple[str, ...], *, wallet_name: str | None, index: int, network_name: str | None
) -> tuple[dict[str, Any], str | None]:
    """What each known spender may take: the network's tokens x its contracts and `spenders`,
    for ADDRESS (default: the wallet's account `index`), read in one batch; and when there is
    nothing to check, why (a line for people)."""
    from wallet import abi, calls

    from .. import names
    from ..context import chain as connect
    from ..context import network
    from ..wallets import open_wallet

    owner = names.address(address) if address else open_wallet(wallet_name).account(index).address
    net = network(network_name)
    who: dict[str, str | None] = {a: name for name, a in net.contracts.items()}
    for text in spenders:
        spender = resolve_spender(net, text)
        who.setdefault(spender, spender_name(net, spender))
    tokens = list(net.tokens.values())
    rows: list[dict[str, Any]] = []
    if tokens and who:
        chain = connect(network_name)
        chain.verify()
        pairs = [(t, s) for t in tokens for s in who]
        calls_ = [
            (
                "eth_call",
                [
                    {"to": t.address, "data": "0x" + abi.call_data("allowance(address,address)", owner, s).hex()},
                    "latest",
                ],
            )
            for t, s in pairs
        ]
        for (tok, spender), raw in zip(pairs, chain.rpc.batch(calls_), strict=True):
            units = int(raw, 16) if raw and raw != "0x" else 0
            rows.append(
                {
                    "token": tok.symbol,
                    "token_address": tok.address,
                    "spender": spender,
                    "spender_name": who[spender],
                    "allowance": str(units),
                    "formatted": calls.format_allowance(units, tok),
                    "unlimited": calls.is_unlimited(units),
                }
            )
    why = None
    if not rows:
        why = f"nothing to check on {net.name}: " + (
            "no tokens configured (`hongbao token add`)"
            if not tokens
            else "no known spenders (`hongbao contracts deploy`, or --spender)"
        )
    return {"owner": owner, "network": net.name, "allowances": rows}, why


def permit(
    token: str, spender: str, amount: str, deadline: str, submit: bool, frontend: Frontend, opts: TxOptions
) -> dict[str, Any]:
    """An EIP-2612 permit signed after the front end confirms it (v, r, s, the calldata);
    with `submit`, also sent from this account ("tx")."""
    from contracts import token as token_binding
    from wallet import calls, signing
    from wallet.rpc import RpcError, is_revert, revert_data, to_int

    from .frontend import Preview

    sender = Sender(frontend, opts)
    rpc, owner = sender.chain.rpc, sender.owner
    tok = resolve_token(sender.net, sender.chain, token)
    who = resolve_spender(sender.net, spender)
    units = calls.token_units(amount, tok, allow_unlimited=True)
    seconds = calls.parse_duration(deadline)
    try:
        name, nonce = token_binding.name(rpc, tok.address), token_binding.nonces(rpc, tok.address, owner)
    except (RpcError, ValueError):
        raise WalletError(
            f"{tok.symbol} ({tok.address}) does not answer name() and nonces(owner): it does not support EIP-2612 permits"
        ) from None
    expires = to_int(rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"]) + seconds
    typed = token_binding.permit_typed_data(tok.address, sender.chain.chain_id, name, owner, who, units, nonce, expires)
    warnings = (
        [f"UNLIMITED PERMIT: {who} could take every {tok.symbol} you hold, now or later"]
        if calls.is_unlimited(units)
        else []
    )
    rows = [
        ("sign", f"EIP-2612 permit for {tok.symbol} ({tok.address})"),
        ("owner", owner),
        ("spender", who),
        ("value", calls.format_allowance(units, tok)),
        ("nonce", str(nonce)),
        ("deadline", f"{expires} ({_when(expires)})"),
        ("network", f"{sender.net.name} (chain id {sender.chain.chain_id})"),
    ]
    frontend.confirm(Preview("Sign this permit?", rows, warnings))
    v, r, s = token_binding.split_signature(signing.sign_typed_data(sender.key(), typed))
    data = token_binding.permit_data(owner, who, units, expires, v, r, s)
    try:  # would the token take it? (its EIP-712 domain could differ from (name, "1", chain id, token))
        rpc.call("eth_call", {"from": owner, "to": tok.address, "data": "0x" + data.hex()}, "latest")
    except RpcError as error:
        if not is_revert(error):
            raise
        from wallet.abi import revert_reason

        raise WalletError(
            f"{tok.symbol} would refuse this permit ({revert_reason(revert_data(error))}); the signature was discarded"
        ) from None
    result: dict[str, Any] = {
        "token": tok.symbol,
        "token_address": tok.address,
        "owner": owner,
        "spender": who,
        "value": str(units),
        "nonce": nonce,
        "deadline": expires,
        "v": v,
        "r": "0x" + r.hex(),
        "s": "0x" + s.hex(),
        "signature": "0x" + (r + s + bytes([v])).hex(),
        "calldata": "0x" + data.hex(),
        "warnings": warnings,
    }
    if submit:
        shown = {"owner": owner, "spender": who, "value": calls.format_allowance(units, tok), "deadline": expires}
        sent = sender.send(tok.address, data, call=("permit", shown), summary=f"submitting the permit for {who}")
        result["tx"] = sent.json()
    return result


def _when(timestamp: int) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

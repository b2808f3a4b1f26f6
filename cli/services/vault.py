"""The ERC-4626 vault for every front end: deposit (approving exactly the amount first when
asked), withdraw (an amount or every share), and a position's worth."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wallet.amounts import format_units
from wallet.errors import WalletError

from .sender import Sender, TxOptions
from .tokens import approval_json, resolve_spender

if TYPE_CHECKING:
    from wallet.config import Network, Token

    from .frontend import Frontend

VAULT_KEY = "vault"  # [networks.<name>.contracts] key written by `hongbao contracts deploy`


def locate(net: Network, chain: Any, ref: str | None) -> tuple[str, Token, Token]:
    """(vault address, its asset, its share token): `ref` (address or contract name) or the
    network's recorded vault."""
    from contracts import vault as vault_binding
    from wallet import erc20

    if ref is None:
        if VAULT_KEY not in net.contracts:
            raise WalletError(
                f"no vault recorded on {net.name}: run `hongbao contracts deploy` (local chain) or pass --vault ADDRESS"
            )
        where = net.contracts[VAULT_KEY]
    else:
        where = resolve_spender(net, ref)
    if not chain.code(where):
        raise WalletError(
            f"no contract at {where} on {net.name}: the vault is gone (a fresh chain?); run `hongbao contracts deploy`"
        )
    try:
        asset_address = vault_binding.asset(chain.rpc, where)
    except (WalletError, ValueError):
        raise WalletError(f"{where} does not answer asset(): it is not an ERC-4626 vault") from None
    asset = next((t for t in net.tokens.values() if t.address == asset_address), None) or erc20.read_token(
        chain.rpc, asset_address
    )
    return where, asset, erc20.read_token(chain.rpc, where)


def _hint(opts: TxOptions) -> str:
    """The options that pick this account and network, for a command we tell the user to run."""
    parts = [f"--wallet {opts.wallet_name}"] if opts.wallet_name else []
    parts += [f"--index {opts.index}"] if opts.index else []
    parts += [f"--network {opts.network_name}"] if opts.network_name else []
    return "".join(" " + p for p in parts)


def deposit(
    amount: str, vault_ref: str | None, with_approve: bool, frontend: Frontend, opts: TxOptions
) -> dict[str, Any]:
    """Deposit AMOUNT (or `max`) of the vault's asset; a short allowance is refused with the
    `token approve` to run, or with `with_approve` approved exactly AMOUNT first."""
    from contracts import vault as vault_binding
    from wallet import calls, erc20
    from wallet.amounts import parse_amount
    from wallet.transfers import InsufficientFunds

    sender = Sender(frontend, opts)
    rpc, owner = sender.chain.rpc, sender.owner
    where, asset, shares_token = locate(sender.net, sender.chain, vault_ref)
    held = erc20.balance_of(rpc, asset.address, owner)
    units = held if parse_amount(amount).is_max else calls.token_units(amount, asset)
    shown = format_units(units, asset.decimals)
    if units == 0:
        raise WalletError(
            f"nothing to deposit: the amount is 0 {asset.symbol}"
            + (f" (you hold no {asset.symbol})" if held == 0 else "")
        )
    if units > held:
        raise InsufficientFunds(
            f"insufficient {asset.symbol}: depositing {shown}, have {format_units(held, asset.decimals)}"
        )
    allowed = erc20.allowance(rpc, asset.address, owner, where)
    approval = None
    if allowed < units:
        if not with_approve:
            ref = asset.symbol if asset.symbol in sender.net.tokens else asset.address
            raise WalletError(
                f"the vault may not take your {asset.symbol} yet (allowance {format_units(allowed, asset.decimals)}, the deposit needs {shown}): "
                f"run `hongbao token approve {ref} {where} {shown}{_hint(opts)}` first, or add --approve"
            )
        approval = sender.approve(asset, where, units, must_wait=True)
    expected = vault_binding.preview_deposit(rpc, where, units)
    call = ("deposit", {"assets": f"{shown} {asset.symbol}", "receiver": owner})
    summary = f"deposit: {shown} {asset.symbol} into the vault {where} for ~{format_units(expected, shares_token.decimals)} {shares_token.symbol}"
    done = sender.send(where, vault_binding.deposit_data(units, owner), call=call, summary=summary)
    return {
        "vault": where,
        "asset": asset.symbol,
        "asset_address": asset.address,
        "assets": str(units),
        "expected_shares": str(expected),
        "approve": approval_json(asset, where, units, approval) if approval else None,
        "deposit": done.json(),
    }


def withdraw(amount: str, vault_ref: str | None, frontend: Frontend, opts: TxOptions) -> dict[str, Any]:
    """Withdraw AMOUNT of the asset, or `max`: redeem every share."""
    from contracts import vault as vault_binding
    from wallet import calls
    from wallet.amounts import parse_amount

    sender = Sender(frontend, opts)
    rpc, owner = sender.chain.rpc, sender.owner
    where, asset, shares_token = locate(sender.net, sender.chain, vault_ref)
    shares = vault_binding.balance_of(rpc, where, owner)
    if shares == 0:
        raise WalletError(f"{owner} holds no shares of the vault {where}: nothing to withdraw")
    everything = parse_amount(amount).is_max
    if everything:
        units = vault_binding.convert_to_assets(rpc, where, shares)
        data = vault_binding.redeem_data(shares, owner, owner)
        all_shares = f"{format_units(shares, shares_token.decimals)} {shares_token.symbol} (all)"
        call = ("redeem", {"shares": all_shares, "receiver": owner, "owner": owner})
    else:
        units = calls.token_units(amount, asset)
        most = vault_binding.max_withdraw(rpc, where, owner)
        if units == 0:
            raise WalletError(f"nothing to withdraw: the amount is 0 {asset.symbol}")
        if units > most:
            raise WalletError(
                f"you can withdraw at most {format_units(most, asset.decimals)} {asset.symbol} from the vault (asked {format_units(units, asset.decimals)}); `max` takes it all"
            )
        data = vault_binding.withdraw_data(units, owner, owner)
        call = (
            "withdraw",
            {"assets": f"{format_units(units, asset.decimals)} {asset.symbol}", "receiver": owner, "owner": owner},
        )
    summary = f"withdraw: ~{format_units(units, asset.decimals)} {asset.symbol} from the vault {where}"
    done = sender.send(where, data, call=call, summary=summary)
    return {
        "vault": where,
        "asset": asset.symbol,
        "asset_address": asset.address,
        "assets": str(units),
        "all": everything,
        **done.json(),
    }


def position(
    address: str | None, vault_ref: str | None, *, wallet_name: str | None, index: int, network_name: str | None
) -> dict[str, Any]:
    """ADDRESS's (default: the wallet's account) shares, their worth in the asset, the vault's total."""
    from contracts import vault as vault_binding

    from .. import names
    from ..context import chain as connect
    from ..context import network
    from ..wallets import open_wallet

    owner = names.address(address) if address else open_wallet(wallet_name).account(index).address
    net = network(network_name)
    chain = connect(network_name)
    chain.verify()
    where, asset, shares_token = locate(net, chain, vault_ref)
    shares = vault_binding.balance_of(chain.rpc, where, owner)
    worth = vault_binding.convert_to_assets(chain.rpc, where, shares) if shares else 0
    total = vault_binding.total_assets(chain.rpc, where)
    return {
        "owner": owner,
        "network": net.name,
        "vault": where,
        "asset": asset.symbol,
        "asset_address": asset.address,
        "share_symbol": shares_token.symbol,
        "shares": str(shares),
        "shares_formatted": format_units(shares, shares_token.decimals),
        "value": str(worth),
        "value_formatted": format_units(worth, asset.decimals),
        "total_assets": str(total),
        "total_assets_formatted": format_units(total, asset.decimals),
    }

"""TestVault (contracts/src/TestVault.sol, ERC-4626) over ``wallet.rpc.Rpc``: calldata and reads.

Amounts are base units: ``assets`` of the underlying token, ``shares`` of the vault. A deposit
needs the asset approved to the vault first (``wallet.erc20.APPROVE``).

    data = deployment_data(token_address, "Hongbao Vault", "vTKN")
    deposit_data(assets, receiver)            -> shares minted to receiver
    withdraw_data(assets, receiver, owner)    -> burns what those assets cost in shares
    redeem_data(shares, receiver, owner)      -> pays out what those shares are worth
"""

from __future__ import annotations

from wallet import abi
from wallet.rpc import Rpc

__all__ = [
    "ARTIFACT",
    "asset",
    "balance_of",
    "convert_to_assets",
    "deployment_data",
    "deposit_data",
    "max_withdraw",
    "preview_deposit",
    "preview_redeem",
    "redeem_data",
    "total_assets",
    "withdraw_data",
]

ARTIFACT = "TestVault"
DEPOSIT = "deposit(uint256,address)"
WITHDRAW = "withdraw(uint256,address,address)"
REDEEM = "redeem(uint256,address,address)"


def _call(rpc: Rpc, to: str, data: bytes, block: str = "latest") -> bytes:
    result = rpc.call("eth_call", {"to": to, "data": "0x" + data.hex()}, block)
    return bytes.fromhex((result or "0x")[2:])


def _uint(rpc: Rpc, vault: str, signature: str, *args: object) -> int:
    return abi.decode_uint(_call(rpc, vault, abi.call_data(signature, *args)))


# -- transactions (calldata) ----------------------------------------------------------------


def deployment_data(asset_address: str, name: str, symbol: str) -> bytes:
    """Creation code + constructor args for a vault over ``asset_address``."""
    from contracts.artifacts import load
    from contracts.deploy import deployment_tx

    return deployment_tx(load(ARTIFACT), asset_address, name, symbol)


def deposit_data(assets: int, receiver: str) -> bytes:
    return abi.call_data(DEPOSIT, assets, receiver)


def withdraw_data(assets: int, receiver: str, owner: str) -> bytes:
    return abi.call_data(WITHDRAW, assets, receiver, owner)


def redeem_data(shares: int, receiver: str, owner: str) -> bytes:
    return abi.call_data(REDEEM, shares, receiver, owner)


# -- reads (eth_call) -----------------------------------------------------------------------


def asset(rpc: Rpc, vault: str) -> str:
    """The underlying token's address (checksummed)."""
    return abi.decode_address(_call(rpc, vault, abi.selector("asset()")))


def total_assets(rpc: Rpc, vault: str) -> int:
    return _uint(rpc, vault, "totalAssets()")


def balance_of(rpc: Rpc, vault: str, owner: str) -> int:
    """Shares held by ``owner``."""
    return _uint(rpc, vault, "balanceOf(address)", owner)


def convert_to_assets(rpc: Rpc, vault: str, shares: int) -> int:
    return _uint(rpc, vault, "convertToAssets(uint256)", shares)


def preview_deposit(rpc: Rpc, vault: str, assets: int) -> int:
    """Shares a deposit of ``assets`` would mint now."""
    return _uint(rpc, vault, "previewDeposit(uint256)", assets)


def preview_redeem(rpc: Rpc, vault: str, shares: int) -> int:
    """Assets redeeming ``shares`` would pay now (ERC-4626: fees included, unlike convertToAssets)."""
    return _uint(rpc, vault, "previewRedeem(uint256)", shares)


def max_withdraw(rpc: Rpc, vault: str, owner: str) -> int:
    """Assets ``owner`` can withdraw now (their shares' worth, rounded down)."""
    return _uint(rpc, vault, "maxWithdraw(address)", owner)

"""What a Uniswap router swap paid its recipient, proven from the transaction and its receipt.

A swap's output is paid by a pool (a token) or by the router (ETH it unwrapped), never by
the trader, so a payment notice for it cannot be checked like a transfer (`payments.check`
wants the payer as the Transfer's `from`). The proof instead rests on the routers the
recipient has recorded (config `uniswap_v2_router`, `uniswap_v3_router`, `weth`): such a
router pulls the input from the transaction's sender only (v2 `transferFrom(msg.sender)`,
v3 `pay(..., msg.sender)`; `selfPermit` is the sender's own permit) and pays the output to
the recipient named in the calldata. So when the transaction goes to a recorded router and
its calldata is one of the swap shapes below, what reached the named recipient is the
sender's payment:

- a token out: the token's Transfer logs to the recipient in the receipt;
- ETH out (v2 `swapExactTokensForETH`, or v3 `multicall([exactInputSingle(-> router),
  unwrapWETH9(min, recipient)])`): the WETH the router unwrapped (WETH9 `Withdrawal` with
  `src` = router), at most the WETH that reached the router in this transaction, so WETH
  someone left in the router earlier never counts.

Any other call (sweepToken, a multicall with other items, exact-output swaps) is refused
as not provable. Pure: dicts from `eth_getTransactionByHash` / `eth_getTransactionReceipt` in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import abi, calls
from . import address as addr
from .erc20 import TRANSFER_TOPIC
from .errors import WalletError

__all__ = ["NotProvable", "Routers", "SwapPayout", "payout"]

WITHDRAWAL_TOPIC = "0x7fcf532c15f0a6db0bd6d0e038bea71d30d808c7d98cb3bf7268a95bf5081b65"  # WETH9 Withdrawal(src, wad)
SINGLE = "(address,address,uint24,address,uint256,uint256,uint256,uint160)"
V2_ETH_IN = "swapExactETHForTokens(uint256,address[],address,uint256)"
V2_TOKENS = ("swapExactTokensForTokens", "swapExactTokensForETH")
V3_SINGLE = f"exactInputSingle({SINGLE})"
V3_MULTICALL = "multicall(bytes[])"
V3_UNWRAP = "unwrapWETH9(uint256,address)"
V3_PERMIT = "selfPermit(address,uint256,uint256,uint8,bytes32,bytes32)"


class NotProvable(WalletError):
    """The transaction is not a swap shape whose payout can be proven."""


@dataclass(frozen=True)
class Routers:
    """The routers the recipient trusts (recorded in its config), and their WETH."""

    weth: str | None = None
    v2: str | None = None
    v3: str | None = None

    @classmethod
    def from_contracts(cls, contracts: dict[str, str]) -> Routers:
        return cls(contracts.get("weth"), contracts.get("uniswap_v2_router"), contracts.get("uniswap_v3_router"))

    def venue(self, to: Any) -> str | None:
        """ "v2" or "v3" when `to` is one of these routers."""
        if not isinstance(to, str) or not to:
            return None
        for name, router in (("v2", self.v2), ("v3", self.v3)):
            if router and int(router, 16) == int(to, 16):
                return name
        return None


@dataclass(frozen=True)
class SwapPayout:
    recipient: str
    token: str | None  # None: ETH (WETH unwrapped by the router)
    amount: int
    venue: str


@dataclass(frozen=True)
class _Call:
    recipient: str
    token_out: str | None  # None: ETH


def _args(data: bytes, signature: str) -> tuple[Any, ...] | None:
    function = calls.parse_signature(signature)
    if data[:4] != function.selector:
        return None
    try:
        return abi.decode([p.type for p in function.inputs], data[4:])
    except Exception:  # noqa: BLE001  calldata is the stranger's: any malformation is "not provable"
        raise NotProvable("the swap's calldata does not decode") from None


def _v2(data: bytes) -> _Call:
    args = _args(data, V2_ETH_IN)
    if args is not None:
        _, path, to, _ = args
        if len(path) < 2:
            raise NotProvable("a Uniswap v2 swap with no path")
        return _Call(addr.parse(to), addr.parse(path[-1]))
    for name in V2_TOKENS:
        args = _args(data, f"{name}(uint256,uint256,address[],address,uint256)")
        if args is not None:
            _, _, path, to, _ = args
            if len(path) < 2:
                raise NotProvable("a Uniswap v2 swap with no path")
            if name == "swapExactTokensForETH":
                return _Call(addr.parse(to), None)
            return _Call(addr.parse(to), addr.parse(path[-1]))
    raise NotProvable("a call to the Uniswap v2 router that is not an exact-input swap")


def _v3(data: bytes, router: str, weth: str | None) -> _Call:
    single = _args(data, V3_SINGLE)
    if single is not None:
        return _Call(addr.parse(single[0][3]), addr.parse(single[0][1]))
    calls = _args(data, V3_MULTICALL)
    if calls is None:
        raise NotProvable("a call to the Uniswap v3 router that is not a swap")
    items = [bytes(c) for c in calls[0]]
    while items and _args(items[0], V3_PERMIT) is not None:
        items.pop(0)  # the sender's own permits: they move nothing
    swaps = [_args(i, V3_SINGLE) for i in items[:1]]
    if len(items) not in (1, 2) or swaps[0] is None:
        raise NotProvable("a Uniswap v3 multicall other than [selfPermit..., exactInputSingle, unwrapWETH9]")
    params = swaps[0][0]
    if len(items) == 1:
        return _Call(addr.parse(params[3]), addr.parse(params[1]))
    unwrap = _args(items[1], V3_UNWRAP)
    if unwrap is None or addr.parse(params[3]) != addr.parse(router):
        raise NotProvable("a Uniswap v3 multicall whose second call is not the unwrap of its own swap")
    if weth is None or addr.parse(params[1]) != addr.parse(weth):
        raise NotProvable("an unwrap after a swap whose output is not WETH")
    return _Call(addr.parse(unwrap[1]), None)


def _topic_address(topic: str) -> str:
    return addr.to_checksum("0x" + topic[-40:])


def _moved(receipt: dict[str, Any], contract: str, topic: str, who: str) -> int:
    """The sum of ``contract``'s ``topic`` events whose last indexed address is ``who``:
    Transfer(from, to) to ``who``, or WETH9 Withdrawal(src) by ``who``."""
    total = 0
    for log in receipt.get("logs", []):
        topics = [t.lower() for t in log.get("topics", [])]
        arity = 3 if topic == TRANSFER_TOPIC else 2
        if (
            len(topics) == arity
            and topics[0] == topic
            and addr.parse(log["address"]) == contract
            and _topic_address(topics[-1]) == who
        ):
            total += int(log.get("data") or "0x0", 16)
    return total


def payout(tx: dict[str, Any], receipt: dict[str, Any], routers: Routers) -> SwapPayout:
    """Who a mined, successful router swap paid, in what and how much; `NotProvable` otherwise.
    (Whether the transaction succeeded and who sent it are the caller's to check.)"""
    venue = routers.venue(tx.get("to"))
    if venue is None:
        raise NotProvable("the transaction did not go to a Uniswap router recorded on this network")
    router = addr.parse(tx["to"])
    raw = tx.get("input") or tx.get("data") or "0x"
    try:
        data = bytes.fromhex(raw[2:])
    except ValueError:
        raise NotProvable("the transaction's calldata is not hex") from None
    call = _v2(data) if venue == "v2" else _v3(data, router, routers.weth)
    if call.token_out is not None:
        return SwapPayout(
            call.recipient, call.token_out, _moved(receipt, call.token_out, TRANSFER_TOPIC, call.recipient), venue
        )
    if routers.weth is None:
        raise NotProvable("no WETH recorded on this network: an ETH payout cannot be proven")
    weth = addr.parse(routers.weth)
    amount = min(_moved(receipt, weth, WITHDRAWAL_TOPIC, router), _moved(receipt, weth, TRANSFER_TOPIC, router))
    return SwapPayout(call.recipient, None, amount, venue)

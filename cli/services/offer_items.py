"""What an offer is made of, and where it settles: items as people write them (`0.05 ETH`,
`100 TKN`, `NFT 0xCOLLECTION#7`) and as they are shown, and the network's Seaport (cli/services/offers.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from contracts.protocols import seaport
from contracts.protocols.seaport import Item
from wallet import address as addr
from wallet import erc20
from wallet.amounts import ETH_DECIMALS, AmountError, format_units, parse_amount, to_units
from wallet.config import ConfigError, Network
from wallet.errors import WalletError
from wallet.rpc import Rpc, to_int

from .defi import inert

__all__ = ["DEFAULT_EXPIRY", "OfferError", "Venue", "eth_item", "merged", "parse_item", "utc", "venue"]

DEFAULT_EXPIRY = "1d"
_NFT = re.compile(r"(?:nft\s+)?(0x[0-9a-fA-F]{40})\s*#\s*([0-9]{1,78})", re.IGNORECASE)


class OfferError(WalletError):
    pass


@dataclass(frozen=True)
class Venue:
    """Where offers settle: the network, its Seaport, a connection."""

    net: Network
    rpc: Rpc
    chain_id: int
    seaport: str
    weth: str | None

    def now(self) -> int:
        """The chain's clock (the latest block's timestamp): what Seaport checks times against."""
        return to_int(self.rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"])

    def describe(self, item: Item) -> str:
        """An item for people: `0.05 ETH`, `100 TKN`, `NFT 0x…#7` (a symbol from a contract is made inert)."""
        if item.kind == seaport.NATIVE:
            return f"{format_units(item.amount, ETH_DECIMALS)} ETH"
        if item.kind == seaport.ERC721:
            return f"NFT {item.token}#{item.identifier}"
        for token in self.net.tokens.values():
            if int(token.address, 16) == int(item.token, 16):
                return f"{format_units(item.amount, token.decimals)} {inert(token.symbol)}"
        try:
            found = erc20.read_token(self.rpc, item.token)
        except (WalletError, ValueError):  # not a token contract (an offer may name anything)
            return f"{item.amount} base units of token {item.token}"
        return f"{format_units(item.amount, found.decimals)} {inert(found.symbol)} ({item.token})"


def venue(net: Network, rpc: Rpc) -> Venue:
    where = net.contracts.get("seaport")
    if not where:
        raise OfferError(
            f"no Seaport recorded on {net.name}: run `hongbao defi deploy` (local chain) or `hongbao contracts add seaport ADDRESS`"
        )
    weth = net.contracts.get("weth") or (net.tokens["WETH"].address if "WETH" in net.tokens else None)
    return Venue(net, rpc, net.chain_id, addr.parse(where), weth)


def parse_item(text: str, place: Venue) -> Item:
    """`0.05 ETH`, `100 TKN`, `5 0xTOKEN` or `NFT 0xCOLLECTION#ID` (also without `NFT`)."""
    raw = text.strip()
    nft = _NFT.fullmatch(raw)
    if nft:
        return Item(seaport.ERC721, addr.parse(nft.group(1)), int(nft.group(2)), 1)
    try:
        amount = parse_amount(raw, "ETH")
    except AmountError as error:
        raise OfferError(f"{raw[:40]!r}: {error} (or write NFT 0xCOLLECTION#ID)") from None
    if amount.value is None:
        raise OfferError("an offer names exact amounts, not max")
    unit = amount.unit or "ETH"
    if unit.upper() == "ETH":
        units = to_units(amount.value, ETH_DECIMALS, "ETH")
        item = Item(seaport.NATIVE, seaport.ZERO, 0, units)
    else:
        try:
            token = place.net.token(unit)
        except ConfigError:
            if not unit.lower().startswith("0x"):
                raise
            token = erc20.read_token(place.rpc, unit)
        item = Item(seaport.ERC20, addr.parse(token.address), 0, to_units(amount.value, token.decimals, token.symbol))
    if item.amount == 0:
        raise OfferError(f"{raw[:40]!r} is nothing: name more than 0")
    return item


# -- helpers ----------------------------------------------------------------------------


def merged(items: list[Item] | tuple[Item, ...]) -> list[Item]:
    """The same ETH or ERC-20 named twice counts once, amounts added (an NFT stays itself)."""
    out: list[Item] = []
    for item in items:
        same = next(
            (
                i
                for i, o in enumerate(out)
                if item.kind != seaport.ERC721 and (o.kind, o.token) == (item.kind, item.token)
            ),
            None,
        )
        if same is None:
            out.append(item)
        else:
            old = out[same]
            out[same] = Item(old.kind, old.token, 0, old.amount + item.amount, old.recipient)
    return out


def utc(seconds: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def eth_item(units: int) -> Item:
    return Item(seaport.NATIVE, seaport.ZERO, 0, units)

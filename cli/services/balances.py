"""Balances for a front end's side panel and `hongbao balance`: ETH and the network's
configured tokens, read in one JSON-RPC batch."""

from __future__ import annotations

from typing import Any

from wallet.amounts import ETH_DECIMALS, format_units


def balances(address: str, network_name: str | None = None) -> dict[str, Any]:
    """{"address", "network", "balances": [{"symbol", "address" (None: ETH), "balance"
    (base units, text), "formatted"}]}: the JSON of `balance --json`."""
    from wallet import abi

    from ..context import chain as connect
    from ..context import network

    net = network(network_name)
    chain = connect(network_name)
    chain.verify()
    tokens = list(net.tokens.values())
    calls: list[tuple[str, list[Any]]] = [("eth_getBalance", [address, "latest"])]
    calls += [
        ("eth_call", [{"to": t.address, "data": "0x" + abi.call_data("balanceOf(address)", address).hex()}, "latest"])
        for t in tokens
    ]
    results = chain.rpc.batch(calls)
    rows = [
        {
            "symbol": "ETH",
            "address": None,
            "balance": str(int(results[0], 16)),
            "formatted": format_units(int(results[0], 16), ETH_DECIMALS),
        }
    ]
    for t, raw in zip(tokens, results[1:], strict=True):
        units = int(raw, 16) if raw and raw != "0x" else 0
        rows.append(
            {
                "symbol": t.symbol,
                "address": t.address,
                "balance": str(units),
                "formatted": format_units(units, t.decimals),
            }
        )
    return {"address": address, "network": net.name, "balances": rows}

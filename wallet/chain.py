"""A network and its RPC, checked: every signing path goes through `Chain.verify()`."""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import Network
from .errors import WalletError
from .rpc import Rpc, to_int


class ChainMismatch(WalletError):
    pass


@dataclass
class Chain:
    network: Network
    rpc: Rpc
    _verified: bool = field(default=False, repr=False)

    @classmethod
    def connect(cls, network: Network, timeout: float = 30.0) -> Chain:
        return cls(network, Rpc(network.rpc_url, timeout=timeout))

    def verify(self) -> None:
        """Refuse to sign for a chain other than the configured one (replay protection)."""
        if self._verified:
            return
        actual = to_int(self.rpc.call("eth_chainId"))
        if actual != self.network.chain_id:
            raise ChainMismatch(
                f"the RPC at {self.network.rpc_url} reports chain id {actual}, but network {self.network.name!r} "
                f"is configured as {self.network.chain_id}; fix the URL or the network (`hongbao network add`)"
            )
        self._verified = True

    @property
    def chain_id(self) -> int:
        return self.network.chain_id

    def balance(self, address: str, block: str = "latest") -> int:
        return to_int(self.rpc.call("eth_getBalance", address, block))

    def code(self, address: str) -> bytes:
        return bytes.fromhex((self.rpc.call("eth_getCode", address, "latest") or "0x")[2:])

    def close(self) -> None:
        self.rpc.close()

"""Has the chain's head moved since the last look? One eth_blockNumber per look, for the
pollers that work only when it has (the app's balances, `chat watch`'s chain news)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .chain import Chain
from .errors import WalletError


class NewBlocks:
    """`look()`: the head's block number when it moved since the last look, else None.

    Any move counts, backwards too: a reorg or a restarted anvil makes what was read at the
    old head stale. The node is reached through `connect()`, called again after a failure
    (the configuration may change meanwhile: `hongbao network use`). A look that fails
    raises WalletError and forgets the head, so the first good look after it is a move."""

    def __init__(self, connect: Callable[[], Chain]) -> None:
        self._connect = connect
        self.chain: Chain | None = None  # the connection looked through, for the caller's reads
        self.head: int | None = None

    def look(self) -> int | None:
        try:
            if self.chain is None:
                self.chain = self._connect()
            head = block_number(self.chain.rpc.call("eth_blockNumber"))
        except WalletError:
            self.forget()
            raise
        if head == self.head:
            return None
        self.head = head
        return head

    def forget(self) -> None:
        """Start again on a new connection; the next good look is a move (for a caller
        whose work for the last move failed, to do it again)."""
        self.chain, self.head = None, None


def block_number(value: Any) -> int:
    """A node's eth_blockNumber answer, checked: the node is a stranger."""
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return int(value, 16)  # "0x-1" is refused too: the sign must come before the prefix
        except ValueError:
            pass
    raise WalletError("the node's eth_blockNumber answer is not a block number; is the RPC URL a node?")

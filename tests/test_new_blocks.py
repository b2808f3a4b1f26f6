"""wallet.new_blocks.NewBlocks, and what its two pollers make of each head a node reports:
the app's ChainWatch (block, balance) and `chat watch`'s Watch.chain_on_new_block."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from cli.app.live import ChainWatch
from cli.services.chat_watch import Watch
from wallet.errors import WalletError
from wallet.new_blocks import NewBlocks, block_number
from wallet.rpc import RpcUnreachable


class Raw:
    """An answer as it stands (a hostile node's), where an int would be taken for a head."""

    def __init__(self, value: Any) -> None:
        self.value = value


class Node:
    """Answers eth_blockNumber from a script: an int is the head, an exception is raised,
    Raw(x) is answered as x. Counts the connections made to it."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.connections = 0

    def connect(self) -> Any:
        self.connections += 1
        return SimpleNamespace(rpc=self, network=SimpleNamespace(name="local"))

    def call(self, method: str, *params: Any) -> Any:
        assert method == "eth_blockNumber"
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer.value if isinstance(answer, Raw) else hex(answer)


def looks(node: Node) -> list[int | str | None]:
    """Each look's outcome: the new head, None (not moved), or "error"."""
    blocks = NewBlocks(node.connect)
    seen: list[int | str | None] = []
    while node.answers:
        try:
            seen.append(blocks.look())
        except WalletError:
            seen.append("error")
    return seen


def test_a_head_that_stays_is_told_once_on_one_connection():
    node = Node(5, 5, 5)
    assert looks(node) == [5, None, None]
    assert node.connections == 1


def test_every_move_is_told_backwards_too():
    # 0 is a head like any other; 3 after 7: a reorg, or anvil restarted
    assert looks(Node(0, 0, 7, 3, 3, 4)) == [0, None, 7, 3, None, 4]


def test_a_failed_look_reconnects_and_the_next_good_one_is_a_move():
    node = Node(5, RpcUnreachable("down"), 5, 5)
    assert looks(node) == [5, "error", 5, None]
    assert node.connections == 2


def test_a_failed_connect_is_tried_again_at_the_next_look():
    node = Node(9)
    tries = iter([WalletError("no such network"), None])

    def connect() -> Any:
        error = next(tries)
        if error is not None:
            raise error
        return node.connect()

    blocks = NewBlocks(connect)
    with pytest.raises(WalletError, match="no such network"):
        blocks.look()
    assert blocks.look() == 9


def test_forget_makes_the_next_look_a_move_on_a_new_connection():
    node = Node(5, 5)
    blocks = NewBlocks(node.connect)
    assert blocks.look() == 5
    blocks.forget()
    assert blocks.look() == 5
    assert node.connections == 2


@pytest.mark.parametrize("answer", [None, 12, "12", "0x", "0xzz", "0x-1", "-0x1", ["0x1"], {"result": "0x1"}])
def test_an_answer_that_is_not_a_block_number_is_a_wallet_error(answer):
    with pytest.raises(WalletError, match="not a block number"):
        block_number(answer)
    assert looks(Node(4, Raw(answer), 4)) == [4, "error", 4]


# What each poller makes of it.


def chat_watch(node: Node) -> tuple[Watch, list[str]]:
    """A Watch whose chain() only counts its calls (the news it reads has its own tests)."""
    watch = Watch.__new__(Watch)
    watch.blocks = NewBlocks(node.connect)
    calls: list[str] = []

    def chain() -> list[dict[str, Any]]:
        calls.append("chain")
        return [{"kind": "news", "text": f"news {len(calls)}"}]

    watch.chain = chain
    return watch, calls


def test_chat_watch_reads_the_chain_news_only_when_the_head_moved_or_cannot_be_read():
    node = Node(5, 5, 6, 2, RpcUnreachable("down"), RpcUnreachable("down"), 2, 2)
    watch, calls = chat_watch(node)
    told = [watch.chain_on_new_block() for _ in range(8)]
    # an unreadable head goes to chain(), which warns once per outage (ChainNews)
    assert [len(t) for t in told] == [1, 0, 1, 1, 1, 1, 1, 0]
    assert len(calls) == 6


class Balances:
    def __init__(self, *results: Any) -> None:
        self.results = list(results)
        self.asked = 0

    def __call__(self, address: str, network_name: str | None = None) -> dict[str, Any]:
        self.asked += 1
        result = self.results.pop(0) if self.results else "1"
        if isinstance(result, Exception):
            raise result
        return {"balances": [{"formatted": result, "symbol": "ETH"}]}


@pytest.fixture
def app_watch(monkeypatch):
    def make(node: Node, balances: Balances) -> ChainWatch:
        from cli.services import balances as balances_mod
        from cli.services import defi

        def no_protocols(net: Any, rpc: Any) -> Any:
            raise WalletError("none recorded")

        monkeypatch.setattr(balances_mod, "balances", balances)
        monkeypatch.setattr(defi, "protocols", no_protocols)
        watch = ChainWatch(SimpleNamespace(m=SimpleNamespace(address="0x" + "11" * 20), chain=list), "local")  # no news
        watch.blocks = NewBlocks(node.connect)
        return watch

    return make


def kinds(events: list[Any]) -> list[str]:
    return [f"{e.kind}:{e.text}" for e in events]


def test_the_app_tells_each_new_head_with_the_balance_read_at_it(app_watch):
    balances = Balances("1", "2", "3")
    watch = app_watch(Node(5, 5, 6, 2), balances)
    told = [kinds(watch.poll()) for _ in range(4)]
    assert told == [["block:5", "balance:1 ETH"], [], ["block:6", "balance:2 ETH"], ["block:2", "balance:3 ETH"]]
    assert balances.asked == 3


def test_the_app_says_once_that_the_chain_is_down_and_refreshes_when_it_is_back_at_the_same_head(app_watch):
    down = RpcUnreachable("the RPC is down")
    watch = app_watch(Node(5, down, down, 5, down), Balances())
    told = [kinds(watch.poll()) for _ in range(5)]
    assert told == [
        ["block:5", "balance:1 ETH"],
        ["news:chain not readable: the RPC is down"],
        [],
        ["block:5", "balance:1 ETH"],  # anvil may have restarted meanwhile: read again
        ["news:chain not readable: the RPC is down"],  # a second outage is told too
    ]


def test_the_app_reads_a_failed_balance_again_at_the_same_head(app_watch):
    balances = Balances(WalletError("token unreadable"), "4")
    watch = app_watch(Node(5, 5, 5), balances)
    told = [kinds(watch.poll()) for _ in range(3)]
    assert told == [["news:chain not readable: token unreadable"], ["block:5", "balance:4 ETH"], []]

"""How fast `hongbao app` shows a big home. A benchmark, not a test.

    .venv/bin/python bench/app.py [--conversations 50] [--messages 10000] [--runs 3]

Fills a throwaway home in-process (tests/app_fixtures.py `crowd`: N contacts, M texts
spread over them, half in each direction), then measures, headless (Textual's test
driver, no relay and no chain, so only the app's own work counts):
- the first screen: from opening the store to the conversation list drawn and the newest
  conversation's first page on screen;
- opening a conversation: choosing another one in the list until its page (50 messages,
  paged from the store) is on screen, for each of 10 conversations;
- checking a page of 50 payment notices among 500 (what `chat show` and the app's checks
  read: the store's first notice per transaction, the configuration; a chain id no network
  has, so no node is asked and only our own work counts).
Each figure is the best of --runs, with the median next to it.

Targets (issue 18): first screen < 1 s, opening a conversation < 150 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the project and its test fixtures first: bench/messaging.py must not shadow the package
sys.path[0:0] = [str(ROOT), str(ROOT / "tests")]

from app_fixtures import ME_KEY, crowd  # noqa: E402
from timing import print_table  # noqa: E402

from cli.app.ui import HongbaoApp  # noqa: E402
from messaging.chat import Messenger  # noqa: E402
from messaging.store import path_for  # noqa: E402
from wallet.address import from_private_key  # noqa: E402

TARGETS = {"first screen": 1.0, "open a conversation": 0.150}


def notices_page(folder: Path, notices: int = 500) -> float:
    """Seconds to check the newest 50 of `notices` payment notices from one peer."""
    import os

    from app_fixtures import T0, Clock, incoming, peer_key

    from cli.services.messages import view
    from messaging import payloads
    from messaging.identity import make_bundle

    os.environ["HONGBAO_HOME"] = str(folder)
    m = Messenger.open(folder, ME_KEY, clock=Clock())
    for i in range(notices):
        incoming(m, peer_key(0), i, payloads.Payment(424242, f"0x{i:064x}", str(10**15), None), T0 + i * 1000)
    page = m.store.messages(make_bundle(peer_key(0), T0 // 1000).address, limit=50)
    start = time.perf_counter()
    view(m, page)
    return time.perf_counter() - start


async def measure(home: Path) -> tuple[float, list[float]]:
    started = time.perf_counter()
    app = HongbaoApp(lambda k: Messenger.open(home, k), ME_KEY, lambda _p: b"", live=False, checker=lambda *_: None)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()  # mounted, the first page written and drawn
        first = time.perf_counter() - started
        opens = []
        for row in app.rows[1:11]:
            start = time.perf_counter()
            app.open_conversation(row.id)
            await pilot.pause()
            opens.append(time.perf_counter() - start)
            assert len(app.loaded) == 50, len(app.loaded)
    return first, opens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--home", type=Path, help="Keep the filled home here and reuse it when it exists.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home = args.home or Path(folder)
        if not path_for(home, from_private_key(ME_KEY)).exists():
            start = time.perf_counter()
            crowd(home, args.conversations, args.messages)
            took = time.perf_counter() - start
            print(f"filled: {args.conversations} conversations, {args.messages} messages in {took:.1f} s")
        firsts, opens = [], []
        for _ in range(args.runs):
            first, each = asyncio.run(measure(home))
            firsts.append(first)
            opens.extend(each)
    rows = [
        ("first screen", f"{min(firsts) * 1000:.0f} ms (median {statistics.median(firsts) * 1000:.0f})", "< 1000 ms"),
        (
            "open a conversation",
            f"{min(opens) * 1000:.0f} ms (median {statistics.median(opens) * 1000:.0f})",
            "< 150 ms",
        ),
    ]
    with tempfile.TemporaryDirectory() as folder:
        checks = [notices_page(Path(folder) / str(run)) for run in range(args.runs)]
    rows.append(("check a page of 50 payment notices (500 stored)", f"{min(checks) * 1000:.0f} ms", "-"))
    print_table(f"hongbao app: {args.conversations} conversations, {args.messages} messages", rows)


if __name__ == "__main__":
    main()

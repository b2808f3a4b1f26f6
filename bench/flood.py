"""Strangers flooding a mailbox while a contact writes to it. A benchmark, not a test.

    .venv/bin/python bench/flood.py [--duration 60] [--pg URL] [--sqlite-only | --pg-only] [--strangers 1 10]

Starts `hongbao node start` (default settings: the lanes of node/lanes.py as shipped) on
SQLite, and on PostgreSQL with --pg or HONGBAO_TEST_POSTGRES_URL (a fresh schema). Bob has
a real identity, registers a delivery pass and listens on the WebSocket stream. Alice, his
contact, posts one 1 KiB envelope with Bob's pass every 1/CONTACT_RATE s. Meanwhile
strangers post batches of 1 KiB envelopes (30-day TTL) to Bob at full speed, retrying at
once when refused, each from its own source address (127.0.0.2, ...): first one stranger,
then ten. Reported per run:

- the contact's messages pushed to Bob (target 100%) and their post-to-push latency
  (p50, p99; target p99 < 1 s);
- what the strangers got: stored (request lane), refused (429 / other);
- what Bob's mailbox holds at the end, and the database's growth next to its bound: the
  request lane's quota plus the contact's traffic (SQLite: file + WAL; PostgreSQL: the
  tables' total relation size).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import secrets
import statistics
import sys
import tempfile
import time
from base64 import b64encode
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import relay as relay_bench  # bench/relay.py: its relay process; its RELAY_ENV is replaced in main()
from relay import Mailbox, RelayProcess, with_pg_schema

from messaging.client import RelayClient

CT_SIZE = 1024
CONTACT_RATE = 20  # contact posts per second
STRANGER_BATCH = 50
STRANGER_INFLIGHT = 2
STRANGER_BODIES = 100  # distinct batches each stranger cycles through (5,000 envelope ids)
TTL_30_DAYS = 30 * 24 * 3600


def envelope(to: str, ttl: int, given: str | None = None) -> dict:
    item = {"v": 1, "to": to, "id": secrets.token_hex(16), "ttl": ttl, "ct": b64encode(os.urandom(CT_SIZE)).decode()}
    if given:
        item["pass"] = given
    return item


async def stranger(url: str, source: str, mailbox: str, stop: float, counts: dict[str, int]) -> None:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=STRANGER_INFLIGHT, local_addr=(source, 0))
    async with aiohttp.ClientSession(url, connector=connector, headers={"Content-Type": "application/json"}) as http:
        # bodies made in advance: the load generator shares the machine with the relay, and
        # should spend its CPU on sending, not on making fresh junk for each retry
        bodies = [
            json.dumps({"envelopes": [envelope(mailbox, TTL_30_DAYS) for _ in range(STRANGER_BATCH)]})
            for _ in range(STRANGER_BODIES)
        ]

        async def worker() -> None:
            sent = 0
            while time.perf_counter() < stop:
                body = bodies[sent % len(bodies)]
                sent += 1
                try:
                    async with http.post("/v1/messages", data=body) as response:
                        await response.read()
                        key = "stored" if response.status == 200 else str(response.status)
                        counts[key] = counts.get(key, 0) + (STRANGER_BATCH if response.status == 200 else 1)
                except aiohttp.ClientError:
                    counts["errors"] = counts.get("errors", 0) + 1

        await asyncio.gather(*(worker() for _ in range(STRANGER_INFLIGHT)))


async def contact(
    url: str, mailbox: str, given: str, stop: float, posted: dict[str, float], refused: list[int]
) -> None:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=4, local_addr=("127.0.0.1", 0))
    async with aiohttp.ClientSession(url, connector=connector, headers={"Content-Type": "application/json"}) as http:
        start = time.perf_counter()
        i = 0
        tasks = []

        async def post(item: dict) -> None:
            posted[item["id"]] = time.perf_counter()
            async with http.post("/v1/messages", data=json.dumps({"envelopes": [item]})) as response:
                await response.read()
                if response.status != 200:
                    refused.append(response.status)
                    posted.pop(item["id"], None)

        while time.perf_counter() < stop:
            delay = start + i / CONTACT_RATE - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post(envelope(mailbox, 3600, given))))
            i += 1
        await asyncio.gather(*tasks)


def listen(ws_url: str, token: str, ready, stop, results) -> None:
    """In its own process: every frame's arrival (perf_counter: CLOCK_MONOTONIC, shared by
    the processes of this machine) until `stop` is set."""
    from websockets.asyncio.client import connect

    async def run() -> dict[str, float]:
        arrived: dict[str, float] = {}
        async with connect(ws_url, additional_headers={"Authorization": f"Bearer {token}"}, max_size=2**22) as socket:
            ready.set()
            while not stop.is_set():
                try:
                    frame = await asyncio.wait_for(socket.recv(), 0.5)
                except TimeoutError:
                    continue
                arrived[json.loads(frame)["id"]] = time.perf_counter()
        return arrived

    results.put(asyncio.run(run()))


def strangers_process(url: str, mailbox: str, count: int, duration: float, started, results) -> None:
    """In its own process: `count` strangers, one source address each, for `duration` s."""
    counts: dict[str, int] = {}

    async def run() -> None:
        stop = time.perf_counter() + duration
        started.set()
        await asyncio.gather(*(stranger(url, f"127.0.0.{2 + i}", mailbox, stop, counts) for i in range(count)))

    asyncio.run(run())
    results.put(counts)


def disk_bytes(db_url: str, home: Path) -> int:
    """The database's size on disk: SQLite's file after a WAL checkpoint (the WAL itself is
    bounded by SQLite's autocheckpoint, ~4 MiB, and truncated here); PostgreSQL's tables."""
    if db_url.startswith("sqlite"):
        import sqlite3

        path = Path(db_url.removeprefix("sqlite:///"))
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return path.stat().st_size
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    schema = url.query.get("options", "").split("search_path=")[-1]
    libpq = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    with psycopg.connect(libpq) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r'",
            (schema,),
        ).fetchone()
    return int(row[0])


def run(name: str, db_url: str, home: Path, strangers: int, duration: float) -> list[tuple[str, ...]]:
    print(f"[{name}] {strangers} stranger(s) for {duration:g} s ...", file=sys.stderr)
    with RelayProcess(home, db_url) as relay:
        bob = Mailbox()
        with RelayClient(relay.url, timeout=30) as client:
            client.publish_bundle(bob.bundle)
            token = client.authenticate(bob.address, bob.keys)
            given = secrets.token_bytes(16)
            client.register_passes([given], address=bob.address)
        before = disk_bytes(db_url, home)
        posted: dict[str, float] = {}
        refused: list[int] = []
        context = multiprocessing.get_context("spawn")
        ready, stop_listening, arrivals, stranger_counts = (
            context.Event(),
            context.Event(),
            context.Queue(),
            context.Queue(),
        )
        ws_url = relay.url.replace("http://", "ws://") + "/v1/stream?after=0"
        listener = context.Process(target=listen, args=(ws_url, token, ready, stop_listening, arrivals), daemon=True)
        listener.start()
        if not ready.wait(30):
            listener.kill()
            raise SystemExit("the WebSocket did not open")
        started = context.Event()
        flooders = context.Process(
            target=strangers_process,
            args=(relay.url, bob.address, strangers, duration, started, stranger_counts),
            daemon=True,
        )
        flooders.start()
        if not started.wait(30):
            raise SystemExit("the strangers did not start")
        stop = time.perf_counter() + duration  # the contact writes while the strangers flood
        asyncio.run(contact(relay.url, bob.address, given.hex(), stop, posted, refused))
        counts = stranger_counts.get(timeout=120)
        flooders.join(10)
        time.sleep(5)  # what was posted last gets its chance to arrive
        stop_listening.set()
        arrived: dict[str, float] = arrivals.get(timeout=120)
        listener.join(10)
        growth = disk_bytes(db_url, home) - before
        with RelayClient(relay.url, timeout=30) as client:
            client.authenticate(bob.address, bob.keys)
            held = client.fetch_all(0, address=bob.address)
    sent = len(posted) + len(refused)
    latencies = sorted((arrived[i] - posted[i]) * 1000 for i in posted if i in arrived)
    delivered = len(latencies)
    p50 = statistics.median(latencies) if latencies else float("nan")
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan")
    contact_bytes = delivered * CT_SIZE
    request_bound = 500 * CT_SIZE  # request_quota_messages (default) x 1 KiB
    label = f"{strangers} stranger{'s' if strangers != 1 else ''}"
    return [
        (name, label, "contact delivered", f"{delivered}/{sent} ({100.0 * delivered / max(sent, 1):.1f}%)", "100%"),
        (name, label, "contact post->push p50 / p99", f"{p50:.1f} / {p99:.1f} ms", "p99 < 1000 ms"),
        (
            name,
            label,
            "strangers: stored / refused",
            f"{counts.get('stored', 0):,} / "
            + ", ".join(f"{k}: {v:,}" for k, v in sorted(counts.items()) if k != "stored"),
            "",
        ),
        (name, label, "Bob's mailbox at the end", f"{len(held):,} envelopes", f"<= 500 requests + {delivered} contact"),
        (
            name,
            label,
            "database growth",
            f"{growth / 1024:,.0f} KiB",
            f"bound ~{(request_bound + contact_bytes) / 1024:,.0f} KiB (+ free pages, WAL)",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds each scenario runs")
    parser.add_argument("--pg", default=os.environ.get("HONGBAO_TEST_POSTGRES_URL"), help="PostgreSQL URL")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--pg-only", action="store_true")
    parser.add_argument("--strangers", type=int, nargs="+", default=[1, 10], help="the runs: how many strangers each")
    args = parser.parse_args()
    # the relay as shipped (its per-client rate limit too), but for the log level
    relay_bench.RELAY_ENV.clear()
    relay_bench.RELAY_ENV.update(
        {
            "HONGBAO_RELAY_LOG_LEVEL": "warning",
            **dict(e.split("=", 1) for e in os.environ.get("FLOOD_ENV", "").split() if e),
        }
    )

    from rich.console import Console
    from rich.table import Table

    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory(prefix="hongbao-flood-") as folder:
        home = Path(folder)
        for strangers in () if args.pg_only else args.strangers:
            url = f"sqlite:///{home / f'sqlite{strangers}' / 'relay.sqlite'}"
            rows += run("SQLite", url, home / f"sqlite{strangers}", strangers, args.duration)
        if args.pg and not args.sqlite_only:
            for strangers in args.strangers:
                rows += with_pg_schema(
                    args.pg, lambda url, n=strangers: run("PostgreSQL", url, home / f"pg{n}", n, args.duration)
                )
    table = Table(title=f"bench/flood.py ({args.duration:g} s per run; {os.cpu_count()} CPUs; 1 KiB envelopes)")
    for column in ("db", "load", "what", "measured", "target"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


if __name__ == "__main__":
    main()

"""Relay throughput and push latency against a real relay process. A benchmark, not a test.

    .venv/bin/python bench/relay.py [--pg postgresql://postgres@127.0.0.1:5432/test] [--quick] [--passes]

Starts `hongbao node start` on a free port with SQLite in a temporary folder (and, with
--pg or HONGBAO_TEST_POSTGRES_URL, a second one on a fresh PostgreSQL schema), then, with
1 KiB envelopes (random ciphertexts of a valid bucket size: the relay cannot tell them
from sealed ones) measures:
- posts/s in batches of 100 envelopes per request (BATCH_INFLIGHT requests in flight);
- posts/s one envelope per request (SINGLE_INFLIGHT requests in flight, asyncio + aiohttp);
- fetch envelopes/s, pages of 1,000 (GET /v1/mailbox, JSON decoded; and through
  RelayClient.fetch, which also parses and checks every envelope);
- push latency at a fixed 200 msg/s over the WebSocket: from just before the POST is sent
  to the frame's arrival at a subscriber (running in its own thread and event loop).

Targets (SQLite, issue: relay): >= 5,000/s batched, >= 1,000/s single, fetch >= 20,000/s,
push p50 < 3 ms and p99 < 10 ms. Reference on the same machine: nostr-relay 1.14 ingests
~500 msg/s, returns a mailbox at ~14,000/s, pushes p50 2.6 ms / p99 10 ms at 200 msg/s.
The relay's rate limit, mailbox quotas and request-lane limits are raised for the run
(HONGBAO_RELAY_*), so they are not what is measured (bench/flood.py measures them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from base64 import b64encode
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from messaging.client import RelayClient
from messaging.identity import make_bundle
from messaging.keys import MessagingKeys
from wallet import address as addr
from wallet.localchain import free_port

ROOT = Path(__file__).resolve().parents[1]
CT_SIZE = 1024  # a 1 KiB bucket
BATCH = 100
BATCH_INFLIGHT = 4
SINGLE_INFLIGHT = 16
PUSH_RATE = 200  # msg/s


RELAY_CMD = [sys.executable, "-m", "cli.main", "node", "start"]  # in the foreground
RELAY_ENV = {
    "HONGBAO_RELAY_RATE": "1000000",
    "HONGBAO_RELAY_RATE_BURST": "2000000",
    "HONGBAO_RELAY_MAILBOX_QUOTA_MESSAGES": "100000000",
    "HONGBAO_RELAY_MAILBOX_QUOTA_BYTES": str(2**40),
    # these posts carry no delivery pass: they take the request lane (node/lanes.py), with
    # every check it adds (lane usage, eviction test, relay-wide total, client budget)
    "HONGBAO_RELAY_REQUEST_QUOTA_MESSAGES": "100000000",
    "HONGBAO_RELAY_REQUEST_QUOTA_BYTES": str(2**40),
    "HONGBAO_RELAY_REQUEST_RATE": "1000000000",
    "HONGBAO_RELAY_REQUEST_BURST": "2000000000",
    "HONGBAO_RELAY_REQUEST_MAILBOX_RATE": "1000000000",
    "HONGBAO_RELAY_REQUEST_MAILBOX_BURST": "2000000000",
    "HONGBAO_RELAY_REQUEST_DISK_CAP": str(2**50),
    "HONGBAO_RELAY_LOG_LEVEL": "warning",
}


# -- the relay process --------------------------------------------------------------------


class RelayProcess:
    def __init__(self, home: Path, db_url: str) -> None:
        self.home = home
        self.db_url = db_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = home / "relay.out"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> RelayProcess:
        self.home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HONGBAO_")}
        env.update({"HONGBAO_HOME": str(self.home), **RELAY_ENV})
        args = [*RELAY_CMD, "--host", "127.0.0.1", "--port", str(self.port), "--db", self.db_url]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                args,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        with httpx.Client(timeout=2) as http:
            while True:
                if self.process.poll() is not None:
                    raise SystemExit(f"the relay exited ({self.process.returncode}):\n{self.log.read_text()[-2000:]}")
                with contextlib.suppress(httpx.TransportError, ValueError):
                    if http.get(f"{self.url}/healthz").json().get("ok") is True:
                        return self
                if time.monotonic() > deadline:
                    self.__exit__()
                    raise SystemExit(f"the relay did not answer /healthz within 30 s:\n{self.log.read_text()[-2000:]}")
                time.sleep(0.05)  # polling a condition with a deadline

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# -- workload -------------------------------------------------------------------------------


class Mailbox:
    """A real identity (so it can authenticate) with its address as a mailbox."""

    def __init__(self) -> None:
        self.key = secrets.token_bytes(32)
        self.keys = MessagingKeys.from_account_key(self.key)
        self.bundle = make_bundle(self.key, int(time.time()), 1, self.keys)
        self.address = self.bundle.address


PASSES: dict[str, str] = {}  # with --passes: mailbox -> its delivery pass (hex): posts go to the contact lane


def envelope_json(to: str) -> dict:
    item = {
        "v": 1,
        "to": to,
        "id": secrets.token_hex(16),
        "ttl": 3600,
        "ct": b64encode(secrets.token_bytes(CT_SIZE)).decode(),
    }
    if to in PASSES:
        item["pass"] = PASSES[to]
    return item


def with_pass(client: RelayClient, mailbox: Mailbox) -> None:
    """Publish the mailbox's bundle and register a delivery pass that our posts present."""
    client.publish_bundle(mailbox.bundle)
    client.authenticate(mailbox.address, mailbox.keys)
    given = secrets.token_bytes(16)
    client.register_passes([given], address=mailbox.address)
    PASSES[mailbox.address] = given.hex()


def spread_mailboxes(url: str, n: int, passes: bool) -> list[str]:
    if not passes:
        return random_mailboxes(n)
    owners = [Mailbox() for _ in range(n)]
    with RelayClient(url, timeout=30) as client:
        for owner in owners:
            with_pass(client, owner)
    return [owner.address for owner in owners]


def random_mailboxes(n: int) -> list[str]:
    return [addr.to_checksum(secrets.token_hex(20)) for _ in range(n)]


async def run_bodies(url: str, bodies: list[bytes], inflight: int) -> float:
    """POST every body to /v1/messages with `inflight` requests at a time; seconds taken.

    aiohttp (installed with web3) rather than httpx.AsyncClient: with 16 requests in flight
    httpx's async pool costs ~1.9 ms of client CPU per request here (measured: 290 posts/s,
    the client using 2x the relay's CPU), so it would measure itself, not the relay."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=inflight)
    async with aiohttp.ClientSession(url, connector=connector, headers={"Content-Type": "application/json"}) as http:
        queue = iter(bodies)

        async def worker() -> None:
            for body in queue:
                async with http.post("/v1/messages", data=body) as response:
                    text = await response.read()
                    if response.status != 200:
                        raise SystemExit(f"POST /v1/messages answered {response.status}: {text[:300]!r}")

        await asyncio.gather(*(http.get("/healthz") for _ in range(inflight)))  # open connections outside the timing
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(inflight)))
        return time.perf_counter() - start


def bench_batched(url: str, total: int, to: list[str]) -> float:
    bodies = [
        json.dumps({"envelopes": [envelope_json(to[(i + j) % len(to)]) for j in range(BATCH)]}).encode()
        for i in range(0, total, BATCH)
    ]
    return total / asyncio.run(run_bodies(url, bodies, BATCH_INFLIGHT))


def bench_single(url: str, total: int, to: list[str]) -> float:
    bodies = [json.dumps({"envelopes": [envelope_json(to[i % len(to)])]}).encode() for i in range(total)]
    return total / asyncio.run(run_bodies(url, bodies, SINGLE_INFLIGHT))


def fill(url: str, mailbox: str, total: int) -> None:
    bodies = [
        json.dumps({"envelopes": [envelope_json(mailbox) for _ in range(500)]}).encode() for _ in range(total // 500)
    ]
    asyncio.run(run_bodies(url, bodies, 2))


def bench_fetch_raw(url: str, token: str, total: int) -> float:
    with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as http:
        http.get("/healthz")
        start = time.perf_counter()
        after, got = 0, 0
        while True:
            response = http.get("/v1/mailbox", params={"after": after, "limit": 1000})
            page = response.json()["envelopes"]
            if not page:
                break
            got += len(page)
            after = page[-1]["seq"]
        seconds = time.perf_counter() - start
    assert got == total, (got, total)
    return got / seconds


def bench_fetch_client(client: RelayClient, total: int) -> float:
    start = time.perf_counter()
    got = len(client.fetch_all(0, page=1000))
    seconds = time.perf_counter() - start
    assert got == total, (got, total)
    return got / seconds


def _subscribe(ws_url: str, token: str, count: int, ready, results) -> None:
    """In its own process: receive `count` frames; put {message id: arrival perf_counter}."""
    from websockets.asyncio.client import connect

    async def listen() -> dict[str, float]:
        received: dict[str, float] = {}
        async with connect(ws_url, additional_headers={"Authorization": f"Bearer {token}"}, max_size=2**22) as socket:
            ready.set()
            while len(received) < count:
                try:
                    frame = await asyncio.wait_for(socket.recv(), 5.0)
                except TimeoutError:
                    break
                at = time.perf_counter()
                received[json.loads(frame)["id"]] = at
        return received

    results.put(asyncio.run(listen()))


def bench_push(url: str, token: str, mailbox: str, seconds: float, rate: int) -> tuple[float, float, float, int, int]:
    """(p50 ms, p99 ms, max ms, received, sent) for `rate` single posts/s over `seconds`.

    The subscriber runs in its own process (perf_counter is CLOCK_MONOTONIC, shared by all
    processes on Linux), so neither the GIL nor the poster's event loop delays it."""
    import multiprocessing

    count = int(seconds * rate)
    bodies = []
    for _ in range(count):
        envelope = envelope_json(mailbox)
        bodies.append((envelope["id"], json.dumps({"envelopes": [envelope]}).encode()))
    posted: dict[str, float] = {}
    context = multiprocessing.get_context("spawn")
    ready, results = context.Event(), context.Queue()
    ws_url = url.replace("http://", "ws://") + "/v1/stream?after=0"
    subscriber = context.Process(target=_subscribe, args=(ws_url, token, count, ready, results), daemon=True)
    subscriber.start()
    if not ready.wait(30):
        subscriber.kill()
        raise SystemExit("the WebSocket did not open")

    async def post_at_rate() -> None:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=16)
        async with aiohttp.ClientSession(
            url, connector=connector, headers={"Content-Type": "application/json"}
        ) as http:
            for _ in range(4):
                async with http.get("/healthz") as response:  # a warm connection
                    await response.read()
            start = time.perf_counter()
            tasks = []

            async def post(message_id: str, body: bytes) -> None:
                posted[message_id] = time.perf_counter()
                async with http.post("/v1/messages", data=body) as response:
                    text = await response.read()
                    if response.status != 200:
                        raise SystemExit(f"POST answered {response.status}: {text[:200]!r}")

            for i, (message_id, body) in enumerate(bodies):
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)  # the schedule: one post every 1/rate s
                tasks.append(asyncio.create_task(post(message_id, body)))
            await asyncio.gather(*tasks)

    asyncio.run(post_at_rate())
    received: dict[str, float] = results.get(timeout=60)
    subscriber.join(10)
    latencies = sorted((received[i] - posted[i]) * 1000 for i in received if i in posted)
    if not latencies:
        raise SystemExit("nothing was pushed")
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return p50, p99, latencies[-1], len(received), count


# -- one backend ------------------------------------------------------------------------------


def run_backend(name: str, db_url: str, home: Path, args: argparse.Namespace) -> list[tuple[str, str, str, str]]:
    rows = []
    print(f"[{name}] starting the relay ...", file=sys.stderr)
    with RelayProcess(home, db_url) as relay:
        PASSES.clear()
        spread = spread_mailboxes(relay.url, 200, args.passes)
        print(f"[{name}] batched posts ...", file=sys.stderr)
        bench_batched(relay.url, 2_000, spread)  # warm-up
        rate = bench_batched(relay.url, args.batched, spread)
        rows.append(
            (name, f"posts, batches of {BATCH} ({BATCH_INFLIGHT} requests in flight)", f"{rate:,.0f} /s", ">= 5,000 /s")
        )
        print(f"[{name}] single posts ...", file=sys.stderr)
        bench_single(relay.url, 500, spread)
        rate = bench_single(relay.url, args.single, spread)
        rows.append((name, f"posts, 1 per request ({SINGLE_INFLIGHT} in flight)", f"{rate:,.0f} /s", ">= 1,000 /s"))

        reader = Mailbox()
        with RelayClient(relay.url, timeout=30) as client:
            client.publish_bundle(reader.bundle)
            if args.passes:
                with_pass(client, reader)
            print(f"[{name}] filling a mailbox with {args.fetch:,} envelopes ...", file=sys.stderr)
            fill(relay.url, reader.address, args.fetch)
            token = client.authenticate(reader.address, reader.keys)
            bench_fetch_raw(relay.url, token, args.fetch)  # warm the page cache
            rate = bench_fetch_raw(relay.url, token, args.fetch)
            rows.append((name, "fetch, pages of 1,000 (HTTP + JSON decode)", f"{rate:,.0f} /s", ">= 20,000 /s"))
            rate = bench_fetch_client(client, args.fetch)
            rows.append((name, "fetch via RelayClient (+ parse and check each envelope)", f"{rate:,.0f} /s", ""))

            listener = Mailbox()
            client.publish_bundle(listener.bundle)
            if args.passes:
                with_pass(client, listener)
            token = client.authenticate(listener.address, listener.keys)
        print(f"[{name}] push latency at {PUSH_RATE} msg/s for {args.push_seconds:g} s ...", file=sys.stderr)
        p50, p99, worst, got, sent = bench_push(relay.url, token, listener.address, args.push_seconds, PUSH_RATE)
        lost = f", {sent - got} not received" if got != sent else ""
        rows.append(
            (
                name,
                f"push latency p50 at {PUSH_RATE} msg/s over WebSocket ({sent:,} msgs{lost})",
                f"{p50:.2f} ms",
                "< 3 ms",
            )
        )
        rows.append((name, f"push latency p99 (max {worst:.1f} ms)", f"{p99:.2f} ms", "< 10 ms"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pg",
        default=os.environ.get("HONGBAO_TEST_POSTGRES_URL"),
        help="PostgreSQL URL (a fresh schema is created and dropped)",
    )
    parser.add_argument("--batched", type=int, default=50_000, help="envelopes posted in batches of 100")
    parser.add_argument("--single", type=int, default=10_000, help="envelopes posted one per request")
    parser.add_argument("--fetch", type=int, default=50_000, help="envelopes in the mailbox that is fetched")
    parser.add_argument("--push-seconds", type=float, default=15.0)
    parser.add_argument("--quick", action="store_true", help="a tenth of the volume")
    parser.add_argument(
        "--passes",
        action="store_true",
        help="post as contacts (each mailbox's delivery pass with every envelope: the contact lane); "
        "without it, as strangers (the request lane, its limits raised)",
    )
    args = parser.parse_args()
    if args.quick:
        args.batched, args.single, args.fetch, args.push_seconds = 5_000, 2_000, 10_000, 5.0
    args.fetch = max(500, args.fetch // 500 * 500)

    from rich.console import Console
    from rich.table import Table

    rows = []
    with tempfile.TemporaryDirectory(prefix="hongbao-bench-") as folder:
        home = Path(folder)
        rows += run_backend("SQLite", f"sqlite:///{home / 'sqlite' / 'relay.sqlite'}", home / "sqlite", args)
        if args.pg:
            rows += with_pg_schema(args.pg, lambda url: run_backend("PostgreSQL", url, home / "pg", args))

    table = Table(title=f"bench/relay.py (1 KiB envelopes; {os.cpu_count()} CPUs; Python {sys.version.split()[0]})")
    for column in ("db", "what", "measured", "target (SQLite)"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    Console().print(
        "Reference, same machine: nostr-relay 1.14 ingests ~500 msg/s, returns a mailbox at ~14,000/s, "
        "pushes p50 2.6 ms / p99 10 ms at 200 msg/s."
    )


def with_pg_schema(base: str, run):
    import psycopg

    rest = base.split("://", 1)[1]
    schema = f"hongbao_bench_{secrets.token_hex(4)}"
    libpq = f"postgresql://{rest}"
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        sep = "&" if "?" in rest else "?"
        return run(f"postgresql+psycopg://{rest}{sep}options=-csearch_path%3D{schema}")
    finally:
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()

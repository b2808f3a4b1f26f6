"""End to end: real relay processes (`hongbao node start`), real HTTP and WebSocket, the real
client (messaging/client.py), real sealed envelopes.

Each relay runs on a free port with its own HONGBAO_HOME and database and is waited for by
polling /healthz with a deadline (no fixed sleeps). What is covered:
- the round trip Alice -> relay -> Bob (bundles verified by the client, seal, send, auth,
  fetch, open, ack) and push over the WebSocket;
- the client never trusting the relay (forged or mismatched bundles, replayed seqs), its
  error mapping, retries, token caching and renewal (also across stream token expiries);
- quotas (507), rate limits (429 + Retry-After), ?token= streams, /healthz, /metrics, and
  no bearer token or ciphertext in the relay's log;
- Mallory, with a valid identity and token of her own, attacking Bob's mailbox through the
  HTTP stack: nothing is leaked or deleted;
- durability: SIGKILL of the relay while a client posts one envelope at a time; every
  envelope the relay acknowledged survives, retries of the others create no duplicates;
- scale-out: two relays on one PostgreSQL database (LISTEN/NOTIFY push across processes),
  skipped visibly when HONGBAO_TEST_POSTGRES_URL is unset.

HONGBAO_TEST_RELAY_CMD overrides the command that starts a relay (default
`python -m cli.main node start`; `--host/--port/--db` are appended).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import shlex
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from conftest import hongbao_popen

from messaging import payloads
from messaging.client import (
    Accepted,
    AuthFailed,
    QuotaExceeded,
    RateLimited,
    RelayClient,
    RelayProtocolError,
    RelayRejected,
    RelayUnreachable,
    challenge_text,
)
from messaging.envelope import Envelope, open_envelope, seal
from messaging.errors import BundleInvalid, StaleBundle
from messaging.identity import Bundle, make_bundle
from messaging.keys import MessagingKeys
from wallet.localchain import free_port

ROOT = Path(__file__).resolve().parents[1]


# Another relay implementation can be tested by command; ours runs as `hongbao node start`.
CUSTOM_RELAY_CMD = shlex.split(os.environ.get("HONGBAO_TEST_RELAY_CMD", ""))
PG_URL = os.environ.get("HONGBAO_TEST_POSTGRES_URL")
START_TIMEOUT = 30.0
# Generous limits so tests measure behaviour, not the rate limiter (which has its own test).
RELAY_ENV = {"HONGBAO_RELAY_RATE": "100000", "HONGBAO_RELAY_RATE_BURST": "200000"}

pytestmark = pytest.mark.slow


# -- relay processes ---------------------------------------------------------------------


def _now_ms() -> int:
    return int(time.time() * 1000)


class Relay:
    """A relay process; start / kill (SIGKILL) / stop (SIGTERM) / start again, same port and DB."""

    def __init__(self, home: Path, db_url: str, *, port: int | None = None, env: dict[str, str] | None = None) -> None:
        self.home = Path(home)
        self.db_url = db_url
        self.port = port or free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HONGBAO_")}
        self.env.update({"HONGBAO_HOME": str(self.home), "PYTHONUNBUFFERED": "1", **RELAY_ENV, **(env or {})})
        self.process: subprocess.Popen | None = None
        self.log_path = self.home / f"relay-{self.port}.out"
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Relay:
        self.home.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        args = ["--host", "127.0.0.1", "--port", str(self.port), "--db", self.db_url]
        options = {
            "cwd": ROOT,
            "env": self.env,
            "stdin": subprocess.DEVNULL,
            "stderr": subprocess.STDOUT,
            "start_new_session": True,
        }
        with open(self.log_path, "ab") as log:
            if CUSTOM_RELAY_CMD:
                self.process = subprocess.Popen([*CUSTOM_RELAY_CMD, *args], stdout=log, **options)
            else:
                self.process = hongbao_popen(["node", "start", *args], stdout=log, **options)
        try:
            wait_healthy(self.url, self.process, START_TIMEOUT, self.log_tail)
        except BaseException:
            self.kill()
            raise
        return self

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, as in a crash or an OOM kill."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> Relay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_healthy(url: str, process: subprocess.Popen, timeout: float, log_tail=lambda: "") -> None:
    """Poll GET /healthz until it answers {"ok": true} (or the process dies, or the deadline)."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    with httpx.Client(timeout=2.0) as http:
        while True:
            if process.poll() is not None:
                raise AssertionError(f"the relay exited with status {process.returncode} while starting:\n{log_tail()}")
            with contextlib.suppress(httpx.TransportError, ValueError):
                response = http.get(f"{url}/healthz")
                if response.status_code == 200 and response.json().get("ok") is True:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"the relay did not answer {url}/healthz within {timeout:.0f} s:\n{log_tail()}")
            time.sleep(delay)  # polling a condition with a deadline, not a fixed wait
            delay = min(delay * 2, 0.2)


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'relay.sqlite'}"


@pytest.fixture(scope="module")
def relay(tmp_path_factory):
    folder = tmp_path_factory.mktemp("relay")
    with Relay(folder / "home", sqlite_url(folder)) as running:
        yield running


# -- people ------------------------------------------------------------------------------


@dataclass
class Person:
    name: str
    key: bytes
    address: str
    keys: MessagingKeys
    bundle: Bundle


def person(name: str) -> Person:
    key = secrets.token_bytes(32)  # a fresh account per test: tests sharing a relay never meet
    keys = MessagingKeys.from_account_key(key)
    bundle = make_bundle(key, int(time.time()), 1, keys)
    return Person(name, key, bundle.address, keys, bundle)


def rotated(someone: Person, version: int) -> Person:
    """The same address with new messaging keys (a new device, a lost key)."""
    keys = MessagingKeys(secrets.token_bytes(32), secrets.token_bytes(32))
    bundle = make_bundle(someone.key, int(time.time()), version, keys)
    return Person(someone.name, someone.key, someone.address, keys, bundle)


def raw_envelope(to: str, size: int = 256) -> Envelope:
    """An envelope as the relay sees any: a recipient, an id, a padded-size ciphertext."""
    return Envelope(to, secrets.token_bytes(16), secrets.token_bytes(size), ttl=3600)


def client(url: str, **kwargs) -> RelayClient:
    kwargs.setdefault("timeout", 10.0)
    return RelayClient(url, **kwargs)


def as_contact_of(posting: RelayClient, owner: Person) -> None:
    """`owner` registers a delivery pass and `posting` presents it for their mailbox: its
    posts go to the contact lane (the mailbox's quota), not the small request lane."""
    given = secrets.token_bytes(16)
    with client(posting.base_url) as own:
        own.authenticate(owner.address, owner.keys)
        assert own.register_passes([given], address=owner.address) == 1
    posting.pass_for = lambda mailbox: given if mailbox == owner.address else None


def open_for(me: Person, envelope: Envelope, lookup) -> payloads.Payload:
    return open_envelope(envelope, me.address, me.keys, now_ms=_now_ms(), known_bundle=lookup).payload


class Subscriber:
    """Runs client.stream() in a task and collects what it yields."""

    def __init__(self, relay_client: RelayClient, after: int = 0, **kwargs) -> None:
        self.client = relay_client
        self.after = after
        self.kwargs = kwargs
        self.items: list[tuple[int, Envelope]] = []
        self.connects: list[int] = []
        self.connected = asyncio.Event()
        self.changed = asyncio.Event()
        self.task: asyncio.Task | None = None

    def _on_connect(self, after: int) -> None:
        self.connects.append(after)
        self.connected.set()
        self.changed.set()

    async def _run(self) -> None:
        async for item in self.client.stream(self.after, on_connect=self._on_connect, **self.kwargs):
            self.items.append(item)
            self.changed.set()

    async def __aenter__(self) -> Subscriber:
        self.task = asyncio.create_task(self._run())
        await self.until(lambda: self.connected.is_set(), "the stream to connect")
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def until(self, condition, what: str, timeout: float = 15.0) -> None:
        """Wait for `condition()` (re-checked at each stream event) or fail after `timeout`."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not condition():
            if self.task is not None and self.task.done():
                self.task.result()  # the stream's own exception, if any
                raise AssertionError(f"the stream ended while waiting for {what}")
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out waiting for {what}; got {len(self.items)} envelopes, connects {self.connects}"
                )
            self.changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 0.5))

    async def count(self, n: int, timeout: float = 15.0) -> None:
        await self.until(lambda: len(self.items) >= n, f"{n} envelopes", timeout)

    @property
    def seqs(self) -> list[int]:
        return [seq for seq, _ in self.items]


# -- the round trip ----------------------------------------------------------------------


def test_round_trip_alice_relay_bob(relay):
    alice, bob = person("alice"), person("bob")
    with client(relay.url) as a, client(relay.url) as b:
        assert a.publish_bundle(alice.bundle) == "created"
        assert b.publish_bundle(bob.bundle) == "created"
        assert b.publish_bundle(bob.bundle) == "unchanged"

        bobs = a.get_bundle(bob.address)  # verified by the client, not taken on the relay's word
        assert bobs == bob.bundle
        texts = [payloads.Text(f"hello bob #{i} 你好") for i in range(3)]
        sealed = [
            seal(alice.address, alice.keys, bobs, t, now_ms=_now_ms(), include_bundle=alice.bundle if i == 0 else None)
            for i, t in enumerate(texts)
        ]
        accepted = a.send(sealed)
        assert [x.id for x in accepted] == [e.id for e in sealed]
        assert not any(x.duplicate for x in accepted)
        assert [x.seq for x in accepted] == sorted(x.seq for x in accepted)

        # the same envelopes again (a retry, a second device): no copy, the same seqs
        again = a.send(sealed)
        assert [(x.id, x.seq, x.duplicate) for x in again] == [(x.id, x.seq, True) for x in accepted]

        token = b.authenticate(bob.address, bob.keys)
        assert token and b.authenticate(bob.address, bob.keys) == token  # cached
        got = b.fetch(0, 100)
        assert [seq for seq, _ in got] == [x.seq for x in accepted]
        assert [e for _, e in got] == sealed
        known: dict[str, Bundle] = {}

        def lookup(sender: str) -> Bundle | None:
            if sender not in known:
                found = b.get_bundle(sender)
                if found is not None:
                    known[sender] = found
            return known.get(sender)

        opened = [open_envelope(e, bob.address, bob.keys, now_ms=_now_ms(), known_bundle=lookup) for _, e in got]
        assert [o.payload for o in opened] == texts
        assert {o.sender for o in opened} == {alice.address}

        assert b.fetch(got[0][0], 100) == got[1:]  # the cursor
        assert b.fetch(0, 1) == got[:1]
        assert b.ack([e.id for _, e in got[:2]]) == 2
        assert b.fetch(0, 100) == got[2:]
        assert b.ack([got[0][1].id]) == 0  # already gone: acking is idempotent
        assert b.ack([got[2][1].id]) == 1
        assert b.fetch(0, 100) == []


def test_send_splits_large_batches_and_fetch_all_pages(relay):
    bob = person("bob")
    with client(relay.url) as c:
        c.publish_bundle(bob.bundle)
        as_contact_of(c, bob)
        envelopes = [raw_envelope(bob.address) for _ in range(1203)]
        accepted = c.send(envelopes)  # 500 + 500 + 203
        assert len(accepted) == 1203 and len({x.seq for x in accepted}) == 1203
        c.authenticate(bob.address, bob.keys)
        got = c.fetch_all(0, page=250)
        assert [e.id for _, e in got] == [e.id for e in envelopes]
        assert [seq for seq, _ in got] == [x.seq for x in accepted]
        assert c.ack([e.id for e in envelopes]) == 1203


def test_relay_refusals_are_clear_exceptions(relay):
    alice, bob = person("alice"), person("bob")
    with client(relay.url, retries=0) as c:
        assert c.get_bundle(bob.address) is None  # never published
        with pytest.raises(AuthFailed, match="publish"):
            c.authenticate(bob.address, bob.keys)  # no identity: 404 on the challenge
        c.publish_bundle(bob.bundle)
        with pytest.raises(RelayRejected) as error:
            c.send([raw_envelope(bob.address, 128 * 1024)])
        assert error.value.status == 413 and "413" in str(error.value) and "\n" not in str(error.value)
        newer = rotated(bob, 2)
        assert c.publish_bundle(newer.bundle) == "updated"
        with pytest.raises(StaleBundle):
            c.publish_bundle(bob.bundle)  # 409: the relay holds version 2
        assert c.get_bundle(bob.address) == newer.bundle
        with pytest.raises(StaleBundle):
            c.get_bundle(bob.address, known=rotated(bob, 3).bundle)  # older than what we trust
        with pytest.raises(AuthFailed) as failed:
            c.authenticate(bob.address, bob.keys)  # the old messaging key no longer signs for bob
        assert failed.value.status == 401
        c.authenticate(bob.address, newer.keys)
        with pytest.raises(ValueError):
            c.fetch(0, 1001)

        http = httpx.Client(base_url=relay.url, timeout=10)
        expected = {
            ("PUT", f"/v1/identities/{alice.address}", json.dumps(bob.bundle.to_json())): 400,  # path != bundle
            (
                "PUT",
                f"/v1/identities/{alice.address}",
                json.dumps({**alice.bundle.to_json(), "version": 7}),
            ): 422,  # bad signature
            ("PUT", f"/v1/identities/{alice.address}", "{not json"): 422,
            ("GET", "/v1/identities/0x0000000000000000000000000000000000000001", None): 404,
            ("POST", "/v1/messages", json.dumps({"envelopes": [raw_envelope(bob.address).to_json()] * 501})): 413,
            (
                "POST",
                "/v1/messages",
                json.dumps({"envelopes": [{**raw_envelope(bob.address).to_json(), "ct": "%%%"}]}),
            ): 422,
            (
                "POST",
                "/v1/messages",
                json.dumps({"envelopes": [{**raw_envelope(bob.address).to_json(), "to": "0x1234"}]}),
            ): 422,
            (
                "POST",
                "/v1/messages",
                json.dumps({"envelopes": [{**raw_envelope(bob.address).to_json(), "ttl": 0}]}),
            ): 422,
            (
                "POST",
                "/v1/messages",
                json.dumps({"envelopes": [{**raw_envelope(bob.address).to_json(), "ttl": 30 * 86400 + 1}]}),
            ): 422,
            ("POST", "/v1/messages", json.dumps({"envelopes": [{**raw_envelope(bob.address).to_json(), "v": 2}]})): 422,
            ("POST", "/v1/auth/challenge", json.dumps({"address": alice.address})): 404,
        }
        for (method, path, body), status in expected.items():
            response = http.request(method, path, content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == status, (
                method,
                path,
                (body or "")[:80],
                response.status_code,
                response.text[:300],
            )
            if status >= 400:
                error = response.json().get("error")
                assert isinstance(error, dict) and error.get("code") and error.get("message"), (
                    path,
                    response.text[:300],
                )
        http.close()


def test_unreachable_relay_is_one_clear_line():
    with client(f"http://127.0.0.1:{free_port()}", retries=1, backoff=0.001) as c:
        with pytest.raises(
            RelayUnreachable, match=r"cannot reach the relay at http://127\.0\.0\.1:.*connection refused"
        ) as error:
            c.get_bundle("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
        assert "\n" not in str(error.value)


@pytest.mark.parametrize(("refused_retries", "tries"), [(None, 4), (1, 2), (0, 1)])
def test_a_refused_connection_is_retried_only_as_often_as_asked(refused_retries, tries):
    """Nothing listening: tried `refused_retries` + 1 times (a chat keeps the message pending
    at once), while other transport errors keep the full `retries`."""
    slept: list[float] = []
    url = f"http://127.0.0.1:{free_port()}"
    with (
        RelayClient(url, retries=3, refused_retries=refused_retries, sleep=slept.append) as c,
        pytest.raises(RelayUnreachable),
    ):
        c.get_bundle("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
    assert len(slept) == tries - 1

    def reset(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset", request=request)

    slept.clear()
    with (
        RelayClient(url, retries=3, refused_retries=0, sleep=slept.append, transport=httpx.MockTransport(reset)) as c,
        pytest.raises(RelayUnreachable),
    ):
        c.get_bundle("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
    assert len(slept) == 3


# -- the client never trusts the relay ---------------------------------------------------


def _fake_relay(handler) -> RelayClient:
    return RelayClient("http://relay.test", transport=httpx.MockTransport(handler), retries=0)


def test_client_refuses_forged_and_mismatched_bundles():
    alice, bob, mallory = person("alice"), person("bob"), person("mallory")
    forged = Bundle(
        bob.address,
        mallory.keys.x25519_public,
        mallory.keys.ed25519_public,
        bob.bundle.issued_at,
        2,
        bob.bundle.signature,
    )
    mallory_signed = make_bundle(mallory.key, int(time.time()), 1, mallory.keys)
    answers = {
        bob.address: forged.to_json(),  # Bob's address, Mallory's keys: the signature does not recover to Bob
        alice.address: mallory_signed.to_json(),  # a valid bundle, but Mallory's, when Alice's was asked
        mallory.address: {"address": mallory.address, "x25519": "zz"},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answers[request.url.path.rsplit("/", 1)[1]])

    with _fake_relay(handler) as c:
        with pytest.raises(BundleInvalid, match="signed by"):
            c.get_bundle(bob.address)
        with pytest.raises(BundleInvalid, match="asked for"):
            c.get_bundle(alice.address)
        with pytest.raises(BundleInvalid, match="malformed"):
            c.get_bundle(mallory.address)


def test_client_refuses_a_relay_that_replays_or_redirects_envelopes():
    bob, carol = person("bob"), person("carol")
    mine = raw_envelope(bob.address)
    pages = {
        "replay": [{"seq": 5, **mine.to_json()}, {"seq": 5, **mine.to_json()}],
        "before": [{"seq": 3, **mine.to_json()}],
        "other": [{"seq": 9, **raw_envelope(carol.address).to_json()}],
        "garbage": [{"seq": 9, **mine.to_json(), "ct": "%%%"}],
    }
    mode = {"now": "replay"}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/auth/challenge":
            return httpx.Response(200, json={"nonce": secrets.token_hex(32), "expires_at": _now_ms() + 60_000})
        if request.url.path == "/v1/auth/token":
            return httpx.Response(200, json={"token": "t", "expires_at": _now_ms() + 900_000})
        return httpx.Response(200, json={"envelopes": pages[mode["now"]], "next": 9})

    with _fake_relay(handler) as c:
        c.authenticate(bob.address, bob.keys)
        for name, match in (
            ("replay", "not after 5"),
            ("before", "not after 4"),
            ("other", "for 0x"),
            ("garbage", "malformed"),
        ):
            mode["now"] = name
            with pytest.raises(RelayProtocolError, match=match):
                c.fetch(4 if name == "before" else 0, 100)


def test_status_codes_map_to_exceptions_and_5xx_is_retried():
    bob = person("bob")
    script: list[httpx.Response] = []
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return script.pop(0)

    slept: list[float] = []
    c = RelayClient(
        "http://relay.test", transport=httpx.MockTransport(handler), retries=2, sleep=slept.append, max_rate_wait=1.0
    )
    env = raw_envelope(bob.address)
    ok = httpx.Response(200, json={"accepted": [{"id": env.id.hex(), "seq": 7, "duplicate": False}]})

    script[:] = [
        httpx.Response(503, text="busy"),
        httpx.Response(500, json={"error": {"code": "internal", "message": "x"}}),
        ok,
    ]
    assert c.send([env]) == [Accepted(env.id, 7, False)] and len(slept) == 2

    script[:] = [
        httpx.Response(
            429, headers={"Retry-After": "0.5"}, json={"error": {"code": "rate_limited", "message": "slow down"}}
        ),
        ok,
    ]
    assert c.send([env])[0].seq == 7 and slept[-1] >= 0.5  # a short Retry-After is waited out

    script[:] = [
        httpx.Response(
            429, headers={"Retry-After": "30"}, json={"error": {"code": "rate_limited", "message": "slow down"}}
        )
    ]
    with pytest.raises(RateLimited) as limited:
        c.send([env])
    assert limited.value.retry_after == 30 and limited.value.status == 429

    script[:] = [
        httpx.Response(507, json={"error": {"code": "quota_exceeded", "message": f"mailbox {bob.address} is full"}})
    ]
    with pytest.raises(QuotaExceeded, match=bob.address):
        c.send([env])  # not retried: the mailbox stays full
    assert script == []

    script[:] = [httpx.Response(500, text="boom")] * 3
    with pytest.raises(RelayRejected) as failed:
        c.send([env])
    assert failed.value.status == 500 and "HTTP 500" in str(failed.value)

    script[:] = [httpx.Response(200, json={"accepted": []})]
    with pytest.raises(RelayProtocolError, match="every envelope"):
        c.send([env])
    c.close()


# -- retries and idempotency through the real stack --------------------------------------


class LosesAnswers(httpx.HTTPTransport):
    """Forwards requests to the relay, then drops the answers to the first `lose` POSTs to
    `path` as if the connection broke after the relay committed."""

    def __init__(self, path: str, lose: int) -> None:
        super().__init__()
        self.path = path
        self.lose = lose
        self.calls: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.path)
        response = super().handle_request(request)
        if request.url.path == self.path and self.lose > 0:
            self.lose -= 1
            response.read()
            response.close()
            raise httpx.ReadError("connection reset after the request was sent")
        return response


def test_retry_after_a_lost_answer_creates_no_duplicate(relay):
    bob = person("bob")
    transport = LosesAnswers("/v1/messages", lose=2)
    with client(relay.url, transport=transport, backoff=0.001) as c, client(relay.url) as reader:
        reader.publish_bundle(bob.bundle)
        envelopes = [raw_envelope(bob.address) for _ in range(10)]
        accepted = c.send(envelopes)
        assert transport.calls.count("/v1/messages") == 3  # committed twice without an answer, then answered
        assert all(x.duplicate for x in accepted)  # the relay already had them
        reader.authenticate(bob.address, bob.keys)
        got = reader.fetch(0, 100)
        assert [e.id for _, e in got] == [e.id for e in envelopes]
        assert [seq for seq, _ in got] == [x.seq for x in accepted]


def test_token_is_cached_until_shortly_before_expiry_and_renewed(relay):
    bob = person("bob")
    now = {"ms": _now_ms()}
    transport = LosesAnswers("/nowhere", lose=0)
    with client(relay.url, transport=transport, clock=lambda: now["ms"]) as c:
        c.publish_bundle(bob.bundle)
        first = c.authenticate(bob.address, bob.keys)
        c.fetch(0, 10)
        c.ack([secrets.token_bytes(16)])
        assert c.authenticate(bob.address, bob.keys) == first
        assert transport.calls.count("/v1/auth/challenge") == 1
        expires = c._tokens[bob.address].expires_at
        now["ms"] = expires - 1_000  # within the renewal margin
        c.fetch(0, 10)
        assert transport.calls.count("/v1/auth/challenge") == 2
        # a token the relay no longer accepts (here: the key was rotated) is renewed once on a 401
        newer = rotated(bob, 2)
        c.publish_bundle(newer.bundle)
        c._identities[bob.address] = newer.keys
        c.fetch(0, 10)
        assert transport.calls.count("/v1/auth/challenge") == 3


@pytest.mark.parametrize("bogus", ["", "Bearer", "Bearer x", "Basic Ym9iOmJvYg==", "Bearer " + "A" * 123])
def test_mailbox_without_a_valid_token_is_401(relay, bogus):
    http = httpx.Client(base_url=relay.url, timeout=10)
    headers = {"Authorization": bogus} if bogus else {}
    assert http.get("/v1/mailbox", headers=headers).status_code == 401
    assert http.post("/v1/mailbox/ack", json={"ids": [secrets.token_hex(16)]}, headers=headers).status_code == 401
    http.close()


# -- quotas, rate limits and short-lived tokens, on relays configured for them ------------


def test_quota_and_rate_limit_through_the_real_stack(tmp_path):
    bob, carol = person("bob"), person("carol")
    strict = {"HONGBAO_RELAY_MAILBOX_QUOTA_MESSAGES": "3", "HONGBAO_RELAY_RATE": "5", "HONGBAO_RELAY_RATE_BURST": "10"}
    with Relay(tmp_path / "home", sqlite_url(tmp_path), env=strict) as relay:
        with client(relay.url, retries=0, max_rate_wait=0) as impatient:
            impatient.publish_bundle(bob.bundle)
            as_contact_of(impatient, bob)  # the quota is the contact lane's
            impatient.send([raw_envelope(bob.address) for _ in range(2)])
            with pytest.raises(QuotaExceeded) as full:
                impatient.send(
                    [raw_envelope(carol.address), raw_envelope(bob.address), raw_envelope(bob.address)]
                )  # 4 > 3 for bob
            assert full.value.status == 507 and bob.address in str(full.value)
            with pytest.raises(RateLimited) as limited:
                for _ in range(30):  # the burst of 10 is spent within these
                    impatient.get_bundle(bob.address)
            assert (
                limited.value.status == 429 and limited.value.retry_after is not None and limited.value.retry_after > 0
            )
        with client(relay.url, max_rate_wait=5) as patient:  # waits out the 429s (Retry-After)
            patient.authenticate(bob.address, bob.keys)
            assert len(patient.fetch(0, 100)) == 2
            patient.publish_bundle(carol.bundle)
            patient.authenticate(carol.address, carol.keys)
            assert patient.fetch(0, 100) == [], "a batch over quota stores nothing, carol's envelope neither"


def test_short_lived_tokens_are_renewed_for_requests_and_streams(tmp_path):
    bob = person("bob")
    with Relay(tmp_path / "home", sqlite_url(tmp_path), env={"HONGBAO_RELAY_TOKEN_TTL": "2"}) as relay:  # noqa: SIM117
        with client(relay.url) as a, client(relay.url) as b:
            a.publish_bundle(bob.bundle)
            first = b.authenticate(bob.address, bob.keys)
            expires = b._tokens[bob.address].expires_at

            async def scenario() -> Subscriber:
                async with Subscriber(b, 0) as stream:
                    await asyncio.to_thread(a.send, [raw_envelope(bob.address)])
                    await stream.count(1)
                    # the relay closes the stream when its token expires (4401): the client
                    # renews the token and resumes after the last seq; twice, with nothing
                    # received in between (an idle stream lives through every expiry)
                    await stream.until(
                        lambda: len(stream.connects) >= 3, "two reconnections after token expiries", timeout=15
                    )
                    await asyncio.to_thread(a.send, [raw_envelope(bob.address)])
                    await stream.count(2)
                    return stream

            stream = asyncio.run(scenario())
            assert stream.seqs == sorted(set(stream.seqs)) and len(stream.items) == 2
            assert stream.connects[1] == stream.connects[2] == stream.seqs[0]  # resumed after the seq it had
            assert _now_ms() > expires - 1_000
            assert len(b.fetch(0, 100)) == 2  # with a renewed token
            assert b._tokens[bob.address].token != first


# -- Mallory -----------------------------------------------------------------------------


def _token_parts(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def _token_of(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def _ws_outcome(url: str, headers: dict[str, str]) -> tuple[str, object]:
    """("refused", status or close code) or ("open", first frame or None)."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    try:
        async with connect(url, additional_headers=headers, open_timeout=10) as socket:
            try:
                frame = await asyncio.wait_for(socket.recv(), 1.0)
            except TimeoutError:
                return "open", None
            except ConnectionClosed as closed:
                return "refused", closed.rcvd.code if closed.rcvd else None
            return "open", frame
    except InvalidStatus as error:
        return "refused", error.response.status_code
    except ConnectionClosed as closed:
        return "refused", closed.rcvd.code if closed.rcvd else None


async def _ws_refusal(url: str, headers: dict[str, str]) -> object:
    """The HTTP status (or close code) a refused stream gets; AssertionError if it opens."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    try:
        async with connect(url, additional_headers=headers, open_timeout=10) as socket:
            try:
                frame = await asyncio.wait_for(socket.recv(), 10)
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None
            raise AssertionError(f"the stream opened and sent {frame[:120]!r}")
    except InvalidStatus as error:
        return error.response.status_code


def test_mallory_cannot_read_ack_or_stream_bobs_mailbox(relay):
    """Mallory holds a valid identity and token of her own. The relay picks the mailbox from
    the token alone; a request may name its mailbox (?address=, X-Hongbao-Mailbox), and
    naming another is 403. She tries Bob's in every place the API reads (the query, the
    header, the ack body, the stream), and in places it does not read: each time she gets
    exactly her own mail or a refusal, never a byte of Bob's, and Bob's mail stays unacked.
    Her own mail reaching her each time is the positive control: the answers are specific."""
    alice, bob, mallory = person("alice"), person("bob"), person("mallory")
    with client(relay.url) as a, client(relay.url) as b, client(relay.url) as m:
        for who, c in ((alice, a), (bob, b), (mallory, m)):
            c.publish_bundle(who.bundle)
        bobs = a.get_bundle(bob.address)

        def for_bob(i: int) -> Envelope:
            text = payloads.Text(f"for bob only {i}")
            return seal(alice.address, alice.keys, bobs, text, now_ms=_now_ms(), include_bundle=alice.bundle)

        secret_mail = [for_bob(i) for i in range(3)]
        a.send(secret_mail[:2])
        own = raw_envelope(mallory.address)  # Mallory's own mail, between Bob's
        a.send([own])
        a.send(secret_mail[2:])
        bob_ids = {e.id.hex() for e in secret_mail}
        mallory_token = m.authenticate(mallory.address, mallory.keys)
        http = httpx.Client(base_url=relay.url, timeout=10)
        as_mallory = {"Authorization": f"Bearer {mallory_token}"}

        def leaked(response: httpx.Response) -> bool:
            """Any of Bob's message ids or ciphertexts in the answer."""
            secrets_of_bob = [*bob_ids, *(base64.b64encode(e.ciphertext).decode()[:40] for e in secret_mail)]
            return any(secret in response.text for secret in secrets_of_bob)

        def only_her_own(response: httpx.Response, *also: Envelope) -> None:
            assert response.status_code == 200, (response.status_code, response.text[:200])
            items = response.json()["envelopes"]
            assert [(e["to"], e["id"]) for e in items] == [(mallory.address, e.id.hex()) for e in (own, *also)], items
            assert not leaked(response)

        def refused(response: httpx.Response, status: int = 403) -> None:
            assert response.status_code == status, (response.status_code, response.text[:200])
            assert set(response.json()) == {"error"} and not leaked(response), response.text[:200]

        spellings = [bob.address, bob.address.lower(), "0x" + bob.address[2:].upper()]

        # 1. reading: her token opens her own mailbox, and only it
        only_her_own(http.get("/v1/mailbox", headers=as_mallory))
        only_her_own(http.get("/v1/mailbox", params={"after": 0, "limit": 1000}, headers=as_mallory))
        only_her_own(http.get("/v1/mailbox", params={"address": mallory.address}, headers=as_mallory))
        for name in spellings:  # naming Bob's mailbox where the relay reads a name: 403
            refused(http.get("/v1/mailbox", params={"address": name}, headers=as_mallory))
            refused(http.get("/v1/mailbox", headers={**as_mallory, "X-Hongbao-Mailbox": name}))
            refused(
                http.get(
                    "/v1/mailbox",
                    params={"address": mallory.address},
                    headers={**as_mallory, "X-Hongbao-Mailbox": name},
                )
            )
            refused(
                http.get(
                    "/v1/mailbox",
                    params={"address": name},
                    headers={**as_mallory, "X-Hongbao-Mailbox": mallory.address},
                )
            )
        refused(http.get("/v1/mailbox", params={"after": -1}, headers=as_mallory), 422)
        for params in ({"mailbox": bob.address}, {"to": bob.address}, {"address": bob.address[2:]}):
            response = http.get("/v1/mailbox", params=params, headers=as_mallory)
            if response.status_code == 200:  # a name the relay does not read: her own mailbox
                only_her_own(response)
            else:
                refused(response, response.status_code)
                assert response.status_code in (400, 422)
        response = http.get(f"/v1/mailbox/{bob.address}", headers=as_mallory)
        assert response.status_code in (404, 405) and not leaked(response), response.status_code
        for twice in ((bob.address, mallory.address), (mallory.address, bob.address)):  # named twice: the token decides
            response = http.get("/v1/mailbox", params=[("address", name) for name in twice], headers=as_mallory)
            if response.status_code == 200:
                only_her_own(response)
            else:
                refused(response)

        # 2. acking Bob's message ids with her token deletes nothing, however she names his mailbox
        ids = sorted(bob_ids)
        assert http.post("/v1/mailbox/ack", json={"ids": ids}, headers=as_mallory).json() == {"deleted": 0}
        for name in spellings:
            refused(http.post("/v1/mailbox/ack", params={"address": name}, json={"ids": ids}, headers=as_mallory))
            refused(http.post("/v1/mailbox/ack", json={"ids": ids}, headers={**as_mallory, "X-Hongbao-Mailbox": name}))
        response = http.post("/v1/mailbox/ack", json={"ids": ids, "address": bob.address}, headers=as_mallory)
        assert response.status_code in (200, 422) and (response.status_code != 200 or response.json()["deleted"] == 0)

        # 3. tokens: her own with Bob's address (or Bob's key) spliced in, one with a guessed
        #    HMAC key, one whose expiry she moved: all 401, on every route
        raw = _token_parts(mallory_token)
        payload, mac = raw[:60], raw[60:]
        bob_addr = bytes.fromhex(bob.address[2:])
        forged_payload = bob_addr + bob.keys.ed25519_public + payload[52:60]
        forgeries = {
            "bob's mailbox in mallory's token": _token_of(bob_addr + payload[20:] + mac),
            "bob's mailbox and key": _token_of(forged_payload + mac),
            "guessed HMAC key": _token_of(
                forged_payload + hmac.new(b"\0" * 32, forged_payload, hashlib.sha256).digest()
            ),
            "expiry moved": _token_of(payload[:52] + (2**62).to_bytes(8, "big") + mac),
            "truncated": mallory_token[:-4],
        }
        assert len(raw) == 92, "token layout: mailbox(20) || ed25519(32) || expires_at(8) || HMAC-SHA256(32)"
        for what, token in forgeries.items():
            headers = {"Authorization": f"Bearer {token}"}
            r1 = http.get("/v1/mailbox", headers=headers)
            r2 = http.post("/v1/mailbox/ack", json={"ids": ids}, headers=headers)
            assert (r1.status_code, r2.status_code) == (401, 401), (what, r1.status_code, r2.status_code, r1.text[:200])
            assert not leaked(r1)

        # 4. challenges: signing Bob's challenge with her own key; replaying Bob's genuine
        #    signature; using Bob's nonce for her own mailbox
        nonce = http.post("/v1/auth/challenge", json={"address": bob.address}).json()["nonce"]
        wrong_key = mallory.keys.signing_key.sign(challenge_text(bob.address, bytes.fromhex(nonce))).signature.hex()
        assert (
            http.post(
                "/v1/auth/token", json={"address": bob.address, "nonce": nonce, "signature": wrong_key}
            ).status_code
            == 401
        )
        nonce = http.post("/v1/auth/challenge", json={"address": bob.address}).json()["nonce"]
        genuine = bob.keys.signing_key.sign(challenge_text(bob.address, bytes.fromhex(nonce))).signature.hex()
        assert (
            http.post("/v1/auth/token", json={"address": bob.address, "nonce": nonce, "signature": genuine}).status_code
            == 200
        )
        replay = http.post("/v1/auth/token", json={"address": bob.address, "nonce": nonce, "signature": genuine})
        assert replay.status_code == 401, "a used challenge must not give a second token"
        nonce = http.post("/v1/auth/challenge", json={"address": bob.address}).json()["nonce"]
        hers = mallory.keys.signing_key.sign(challenge_text(mallory.address, bytes.fromhex(nonce))).signature.hex()
        assert (
            http.post(
                "/v1/auth/token", json={"address": mallory.address, "nonce": nonce, "signature": hers}
            ).status_code
            == 401
        )
        assert (
            http.post(
                "/v1/auth/token", json={"address": bob.address, "nonce": "00" * 32, "signature": genuine}
            ).status_code
            == 401
        )

        # 5. the stream: forged tokens and Bob's mailbox named are refused at the handshake (or
        #    closed before any frame); her own token streams exactly her own mail, live too
        base = relay.url.replace("http://", "ws://") + "/v1/stream?after=0"
        live = [raw_envelope(mallory.address) for _ in range(2)]

        async def frame(socket) -> dict:
            return json.loads(await asyncio.wait_for(socket.recv(), 10))

        async def streams() -> None:
            from websockets.asyncio.client import connect

            for what, token in forgeries.items():
                for url, headers in (
                    (base, {"Authorization": f"Bearer {token}"}),
                    (f"{base}&token={quote(token)}", {}),
                ):
                    assert await _ws_refusal(url, headers) in (401, 4401), what
            assert await _ws_refusal(base, {}) in (401, 4401)
            for name in spellings:
                for url, headers in (
                    (f"{base}&address={name}", as_mallory),
                    (base, {**as_mallory, "X-Hongbao-Mailbox": name}),
                    (f"{base}&token={quote(mallory_token)}&address={name}", {}),
                    (f"{base}&address={mallory.address}", {**as_mallory, "X-Hongbao-Mailbox": name}),
                ):
                    assert await _ws_refusal(url, headers) in (403, 4403), (url[-60:], headers.keys())
            for url, headers in (
                (base, as_mallory),
                (f"{base}&token={quote(mallory_token)}", {}),
                (f"{base}&address={mallory.address}", as_mallory),
                (f"{base}&mailbox={bob.address}", as_mallory),  # a name the relay does not read
            ):
                async with connect(url, additional_headers=headers, open_timeout=10) as socket:
                    first = await frame(socket)
                    assert (first["to"], first["id"]) == (mallory.address, own.id.hex()), first
            async with connect(base, additional_headers=as_mallory, open_timeout=10) as socket:
                assert (await frame(socket))["id"] == own.id.hex()
                for envelope in live:  # live: Bob's new mail goes first, then hers
                    more_for_bob = for_bob(len(secret_mail))
                    secret_mail.append(more_for_bob)
                    bob_ids.add(more_for_bob.id.hex())
                    await asyncio.to_thread(a.send, [more_for_bob])
                    await asyncio.to_thread(a.send, [envelope])
                    got = await frame(socket)
                    assert (got["to"], got["id"]) == (mallory.address, envelope.id.hex()), got

        asyncio.run(streams())

        # Everything she did left Bob's mail in place: Bob reads all of it, and only his
        b.authenticate(bob.address, bob.keys)
        got = b.fetch(0, 100)
        assert [e.id.hex() for _, e in got] == [e.id.hex() for e in secret_mail]
        assert [open_for(bob, e, lambda s: alice.bundle if s == alice.address else None).body for _, e in got] == [
            f"for bob only {i}" for i in range(len(secret_mail))
        ]
        # ... and her acks do work on her own mail (so the zero above is a refusal, not a no-op)
        acked = http.post("/v1/mailbox/ack", json={"ids": [e.id.hex() for e in (own, *live)]}, headers=as_mallory)
        assert acked.json() == {"deleted": 3}
        only_her_own_after_ack = http.get("/v1/mailbox", headers=as_mallory)
        assert only_her_own_after_ack.json()["envelopes"] == []
        assert len(b.fetch(0, 100)) == len(secret_mail)
        http.close()


def test_rotated_key_invalidates_old_tokens(relay):
    bob = person("bob")
    with client(relay.url, retries=0) as c:
        c.publish_bundle(bob.bundle)
        old_token = c.authenticate(bob.address, bob.keys)
        newer = rotated(bob, 2)
        c.publish_bundle(newer.bundle)
        response = httpx.get(f"{relay.url}/v1/mailbox", headers={"Authorization": f"Bearer {old_token}"}, timeout=10)
        assert response.status_code == 401, response.text[:200]
        outcome, detail = asyncio.run(
            _ws_outcome(relay.url.replace("http", "ws") + "/v1/stream", {"Authorization": f"Bearer {old_token}"})
        )
        assert outcome == "refused", detail


# -- push ----------------------------------------------------------------------------------


def test_push_over_websocket_backlog_then_live(relay):
    alice, bob = person("alice"), person("bob")
    with client(relay.url) as a, client(relay.url) as b:
        a.publish_bundle(alice.bundle)
        b.publish_bundle(bob.bundle)
        bobs = a.get_bundle(bob.address)
        backlog = [
            seal(
                alice.address,
                alice.keys,
                bobs,
                payloads.Text(f"old {i}"),
                now_ms=_now_ms(),
                include_bundle=alice.bundle,
            )
            for i in range(3)
        ]
        first = a.send(backlog)
        b.authenticate(bob.address, bob.keys)

        async def scenario() -> list[float]:
            latencies = []
            async with Subscriber(b, first[0].seq) as bob_stream:  # resume after the first one
                await bob_stream.count(2)
                assert [e for _, e in bob_stream.items] == backlog[1:]
                for i in range(5):
                    live = seal(
                        alice.address,
                        alice.keys,
                        bobs,
                        payloads.Text(f"live {i}"),
                        now_ms=_now_ms(),
                        include_bundle=alice.bundle,
                    )
                    started = time.perf_counter()
                    await asyncio.to_thread(a.send, [live])
                    await bob_stream.count(3 + i)
                    latencies.append(time.perf_counter() - started)
                    assert bob_stream.items[-1][1] == live
                    assert open_for(bob, live, lambda s: None).body == f"live {i}"
                assert bob_stream.seqs == sorted(set(bob_stream.seqs))
                assert bob_stream.connects == [first[0].seq]
            return latencies

        latencies = asyncio.run(scenario())
        assert max(latencies) < 5.0


def test_token_in_the_query_health_metrics_and_quiet_logs(relay):
    """?token= opens the stream too; /healthz and /metrics answer as specified; and the
    relay's log holds neither tokens nor ciphertexts."""
    alice, bob = person("alice"), person("bob")
    with client(relay.url) as a:
        a.publish_bundle(bob.bundle)
        token = a.authenticate(bob.address, bob.keys)
        raw = _token_parts(token)
        assert (raw[:20], raw[20:52]) == (bytes.fromhex(bob.address[2:]), bob.keys.ed25519_public)
        assert int.from_bytes(raw[52:60], "big") == a._tokens[bob.address].expires_at
        sealed = seal(
            alice.address, alice.keys, bob.bundle, payloads.Text("quiet"), now_ms=_now_ms(), include_bundle=alice.bundle
        )
        a.send([sealed])

        async def by_query() -> tuple[str, object]:
            url = relay.url.replace("http://", "ws://") + f"/v1/stream?after=0&token={quote(token)}"
            return await _ws_outcome(url, {})

        outcome, frame = asyncio.run(by_query())
        assert outcome == "open" and json.loads(frame)["id"] == sealed.id.hex()

    assert httpx.get(f"{relay.url}/healthz", timeout=10).json() == {"ok": True, "db": "ok"}
    metrics = httpx.get(f"{relay.url}/metrics", timeout=10)
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    families = {line.split()[2] for line in metrics.text.splitlines() if line.startswith("# TYPE ")}
    for wanted in (
        "requests",
        "envelopes_accepted",
        "envelopes_duplicate",
        "envelopes_swept",
        "mailbox_fetches",
        "ws_connections",
        "push_latency",
    ):
        assert any(wanted in family for family in families), (wanted, sorted(families))
    assert any(
        "histogram" in line and "push_latency" in line
        for line in metrics.text.splitlines()
        if line.startswith("# TYPE ")
    )

    log = relay.log_path.read_text(errors="replace")
    assert log.strip(), "the relay logs nothing at all"
    assert token not in log and token[:40] not in log, "a bearer token is in the relay's log"
    assert base64.b64encode(sealed.ciphertext).decode()[:40] not in log, "a ciphertext is in the relay's log"


def test_stream_resumes_across_a_relay_crash_without_gaps_or_duplicates(tmp_path):
    bob = person("bob")
    relay = Relay(tmp_path / "home", sqlite_url(tmp_path)).start()
    try:
        with client(relay.url, retries=50, backoff=0.01, max_backoff=0.2) as a, client(relay.url) as b:
            a.publish_bundle(bob.bundle)
            b.authenticate(bob.address, bob.keys)
            sent: list[Envelope] = []

            async def post(n: int) -> None:
                for _ in range(n):
                    envelope = raw_envelope(bob.address)
                    await asyncio.to_thread(a.send, [envelope])
                    sent.append(envelope)

            async def scenario() -> Subscriber:
                async with Subscriber(b, 0, max_backoff=0.2) as stream:
                    await post(5)
                    await stream.count(5)
                    await asyncio.to_thread(relay.kill)
                    restart = asyncio.create_task(asyncio.to_thread(relay.start))
                    await post(3)  # the client retries until the relay is back
                    await restart
                    await stream.count(8, timeout=30)
                    await post(4)
                    await stream.count(12)
                    return stream

            stream = asyncio.run(scenario())
            assert [e.id for _, e in stream.items] == [e.id for e in sent]  # every one, once, in order
            assert stream.seqs == sorted(set(stream.seqs))
            assert len(stream.connects) >= 2 and stream.connects[0] == 0 and stream.connects[-1] > 0
            assert relay.starts == 2
    finally:
        relay.stop()


# -- durability ----------------------------------------------------------------------------


def test_sigkill_mid_stream_loses_no_acknowledged_envelope(tmp_path):
    """A client posts envelopes one at a time; the relay is SIGKILLed three times under it and
    restarted on the same database. Every envelope it acknowledged (HTTP 200) is stored;
    the client's retries of the one in flight (same id) never make a second copy."""
    bob = person("bob")
    relay = Relay(tmp_path / "home", sqlite_url(tmp_path)).start()
    total, kills = 600, 3
    envelopes = [raw_envelope(bob.address, 1024) for _ in range(total)]
    acknowledged: dict[bytes, tuple[Accepted, float]] = {}
    failures: list[BaseException] = []
    lock = threading.Lock()
    try:
        with client(relay.url) as setup:
            setup.publish_bundle(bob.bundle)
        # retries cover a restart: ~300 attempts, 10-100 ms apart
        transport = LosesAnswers("/nowhere", lose=0)  # counts the requests
        poster = client(relay.url, retries=300, backoff=0.01, max_backoff=0.1, timeout=5.0, transport=transport)
        as_contact_of(poster, bob)  # more than the request lane keeps

        def post_all() -> None:
            try:
                for envelope in envelopes:
                    (accepted,) = poster.send([envelope])
                    with lock:
                        acknowledged[envelope.id] = (accepted, time.monotonic())
            except BaseException as error:  # noqa: BLE001 - reported by the test thread
                failures.append(error)

        thread = threading.Thread(target=post_all, daemon=True)
        thread.start()
        before_kill: list[set[bytes]] = []
        for k in range(kills):
            deadline = time.monotonic() + 60
            target = (k + 1) * total // (kills + 1)
            while len(acknowledged) < target:  # let the client get well into its stream
                assert not failures, failures
                assert time.monotonic() < deadline, f"only {len(acknowledged)} envelopes acknowledged"
                time.sleep(0.002)
            relay.kill()
            killed_at = time.monotonic()
            with lock:
                before_kill.append({i for i, (_, at) in acknowledged.items() if at < killed_at})
            relay.start()
        thread.join(timeout=120)
        assert not thread.is_alive(), "the poster did not finish"
        assert not failures, failures
        poster.close()

        with client(relay.url) as bob_client:
            bob_client.authenticate(bob.address, bob.keys)
            stored = bob_client.fetch_all(0)
        ids = [e.id for _, e in stored]
        assert len(ids) == len(set(ids)), "an envelope was stored twice"
        for k, acked in enumerate(before_kill):
            missing = acked - set(ids)
            assert not missing, f"{len(missing)} envelopes acknowledged before kill #{k + 1} are gone"
        assert set(ids) == {e.id for e in envelopes}
        seq_of = {e.id: seq for seq, e in stored}
        assert all(seq_of[i] == accepted.seq for i, (accepted, _) in acknowledged.items()), "a retry got another seq"
        assert [e.id for _, e in stored] == [e.id for e in envelopes]  # posted one at a time: stored in order
        duplicates = sum(1 for accepted, _ in acknowledged.values() if accepted.duplicate)
        assert duplicates <= kills  # at most the one request in flight at each kill
        attempts = transport.calls.count("/v1/messages")
        assert attempts > total, "the kills never interrupted the client (no retry happened)"
        print(
            f"durability: {total} envelopes, {kills} SIGKILLs, {attempts - total} retried requests, "
            f"{duplicates} answered as duplicates (committed before the kill, answer lost)"
        )
        assert {e.ciphertext for _, e in stored} == {e.ciphertext for e in envelopes}
    finally:
        relay.stop()


# -- scale-out: two relays on one PostgreSQL database --------------------------------------


def _pg_urls(base: str, schema: str) -> tuple[str, str]:
    """(libpq URL for psycopg, SQLAlchemy URL for the relay) with search_path = schema."""
    rest = base.split("://", 1)[1]
    libpq = f"postgresql://{rest}"
    sep = "&" if "?" in rest else "?"
    return libpq, f"postgresql+psycopg://{rest}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_schema():
    if not PG_URL:
        pytest.skip(
            "HONGBAO_TEST_POSTGRES_URL is not set (e.g. postgresql://postgres@127.0.0.1:5432/test): scale-out tests need PostgreSQL"
        )
    import psycopg

    schema = f"hongbao_test_{secrets.token_hex(6)}"
    libpq, relay_url = _pg_urls(PG_URL, schema)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield relay_url
    finally:
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_scale_out_two_relays_one_postgres_push_crosses_processes(tmp_path, pg_schema):
    alice, bob = person("alice"), person("bob")
    relay_a = Relay(tmp_path / "a", pg_schema).start()
    try:
        relay_b = Relay(tmp_path / "b", pg_schema).start()
        try:
            with client(relay_a.url) as a, client(relay_b.url) as b:
                a.publish_bundle(alice.bundle)
                b.publish_bundle(bob.bundle)
                bobs = a.get_bundle(bob.address)  # published on B, read from A: one database
                assert bobs == bob.bundle

                token = b.authenticate(bob.address, bob.keys)
                # the token HMAC key is shared through the database: B's token works on A
                response = httpx.get(
                    f"{relay_a.url}/v1/mailbox", headers={"Authorization": f"Bearer {token}"}, timeout=10
                )
                assert response.status_code == 200, response.text[:200]

                async def scenario() -> list[Envelope]:
                    sent = []
                    async with Subscriber(b, 0) as bob_on_b:
                        for i in range(5):
                            live = seal(
                                alice.address,
                                alice.keys,
                                bobs,
                                payloads.Text(f"via A #{i}"),
                                now_ms=_now_ms(),
                                include_bundle=alice.bundle,
                            )
                            await asyncio.to_thread(a.send, [live])  # posted to A ...
                            sent.append(live)
                            await bob_on_b.count(i + 1, timeout=10)  # ... pushed by B
                        batch = [raw_envelope(bob.address) for _ in range(50)]
                        await asyncio.to_thread(a.send, batch)
                        sent.extend(batch)
                        await bob_on_b.count(55, timeout=10)
                        assert [e.id for _, e in bob_on_b.items] == [e.id for e in sent]
                        assert bob_on_b.seqs == sorted(set(bob_on_b.seqs))
                    return [e for _, e in bob_on_b.items[:5]]

                live = asyncio.run(scenario())
                assert [open_for(bob, e, lambda s: None).body for e in live] == [f"via A #{i}" for i in range(5)]
                assert b.ack([e.id for e in live]) == 5
                # deleted through B, gone on A
                a.authenticate(bob.address, bob.keys)
                assert len(a.fetch_all(0)) == 50
        finally:
            relay_b.stop()
    finally:
        relay_a.stop()


def test_two_relays_started_together_on_a_fresh_postgres_schema(tmp_path, pg_schema):
    """Both run the migrations and create the token secret at once: both must come up, with
    one secret (a token from one works on the other)."""
    relays = [Relay(tmp_path / name, pg_schema) for name in ("a", "b")]
    errors: list[BaseException] = []

    def start(r: Relay) -> None:
        try:
            r.start()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=start, args=(r,)) for r in relays]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors, errors
        bob = person("bob")
        with client(relays[0].url) as first:
            first.publish_bundle(bob.bundle)
            token = first.authenticate(bob.address, bob.keys)
        response = httpx.get(f"{relays[1].url}/v1/mailbox", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert response.status_code == 200, response.text[:200]
    finally:
        for r in relays:
            r.stop()

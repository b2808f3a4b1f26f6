"""Shared helpers and fixtures for the relay tests (tests/test_node_*.py); no tests here.

Databases: SQLite files copied from one migrated template (per worker), and, when
HONGBAO_TEST_POSTGRES_URL is set, a fresh PostgreSQL schema per test (search_path in the
URL's options), dropped afterwards, so parallel workers never meet.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from messaging.envelope import Envelope
from messaging.identity import Bundle, make_bundle
from messaging.keys import MessagingKeys
from node import db
from node.app import create_app
from node.auth import challenge_message
from node.settings import Settings

PG_ENV = "HONGBAO_TEST_POSTGRES_URL"
NOW_MS = 1_795_000_000_000  # 2026-11-18
ACCOUNT_KEYS = [bytes([n]) * 32 for n in (11, 22, 33)]


class ManualClock:
    """Unix ms that only moves when told."""

    def __init__(self, now: int = NOW_MS) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)


@dataclass
class Person:
    """An account, its messaging keys and a published-able bundle."""

    account_key: bytes
    keys: MessagingKeys

    @classmethod
    def make(cls, index: int) -> Person:
        key = ACCOUNT_KEYS[index]
        return cls(key, MessagingKeys.from_account_key(key))

    @property
    def address(self) -> str:
        return self.bundle().address

    def bundle(self, version: int = 1, issued_at: int = NOW_MS // 1000) -> Bundle:
        return make_bundle(self.account_key, issued_at, version, keys=self.keys)

    def rotate(self) -> None:
        """New messaging keys (as after a device reset): a new bundle will carry them."""
        self.keys = MessagingKeys(secrets.token_bytes(32), secrets.token_bytes(32))

    def sign(self, address: str, nonce: str) -> str:
        from nacl.bindings import crypto_sign

        return crypto_sign(challenge_message(address, nonce), self.keys.ed25519_secret)[:64].hex()


def envelope(to: str, size: int = 256, ttl: int = 3600, id: bytes | None = None) -> Envelope:
    return Envelope(to, id or secrets.token_bytes(16), secrets.token_bytes(size), ttl)


def envelope_json(to: str, size: int = 256, ttl: int = 3600, **changes) -> dict:
    data = envelope(to, size, ttl).to_json()
    data.update(changes)
    return data


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# -- databases --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("relay-template") / "relay.sqlite"
    db.migrate(f"sqlite:///{path}")
    return path


def sqlite_url(template: Path, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "relay.sqlite"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


def postgres_base() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(
            f"{PG_ENV} is not set (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test): PostgreSQL tests skipped"
        )
    return url


class PgSchema:
    """A fresh schema on the test server; `url` points search_path at it."""

    def __init__(self, base: str) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool

        self.name = f"relay_{uuid.uuid4().hex[:12]}"
        self.head: str | None = None  # the revision it was migrated to, when it was
        self.admin = create_engine(db.normalize_url(base), poolclass=NullPool)
        with self.admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{self.name}"'))
        separator = "&" if "?" in base else "?"
        self.url = f"{base}{separator}options=-csearch_path%3D{self.name}"

    def drop(self) -> None:
        from sqlalchemy import text

        with self.admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE'))
        self.admin.dispose()


_pg_migrated: PgSchema | None = None  # this worker's migrated schema, emptied between tests


def _empty(schema: PgSchema) -> bool:
    """TRUNCATE every relay table (not the migration stamp): a clean, migrated database in
    ~20 ms instead of a new schema and a migration run (~0.5 s). False if the schema is not
    as migrated any more (a test downgraded it) or a lock is still held."""
    from sqlalchemy import text

    from node import models

    try:
        with schema.admin.begin() as connection:
            connection.execute(text("SET LOCAL lock_timeout = '2s'"))
            head = connection.execute(text(f'SELECT version_num FROM "{schema.name}".alembic_version')).scalar()
            if head is None or head != schema.head:
                return False
            tables = ", ".join(f'"{schema.name}"."{table.name}"' for table in models.Base.metadata.sorted_tables)
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    except Exception:  # noqa: BLE001  any doubt: the caller starts a new schema
        return False
    return True


@pytest.fixture
def pg_url():
    """A migrated, empty PostgreSQL schema (skips without HONGBAO_TEST_POSTGRES_URL): the
    worker's own, emptied for each test; a new one when a test changed its migrations."""
    global _pg_migrated
    base = postgres_base()
    if _pg_migrated is not None and not _empty(_pg_migrated):
        _pg_migrated.drop()
        _pg_migrated = None
    if _pg_migrated is None:
        schema = PgSchema(base)
        db.migrate(schema.url)
        schema.head = db.current_revision(schema.url)
        _pg_migrated = schema
    yield _pg_migrated.url


def drop_shared_schema() -> None:
    """At the end of the worker's session (conftest.py)."""
    global _pg_migrated
    if _pg_migrated is not None:
        _pg_migrated.drop()
        _pg_migrated = None


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, sqlite_template, tmp_path):
    """A migrated relay database: each test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield sqlite_url(sqlite_template, tmp_path / "db")
    else:
        yield request.getfixturevalue("pg_url")


def settings_for(url: str, **changes) -> Settings:
    return Settings(db_url=url, sweep_interval=0, **changes)


# -- a live relay (uvicorn in a thread), for WebSocket tests -------------------------------------


class LiveRelay:
    """uvicorn (uvloop, httptools, websockets) serving create_app in a thread."""

    def __init__(self, settings: Settings, clock) -> None:
        import uvicorn

        from wallet.localchain import free_port

        self.port = free_port()
        self.app = create_app(settings.replace(port=self.port), clock=clock)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            loop="uvloop",
            http="httptools",
            ws="websockets-sansio",
            lifespan="on",
            access_log=False,
            log_config=None,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test relay did not start")
            time.sleep(0.01)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def context(self):
        return self.app.state.relay

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


# -- the app in-process, through httpx ----------------------------------------------------------


@pytest.fixture
def anyio_backend():
    return "asyncio"


class Api:
    """An httpx client on the ASGI app, with the app's context and clock at hand."""

    def __init__(self, client: httpx.AsyncClient, app, clock: ManualClock) -> None:
        self.client = client
        self.app = app
        self.clock = clock

    @property
    def context(self):
        return self.app.state.relay

    def __getattr__(self, name):
        return getattr(self.client, name)

    async def publish(self, person: Person, **bundle_args) -> httpx.Response:
        bundle = person.bundle(**bundle_args)
        return await self.client.put(f"/v1/identities/{bundle.address}", json=bundle.to_json())

    async def send(self, *envelopes: dict) -> httpx.Response:
        return await self.client.post("/v1/messages", json={"envelopes": list(envelopes)})

    async def metrics(self) -> str:
        """/metrics as a scraper from elsewhere sees it (this client is not on loopback)."""
        answer = await self.client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert answer.status_code == 200, answer.text
        return answer.text

    async def give_pass(self, person: Person) -> str:
        """Register a delivery pass for the person's mailbox; the pass (hex) that contacts present."""
        given = secrets.token_bytes(16)
        answer = await self.client.put(
            "/v1/mailbox/passes",
            json={"passes": [hashlib.sha256(given).hexdigest()]},
            headers=await self.login(person),
        )
        assert answer.status_code == 200, answer.text
        return given.hex()

    async def login(self, person: Person) -> dict[str, str]:
        nonce = (await self.client.post("/v1/auth/challenge", json={"address": person.address})).json()["nonce"]
        answer = await self.client.post(
            "/v1/auth/token",
            json={"address": person.address, "nonce": nonce, "signature": person.sign(person.address, nonce)},
        )
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['token']}"}


METRICS_TOKEN = "metrics-secret"


def make_api(url: str, **settings) -> Api:
    clock = ManualClock()
    settings.setdefault("metrics_token", METRICS_TOKEN)
    app = create_app(settings_for(url, **settings), clock=clock)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("203.0.113.7", 40000)), base_url="http://relay"
    )
    return Api(client, app, clock)


@pytest.fixture
async def api(sqlite_template, tmp_path):
    relay = make_api(sqlite_url(sqlite_template, tmp_path / "db"))
    async with relay.client:
        yield relay
    relay.context.close()


@pytest.fixture
def fresh_url(sqlite_template, tmp_path):
    return sqlite_url(sqlite_template, tmp_path / "db")


def error(answer: httpx.Response, status: int, code: str | None = None) -> str:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()["error"]
    if code:
        assert body["code"] == code, body
    return body["message"]


# -- a live relay on a free port (WebSocket tests), driven by plain sync clients ---------------------


@pytest.fixture
def live(sqlite_template, tmp_path):
    relay = LiveRelay(settings_for(sqlite_url(sqlite_template, tmp_path / "db")), ManualClock())
    yield relay
    relay.stop()


def publish_sync(url: str, person: Person, **bundle_args) -> None:
    bundle = person.bundle(**bundle_args)
    answer = httpx.put(f"{url}/v1/identities/{bundle.address}", json=bundle.to_json())
    assert answer.status_code in (200, 201), answer.text


def login_sync(url: str, person: Person) -> str:
    nonce = httpx.post(f"{url}/v1/auth/challenge", json={"address": person.address}).json()["nonce"]
    answer = httpx.post(
        f"{url}/v1/auth/token",
        json={"address": person.address, "nonce": nonce, "signature": person.sign(person.address, nonce)},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["token"]


def post_sync(url: str, *envelopes: dict) -> list[dict]:
    answer = httpx.post(f"{url}/v1/messages", json={"envelopes": list(envelopes)})
    assert answer.status_code == 200, answer.text
    return answer.json()["accepted"]


def one_line_error(result, *fragments: str) -> str:
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]

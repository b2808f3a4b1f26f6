"""X3DH prekeys at the relay (node/routes/prekeys.py, node/prekey_store.py) and in the
client (RelayClient.publish_prekeys / prekey_status / claim_prekeys), on SQLite and
PostgreSQL (skipped with a reason without HONGBAO_TEST_POSTGRES_URL).

- the HTTP API in process: upload, status, claim; each one-time prekey handed out once,
  then null while the signed prekey is still served; every refusal stores nothing; 401 /
  403 for someone filling another's mailbox; a new identity key wipes the prekeys;
- the store: concurrent claims from several engines (as several relay processes) never
  share a key and lose none; an identity changed under an upload is a conflict;
- the client against a live relay (uvicorn on a free port): chunked uploads, claims
  verified against the pinned identity key, so a row forged straight into the relay's
  database, or a relay answering another identity's prekeys, is refused;
- the migration matches the models.
"""

from __future__ import annotations

import secrets
import threading

import httpx
import pytest
import test_node_support as support
from nacl.bindings import crypto_sign
from sqlalchemy import insert, inspect, update
from test_node_support import NOW_MS, LiveRelay, ManualClock, Person, error, make_api, settings_for

from messaging import prekeys
from messaging.client import AuthFailed, PrekeyStatus, RelayClient, RelayRejected
from messaging.prekeys import (
    MAX_STORED,
    MAX_UPLOAD,
    OneTimePrekey,
    PrekeyBundleInvalid,
    SignedPrekey,
    parse_bundle,
    verify_bundle,
)
from node import db
from node.errors import Conflict, NotFound
from node.models import Base, one_time_prekeys, signed_prekeys
from node.store import RelayStore

# shared fixtures, from tests/test_node_support.py
anyio_backend = support.anyio_backend
db_url = support.db_url
pg_url = support.pg_url
sqlite_template = support.sqlite_template


# -- keys ----------------------------------------------------------------------------------------


def signed_by(person: Person, key: bytes | None = None, created_at: int = NOW_MS // 1000) -> SignedPrekey:
    """A signed prekey as x3dh signs it (a standard Ed25519 signature verifies the same)."""
    key = key or secrets.token_bytes(32)
    return SignedPrekey(
        key, crypto_sign(prekeys.encode_public_key(True, key), person.keys.ed25519_secret)[:64], created_at
    )


def one_time_by(person: Person, n: int) -> list[OneTimePrekey]:
    return [prekeys.sign_one_time(person.keys.ed25519_secret, secrets.token_bytes(32)) for _ in range(n)]


def upload(signed: SignedPrekey | None = None, one_time: list[OneTimePrekey] = ()) -> dict:
    return {"signed_prekey": signed.to_json() if signed else None, "one_time_prekeys": [p.to_json() for p in one_time]}


def people() -> tuple[Person, Person, Person]:
    """Fresh objects per test (a test may rotate someone's keys)."""
    return Person.make(0), Person.make(1), Person.make(2)


# -- the HTTP API in process, both databases ------------------------------------------------------


@pytest.fixture
async def api(db_url):
    relay = make_api(db_url)
    async with relay.client:
        yield relay
    relay.context.close()


async def status_of(api, person: Person, auth: dict | None = None) -> dict:
    answer = await api.get(f"/v1/prekeys/{person.address}", headers=auth or await api.login(person))
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.anyio
async def test_upload_status_and_claim_round_trip(api):
    alice, bob, _ = people()
    await api.publish(bob)
    auth = await api.login(bob)
    signed, keys = signed_by(bob), one_time_by(bob, 3)
    stored = await api.put(f"/v1/prekeys/{bob.address}", json=upload(signed, keys), headers=auth)
    assert stored.status_code == 200, stored.text
    assert stored.json() == {"one_time": 3, "signed_prekey": signed.to_json()}
    assert await status_of(api, bob, auth) == stored.json()

    answer = await api.post(f"/v1/prekeys/{bob.address.lower()}/claim")  # public: no token
    assert answer.status_code == 200, answer.text
    bundle = verify_bundle(parse_bundle(answer.json()), bob.address, bob.keys.ed25519_public)
    assert bundle == prekeys.PrekeyBundle(bob.address, bob.keys.ed25519_public, signed, keys[0])  # oldest first
    assert answer.json() == bundle.to_json()
    assert (await status_of(api, bob, auth))["one_time"] == 2
    with pytest.raises(PrekeyBundleInvalid):  # the answer is Bob's, not Alice's
        verify_bundle(bundle, alice.address, bob.keys.ed25519_public)


@pytest.mark.anyio
async def test_each_one_time_prekey_is_handed_out_once_then_null(api):
    _, bob, _ = people()
    await api.publish(bob)
    signed, keys = signed_by(bob), one_time_by(bob, 3)
    assert (
        await api.put(f"/v1/prekeys/{bob.address}", json=upload(signed, keys), headers=await api.login(bob))
    ).status_code == 200
    claims = [(await api.post(f"/v1/prekeys/{bob.address}/claim")).json() for _ in range(5)]
    assert [c["one_time_prekey"] for c in claims] == [k.to_json() for k in keys] + [None, None]
    assert all(c["signed_prekey"] == signed.to_json() for c in claims)  # still served once they ran out
    assert await status_of(api, bob) == {"one_time": 0, "signed_prekey": signed.to_json()}
    metrics = await api.metrics()
    assert 'hongbao_relay_prekey_claims_total{outcome="one_time"} 3.0' in metrics
    assert 'hongbao_relay_prekey_claims_total{outcome="exhausted"} 2.0' in metrics


@pytest.mark.anyio
async def test_uploads_replace_the_signed_prekey_and_retries_add_nothing(api):
    _, bob, _ = people()
    await api.publish(bob)
    auth = await api.login(bob)
    first, second = signed_by(bob), signed_by(bob, created_at=NOW_MS // 1000 + 7 * 86400)
    keys = one_time_by(bob, 3)

    async def put(body: dict) -> dict:
        answer = await api.put(f"/v1/prekeys/{bob.address}", json=body, headers=auth)
        assert answer.status_code == 200, answer.text
        return answer.json()

    assert await put(upload(first, keys[:2])) == {"one_time": 2, "signed_prekey": first.to_json()}
    assert await put(upload(first, keys[:2])) == {
        "one_time": 2,
        "signed_prekey": first.to_json(),
    }  # a retry after a lost answer
    assert await put(upload(second)) == {
        "one_time": 2,
        "signed_prekey": second.to_json(),
    }  # rotation keeps the one-time keys
    assert await put(upload(None, keys[1:])) == {
        "one_time": 3,
        "signed_prekey": second.to_json(),
    }  # keys[1] already there
    claimed = [(await api.post(f"/v1/prekeys/{bob.address}/claim")).json()["one_time_prekey"] for _ in range(3)]
    assert claimed == [k.to_json() for k in keys]


def _flip(hex_text: str) -> str:
    return ("0" if hex_text[0] != "0" else "1") + hex_text[1:]


def refused_uploads(bob: Person, carol: Person) -> dict[str, tuple[dict, str]]:
    """name -> (an upload that must be refused with 422, a fragment of its message)."""
    good, keys = signed_by(bob), one_time_by(bob, 3)
    bad_signed = {**good.to_json(), "signature": _flip(good.signature.hex())}
    bad_last = upload(good, keys)
    bad_last["one_time_prekeys"][-1]["signature"] = _flip(keys[-1].signature.hex())
    repeated = upload(good, keys)
    repeated["one_time_prekeys"].append(keys[0].to_json())
    return {
        "a signed prekey with a bad signature": (
            {"signed_prekey": bad_signed, "one_time_prekeys": [k.to_json() for k in keys]},
            "not signed by the identity key",
        ),
        "a signed prekey of another identity": (upload(signed_by(carol), keys), "not signed by the identity key"),
        "a one-time prekey of another identity": (
            upload(good, keys + one_time_by(carol, 1)),
            "not signed by the identity key",
        ),
        "the last one-time prekey tampered with": (bad_last, "not signed by the identity key"),
        "a signed prekey's signature over a one-time key": (
            {"signed_prekey": {"key": keys[0].key.hex(), "signature": keys[0].signature.hex(), "created_at": 1}},
            "not signed by the identity key",
        ),
        "more than MAX_UPLOAD one-time prekeys": (
            upload(good, one_time_by(bob, MAX_UPLOAD + 1)),
            f"at most {MAX_UPLOAD}",
        ),
        "a repeated one-time prekey": (repeated, "repeats"),
        "nothing": ({"one_time_prekeys": []}, "signed prekey, one-time prekeys, or both"),
        "a key that is not hex": (
            {"one_time_prekeys": [{"key": "zz" * 32, "signature": keys[0].signature.hex()}]},
            "one_time_prekeys",
        ),
        "a short key": ({"signed_prekey": {**good.to_json(), "key": "ab" * 31}}, "signed_prekey"),
        "created_at not a number": ({"signed_prekey": {**good.to_json(), "created_at": "yesterday"}}, "created_at"),
    }


@pytest.mark.anyio
@pytest.mark.parametrize("case", list(refused_uploads(Person.make(1), Person.make(2))))
async def test_refused_uploads_store_nothing(api, case):
    _, bob, carol = people()
    body, fragment = refused_uploads(bob, carol)[case]
    await api.publish(bob)
    auth = await api.login(bob)
    before = upload(signed_by(bob), one_time_by(bob, 2))
    assert (await api.put(f"/v1/prekeys/{bob.address}", json=before, headers=auth)).status_code == 200
    assert fragment in error(await api.put(f"/v1/prekeys/{bob.address}", json=body, headers=auth), 422)
    assert await status_of(api, bob, auth) == {
        "one_time": 2,
        "signed_prekey": before["signed_prekey"],
    }  # not even the good part


@pytest.mark.anyio
async def test_at_most_max_stored_one_time_prekeys(api):
    _, bob, _ = people()
    await api.publish(bob)
    auth = await api.login(bob)
    path = f"/v1/prekeys/{bob.address}"
    signed, batches = signed_by(bob), [one_time_by(bob, MAX_UPLOAD) for _ in range(MAX_STORED // MAX_UPLOAD)]
    for batch in batches:
        assert (await api.put(path, json=upload(signed, batch), headers=auth)).status_code == 200
    assert (await api.put(path, json=upload(None, batches[0]), headers=auth)).json()[
        "one_time"
    ] == MAX_STORED  # a retry still fits
    over = upload(signed_by(bob), batches[-1][:50] + one_time_by(bob, 2))  # 50 stored + 2 new: 202
    message = error(await api.put(path, json=over, headers=auth), 422, "too_many_prekeys")
    assert str(MAX_STORED) in message and "nothing was stored" in message
    assert await status_of(api, bob, auth) == {
        "one_time": MAX_STORED,
        "signed_prekey": signed.to_json(),
    }  # the signed one too
    await api.post(f"{path}/claim")
    assert (await api.put(path, json=upload(None, one_time_by(bob, 1)), headers=auth)).json()["one_time"] == MAX_STORED


@pytest.mark.anyio
async def test_only_the_mailbox_own_token_uploads_or_reads_its_prekeys(api):
    _, bob, carol = people()
    for person in (bob, carol):
        await api.publish(person)
    bob_path, carol_auth = f"/v1/prekeys/{bob.address}", await api.login(carol)
    mallory_keys = upload(signed_by(carol), one_time_by(carol, 2))  # Carol's own valid keys, into Bob's mailbox
    error(await api.put(bob_path, json=upload(signed_by(bob), one_time_by(bob, 1))), 401, "unauthorized")
    error(await api.get(bob_path), 401, "unauthorized")
    assert "another mailbox" in error(await api.put(bob_path, json=mallory_keys, headers=carol_auth), 403, "forbidden")
    error(
        await api.put(bob_path, json=upload(signed_by(bob), one_time_by(bob, 1)), headers=carol_auth), 403, "forbidden"
    )
    error(await api.get(bob_path, headers=carol_auth), 403, "forbidden")
    forged = await api.login(bob)
    forged["Authorization"] = forged["Authorization"][:-2] + (
        "AA" if not forged["Authorization"].endswith("AA") else "BB"
    )
    error(await api.put(bob_path, json=upload(signed_by(bob)), headers=forged), 401)
    error(await api.post(f"{bob_path}/claim"), 404, "not_found")  # nothing of it was stored
    assert (
        await api.put(f"/v1/prekeys/{carol.address}", json=mallory_keys, headers=carol_auth)
    ).status_code == 200  # her own: fine
    error(
        await api.put(f"/v1/prekeys/{carol.address}", json=upload(signed_by(bob)), headers=carol_auth), 422
    )  # Bob's key in hers: no


@pytest.mark.anyio
async def test_claims_need_a_signed_prekey_and_a_real_address(api):
    _, bob, carol = people()
    await api.publish(bob)
    auth = await api.login(bob)
    assert "no prekeys" in error(await api.post(f"/v1/prekeys/{carol.address}/claim"), 404, "not_found")
    assert (
        await api.put(f"/v1/prekeys/{bob.address}", json=upload(None, one_time_by(bob, 2)), headers=auth)
    ).status_code == 200
    error(await api.post(f"/v1/prekeys/{bob.address}/claim"), 404)  # one-time keys alone are no bundle...
    assert (await status_of(api, bob, auth))["one_time"] == 2  # ...and none was spent
    error(await api.post("/v1/prekeys/0x1234/claim"), 422)
    wrong_checksum = "0x" + bob.address[2:].swapcase()  # Bob's address has both cases: still mixed, now wrong
    assert "checksum" in error(await api.post(f"/v1/prekeys/{wrong_checksum}/claim"), 422)


@pytest.mark.anyio
async def test_a_new_identity_key_wipes_the_prekeys_a_reissue_keeps_them(api):
    _, bob, _ = people()
    await api.publish(bob)
    signed = signed_by(bob)
    assert (
        await api.put(
            f"/v1/prekeys/{bob.address}", json=upload(signed, one_time_by(bob, 2)), headers=await api.login(bob)
        )
    ).status_code == 200
    assert (await api.publish(bob, version=2)).json()["result"] == "updated"  # same keys re-issued
    assert (await status_of(api, bob))["one_time"] == 2
    bob.rotate()
    assert (await api.publish(bob, version=3)).json()["result"] == "updated"
    error(await api.post(f"/v1/prekeys/{bob.address}/claim"), 404)
    assert await status_of(api, bob) == {"one_time": 0, "signed_prekey": None}
    assert api.context.store.prekeys.status(bob.address) == (0, None)
    old_signed = upload(signed)  # signed by the retired key: refused now
    assert "not signed" in error(
        await api.put(f"/v1/prekeys/{bob.address}", json=old_signed, headers=await api.login(bob)), 422
    )


@pytest.mark.anyio
async def test_openapi_documents_the_prekey_endpoints(api):
    paths = (await api.get("/openapi.json")).json()["paths"]
    put, claim = paths["/v1/prekeys/{address}"]["put"], paths["/v1/prekeys/{address}/claim"]["post"]
    assert {"200", "401", "403", "404", "409", "422", "429"} <= set(put["responses"])
    assert put["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/PrekeyUploadIn")
    assert {"200", "401", "403"} <= set(paths["/v1/prekeys/{address}"]["get"]["responses"])
    assert claim["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/PrekeyBundleOut")
    assert "security" not in claim and "security" in put  # claims are public, uploads are not


# -- the store: races ---------------------------------------------------------------------------


@pytest.fixture
def store(db_url):
    engine = db.make_engine(db_url)
    yield RelayStore(engine, ManualClock())
    engine.dispose()


def test_upload_without_identity_or_under_a_changed_key_stores_nothing(store):
    _, bob, _ = people()
    with pytest.raises(NotFound, match="no identity is published"):
        store.prekeys.put(bob.address, bob.keys.ed25519_public, signed_by(bob), one_time_by(bob, 1), NOW_MS)
    store.publish_identity(bob.bundle())
    old = Person(bob.account_key, bob.keys)
    bob.rotate()
    store.publish_identity(bob.bundle(version=2))  # lands between the route's check and the store's
    with pytest.raises(Conflict) as raised:
        store.prekeys.put(bob.address, old.keys.ed25519_public, signed_by(old), one_time_by(old, 1), NOW_MS)
    assert raised.value.status == 409 and raised.value.code == "identity_changed"
    assert store.prekeys.status(bob.address) == (0, None) and store.prekeys.claim(bob.address) is None


def test_concurrent_claims_never_share_a_key_nor_come_back_empty(db_url):
    """Several engines (as several relay processes: on SQLite no shared Python lock, only
    the database's), 12 threads claiming 16 each of 200 keys at once: every claim gets a
    key of its own (a claim that lost a race for the oldest key takes the next one, it
    does not answer "none left" while 8 are)."""
    _, bob, _ = people()
    engines = [db.make_engine(db_url) for _ in range(4)]
    try:
        stores = [RelayStore(engine, ManualClock()) for engine in engines]
        stores[0].publish_identity(bob.bundle())
        keys = one_time_by(bob, MAX_STORED)
        for start in range(0, MAX_STORED, MAX_UPLOAD):
            stores[0].prekeys.put(
                bob.address, bob.keys.ed25519_public, signed_by(bob), keys[start : start + MAX_UPLOAD], NOW_MS
            )
        taken: list[list[OneTimePrekey | None]] = [[] for _ in range(12)]
        start = threading.Barrier(len(taken))

        def claim(n: int) -> None:
            store = stores[n % len(stores)]
            start.wait()
            taken[n].extend(store.prekeys.claim(bob.address).one_time for _ in range(16))

        threads = [threading.Thread(target=claim, args=(n,)) for n in range(len(taken))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        everything = [key for mine in taken for key in mine]
        assert None not in everything
        assert len(everything) == len(set(everything)) == 12 * 16  # each handed out once
        order = {k: i for i, k in enumerate(keys)}
        for mine in taken:  # each claimer got them oldest first
            assert [order[k] for k in mine] == sorted(order[k] for k in mine)
        left = stores[1].prekeys.status(bob.address).one_time
        assert left == MAX_STORED - 12 * 16
        rest = [stores[2].prekeys.claim(bob.address).one_time for _ in range(left + 1)]
        assert set(rest[:-1]) == set(keys) - set(everything) and rest[-1] is None  # none lost
    finally:
        for engine in engines:
            engine.dispose()


# -- the migration matches the models --------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migration_0002_matches_the_models_and_downgrades(backend, request, tmp_path):
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    url = request.getfixturevalue("pg_url") if backend == "postgres" else f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    if backend == "sqlite":
        db.migrate(url)
    engine = db.make_engine(url)
    try:
        assert db.current_revision(url) == "0003"
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        inspector = inspect(engine)
        assert {i["name"] for i in inspector.get_indexes("one_time_prekeys")} >= {"ix_one_time_prekeys_address_seq"}
        with engine.connect() as connection:
            command.downgrade(db.alembic_config(connection), "0001")
            connection.commit()
        assert not {"signed_prekeys", "one_time_prekeys"} & set(inspect(engine).get_table_names())
        assert db.current_revision(url) == "0001"
    finally:
        engine.dispose()


# -- the client against a live relay ---------------------------------------------------------------


@pytest.fixture
def live(db_url):
    relay = LiveRelay(
        settings_for(db_url, rate=100_000, rate_burst=100_000, one_time_claims_per_minute=100_000), ManualClock()
    )
    yield relay
    relay.stop()


def client_for(live, person: Person) -> RelayClient:
    client = RelayClient(live.url, retries=0)
    client.publish_bundle(person.bundle())
    client.authenticate(person.address, person.keys)
    return client


def test_client_uploads_in_chunks_reads_status_and_claims_verified_bundles(live):
    alice, bob, carol = people()
    signed, keys = signed_by(bob), one_time_by(bob, MAX_UPLOAD + 50)
    with client_for(live, bob) as client:
        assert client.prekey_status(bob.address) == PrekeyStatus(0, None)
        assert client.publish_prekeys(bob.address, signed, keys) == PrekeyStatus(
            MAX_UPLOAD + 50, signed
        )  # two requests
        assert client.prekey_status() == PrekeyStatus(MAX_UPLOAD + 50, signed)  # the authenticated mailbox by default
        with pytest.raises(RelayRejected) as over:  # 150 + 100 > 200: refused
            client.publish_prekeys(bob.address, None, one_time_by(bob, MAX_UPLOAD + 1))
        assert over.value.status == 422 and over.value.code == "too_many_prekeys"
        with pytest.raises(PrekeyBundleInvalid):  # never sent: not signed by Bob's key
            client.publish_prekeys(bob.address, None, one_time_by(carol, 1))
        assert client.prekey_status().one_time == MAX_UPLOAD + 50
    with RelayClient(live.url) as anyone:
        first = anyone.claim_prekeys(bob.address.lower(), bob.keys.ed25519_public)
        assert first == prekeys.PrekeyBundle(bob.address, bob.keys.ed25519_public, signed, keys[0])
        assert anyone.claim_prekeys(bob.address, bob.keys.ed25519_public).one_time_prekey == keys[1]
        assert anyone.claim_prekeys(alice.address, alice.keys.ed25519_public) is None  # nothing published
        with pytest.raises(AuthFailed):  # uploading needs authenticate() first
            anyone.publish_prekeys(bob.address, signed, [])


def test_concurrent_claims_over_http_never_share_a_key(live):
    _, bob, _ = people()
    keys = one_time_by(bob, 60)
    with client_for(live, bob) as client:
        client.publish_prekeys(bob.address, signed_by(bob), keys)
    taken: list[list[bytes]] = [[] for _ in range(8)]
    start = threading.Barrier(len(taken))

    def claim_all(mine: list[bytes]) -> None:
        with RelayClient(live.url, retries=0) as anyone:
            start.wait()
            while (bundle := anyone.claim_prekeys(bob.address, bob.keys.ed25519_public)).one_time_prekey is not None:
                mine.append(bundle.one_time_prekey.key)

    threads = [threading.Thread(target=claim_all, args=(mine,)) for mine in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [key for mine in taken for key in mine]
    assert len(everything) == len(set(everything)) == len(keys) and set(everything) == {k.key for k in keys}


def test_client_refuses_prekeys_forged_into_the_relay_database(live):
    """Whoever writes the relay's database (a compromised relay) cannot make a client
    accept prekeys Bob did not sign: the relay serves the forged row, the client refuses."""
    _, bob, carol = people()
    signed, keys = signed_by(bob), one_time_by(bob, 2)
    with client_for(live, bob) as client:
        client.publish_prekeys(bob.address, signed, keys)
    forged = prekeys.sign_one_time(
        carol.keys.ed25519_secret, secrets.token_bytes(32)
    )  # a valid signature, by the wrong key
    engine = live.context.store.engine
    with engine.begin() as connection:  # straight into the table, oldest first, as no route would allow
        connection.execute(
            insert(one_time_prekeys).values(
                seq=0, address=bob.address, key=forged.key.hex(), signature=forged.signature.hex()
            )
        )
    with RelayClient(live.url) as alice:
        with pytest.raises(PrekeyBundleInvalid, match="one-time prekey is not signed"):
            alice.claim_prekeys(bob.address, bob.keys.ed25519_public)
        assert (
            alice.claim_prekeys(bob.address, bob.keys.ed25519_public).one_time_prekey == keys[0]
        )  # the real ones still verify
        mallory_signed = signed_by(carol)
        with engine.begin() as connection:
            connection.execute(
                update(signed_prekeys)
                .where(signed_prekeys.c.address == bob.address)
                .values(key=mallory_signed.key.hex(), signature=mallory_signed.signature.hex())
            )
        with pytest.raises(PrekeyBundleInvalid, match="signed prekey is not signed"):
            alice.claim_prekeys(bob.address, bob.keys.ed25519_public)


def test_client_refuses_prekeys_of_another_identity_than_the_pinned_one(live):
    _, bob, _ = people()
    pinned = bob.keys.ed25519_public  # what Alice verified (and compared fingerprints for) earlier
    bob.rotate()  # then someone publishes new keys for Bob's address, and prekeys signed by them
    with client_for(live, bob) as client:
        client.publish_bundle(bob.bundle(version=2))
        client.authenticate(bob.address, bob.keys, force=True)
        client.publish_prekeys(bob.address, signed_by(bob), one_time_by(bob, 1))
    with RelayClient(live.url) as alice:
        with pytest.raises(PrekeyBundleInvalid, match="another identity key"):
            alice.claim_prekeys(bob.address, pinned)
        assert alice.claim_prekeys(bob.address, bob.keys.ed25519_public).identity_key == bob.keys.ed25519_public


# -- the client against a lying relay (no server: httpx's MockTransport) -------------------------------


def lying_relay(answer) -> RelayClient:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and request.url.path.endswith("/claim")
        return httpx.Response(200, json=answer)

    return RelayClient("http://relay.test", transport=httpx.MockTransport(handler), retries=0)


@pytest.mark.parametrize(
    "lie", ["mallory's identity and keys", "another address", "a relabelled identity key", "not a bundle"]
)
def test_client_refuses_a_relay_lying_about_a_bundle(lie):
    _, bob, carol = people()
    honest = prekeys.PrekeyBundle(
        bob.address, bob.keys.ed25519_public, signed_by(bob), one_time_by(bob, 1)[0]
    ).to_json()
    answers = {
        "mallory's identity and keys": prekeys.PrekeyBundle(
            bob.address, carol.keys.ed25519_public, signed_by(carol), one_time_by(carol, 1)[0]
        ).to_json(),
        "another address": {**honest, "address": carol.address},
        "a relabelled identity key": prekeys.PrekeyBundle(
            bob.address, bob.keys.ed25519_public, signed_by(carol), None
        ).to_json(),
        "not a bundle": {"address": bob.address, "identity_key": "00"},
    }
    with lying_relay(honest) as client:  # the control: the same client takes an honest answer
        assert client.claim_prekeys(bob.address, bob.keys.ed25519_public).to_json() == honest
    with lying_relay(answers[lie]) as client, pytest.raises(PrekeyBundleInvalid):
        client.claim_prekeys(bob.address, bob.keys.ed25519_public)


@pytest.mark.anyio
async def test_claims_beyond_the_per_address_limit_get_no_one_time_prekey(sqlite_template, tmp_path):
    """Draining someone's one-time prekeys: past the limit, bundles still start sessions
    (signed prekey only) but the remaining one-time prekeys stay for real senders."""
    relay = make_api(support.sqlite_url(sqlite_template, tmp_path / "db"), one_time_claims_per_minute=3)
    async with relay.client:
        _, bob, carol = people()
        for person in (bob, carol):
            await relay.publish(person)
            answer = await relay.put(
                f"/v1/prekeys/{person.address}",
                json=upload(signed_by(person), one_time_by(person, 10)),
                headers=await relay.login(person),
            )
            assert answer.status_code == 200, answer.text
        claims = [(await relay.post(f"/v1/prekeys/{bob.address}/claim")).json() for _ in range(5)]
        assert [c["one_time_prekey"] is not None for c in claims] == [True, True, True, False, False]
        assert all(c["signed_prekey"] is not None for c in claims)
        assert (await status_of(relay, bob))["one_time"] == 7
        assert (await relay.post(f"/v1/prekeys/{carol.address}/claim")).json()[
            "one_time_prekey"
        ] is not None  # per address
        relay.clock.advance(20)  # a third of a minute: one more
        assert (await relay.post(f"/v1/prekeys/{bob.address}/claim")).json()["one_time_prekey"] is not None
    relay.context.close()


@pytest.mark.anyio
async def test_an_upload_may_replace_the_one_time_prekeys_held(api):
    _, bob, _ = people()
    await api.publish(bob)
    auth = await api.login(bob)
    old, new = one_time_by(bob, 5), one_time_by(bob, 3)
    assert (
        await api.put(f"/v1/prekeys/{bob.address}", json=upload(signed_by(bob), old), headers=auth)
    ).status_code == 200
    replaced = await api.put(
        f"/v1/prekeys/{bob.address}", json={**upload(None, new), "replace_one_time": True}, headers=auth
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["one_time"] == 3
    claims = [(await api.post(f"/v1/prekeys/{bob.address}/claim")).json()["one_time_prekey"] for _ in range(4)]
    assert claims == [k.to_json() for k in new] + [None]
    emptied = await api.put(f"/v1/prekeys/{bob.address}", json={"replace_one_time": True}, headers=auth)
    assert emptied.status_code == 200 and emptied.json()["one_time"] == 0

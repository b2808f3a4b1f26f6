"""`hongbao app` driven by Textual's pilot: two people, each with an app of their own in
this process, a real relay process and (for money) the worker's anvil. What arrives is
waited for by polling the screen's state with a deadline, never by a fixed sleep."""

from __future__ import annotations

import asyncio
import io
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from app_fixtures import ME_KEY
from conftest import ANVIL_KEYS
from test_relay_e2e import Relay, sqlite_url
from textual.widgets import Input

from cli.app.ui import HongbaoApp
from messaging.chat import Messenger, save_relay
from messaging.client import RelayClient
from messaging.identity import make_bundle

pytestmark = pytest.mark.slow
pytest_plugins = ("defi_fixtures",)

BOB_KEY = bytes.fromhex(ANVIL_KEYS[1])
CAROL_KEY = bytes.fromhex(ANVIL_KEYS[2])
SIZE = (140, 45)


@pytest.fixture(scope="module")
def relay(tmp_path_factory):
    folder = tmp_path_factory.mktemp("app-relay")
    with Relay(folder / "home", sqlite_url(folder)) as running:
        yield running


async def until(pilot, condition: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    """Let the apps run until `condition()` holds (a deadline, not a fixed wait)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            shown = [(x.type, x.state) for x in pilot.app.loaded]
            raise AssertionError(f"not within {timeout} s: {what} (on screen: {shown}; alerts: {pilot.app.alerts})")
        await pilot.pause(0.02)


def person(home: Path, key: bytes, relay_url: str) -> HongbaoApp:
    save_relay(home, relay_url)  # the app publishes their bundle and prekeys when it connects
    return HongbaoApp(
        lambda k: Messenger.open(home, k), key, lambda _password: b"", chain=False, checker=lambda *_: None
    )


def texts(app: HongbaoApp) -> list[str]:
    return [getattr(x.payload, "body", "") for x in app.loaded]


async def type_text(pilot, text: str) -> None:
    """Into the focused input (the composer, or a dialog's), then Enter."""
    await pilot.pause()
    field = pilot.app.focused
    assert isinstance(field, Input), field
    field.insert_text_at_cursor(text)  # what an input method commits (Chinese too)
    await pilot.press("enter")


def test_chat_both_ways_and_a_message_queued_while_the_relay_is_down(tmp_path, relay):
    alice = person(tmp_path / "alice", ME_KEY, relay.url)
    bob = person(tmp_path / "bob", BOB_KEY, relay.url)
    bob_address = make_bundle(BOB_KEY, 0).address

    async def run() -> None:
        async with alice.run_test(size=SIZE) as a, bob.run_test(size=SIZE) as b:
            await until(a, lambda: alice.status.startswith("online") and bob.status.startswith("online"), "online")
            await a.press("f5")
            await type_text(a, bob_address)
            await until(a, lambda: alice.open_id == bob_address, "Alice's chat with Bob open")
            await type_text(a, "你好 Bob, 新年快乐")
            await until(b, lambda: "你好 Bob, 新年快乐" in texts(bob), "Bob sees Alice's message")
            assert bob.rows[0].id == alice.m.address and bob.rows[0].kind == "request"  # a stranger, for now
            await b.press("f2", "y")  # accept the message request
            await until(b, lambda: bob.rows[0].kind == "contact", "Bob accepted Alice")
            await type_text(b, "[bold]hi[/] Alice")
            await until(a, lambda: "[bold]hi[/] Alice" in texts(alice), "Alice sees Bob's reply")
            await type_text(a, "read me")
            await until(b, lambda: "read me" in texts(bob), "Bob's open chat shows it")
            await until(a, lambda: alice.loaded[-1].state == "read", "Bob's read receipt shown to Alice")

            relay.kill()
            await until(a, lambda: alice.status.startswith("offline"), "Alice's app says offline")
            await type_text(a, "sent while the relay was down")
            await until(a, lambda: alice.loaded[-1].state == "pending", "the message shows pending")
            relay.start()
            await until(b, lambda: "sent while the relay was down" in texts(bob), "it goes out by itself")
            await until(a, lambda: alice.loaded[-1].state != "pending", "no longer pending on Alice's screen")

    asyncio.run(run())


# -- the browser: `hongbao app --web`, Playwright driving Debian's Chromium --------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def served_url(process) -> str:
    """The URL `hongbao app --web` prints (with its token), read with a deadline."""
    import selectors

    deadline = time.monotonic() + 30
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=max(0.0, deadline - time.monotonic())):
                line = process.stdout.readline()
                if not line:
                    break
                if "open http" in line:
                    return line.split("open ", 1)[1].split()[0]
    raise AssertionError(f"`hongbao app --web` printed no URL: {process.stderr.read()}")


def test_web_app_in_chromium_sends_to_a_terminal_app(tmp_path, relay, cli):
    import httpx

    if not CHROMIUM.exists():
        print(f"SKIPPED: {CHROMIUM} is absent (apt-get install chromium); the browser test cannot run")
        pytest.skip(f"{CHROMIUM} is absent: apt-get install chromium")
    from conftest import Person, quick_wallet
    from playwright.async_api import async_playwright

    # keys of their own: the relay keeps the other tests' people (their prekeys are in other homes)
    web = Person(cli, tmp_path / "alice", "alice")
    quick_wallet(web.home)
    web_key = unlocked_key(web.home)
    save_relay(web.home, relay.url)
    with Messenger.open(web.home, web_key) as m:
        m.store.add_contact(make_bundle(CAROL_KEY, 0).address, "bob")  # accepted: receipts flow
    bob = person(tmp_path / "bob", CAROL_KEY, relay.url)
    shot = Path(os.environ.get("HONGBAO_APP_SCREENSHOT", tmp_path / "app-web.png"))

    server = web.popen("app", "--web")
    try:
        url = served_url(server)
        root = url.split("/", 3)
        assert httpx.get(f"{root[0]}//{root[2]}/").status_code == 404  # no token, no app
        assert httpx.get(f"{root[0]}//{root[2]}/x{root[3]}").status_code == 404

        def published(key: bytes) -> bool:
            with RelayClient(relay.url) as client:
                return client.get_bundle(make_bundle(key, 0).address) is not None

        async def run() -> None:
            async with bob.run_test(size=SIZE) as b, async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = await browser.new_page(viewport={"width": 1400, "height": 860})
                await page.goto(url)
                try:
                    await until(b, lambda: bob.status.startswith("online"), "Bob online")
                    await until(b, lambda: published(web_key), "Alice's app (in the browser) online", 30)
                    await b.press("f5")
                    await type_text(b, make_bundle(web_key, 0).address)
                    await type_text(b, "hi from a terminal")  # Alice's app opens its first chat by itself
                    await until(
                        b,
                        lambda: bob.loaded and bob.loaded[-1].state in ("delivered", "read"),
                        "delivered to Alice",
                        30,
                    )
                    await page.mouse.click(700, 800)  # the composer: the app draws on a canvas, typed as a person would
                    await page.keyboard.type("来自浏览器的问候 hello from the browser\n")
                    await until(b, lambda: "来自浏览器的问候 hello from the browser" in texts(bob), "Bob gets it", 30)
                finally:
                    await page.screenshot(path=str(shot))
                    await browser.close()

        asyncio.run(run())
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert shot.stat().st_size > 10_000


# -- money: a red packet from the app, claimed; a payment request -----------------------------


def unlocked_key(home: Path) -> bytes:
    from conftest import PASSWORD

    from wallet import keyring

    key: bytes = keyring.WalletStore(home).open("default").unlock(PASSWORD).private_key(0)
    return key


async def fill(pilot, screen_type, values: dict[str, str]) -> None:
    """Fill a form dialog's fields by name, then Enter."""
    await until(pilot, lambda: isinstance(pilot.app.screen, screen_type), f"{screen_type.__name__} shown")
    for name, value in values.items():
        pilot.app.screen.query_one(f"#field-{name}", Input).value = value
    pilot.app.screen.query_one(Input).focus()
    await pilot.press("enter")


def test_red_packet_claimed_and_a_request_paid_in_the_apps(cli, tmp_path, anvil, defi, relay, monkeypatch):
    """Then the keys beyond: a request declined, a claim code pasted, a packet refunded, a bill
    split, a swap, an offer drawn as a card and filled; and the read-only screens (history,
    NFTs, the trade board) against the CLI's listings."""
    from conftest import PASSWORD, Person, quick_wallet
    from test_packet_cli import balance
    from test_services_packets import Scripted

    from cli.app.modals import AskScreen, ChoiceScreen, ConfirmScreen, FormScreen
    from messaging import payloads
    from wallet import config

    def wallet_person(name: str, eth: int) -> Person:
        """A wallet on the test's anvil (the DeFi protocols recorded) with `eth` ETH, its relay set (in-process: cheap)."""
        someone = Person(cli, tmp_path / name, name)
        someone.address = quick_wallet(someone.home)
        defi.record(someone.home, anvil)
        save_relay(someone.home, relay.url)
        anvil.rpc().call("anvil_setBalance", someone.address, hex(eth * 10**18))
        return someone

    alice, bob = wallet_person("alice", 2), wallet_person("bob", 1)
    alice.json("contracts", "deploy")
    cfg = config.load(alice.home)  # the pools' TKN, not the test token `contracts deploy` adds
    cfg.networks["local"].tokens["TKN"] = config.Token("TKN", defi.tokens["TKN"], 18)
    config.save(alice.home, cfg)
    monkeypatch.setenv("HONGBAO_PASSWORD", PASSWORD)
    alice_app = HongbaoApp(lambda k: Messenger.open(alice.home, k), unlocked_key(alice.home), lambda _p: b"")
    bob_app = HongbaoApp(lambda k: Messenger.open(bob.home, k), unlocked_key(bob.home), lambda _p: b"", chain=False)

    def cards(app: HongbaoApp, kind) -> list:
        return [x for x in app.loaded if isinstance(x.payload, kind)]

    def acting(who) -> None:
        """The services sign from HONGBAO_HOME: the acting person's (one process, two homes)."""
        monkeypatch.setenv("HONGBAO_HOME", str(who.home))

    rpc = anvil.rpc()

    async def run() -> None:
        acting(alice)
        async with alice_app.run_test(size=SIZE) as a, bob_app.run_test(size=SIZE) as b:
            await until(
                a, lambda: alice_app.status.startswith("online") and bob_app.status.startswith("online"), "online"
            )
            await until(a, lambda: alice_app.balance.startswith("2 ETH"), "Alice's balance, read from the chain")
            await a.press("f5")
            await type_text(a, bob.address)
            await until(a, lambda: alice_app.open_id == bob.address, "Alice's chat with Bob open")
            await a.press("f6")
            await fill(
                a, FormScreen, {"amount": "0.5 ETH", "lucky": "y", "greeting": "[red]新婚[/]快乐", "theme": "wedding"}
            )
            await until(a, lambda: isinstance(alice_app.screen, ConfirmScreen), "the preview")
            rows = dict(alice_app.screen.preview.rows)
            assert rows["red packet"] == "0.5 ETH in 1 random share(s)" and rows["theme"] == "wedding"
            assert rows["value"] == "0.5 ETH" and rows["from"] == alice.address  # what will be signed
            await a.press("y")
            await until(b, lambda: cards(bob_app, payloads.RedPacket), "Bob's app shows the packet", 20)
            (packet,) = cards(bob_app, payloads.RedPacket)
            assert packet.payload.theme == "wedding" and packet.payload.greeting == "[red]新婚[/]快乐"
            await until(b, lambda: bob_app.checks.get(packet.id, "").startswith("✓"), "the chain backs it")

            acting(bob)
            before = balance(anvil, bob.address)
            await b.press("f7")
            await until(b, lambda: isinstance(bob_app.screen, ConfirmScreen), "the packet opened", 20)
            assert dict(bob_app.screen.preview.rows)["claimed"].startswith("0 ETH: 0 of 1")
            await b.press("y")  # claim my share
            await until(b, lambda: isinstance(bob_app.screen, ConfirmScreen), "the claim's preview", 20)
            await b.press("y")
            await until(b, lambda: balance(anvil, bob.address) > before, "Bob's share paid", 20)
            await until(a, lambda: any("claimed 0.5 ETH" in x for x in alice_app.alerts), "Alice's app told", 20)
            await b.press("f7")
            await until(b, lambda: isinstance(bob_app.screen, ConfirmScreen), "the packet opened again", 20)
            assert dict(bob_app.screen.preview.rows)["手气最佳"].startswith(bob.address)
            await b.press("escape")

            acting(alice)
            await a.press("f8")
            await fill(a, FormScreen, {"amount": "0.05 ETH", "note": "taxi 🚕"})
            await until(a, lambda: isinstance(alice_app.screen, ConfirmScreen), "the request's preview")
            await a.press("y")
            await until(b, lambda: cards(bob_app, payloads.PaymentRequest), "Bob's app shows the request")
            acting(bob)
            await b.press("f9")  # pays the chat's request
            await until(b, lambda: isinstance(bob_app.screen, ConfirmScreen), "the payment's preview", 20)
            assert dict(bob_app.screen.preview.rows)["value"] == "0.05 ETH"
            await b.press("y")
            await until(a, lambda: cards(alice_app, payloads.Payment), "Alice's app shows the payment", 20)
            (notice,) = cards(alice_app, payloads.Payment)
            assert notice.payload.request_id == cards(bob_app, payloads.PaymentRequest)[0].payload.request_id
            await until(a, lambda: alice_app.checks.get(notice.id, "").startswith("✓"), "the chain confirms it", 20)
            await declined_request(a, b)
            await claimed_by_code_and_refunded(a, b)
            await split_and_swap(a)
            await offer_filled(a, b)
            await read_only_screens(a)

    async def declined_request(a, b) -> None:
        acting(alice)
        await a.press("f8")
        await fill(a, FormScreen, {"amount": "0.01 ETH", "note": "second taxi"})
        await until(a, lambda: isinstance(alice_app.screen, ConfirmScreen), "the request's preview")
        await a.press("y")
        await until(b, lambda: len(cards(bob_app, payloads.PaymentRequest)) == 2, "Bob's app shows the second")
        await b.press("f3")  # in a chat: declines the newest open request to me
        await until(b, lambda: isinstance(bob_app.screen, ConfirmScreen), "the decline's preview")
        assert dict(bob_app.screen.preview.rows)["note"] == "second taxi"
        await b.press("y")
        await until(a, lambda: cards(alice_app, payloads.RequestDeclined), "Alice's app shows the decline")

    async def claimed_by_code_and_refunded(a, b) -> None:
        from cli.services.packet_create import Order, create

        acting(alice)
        opened = await asyncio.to_thread(create, Order("0.2 ETH", open=True, shares=2, expires="1h"), Scripted())
        short = await asyncio.to_thread(create, Order("0.1 ETH", open=True, expires="1s"), Scripted())
        acting(bob)
        before = balance(anvil, bob.address)
        await b.press("ctrl+g")
        await until(b, lambda: isinstance(bob_app.screen, AskScreen), "the code dialog")
        await type_text(b, opened.code)
        await until(b, lambda: isinstance(bob_app.screen, ConfirmScreen), "the claim's preview", 20)
        assert dict(bob_app.screen.preview.rows)["amount"] == "0.1 ETH"
        await b.press("y")
        await until(b, lambda: balance(anvil, bob.address) > before, "Bob's share of the open packet", 20)

        acting(alice)
        rpc.call("evm_mine", short.data["expiry"] + 1)  # the chain's clock past the short packet's expiry
        before = balance(anvil, alice.address)
        await a.press("ctrl+r")  # none expired in the chat: the newest created here
        await until(a, lambda: isinstance(alice_app.screen, ConfirmScreen), "the refund's preview", 20)
        assert short.data["packet_id"][:18] in dict(alice_app.screen.preview.rows)["you receive"]
        await a.press("y")
        await until(a, lambda: balance(anvil, alice.address) > before, "the rest back to Alice", 20)

    async def split_and_swap(a) -> None:
        from wallet import erc20

        acting(alice)
        group = await asyncio.wrap_future(alice_app.live.call(lambda m: m.create_group("trip", [bob.address])[0]))
        alice_app.open_conversation(f"group:{group.id}")
        await a.press("f8")  # in a group: a bill split among its members
        await fill(a, FormScreen, {"amount": "0.3 ETH", "note": "hotel"})
        await until(a, lambda: isinstance(alice_app.screen, ConfirmScreen), "the split's preview")
        assert dict(alice_app.screen.preview.rows)[f"  {bob.address}"] == "0.15 ETH"
        await a.press("y")
        await until(a, lambda: cards(alice_app, payloads.PaymentRequest), "the split bill in the group")

        await a.press("ctrl+s")
        await fill(a, FormScreen, {"amount": "0.1", "sell": "ETH", "buy": "TKN"})
        await until(a, lambda: isinstance(alice_app.screen, ConfirmScreen), "the swap's preview", 20)
        assert dict(alice_app.screen.preview.rows)["step"].startswith("swap: 0.1 ETH -> ~")
        await a.press("y")
        tkn = defi.tokens["TKN"]
        await until(a, lambda: erc20.balance_of(rpc, tkn, alice.address) > 0, "Alice's TKN", 20)

    async def offer_filled(a, b) -> None:
        """Alice offers Bob 5 TKN for 0.01 ETH (in-process); Bob's app draws the card, fills it from the keyboard."""
        from cli.app.trading import offers_service
        from cli.services.defi_actions import run_plan
        from cli.services.offers import parse_item

        acting(alice)
        key = unlocked_key(alice.home)

        def make(m):
            service = offers_service(m, None)
            give, want = parse_item("5 TKN", service.place), parse_item("0.01 ETH", service.place)
            draft = service.draft(bob.address, [give], [want], 3600, "[red]deal[/]\x1b[2J")
            run_plan(draft.steps, None, Scripted())
            return service.send(draft, key)[0]

        offer = await asyncio.wrap_future(alice_app.live.call(make))
        acting(bob)
        bob_app.open_conversation(alice.address)
        await until(b, lambda: cards(bob_app, payloads.Offer), "Bob's app shows the offer", 20)
        (card,) = cards(bob_app, payloads.Offer)
        await until(b, lambda: bob_app.checks.get(card.id, "").startswith("✓ open"), "the chain's word on it", 20)
        await b.press("ctrl+t")
        await until(b, lambda: isinstance(bob_app.screen, ChoiceScreen), "the offer opened", 20)
        assert dict(bob_app.screen.preview.rows)["you get"] == "5 TKN"
        await b.press("y")
        await until(b, lambda: isinstance(bob_app.screen, ConfirmScreen), "the fill's preview", 20)
        assert dict(bob_app.screen.preview.rows)["value"] == "0.01 ETH"
        await b.press("y")
        await until(a, lambda: alice_app.m.store.messages_of_types(payloads.OfferAnswer.TYPE), "Alice told", 20)
        await until(b, lambda: bob_app.checks.get(card.id, "").startswith("✓ FILLED"), "filled, says the chain", 20)
        assert offer.order_hash == card.payload.order_hash

    async def read_only_screens(a) -> None:
        """Ctrl+Y, Ctrl+N, Ctrl+B: the CLI's own listings of the same data (services/history,
        nfts, social_trades), hostile names and notes drawn as the characters they are."""
        from cli.app.modals import SHOWN, ListScreen
        from cli.context import chain as connect
        from cli.context import history, nonce_lock_path
        from cli.services import nfts, social_trades
        from cli.services.following import protocols_of
        from cli.services.history import activity, sync_accounts
        from wallet import localchain

        acting(alice)
        chain = connect(None)
        evil = "[bold]Evil[/] \x1b[2J"  # the collection's name: markup and an escape sequence
        collection, _ = nfts.deploy_test(
            chain, history(), localchain.DEV_ADDRESS, localchain.DEV_KEY, nonce_lock_path(), evil, "[red]EV\u202e"
        )
        nfts.mint_test(chain, history(), collection, alice.address, localchain.DEV_KEY, nonce_lock_path())
        await asyncio.to_thread(sync_accounts, None, None, None)  # `hongbao sync`: the NFT's Transfer seen
        swapped = next(r for r in activity(None, alice.address).rows if r["direction"] == "swap")
        note = "[blink]to the moon[/]\x1b]8;;http://x\x07"
        share = lambda m: social_trades.share(m, protocols_of(None), swapped["hash"], alice_app.open_id, note)  # noqa: E731
        await asyncio.wrap_future(alice_app.live.call(share))

        async def opened(key: str) -> ListScreen:
            await a.press(key)
            await until(a, lambda: isinstance(alice_app.screen, ListScreen), f"{key}'s list", 20)
            assert isinstance(alice_app.screen, ListScreen)
            return alice_app.screen

        def drawn(screen: ListScreen) -> str:
            from rich.console import Console
            from textual.widgets import Static

            out = Console(width=400, record=True, file=io.StringIO())
            for part in screen.query(Static):
                out.print(part.content)
            return out.export_text()

        screen = await opened("ctrl+y")
        listed = await asyncio.to_thread(activity, None, alice.address, SHOWN)
        assert screen.rows == listed.cells() and screen.more == listed.more == 0
        stamps = [r["timestamp"] for r in listed.rows]
        assert stamps == sorted(stamps, reverse=True) and swapped["hash"] in [r[-1] for r in screen.rows]
        await a.press("escape")
        screen = await opened("ctrl+n")
        held = await asyncio.to_thread(nfts.holdings, [alice.address], None)
        assert screen.rows == held.cells() and [r[1:3] for r in screen.rows] == [["1", alice.address]]
        assert "[red]EV\\u202e (" in drawn(screen) and "[bold]Evil[/] \\x1b[2J" in drawn(screen)
        await a.press("escape")
        screen = await opened("ctrl+b")  # the open chat: the trip group
        board = social_trades.board
        found = await asyncio.wrap_future(
            alice_app.live.call(lambda m: board(m, protocols_of(None), alice_app.open_id))
        )
        assert screen.rows == found.cells() and screen.lines == found.totals_lines() and len(screen.rows) == 1
        assert screen.rows[0][0] == f"me ({alice.address})" and screen.rows[0][-1] == note
        assert "[blink]to the moon[/]\\x1b]8;;http://x\\x07" in drawn(screen)
        await a.press("escape")
        assert not isinstance(alice_app.screen, ListScreen)

    try:
        asyncio.run(run())
    finally:
        rpc.close()


def test_automatic_follows_run_beside_the_stream_and_say_only_what_failed():
    """The live side hands each arriving message to `trade autofollow` off the stream's
    loop (a swap must not hold the relay up) and tells its events as news; a failure is told
    by its type only (a library's message might hold a secret)."""
    import threading

    from cli.app.live import Live

    told: list = []
    news = threading.Event()

    def tell(event) -> None:
        told.append(event)
        if event.kind == "news":
            news.set()

    def follow(message):
        assert threading.current_thread().name != "hongbao-app-live-loop"
        if message == "bad":
            raise ValueError("secret 0xdeadbeef")
        return [{"kind": "autofollow", "text": f"followed {message}", "followed": True}]

    live = Live(None, tell, follow=follow)
    loop_thread = threading.Thread(target=live.loop.run_forever, name="hongbao-app-live-loop", daemon=True)
    loop_thread.start()
    try:
        for message in ("card", "bad"):
            news.clear()
            live.loop.call_soon_threadsafe(live._arrived, message)
            assert news.wait(10), f"nothing told about {message}"
    finally:
        live.loop.call_soon_threadsafe(live.loop.stop)
        loop_thread.join(5)
    said = [(e.kind, e.text) for e in told]
    assert said == [
        ("message", ""),
        ("news", "followed card"),
        ("message", ""),
        ("news", "automatic follow failed (ValueError)"),
    ]
    assert told[1].data["followed"] is True

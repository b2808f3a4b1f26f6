"""`hongbao app` driven by Textual's pilot: two people, each with an app of their own in
this process, a real relay process and (for money) the worker's anvil. What arrives is
waited for by polling the screen's state with a deadline, never by a fixed sleep."""

from __future__ import annotations

import asyncio
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

BOB_KEY = bytes.fromhex(ANVIL_KEYS[1])
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
            raise AssertionError(f"not within {timeout} s: {what} ({[(x.type, x.state) for x in pilot.app.loaded]})")
        await pilot.pause(0.02)


def person(home: Path, key: bytes, relay_url: str) -> HongbaoApp:
    save_relay(home, relay_url)  # the app publishes their bundle and prekeys when it connects
    return HongbaoApp(lambda k: Messenger.open(home, k), key, lambda _password: b"", checker=lambda *_: None)


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
    from conftest import ANVIL_MNEMONIC, Person, quick_wallet
    from playwright.async_api import async_playwright

    web = Person(cli, tmp_path / "alice", "alice")
    quick_wallet(web.home, ANVIL_MNEMONIC)
    save_relay(web.home, relay.url)
    with Messenger.open(web.home, ME_KEY) as m:
        m.store.add_contact(make_bundle(BOB_KEY, 0).address, "bob")  # accepted: receipts flow
    bob = person(tmp_path / "bob", BOB_KEY, relay.url)
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
                    await until(b, lambda: published(ME_KEY), "Alice's app (in the browser) online", 30)
                    await b.press("f5")
                    await type_text(b, make_bundle(ME_KEY, 0).address)
                    await type_text(b, "hi from a terminal")  # Alice's app opens its first chat by itself
                    await until(
                        b, lambda: bob.loaded and bob.loaded[-1].state in ("delivered", "read"), "delivered to Alice"
                    )
                    await page.mouse.click(700, 800)  # the composer: the app draws on a canvas, typed as a person would
                    await page.keyboard.type("来自浏览器的问候 hello from the browser\n")
                    await until(b, lambda: "来自浏览器的问候 hello from the browser" in texts(bob), "Bob gets it", 20)
                finally:
                    await page.screenshot(path=str(shot))
                    await browser.close()

        asyncio.run(run())
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert shot.stat().st_size > 10_000

"""Strings from someone else never drive the terminal (issue 13, finding 3).

A stranger (Mallory) sends Bob texts, a payment note, a red packet's greeting and theme,
a message of an unknown type with odd fields, and puts him in a group whose name is
hostile: ESC/CSI/OSC sequences, C1 controls, carriage returns and newlines that would
draw a fake line, bidi overrides, and Rich markup. Every command that shows them, human
and --json, exits 0 and prints none of those characters raw; the markup shows as text."""

from __future__ import annotations

import json
import re
import secrets

import pytest
from conftest import Person, quick_wallet
from test_relay_e2e import Relay, sqlite_url

from cli.inert import inert, json_text, markup
from messaging import payloads
from messaging.chat import Messenger
from wallet import config

pytestmark = pytest.mark.slow

HOSTILE = [
    "\x1b[2J\x1b[H\x1b[1Aalice: NEW ADDRESS, pay me at 0x0000000000000000000000000000000000000bad",
    "\r\nalice: NEW ADDRESS\x1b[K",
    "\x1b]8;;https://evil.example\x07click\x1b]8;;\x07 \x1b]0;title\x07",
    "\x9b31mred\x9b0m \x90dcs\x9c \x00\x07\x08\x7f",
    "pay \u202e0x1234\u202c \u2066iso\u2069 \u200f \u2028\u2029",
    "x[/]",
    "[link=https://evil.example]click[/link] [bold red]alarm[/]",
    "新年快乐 🧧 [/bold]",
]
# What a terminal would obey: C0 but newline (and tab), DEL, C1, bidi and line separators.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def test_inert_makes_every_hostile_character_visible_and_keeps_the_rest():
    for text in HOSTILE:
        shown = inert(text)
        assert not UNSAFE.search(shown) and "\n" not in shown, repr(shown)
        assert json.loads(json_text(json.dumps(text, ensure_ascii=False))) == text
        assert not UNSAFE.search(json_text(json.dumps(text, ensure_ascii=False)))
        nested = {"text": text, "list": [text, {"deep": text}]}
        pretty = json_text(json.dumps(nested, ensure_ascii=False, indent=2))  # commands without --json
        assert json.loads(pretty) == nested and not UNSAFE.search(pretty), pretty
    assert inert("\x1b[2J") == "\\x1b[2J" and inert("a\u202eb") == "a\\u202eb" and inert("a\nb") == "a\\nb"
    assert inert("新年快乐 🧧 0xAbC") == "新年快乐 🧧 0xAbC"
    from rich.text import Text

    assert Text.from_markup(markup("x[/] [link=u]y[/link]")).plain == "x[/] [link=u]y[/link]"


@pytest.fixture(scope="module")
def relay(tmp_path_factory):
    folder = tmp_path_factory.mktemp("terminal-relay")
    with Relay(folder / "home", sqlite_url(folder)) as running:
        yield running


def _person(cli, tmp_path, name: str, relay, anvil) -> Person:
    person = Person(cli, tmp_path / name, name)
    person.address = quick_wallet(person.home)
    cfg = config.load(person.home)
    cfg.networks["local"] = config.Network("local", anvil.url, 31337)
    config.save(person.home, cfg)
    person("relay", "use", relay.url)
    return person


def _clean(result, command) -> None:
    assert result.returncode == 0, (command, result.returncode, result.stderr)
    for stream in (result.stdout, result.stderr):
        found = UNSAFE.search(stream)
        assert found is None, (command, repr(stream[max(0, found.start() - 40) : found.end() + 40]))
    assert "\nalice: NEW ADDRESS" not in result.stdout, command


def _send_everything(m, bob: Person, group_id: str, round_: int) -> None:
    everything = "".join(HOSTILE)[:512]
    for text in HOSTILE:
        m.send(bob.address, payloads.Text(text))
    m.send(bob.address, payloads.Payment(31337, "0x" + f"{round_:02x}" * 32, "1000", note=everything))
    packet = payloads.RedPacket(
        31337,
        "0x" + "5" * 40,
        "0x" + f"{round_ + 16:02x}" * 32,
        greeting=everything,
        theme="\x1b]0;t\x07\u202e[/]\x9b2J",
        claim_key="0x" + "cd" * 32,
    )
    m.send(bob.address, packet)
    m.send(bob.address, payloads.Unknown("x\x1b[31m[/]", {"v": 1, "f": HOSTILE[2]}))
    m.send("group:" + group_id, payloads.Text(HOSTILE[1]))


def test_hostile_strings_reach_no_terminal(cli, tmp_path, relay, anvil):
    bob = _person(cli, tmp_path, "bob", relay, anvil)
    with Messenger.open(tmp_path / "mallory", secrets.token_bytes(32), relay_url=relay.url) as m:
        mallory = m
        group, _ = m.create_group(HOSTILE[0], [bob.address])
        for round_, extra in enumerate(((), ("--json",))):  # watch shows what arrives while it runs
            _send_everything(m, bob, group.id, round_)
            _clean(bob("chat", "watch", "--once", *extra, check=False), ("chat", "watch", *extra))
        _send_everything(m, bob, group.id, 2)
    bob("contacts", "add", mallory.address, "--name", "mallory")
    commands = [
        ("chat", "inbox"),
        ("chat", "show", mallory.address),
        ("chat", "show", "group:" + group.id),
        ("group", "list"),
        ("contacts", "list"),
        ("packet", "list", "--no-fetch"),
    ]
    for command in commands:
        for extra in ((), ("--json",)):
            _clean(bob(*command, *extra, check=False), command + extra)
    shown = bob("chat", "show", mallory.address).stdout
    assert "x[/]" in shown and "[link=https://evil.example]click[/link]" in shown  # markup shown, not obeyed
    assert "\\x1b[2J" in shown and "\\u202e" in shown  # made visible

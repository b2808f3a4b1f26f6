"""`make demo`: Hongbao end to end, through the real `hongbao` command, from nothing.

Alice, Bob and Carol each get a HONGBAO_HOME of their own (alice/, bob/, carol/ under one
temporary folder, deleted afterwards); an "operator" home runs the relay. A local anvil
chain (started from Alice's home, its state kept there) and the relay listen on free local
ports, so nothing touches your own wallets, chain or relay.

The story: the chain, the contracts and the relay come up; the three create wallets and
get test ETH (Carol none); they publish their messaging identities and chat; Alice sends a
random red packet of 2 shares with a gas deposit to the group; Bob claims; Carol, who has
no ETH, claims gaslessly (her signed claim goes to Alice over the chat, Alice's `chat
watch` submits it, reimbursed from the deposit); Alice sees who got what; the chain's
clock jumps past the expiry and Alice takes back the unused deposit; Alice pays Bob with a
payment notice in the chat; Alice deposits into the vault; the real DeFi protocols are
deployed, Bob swaps ETH for TKN on Uniswap, Alice supplies ETH to Aave, borrows USDX
against it and looks at her positions; Alice turns on a daily limit with a second factor
(TOTP), starts an unlock session (no password from then on), is stopped from paying a
lookalike of Bob's address, and confirms a large send with a code. Then everything
started is stopped.

Every step prints the command as `name$ hongbao ...` and what it printed (stdout and
stderr, in order). If a command fails the demo stops there, names it, stops what it
started and exits 1.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "demo password, not for real funds"  # noqa: S105  the demo's throwaway wallets on a local chain
COLUMNS = "120"
COMMAND_TIMEOUT_S = 120
EXPIRY_S = 3600  # the red packet's expiry (`--expires 1h`)

ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
PACKET_ID = re.compile(r"^(0x[0-9a-f]{64})$", re.MULTILINE)
ORDER_HASH = re.compile(r"^(0x[0-9a-f]{64})$", re.MULTILINE)


class StepFailed(Exception):
    """A command exited non-zero (or did not say what it must)."""


class Person:
    """Someone with a HONGBAO_HOME of their own, driving the real `hongbao` command."""

    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.home = root / name
        self.home.mkdir(mode=0o700)
        self.address = ""
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HONGBAO_")}
        self.env.update(HONGBAO_HOME=str(self.home), HONGBAO_PASSWORD=PASSWORD, COLUMNS=COLUMNS, PYTHONUNBUFFERED="1")

    via_agent = False  # after `hongbao unlock`: the real console entry, and no password given

    def __call__(
        self, *args: str, expect: str | None = None, fails: bool = False, env: dict[str, str] | None = None
    ) -> str:
        """Run `hongbao ARGS` as this person; print the command and its output (stdout and
        stderr merged, in the order a terminal shows them); return that output. `fails`: the
        command must exit 1 (a refusal the demo shows)."""
        shown = f"{self.name}$ hongbao {' '.join(shlex.quote(a) for a in args)}"
        print(f"\n{shown}", flush=True)
        environment = {**self.env, **(env or {})}
        if self.via_agent:
            environment.pop("HONGBAO_PASSWORD")
        runner: Callable[..., subprocess.CompletedProcess[str]]
        if _zygote is not None and not self.via_agent:
            runner, argv = _zygote.run, list(args)
        else:  # through the agent: the real console entry (cli.entry), which hands it over
            entry = "cli.entry" if self.via_agent else "cli.main"
            runner, argv = subprocess.run, [sys.executable, "-m", entry, *args]
        try:
            result = runner(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=environment,
                cwd=ROOT,
                timeout=COMMAND_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            raise StepFailed(f"`{shown}` did not finish within {COMMAND_TIMEOUT_S} s") from None
        sys.stdout.write(
            "".join(line.rstrip() + "\n" for line in result.stdout.splitlines())
        )  # Rich pads grids to the width
        sys.stdout.flush()
        if result.returncode != (1 if fails else 0):
            raise StepFailed(f"`{shown}` exited with status {result.returncode}")
        if expect is not None and expect not in result.stdout:
            raise StepFailed(f"`{shown}` did not print {expect!r}")
        return result.stdout


# Each command runs in a process forked from one with the CLI already imported (a
# new interpreter per command would spend most of the demo importing; cli/prefork.py).
_zygote = None

_steps = [0]


def step(text: str) -> None:
    _steps[0] += 1
    print(f"\n\n== {_steps[0]}. {text}", flush=True)


def say(text: str) -> None:
    print(f"   -> {text}", flush=True)


def write_config(person: Person, port: int, network=None) -> None:
    """The person's config.toml: the `local` network at the shared anvil (with the contracts
    and tokens Alice deployed, once there are some)."""
    from wallet import config

    cfg = config.load(person.home)
    cfg.port = port
    cfg.networks["local"] = network or config.local_network(port)
    cfg.network = "local"
    config.save(person.home, cfg)


def local_network(person: Person):
    from wallet import config

    return config.load(person.home).networks["local"]


def time_travel(url: str, seconds: int) -> int:
    """anvil's clock jumps ahead (a local-chain trick: evm_increaseTime, then evm_mine)."""
    from wallet.rpc import Rpc, to_int

    with Rpc(url) as rpc:
        rpc.call("evm_increaseTime", seconds)
        rpc.call("evm_mine")
        return to_int(rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"])


def gone(pid: int) -> bool:
    """The process no longer runs (a zombie waiting for its parent counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    return False


def make_sure_stopped(what: str, pid: int | None) -> None:
    """After `chain down` / `node stop`: the process must be gone; if the command could not
    stop it, end it here (it is ours: we started it)."""
    if pid is None:
        return
    deadline = time.monotonic() + 10
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if not gone(pid):
        print(f"   !! {what} (pid {pid}) still runs: sending SIGKILL", flush=True)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def pid_in(output: str) -> int | None:
    found = re.search(r"pid (\d+)", output)
    return int(found.group(1)) if found else None


def main() -> None:
    from wallet.process import free_port

    global _zygote
    from cli import prefork

    started = time.monotonic()
    if prefork.available() and not os.environ.get("HONGBAO_DEMO_SUBPROCESS"):
        warm = os.environ.get(prefork.SOCKET_ENV)  # a zygote already running (the test suite's)
        _zygote = prefork.Zygote.attach(warm) if warm else prefork.Zygote()  # warms up while anvil starts
    chain_port = free_port()
    relay_port = free_port()
    while relay_port == chain_port:
        relay_port = free_port()
    relay_url = f"http://127.0.0.1:{relay_port}"
    failure = None
    with tempfile.TemporaryDirectory(prefix="hongbao-demo-") as folder:
        root = Path(folder)
        alice, bob, carol, operator = (Person(name, root) for name in ("alice", "bob", "carol", "operator"))
        print(f"Homes: {root}/{{alice,bob,carol,operator}} (temporary); passwords come from HONGBAO_PASSWORD.")
        print(f"anvil will listen on 127.0.0.1:{chain_port}, the relay on {relay_url}.")
        running: dict[str, int | None] = {}
        try:
            story(alice, bob, carol, operator, chain_port, relay_url, running)
        except StepFailed as error:
            failure = str(error)
        finally:
            step("Everything the demo started is stopped.")
            left = stop(alice, operator, running, {"anvil": chain_port, "relay": relay_port})
            failure = failure or left
    if _zygote is not None:
        _zygote.close()
    if failure is not None:
        print(f"\nDEMO FAILED: {failure}", file=sys.stderr, flush=True)
        sys.exit(1)
    print(f"\nDone in {time.monotonic() - started:.1f} s. The temporary homes are deleted.")


def stop(alice: Person, operator: Person, running: dict[str, int | None], ports: dict[str, int]) -> str | None:
    """Stop the relay and the chain if they were started (each even if the other fails);
    returns what went wrong, if anything."""
    from wallet.process import port_free

    problems = []
    if (alice.home / "agent" / "agent.sock").exists():  # the demo stopped inside Alice's unlock session
        with contextlib.suppress(StepFailed):
            alice("lock")
    for what, person, args in (("relay", operator, ("node", "stop")), ("anvil", alice, ("chain", "down"))):
        if what not in running:
            continue
        try:
            person(*args)
        except StepFailed as error:
            problems.append(str(error))
        make_sure_stopped(what, running[what])
    for what, pid in running.items():
        if pid is not None and not gone(pid):
            problems.append(f"{what} (pid {pid}) is still running")
        deadline = time.monotonic() + 5
        while not port_free(ports[what]) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not port_free(ports[what]):
            problems.append(f"port {ports[what]} ({what}) is still in use")
    if running and not problems:
        say("; ".join(f"{what}: pid {pid} gone, port {ports[what]} free" for what, pid in running.items()))
    return "; ".join(problems) or None


def story(
    alice: Person,
    bob: Person,
    carol: Person,
    operator: Person,
    chain_port: int,
    relay_url: str,
    running: dict[str, int | None],
) -> None:
    chain_url = f"http://127.0.0.1:{chain_port}"

    # -- the infrastructure ------------------------------------------------------------------
    step(f"A local chain: anvil on 127.0.0.1:{chain_port}, started from Alice's home (its state is kept there).")
    write_config(alice, chain_port)
    say(f"alice/config.toml: network `local` = {chain_url}, chain id 31337")
    running["anvil"] = None
    running["anvil"] = pid_in(alice("chain", "up"))

    step("Test contracts on that chain: the red packet contract, a test token (TKN) and an ERC-4626 vault.")
    alice("contracts", "deploy")
    for person in (bob, carol):
        write_config(person, chain_port)
    say(
        "bob/ and carol/config.toml: only the `local` network's RPC; no contract addresses "
        "(their clients recognise the red packet contract by its code when a packet arrives)"
    )

    step(f"A relay on {relay_url}, run by an operator in the background (SQLite in the operator's home).")
    running["relay"] = None
    running["relay"] = pid_in(operator("node", "start", "--detach", "--port", relay_url.rsplit(":", 1)[1]))

    # -- wallets and money -------------------------------------------------------------------
    step("Alice, Bob and Carol each create a wallet (a new 12-word phrase; Argon2id `interactive` for speed).")
    for person in (alice, bob, carol):
        found = ADDRESS.search(person("wallet", "create", "--kdf", "interactive"))
        if found is None:
            raise StepFailed(f"`{person.name}$ hongbao wallet create` printed no address")
        person.address = found.group(0)
    say(f"alice {alice.address}, bob {bob.address}, carol {carol.address}")

    step("The faucet (local chain only) gives Alice 10 ETH and Bob 1 ETH; Carol has none.")
    alice("faucet", alice.address, "10")
    alice("faucet", bob.address, "1")
    alice("balance")

    step("Bob signs a message with his address; Alice checks who signed it.")
    signature = bob("wallet", "sign-message", "恭喜发财, Alice!").strip()
    alice(
        "wallet", "verify", "--signature", signature, "--address", bob.address, "恭喜发财, Alice!", expect=bob.address
    )

    # -- chat --------------------------------------------------------------------------------
    step("Each of them uses the relay and publishes a messaging identity signed by their address, and prekeys.")
    for person in (alice, bob, carol):
        person("relay", "use", relay_url, expect="one-time prekeys")

    step("Contacts: the relay's identities are fetched and verified locally; fingerprints are compared out of band.")
    alice("contacts", "add", bob.address, "--name", "bob")
    alice("contacts", "add", carol.address, "--name", "carol")
    bob("contacts", "add", alice.address, "--name", "alice")
    carol("contacts", "add", alice.address, "--name", "alice")
    bob("contacts", "verify", "alice")

    step("Alice writes to Bob (end-to-end encrypted; the relay holds only ciphertext); Bob reads and answers.")
    say("the first message starts a forward-secret session (X3DH with Bob's prekeys, then the Double Ratchet)")
    alice("chat", "send", "bob", "新年快乐, Bob! A red packet is coming tonight 🧧", expect="forward-secret")
    bob("chat", "inbox")
    bob("chat", "show", "alice")
    bob("chat", "send", "alice", "新年快乐! Looking forward to it.")

    step("Alice sees Bob's answer, and that her message was read (the receipts came back).")
    alice("chat", "inbox")
    alice("chat", "show", "bob", expect="(read)")

    step("Alice makes a group `family` with Bob and Carol, and says hello to everyone.")
    alice("group", "create", "family", "bob", "carol")
    alice("chat", "send", "family", "Family red packet in a minute, be quick!")

    # -- the red packet ----------------------------------------------------------------------
    step("Alice sends a random red packet of 1 ETH in 2 shares to the group, with a 0.01 ETH gas deposit.")
    say("her client draws the split now and the contract commits to it: nobody can choose their luck")
    say("each member gets their own signed authorization (and share) in the chat; nobody else can claim")
    created = alice(
        "packet",
        "create",
        "--to",
        "family",
        "--amount",
        "1 ETH",
        "--random",
        "--expires",
        "1h",
        "--greeting",
        "新年快乐",
        "--theme",
        "spring-festival",
        "--deposit",
        "0.01 ETH",
        "--yes",
    )
    found = PACKET_ID.search(created)
    if found is None:
        raise StepFailed("`alice$ hongbao packet create ...` printed no packet id")
    packet_id = found.group(1)
    short = packet_id[:10]

    step("Bob finds the packet in the group chat and claims his share.")
    bob("chat", "inbox")
    bob("chat", "show", "family", expect="red packet")
    bob("packet", "list")
    bob("balance")
    bob("packet", "claim", short, "--yes", expect="claimed")
    bob("packet", "list", "--no-fetch", expect="claimed by me")

    step("Carol has no ETH for gas: she just claims, and her signed claim goes to Alice over the chat.")
    carol("packet", "list")
    carol("packet", "claim", short, "--yes", expect="claim sent; you will be paid when it is submitted")

    step("Alice's `chat watch` submits Carol's claim from her account, reimbursed from the packet's deposit.")
    alice("chat", "watch", "--once", expect="submitted")
    carol("packet", "list", expect="claimed by me")
    carol("balance")

    step("Alice sees who got what (the contract's events): both shares claimed, and who had the best luck.")
    alice("packet", "info", short, expect="手气最佳")
    say(f"{bob.address} is Bob, {carol.address} is Carol")

    step("An hour passes: the packet expires.")
    say(
        f"local-chain trick, not a hongbao command: anvil's evm_increaseTime({EXPIRY_S + 1}) then evm_mine on {chain_url}"
    )
    now = time_travel(chain_url, EXPIRY_S + 1)
    say(f"the chain's clock now reads {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(now))}")

    step("Alice takes back what is left of the gas deposit; the packet is closed.")
    alice("packet", "refund", short, "--yes", expect="refunded")
    alice("packet", "info", short, expect="refunded")
    carol("packet", "list", "--no-fetch")

    # -- a payment with a notice -------------------------------------------------------------
    step("Alice pays Bob 0.25 ETH for the dumplings, with a payment notice in their chat.")
    alice("send", bob.address, "0.25", "--notify", "--note", "for the dumplings 🥟", "--yes", expect="0x")
    bob("chat", "inbox")
    bob("chat", "show", "alice", expect="payment of 0.25 ETH")
    say("Bob's wallet checked the notice against the chain before showing it as paid")
    bob("balance")
    say("Bob: 1 ETH from the faucet + his share of the packet + 0.25 ETH from Alice - the gas of his claim")

    # -- DeFi --------------------------------------------------------------------------------
    step("Alice gets 100 TKN from the test token's open mint (local test token only).")
    tkn = local_network(alice).tokens["TKN"].address
    say("`contract send` takes integers in base units: 100 TKN = 100 x 10^18")
    alice("contract", "send", tkn, "mint(address,uint256)", alice.address, str(100 * 10**18), "--yes")

    step("Alice deposits 60 TKN into the vault (approving exactly 60 first, each transaction previewed).")
    alice("vault", "deposit", "60", "--approve", "--yes")
    alice("vault", "position", expect="60 vTKN")

    step(
        "Real DeFi on the same chain: WETH, Uniswap v2 and v3, an Aave v3 market and a staking farm, from their npm packages."
    )
    alice("defi", "deploy")
    write_config(bob, chain_port, local_network(alice))
    bob("swap", "0.1", "ETH", "TKN", "--yes", expect="received")
    say("Bob swapped some of his red packet ETH for TKN at the best quote (Uniswap v2 or a v3 fee tier)")
    alice("lend", "supply", "ETH", "2", "--yes")
    alice("lend", "borrow", "USDX", "1000", "--yes", expect="health factor now")
    alice("positions")

    # -- a trade in the chat -----------------------------------------------------------------
    step("Alice offers Bob 20 TKN for 0.01 ETH in their chat: a signed Seaport 1.6 order only Bob can fill.")
    made = alice("trade", "offer", "bob", "--give", "20 TKN", "--want", "0.01 ETH", "--expires", "1h", "--yes")
    order_id = ORDER_HASH.findall(made)[-1][:12]  # (the approval's hash comes first)
    bob("chat", "inbox")
    bob("trade", "accept", order_id, "--yes", expect="✓ filled")
    say(
        "Bob's client checked the offer first: Alice's signature, the order hash, and that she holds and approved 20 TKN"
    )
    alice("trade", "list", expect="filled")

    # -- an unlock session, the security rules, the second factor ---------------------------
    unlock_session(alice, bob)

    step("Alice's balances at the end; she ends her unlock session.")
    alice("balance")
    alice("lock")
    alice.via_agent = False


def unlock_session(alice: Person, bob: Person) -> None:
    """Alice turns on a daily limit with a second factor, starts an unlock session, is
    stopped from paying a lookalike of Bob's address, and confirms a large send with a code."""
    from wallet import address

    step("Alice sets a daily limit of 2 ETH; past it, a send needs a code from her authenticator app (TOTP).")
    alice("security", "limit", "2 ETH/day")
    enabled = alice("security", "totp", "enable")
    secret = re.search(r"or type the secret: ([A-Z2-7]+)", enabled)
    if secret is None:
        raise StepFailed("`alice$ hongbao security totp enable` printed no secret")
    say(
        "the secret is sealed in Alice's vault; her phone scanned the QR code (the demo keeps the secret to make codes)"
    )

    step("Alice unlocks her wallet for 15 minutes (an agent holds the keys; at most 3 ETH/day for the session).")
    started = alice("unlock", "--for", "15m", "--spend-limit", "3 ETH/day")
    alice.via_agent = True
    say(f"the agent (pid {pid_in(started)}) answers on a 0600 socket in alice/agent/; no password from now on")
    alice("chat", "send", "bob", "Thanks for coming!", expect="sent to bob")

    step("Address poisoning: Mallory made an address with the same first and last characters as Bob's.")
    body = bob.address[2:].lower()
    fake = address.to_checksum(body[:3] + ("0" if body[3] != "0" else "1") * 34 + body[-3:])
    say(f"Alice pastes {fake} by mistake: the wallet compares it with the addresses she knows")
    alice("send", fake, "0.5", "--yes", fails=True, expect="LOOKS LIKE")

    step("Alice sends Bob 1 ETH: with the packet and the dumplings that passes her 2 ETH/day, so it needs a code.")
    import pyotp

    code = pyotp.TOTP(secret.group(1)).now()
    say(f"the code from her authenticator app: {code} (HONGBAO_TOTP_CODE here; a prompt in a terminal)")
    alice("send", bob.address, "1", "--yes", env={"HONGBAO_TOTP_CODE": code}, expect="0x")
    alice("security", "status", expect="second factor: on")


if __name__ == "__main__":
    main()

"""`make demo`: the wallet and the local chain end to end, through the real `hongbao` command.

Runs in a temporary HONGBAO_HOME that is deleted afterwards, with its own anvil on a free
port; nothing touches your own wallets or chain. Each step prints the command it ran and
what came back.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from wallet.localchain import free_port

DEMO_PASSWORD = "demo password, not for real funds"


def write_config(home: str, port: int) -> None:
    from wallet import config

    cfg = config.Config(port=port)
    cfg.networks["local"] = config.local_network(port)
    config.save(Path(home), cfg)


def run(env: dict[str, str], *args: str, stdin: str = "", shown_env: str = "") -> str:
    print(f"\n$ {shown_env}hongbao {' '.join(shlex.quote(a) for a in args)}", flush=True)
    result = subprocess.run([sys.executable, "-m", "cli.main", *args], input=stdin, capture_output=True, text=True, env=env)
    sys.stdout.write(result.stdout)
    sys.stdout.write(result.stderr)  # previews, progress and advice go to stderr
    if result.returncode != 0:
        raise SystemExit(f"demo step failed: hongbao {' '.join(args)}")
    return result.stdout


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="hongbao-demo-") as home:
        env = {**os.environ, "HONGBAO_HOME": home, "HONGBAO_PASSWORD": DEMO_PASSWORD, "COLUMNS": "100"}
        env.pop("HONGBAO_WALLET", None)
        print(f"HONGBAO_HOME={home} (temporary); the password comes from HONGBAO_PASSWORD")

        print("\n1. Alice creates a wallet with a new 12-word phrase and three accounts.")
        run(env, "wallet", "create", "--wallet", "alice", "--accounts", "3", "--kdf", "interactive")

        print("\n2. Bob restores Foundry/anvil's well-known test phrase (piped on stdin).")
        run(env, "wallet", "import", "--wallet", "bob", "--kdf", "interactive", stdin="test test test test test test test test test test test junk\n")
        run(env, "wallet", "derive", "--wallet", "bob", "--count", "2", "--label", "savings")
        run(env, "wallet", "derive", "--wallet", "bob", "--path", "m/44'/60'/7'/0/0", "--label", "ledger-live #7")

        print("\n3. Every account of every wallet, as JSON for scripts.")
        rows = json.loads(run(env, "wallet", "list", "--json"))
        bob_1 = next(r["address"] for r in rows if r["wallet"] == "bob" and r["index"] == 1)
        print(f"   -> {len(rows)} accounts in {len({r['wallet'] for r in rows})} wallets")

        print("\n4. Bob signs a message with account 1; anyone can verify it.")
        signature = run(env, "wallet", "sign-message", "--wallet", "bob", "--index", "1", "恭喜发财, Alice!").strip()
        signer = run(env, "wallet", "verify", "--signature", signature, "--address", bob_1, "恭喜发财, Alice!").strip()
        print(f"   -> recovered {signer}: the signature is Bob's account 1")

        print("\n5. Bob exports account 0 as a keystore that geth, cast and MetaMask import.")
        keystore_path = Path(home) / "bob-0.json"
        run(env, "wallet", "export-keystore", "--wallet", "bob", "--index", "0", "--out", str(keystore_path), "--scrypt-n", "16384")
        document = json.loads(keystore_path.read_text())
        print(f"   -> {keystore_path.name}: version {document['version']}, kdf {document['crypto']['kdf']}, address 0x{document['address']}, mode {oct(keystore_path.stat().st_mode & 0o777)}")

        print("\n6. Carol imports that keystore into a wallet of her own.")
        keystore_env = {**env, "HONGBAO_KEYSTORE_PASSWORD": DEMO_PASSWORD}  # export used the wallet password
        run(keystore_env, "wallet", "import", "--wallet", "carol", "--keystore", str(keystore_path), "--label", "from bob", "--kdf", "interactive", shown_env="HONGBAO_KEYSTORE_PASSWORD=... ")

        print("\n7. A wrong password is one clear line, and the file is left untouched.")
        wallet_file = Path(home) / "wallets" / "alice.vault"
        before = wallet_file.read_bytes()
        bad = subprocess.run([sys.executable, "-m", "cli.main", "wallet", "derive", "--wallet", "alice"], capture_output=True, text=True, env={**env, "HONGBAO_PASSWORD": "guess"})
        print(f"$ HONGBAO_PASSWORD=guess hongbao wallet derive --wallet alice\n{bad.stderr.strip()}   (exit {bad.returncode})")
        print(f"   -> file unchanged: {wallet_file.read_bytes() == before}")

        print("\n8. Alice's receive address, with a QR code to scan.")
        run(env, "wallet", "address", "--wallet", "alice")

        port = free_port()
        write_config(home, port)
        print(f"\n9. A local chain: anvil on 127.0.0.1:{port}, its state kept in the home folder.")
        run(env, "chain", "up")
        try:
            chain_demo(env, alice=rows[0]["address"], bob=bob_1)
        finally:
            run(env, "chain", "down")

        relay_port = free_port()
        print(f"\n15. A relay on 127.0.0.1:{relay_port} (SQLite in the home folder), started in the background.")
        run(env, "node", "start", "--detach", "--port", str(relay_port))
        try:
            relay_demo(home, f"http://127.0.0.1:{relay_port}")
        finally:
            run(env, "node", "stop")
        print("\nDone. The temporary home is deleted now.")


def relay_demo(home: str, url: str) -> None:
    """Alice writes to Bob through the relay (the `hongbao chat` commands come with issue 7;
    this drives the same library calls they will make)."""
    import time

    from messaging import envelope, identity, payloads
    from messaging.client import RelayClient
    from messaging.keys import MessagingKeys
    from wallet import keyring

    store = keyring.WalletStore(Path(home))
    alice_key = store.open("alice").unlock(DEMO_PASSWORD).private_key(0)
    bob_key = store.open("bob").unlock(DEMO_PASSWORD).private_key(1)
    now = int(time.time())
    alice_bundle, bob_bundle = identity.make_bundle(alice_key, now), identity.make_bundle(bob_key, now)
    with RelayClient(url) as relay:
        print("\n16. Alice and Bob publish their identity bundles; each is signed by the wallet address.")
        for name, bundle in (("Alice", alice_bundle), ("Bob", bob_bundle)):
            print(f"   {name}: {bundle.address} fingerprint {bundle.fingerprint} -> {relay.publish_bundle(bundle)}")
        print("\n17. Alice fetches Bob's bundle, verifies it herself, seals a message and sends it.")
        verified = relay.get_bundle(bob_bundle.address)
        sealed = envelope.seal(alice_bundle.address, MessagingKeys.from_account_key(alice_key), verified, payloads.Text("新年快乐, Bob! 红包 coming soon."), now_ms=int(time.time() * 1000), include_bundle=alice_bundle)
        accepted = relay.send([sealed])[0]
        print(f"   the relay stored {len(sealed.ciphertext)} bytes of ciphertext as seq {accepted.seq}; it cannot read them")
        print("\n18. Bob proves his messaging key, fetches his mailbox, opens, acks.")
        bob_keys = MessagingKeys.from_account_key(bob_key)
        relay.authenticate(bob_bundle.address, bob_keys)
        for seq, env in relay.fetch(0):
            opened = envelope.open_envelope(env, bob_bundle.address, bob_keys, now_ms=int(time.time() * 1000), known_bundle=lambda _a: None)
            print(f"   seq {seq} from {opened.sender}: {opened.payload.body!r}")
        print(f"   acked: {relay.ack([sealed.id])}, mailbox now {len(relay.fetch(0))} messages")


def chain_demo(env: dict[str, str], alice: str, bob: str) -> None:
    print("\n10. The faucet (local only) gives Alice 10 ETH; a test token (RED, with permit) is deployed.")
    run(env, "faucet", alice, "10")
    run(env, "token", "deploy-test", "--symbol", "RED", "--decimals", "6", "--supply", "88888")
    run(env, "balance", "--wallet", "alice")

    print("\n11. Alice sends Bob 1.5 ETH: simulated, shown decoded with its fee, then signed and sent.")
    run(env, "send", bob, "1.5 ETH", "--wallet", "alice", "--yes")

    print("\n12. Mistakes are caught before anything is signed: too much, a mistyped address.")
    for args in (["send", bob, "100", "--wallet", "alice", "--yes"], ["send", bob[:-1] + bob[-1].swapcase() if bob[-1].isalpha() else bob[:-2] + bob[-2].swapcase() + bob[-1], "1", "--wallet", "alice", "--yes"]):
        bad = subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, env=env)
        print(f"$ hongbao {' '.join(args)}\n{bad.stderr.strip()}   (exit {bad.returncode})")

    print("\n13. The red packet contract, the test token and an ERC-4626 vault, deployed and recorded in config.toml.")
    run(env, "contracts", "deploy")

    print("\n14. Bob syncs: incoming transfers land in his local history.")
    run(env, "sync", "--wallet", "bob")
    run(env, "tx", "list", "--address", bob)


if __name__ == "__main__":
    main()

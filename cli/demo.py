"""`make demo`: the wallet end to end, through the real `hongbao` command.

Runs in a temporary HONGBAO_HOME that is deleted afterwards; nothing touches your own
wallets. Each step prints the command it ran and what came back.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

DEMO_PASSWORD = "demo password, not for real funds"


def run(env: dict[str, str], *args: str, stdin: str = "", shown_env: str = "") -> str:
    print(f"\n$ {shown_env}hongbao {' '.join(shlex.quote(a) for a in args)}", flush=True)
    result = subprocess.run([sys.executable, "-m", "cli.main", *args], input=stdin, capture_output=True, text=True, env=env)
    sys.stdout.write(result.stdout)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
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
        print("\nDone. The temporary home is deleted now.")


if __name__ == "__main__":
    main()

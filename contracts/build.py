"""``python -m contracts.build [--check]``: run ``node contracts/build.mjs`` from the repository root.

The compiler is the pinned npm ``solc`` in ``node_modules`` (installed by ``npm ci`` or
``make setup``); this wrapper only finds ``node``, checks the toolchain is there, passes
``--check`` through and exits with the build's status. ``run()`` is what ``hongbao contracts
build`` calls.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from wallet.errors import WalletError

__all__ = ["ROOT", "SCRIPT", "BuildToolMissing", "command", "main", "run"]

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "contracts" / "build.mjs"
SETUP_HINT = "run `npm ci` (or `make setup`) in the Hongbao checkout"


class BuildToolMissing(WalletError):
    """node, node_modules/solc or build.mjs is missing: nothing can be compiled."""


def command(check: bool = False) -> list[str]:
    """The argv that builds (or checks) the artifacts; BuildToolMissing if it could not run."""
    node = shutil.which("node")
    if node is None:
        raise BuildToolMissing(f"`node` is not on PATH: install Node.js, then {SETUP_HINT}")
    if not SCRIPT.is_file():
        raise BuildToolMissing(f"{SCRIPT} is missing: contracts can only be built from a Hongbao checkout")
    if not (ROOT / "node_modules" / "solc" / "package.json").is_file():
        raise BuildToolMissing(f"node_modules/solc is missing (the pinned compiler): {SETUP_HINT}")
    if not (ROOT / "node_modules" / "@openzeppelin" / "contracts" / "package.json").is_file():
        raise BuildToolMissing(f"node_modules/@openzeppelin/contracts is missing: {SETUP_HINT}")
    return [node, str(SCRIPT), *(["--check"] if check else [])]


def run(check: bool = False) -> int:
    """Build (or with ``check``, verify) contracts/artifacts/; the build's exit status.

    Its output goes straight to this process's stdout and stderr.
    """
    return subprocess.run(command(check), check=False, cwd=ROOT).returncode


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in args):
        print("usage: python -m contracts.build [--check]")
        return 0
    unknown = [a for a in args if a != "--check"]
    if unknown:
        print(
            f"contracts.build: unknown argument {unknown[0]}\nusage: python -m contracts.build [--check]",
            file=sys.stderr,
        )
        return 2
    try:
        return run("--check" in args)
    except BuildToolMissing as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

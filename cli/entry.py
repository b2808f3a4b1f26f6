"""The `hongbao` console script: a running unlock session takes the command (fast, no
password); otherwise it runs here, in cli.main."""

from __future__ import annotations

import sys


def main() -> None:
    from cli.agent_client import forward

    code = forward(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from cli.main import main as run_here

    run_here()


if __name__ == "__main__":
    main()

"""Solidity sources, compiled artifacts and thin Python bindings (see DESIGN.md, Contracts).

Layout:

- ``src/*.sol``: RedPacket, TestToken (ERC-20 + EIP-2612 permit), TestVault (ERC-4626),
  FeeOnTransferToken; ``src/mocks/``: contracts that exist for tests (a token returning no
  bool, re-entering recipients). Solidity 0.8.28, OpenZeppelin 5.7.0, both from npm.
- ``build.mjs`` / ``build.py``: ``python -m contracts.build`` (or ``hongbao contracts
  build``) compiles them with the pinned npm ``solc`` into ``artifacts/<Contract>.json``
  (deterministic; committed, so the wallet needs no compiler). ``--check`` exits 1 when the
  committed artifacts differ from a fresh compile (a test runs it).
- ``artifacts.py``: ``load(name) -> Artifact``; ``deploy.py``: creation code + arguments.
- ``redpacket.py``, ``token.py``, ``vault.py``: calldata, signatures, reads and events for
  each contract, over ``wallet.rpc.Rpc`` (no web3 import on the CLI's path).
"""

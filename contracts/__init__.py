"""Solidity sources, compiled artifacts and thin Python bindings (see DESIGN.md, Contracts).

Layout:

- ``src/*.sol``: the sources (Solidity 0.8.28, OpenZeppelin 5.7.0 from node_modules).
- ``build.mjs``: ``node contracts/build.mjs`` compiles them with the pinned npm ``solc`` and
  writes ``artifacts/<Contract>.json`` (deterministic; commit them). ``--check`` exits 1 when
  the committed artifacts differ from a fresh compile (tests/test_contracts_build.py runs it).
- ``artifacts.py``: ``load(name) -> Artifact`` reads a committed artifact; no compiler needed.
- ``deploy.py``: ``deployment_tx(artifact, *args)``: creation code + encoded constructor args.
"""

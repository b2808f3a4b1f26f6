// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title GasPriceBurner
/// @notice TEST MOCK (local chain only): a claim recipient that burns every bit of gas it is
///         given, but only when tx.gasprice is not zero. An eth_call or eth_estimateGas without
///         a price sees a cheap claim; the real transaction burns the submitter's gas. A
///         relayer must simulate at the price it will pay, with a bounded gas limit.
contract GasPriceBurner {
    uint256 public sink;

    receive() external payable {
        if (tx.gasprice != 0) {
            while (gasleft() > 5_000) {
                sink += 1;
            }
        }
    }
}

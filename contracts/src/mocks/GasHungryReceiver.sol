// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title GasHungryReceiver
/// @notice TEST MOCK (local chain only): a stand-in for a smart-contract wallet whose `receive()`
///         writes storage, which costs far more than the 2300 gas stipend of Solidity's
///         `transfer`/`send`. Paying it proves the payer forwards gas with `call`.
contract GasHungryReceiver {
    uint256 public received; // wei received in total
    uint256 public payments; // number of payments
    address public lastSender;

    receive() external payable {
        received += msg.value;
        payments += 1;
        lastSender = msg.sender;
    }
}

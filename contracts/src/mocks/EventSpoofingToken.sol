// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title EventSpoofingToken
/// @notice TEST MOCK (local chain only): an ERC-20 that, once armed, emits a forged
///         `PacketClaimed(id, recipient, amount)` (RedPacket's event signature) on every transfer
///         between two accounts. A claim of a packet of this token then carries two
///         PacketClaimed logs in its receipt, one from RedPacket and one from the token: it shows
///         that event parsers must check which contract emitted a log.
/// @dev `mint` and `setSpoof` are open to anyone: a local-chain test token.
contract EventSpoofingToken is ERC20 {
    event PacketClaimed(bytes32 indexed id, address indexed recipient, uint256 amount);

    bytes32 public spoofId;
    address public spoofRecipient;
    uint256 public spoofAmount;

    constructor(uint256 initialSupply) ERC20("Spoofing Token", "SPOOF") {
        _mint(msg.sender, initialSupply);
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Forge `PacketClaimed(id, recipient, amount)` on every later transfer (recipient 0: stop).
    function setSpoof(bytes32 id, address recipient, uint256 amount) external {
        spoofId = id;
        spoofRecipient = recipient;
        spoofAmount = amount;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (spoofRecipient != address(0) && from != address(0) && to != address(0)) {
            emit PacketClaimed(spoofId, spoofRecipient, spoofAmount);
        }
    }
}

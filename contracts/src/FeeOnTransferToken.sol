// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title FeeOnTransferToken
/// @notice ERC-20 that burns 1% of every transfer, so the recipient gets 99%. It exists to test that
///         code receiving tokens accounts by balance difference (or refuses such tokens) instead of
///         trusting the amount it asked for.
/// @dev LOCAL-CHAIN TEST TOKEN ONLY: `mint` is open to anyone. The fee is `value / 100`, rounded
///      down (transfers under 100 base units pay none), and is burnt: a `Transfer(from, 0, fee)`
///      event and a lower `totalSupply`. Minting and burning themselves pay no fee.
contract FeeOnTransferToken is ERC20 {
    uint8 private immutable _decimals;

    /// @param name_ token name
    /// @param symbol_ token symbol
    /// @param decimals_ value returned by `decimals()`
    /// @param initialSupply amount (in base units) minted to the deployer
    constructor(string memory name_, string memory symbol_, uint8 decimals_, uint256 initialSupply)
        ERC20(name_, symbol_)
    {
        _decimals = decimals_;
        _mint(msg.sender, initialSupply);
    }

    /// @inheritdoc ERC20
    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /// @notice Mints `amount` base units to `to` (no fee). Open to anyone: this is a local-chain test token.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @dev Every movement between two non-zero addresses (transfer and transferFrom) burns the fee
    ///      from the sender first, then moves the rest. The balance is checked up front so a short
    ///      balance reverts with the full `value` as the needed amount, as in a plain ERC-20.
    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0)) {
            uint256 balance = balanceOf(from);
            if (balance < value) {
                revert ERC20InsufficientBalance(from, balance, value);
            }
            uint256 fee = value / 100; // 1%, rounded down
            if (fee != 0) {
                super._update(from, address(0), fee);
            }
            value -= fee;
        }
        super._update(from, to, value);
    }
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title TestToken
/// @notice ERC-20 with EIP-2612 permit and configurable decimals, standing in for a real token on the
///         local chain (anvil).
/// @dev LOCAL-CHAIN TEST TOKEN ONLY: `mint` is open to anyone, so the supply means nothing. Never
///      deploy it where its balances are meant to carry value.
contract TestToken is ERC20, ERC20Permit {
    uint8 private immutable _decimals;

    /// @param name_ token name; also the EIP-712 domain name used by permit (domain version "1")
    /// @param symbol_ token symbol
    /// @param decimals_ value returned by `decimals()`
    /// @param initialSupply amount (in base units) minted to the deployer
    constructor(string memory name_, string memory symbol_, uint8 decimals_, uint256 initialSupply)
        ERC20(name_, symbol_)
        ERC20Permit(name_)
    {
        _decimals = decimals_;
        _mint(msg.sender, initialSupply);
    }

    /// @inheritdoc ERC20
    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /// @notice Mints `amount` base units to `to`. Open to anyone: this is a local-chain test token.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}

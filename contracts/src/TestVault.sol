// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";

/// @title TestVault
/// @notice A plain ERC-4626 tokenized vault over one ERC-20 asset: deposit the asset, receive shares;
///         redeem shares for a proportional part of what the vault holds. It is the local chain's DeFi
///         stand-in (a yield vault or lending pool in miniature): yield can be simulated by sending
///         the asset straight to the vault, which raises the value of every share.
/// @dev LOCAL-CHAIN TEST CONTRACT ONLY. OpenZeppelin's ERC4626 unchanged: no fees, no caps, no
///      decimals offset (virtual shares/assets of 1 still blunt the first-depositor inflation attack),
///      share decimals equal the asset's.
contract TestVault is ERC4626 {
    /// @param asset_ the ERC-20 this vault holds
    /// @param name_ share token name
    /// @param symbol_ share token symbol
    constructor(IERC20 asset_, string memory name_, string memory symbol_) ERC20(name_, symbol_) ERC4626(asset_) {}
}
